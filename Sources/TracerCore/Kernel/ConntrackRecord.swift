import CConntrack
import Glibc

/// Reads the two tuples of a libnetfilter_conntrack object into a `ConntrackFlow` (TCP and UDP over
/// IPv4 and IPv6; anything else is nil). Addresses and ports come out of the library in network order.
enum ConntrackRecord {
    static func flow(_ ct: OpaquePointer) -> ConntrackFlow? {
        let type: ConnectionType
        switch Int32(nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO)) {
        case Int32(IPPROTO_TCP): type = .tcp
        case Int32(IPPROTO_UDP): type = .udp
        default: return nil
        }
        let family: Family
        switch Int32(nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO)) {
        case AF_INET: family = .v4
        case AF_INET6: family = .v6
        default: return nil
        }
        guard let origSrc = address(ct, family, v4: ATTR_ORIG_IPV4_SRC, v6: ATTR_ORIG_IPV6_SRC),
              let origDst = address(ct, family, v4: ATTR_ORIG_IPV4_DST, v6: ATTR_ORIG_IPV6_DST),
              let replSrc = address(ct, family, v4: ATTR_REPL_IPV4_SRC, v6: ATTR_REPL_IPV6_SRC),
              let replDst = address(ct, family, v4: ATTR_REPL_IPV4_DST, v6: ATTR_REPL_IPV6_DST) else { return nil }
        let original = FlowEndpoints(src: origSrc, sport: port(ct, ATTR_ORIG_PORT_SRC),
                                     dst: origDst, dport: port(ct, ATTR_ORIG_PORT_DST))
        let reply = FlowEndpoints(src: replSrc, sport: port(ct, ATTR_REPL_PORT_SRC),
                                  dst: replDst, dport: port(ct, ATTR_REPL_PORT_DST))
        return ConntrackFlow(type: type, original: original, reply: reply)
    }

    /// NFCT_T_NEW / UPDATE / DESTROY as an event kind (dump rows arrive as updates).
    static func kind(_ type: nf_conntrack_msg_type) -> ConntrackEvent.Kind? {
        switch type {
        case NFCT_T_NEW: return .new
        case NFCT_T_UPDATE: return .update
        case NFCT_T_DESTROY: return .destroy
        default: return nil
        }
    }

    private static func address(_ ct: OpaquePointer, _ family: Family, v4: nf_conntrack_attr,
                                v6: nf_conntrack_attr) -> IPAddress? {
        switch family {
        case .v4:
            guard nfct_attr_is_set(ct, v4) > 0 else { return nil }
            let raw = nfct_get_attr_u32(ct, v4)  // network order, as the bytes lie in memory
            return withUnsafeBytes(of: raw) { IPAddress(family: .v4, raw: Array($0)) }
        case .v6:
            guard nfct_attr_is_set(ct, v6) > 0, let p = nfct_get_attr(ct, v6) else { return nil }
            return IPAddress(family: .v6, raw: Array(UnsafeRawBufferPointer(start: p, count: 16)))
        }
    }

    private static func port(_ ct: OpaquePointer, _ attr: nf_conntrack_attr) -> UInt16 {
        UInt16(bigEndian: nfct_get_attr_u16(ct, attr))
    }
}
