/// A kernel field the no-BTF programs read, as the offset guesser looks for it: where to search, what
/// it holds for a connection with known parameters, and how many connections must agree.
enum GuessField: String, CaseIterable, Sendable {
    case family, sport, dport, saddr, daddr, v6saddr, v6daddr, netns, cookie, userlocks

    /// The kernel struct and member, as BTF names them (`net` / `ns.inum`: the member path in struct net).
    var structName: String {
        switch self {
        case .userlocks: return "sock"
        default: return "sock_common"
        }
    }

    var memberName: String {
        switch self {
        case .family: return "skc_family"
        case .sport: return "skc_num"
        case .dport: return "skc_dport"
        case .saddr: return "skc_rcv_saddr"
        case .daddr: return "skc_daddr"
        case .v6saddr: return "skc_v6_rcv_saddr"
        case .v6daddr: return "skc_v6_daddr"
        case .netns: return "skc_net"
        case .cookie: return "skc_cookie"
        case .userlocks: return "sk_userlocks"
        }
    }

    /// Bytes compared, and the alignment candidates are tried at.
    var size: Int {
        switch self {
        case .family, .sport, .dport: return 2
        case .saddr, .daddr: return 4
        case .v6saddr, .v6daddr: return 16
        case .netns: return 4        // the inode number, in struct net
        case .cookie: return 8
        case .userlocks: return 1
        }
    }

    var alignment: Int { self == .v6saddr || self == .v6daddr ? 4 : size }

    /// Offsets searched in struct sock: [0, limit). sock_common is 136 bytes on 6.x kernels; the rest of
    /// struct sock is larger and moves more between versions.
    var limit: Int {
        switch self {
        case .userlocks: return 1024
        default: return 512
        }
    }

    /// netns: a pointer in struct sock (at 8-byte aligned offsets below `limit`) to a struct net, in which
    /// the inode number is searched below `innerLimit`.
    var isPointer: Bool { self == .netns }
    var innerLimit: Int { 2048 }

    /// Connections that must agree on a candidate before it is taken.
    var confirmations: Int {
        switch self {
        case .family: return 4
        case .userlocks: return OffsetGuessMachine.userlocksBinds.count
        case .cookie: return 2
        case .netns: return 4
        default: return 3
        }
    }

    var needsIPv6: Bool { self == .v6saddr || self == .v6daddr }
}
