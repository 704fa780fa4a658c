import CBPF

/// Turns the kernel's fixed-layout records into the model's values. The only place that knows both.
enum KernelRecord {
    static func sample(key: nt_conn_key, info: nt_conn_info, names: inout CommNames) -> ConnectionSample? {
        let type: ConnectionType
        switch UInt32(info.proto) {
        case UInt32(NT_PROTO_TCP.rawValue): type = .tcp
        case UInt32(NT_PROTO_UDP.rawValue): type = .udp
        default: return nil
        }
        let family: Family = info.family == 10 ? .v6 : .v4
        let source = address(info.saddr, family)
        let dest = address(info.daddr, family)
        let tuple = ConnectionTuple(type: type, netns: info.netns, source: source, sport: info.sport,
                                    dest: dest, dport: info.dport)
        let peer: IPAddress? = type == .udp ? address(key.peer_addr, family) : nil
        return ConnectionSample(
            tuple: tuple,
            kernelKey: KernelKey(cookie: key.cookie, peer: peer, peerPort: key.peer_port),
            pid: info.pid, comm: names.name(pid: info.pid, comm: info.comm),
            sentBytes: info.sent_bytes, recvBytes: info.recv_bytes, retransmits: info.retransmits,
            firstSeen: info.first_ns, lastActivity: info.last_ns,
            origin: Origin(rawValue: info.origin) ?? .unknown, tcpState: info.tcp_state)
    }

    /// The map key a sample came from.
    static func key(_ k: KernelKey) -> nt_conn_key {
        var key = nt_conn_key()
        key.cookie = k.cookie
        key.peer_port = k.peerPort
        if let peer = k.peer {
            let count = peer.family == .v4 ? 4 : 16
            withUnsafeMutableBytes(of: &key.peer_addr) { raw in
                for i in 0..<count { raw[i] = peer.bytes[i] }
            }
        }
        return key
    }

    static func address<T>(_ raw: T, _ family: Family) -> IPAddress {
        withUnsafeBytes(of: raw) { bytes in
            IPAddress(family: family,
                      networkHigh: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                      networkLow: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }

    static func comm<T>(_ raw: T) -> String {
        withUnsafeBytes(of: raw) { bytes in
            String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
