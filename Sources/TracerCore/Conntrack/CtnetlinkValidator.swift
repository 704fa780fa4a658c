/// Checks a ctnetlink conntrack message (nlmsghdr, nfgenmsg, attributes) before libnetfilter_conntrack
/// parses it. That library ends the process with exit(1) ("ctnetlink kernel ABI is broken") when a known
/// attribute has the wrong size, so a message from a kernel whose ABI it does not know, or a damaged one,
/// would end nettop with the terminal still in curses mode. Every attribute that library reads is held here
/// to the size the kernel's own netlink policy gives it (`nf_conntrack_netlink.c`), nests must be whole,
/// and strings end in NUL: a message that passes cannot trip the library's checks, which are the same or
/// looser. Attribute types the kernel may add later are skipped, as the library skips them.
///
/// Pure: works on bytes, no netlink socket, no C.
public enum CtnetlinkValidator {
    /// What one attribute must look like.
    indirect enum Rule {
        case exact(Int)           // fixed size (u8, u16, u32, u64, an address, a flags struct)
        case string               // NUL-terminated, not empty
        case nest([Int: Rule])    // nested attributes, each by its type
        case any                  // read by nobody: only the framing is checked
    }

    public static let headerLength = 16   // struct nlmsghdr
    public static let payloadOffset = 20  // + struct nfgenmsg
    static let attributeHeader = 4         // struct nlattr
    static let typeMask: UInt16 = 0x3fff  // without NLA_F_NESTED and NLA_F_NET_BYTEORDER

    /// Why a message was refused, for the debug log and the tests.
    public enum Problem: Equatable, Sendable {
        case shorterThanHeader
        case lengthMismatch(claimed: Int, received: Int)
        case badAttribute(path: [Int], length: Int)
    }

    /// Nil when `message` (exactly one netlink message, its `nlmsg_len` bytes) is safe to hand to the library.
    public static func problem(in message: UnsafeRawBufferPointer) -> Problem? {
        guard message.count >= payloadOffset else { return .shorterThanHeader }
        let claimed = Int(message.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        guard claimed == message.count else { return .lengthMismatch(claimed: claimed, received: message.count) }
        return check(message, from: payloadOffset, to: message.count, rules: conntrack, path: [])
    }

    public static func problem(in bytes: [UInt8]) -> Problem? {
        bytes.withUnsafeBytes { problem(in: $0) }
    }

    /// Walks one attribute list as the library does (an attribute whose length runs past its parent ends
    /// the list: the library stops there too, so what lies beyond is never read).
    private static func check(_ m: UnsafeRawBufferPointer, from start: Int, to end: Int, rules: [Int: Rule],
                              path: [Int]) -> Problem? {
        var offset = start
        while end - offset >= attributeHeader {
            let length = Int(m.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = Int(m.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & typeMask)
            guard length >= attributeHeader, length <= end - offset else { return nil }
            let payload = length - attributeHeader
            if let rule = rules[type] {
                let here = path + [type]
                let bad = Problem.badAttribute(path: here, length: payload)
                switch rule {
                case .exact(let size): if payload != size { return bad }
                        case .string: if payload == 0 || m[offset + length - 1] != 0 { return bad }
                case .any: break
                case .nest(let inner):
                    if payload != 0 && payload < attributeHeader { return bad }
                    if let found = check(m, from: offset + attributeHeader, to: offset + length, rules: inner,
                                         path: here) { return found }
                }
            }
            offset += (length + 3) & ~3
        }
        return nil
    }

    // MARK: The ctnetlink attributes (include/uapi/linux/netfilter/nfnetlink_conntrack.h)

    private static let u8 = Rule.exact(1), u16 = Rule.exact(2), u32 = Rule.exact(4), u64 = Rule.exact(8)

    private static let ip: [Int: Rule] = [1: u32, 2: u32, 3: .exact(16), 4: .exact(16)]  // CTA_IP_V4/V6_SRC/DST
    // CTA_PROTO_NUM, ports, ICMP id/type/code, ICMPv6 id/type/code
    private static let proto: [Int: Rule] = [1: u8, 2: u16, 3: u16, 4: u16, 5: u8, 6: u8, 7: u16, 8: u8, 9: u8]
    private static let tuple: [Int: Rule] = [1: .nest(ip), 2: .nest(proto), 3: u16]  // IP, PROTO, ZONE
    // state, window scales, flags (struct nf_ct_tcp_flags: two bytes)
    private static let tcp: [Int: Rule] = [1: u8, 2: u8, 3: u8, 4: .exact(2), 5: .exact(2)]
    private static let dccp: [Int: Rule] = [1: u8, 2: u8, 3: u64]
    private static let sctp: [Int: Rule] = [1: u8, 2: u32, 3: u32]
    private static let protoinfo: [Int: Rule] = [1: .nest(tcp), 2: .nest(dccp), 3: .nest(sctp)]
    private static let counters: [Int: Rule] = [1: u64, 2: u64, 3: u32, 4: u32, 5: .any]
    private static let seqAdjust: [Int: Rule] = [1: u32, 2: u32, 3: u32]
    private static let help: [Int: Rule] = [1: .string, 2: .any]
    private static let secctx: [Int: Rule] = [1: .string]
    private static let timestamp: [Int: Rule] = [1: u64, 2: u64, 3: .any]
    private static let synproxy: [Int: Rule] = [1: u32, 2: u32, 3: u32]
    private static let natProto: [Int: Rule] = [1: u16, 2: u16]
    private static let nat: [Int: Rule] = [1: u32, 2: u32, 3: .nest(natProto), 4: .exact(16), 5: .exact(16)]

    static let conntrack: [Int: Rule] = [
        1: .nest(tuple), 2: .nest(tuple),                 // CTA_TUPLE_ORIG, CTA_TUPLE_REPLY
        3: u32, 4: .nest(protoinfo), 5: .nest(help),      // STATUS, PROTOINFO, HELP
        6: .nest(nat), 7: u32, 8: u32,                    // NAT_SRC, TIMEOUT, MARK
        9: .nest(counters), 10: .nest(counters),          // COUNTERS_ORIG, COUNTERS_REPLY
        11: u32, 12: u32, 13: .nest(nat),                 // USE, ID, NAT_DST
        14: .nest(tuple),                                 // TUPLE_MASTER
        15: .nest(seqAdjust), 16: .nest(seqAdjust),       // SEQ_ADJ_ORIG, SEQ_ADJ_REPLY
        17: u32, 18: u16, 19: .nest(secctx),              // SECMARK, ZONE, SECCTX
        20: .nest(timestamp), 21: u32,                    // TIMESTAMP, MARK_MASK
        22: .any, 23: .any,                               // LABELS, LABELS_MASK (a bitmap of any length)
        24: .nest(synproxy), 26: u32, 27: u64,            // SYNPROXY, STATUS_MASK, TIMESTAMP_EVENT
    ]
}
