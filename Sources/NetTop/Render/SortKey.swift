import TracerCore

/// The columns rows can be sorted by (`--sort KEY`, and the UI's sort keys).
///
/// Quantities (bytes, rates, retransmits, age) sort largest first and names and numbers that identify
/// a row (pid, comm, proto, port, netns) sort ascending, because that is what a user scanning for "the
/// busiest" or "this process" expects first; `--reverse` flips either.
enum SortKey: String, CaseIterable, Sendable {
    case rate, bytes, sent, recv, retrans, age, pid, comm, proto, port, netns

    /// One line each, for `--help`.
    var summary: String {
        switch self {
        case .rate: return "bytes sent + received during the last interval, largest first (default)"
        case .bytes: return "total bytes sent + received, largest first"
        case .sent: return "total bytes sent, largest first"
        case .recv: return "total bytes received, largest first"
        case .retrans: return "total retransmitted segments, largest first"
        case .age: return "time since the connection was first seen, oldest first"
        case .pid: return "process id, ascending"
        case .comm: return "process name, ascending"
        case .proto: return "protocol (tcp before udp)"
        case .port: return "local port, then remote port, ascending"
        case .netns: return "network namespace inode, ascending"
        }
    }

    /// Orders `a` before `b` by this key alone; `nil` when the key cannot tell them apart.
    func precedes(_ a: ConnectionStats, _ b: ConnectionStats) -> Bool? {
        switch self {
        case .rate: return Self.descending(a.lastSentBytes &+ a.lastRecvBytes, b.lastSentBytes &+ b.lastRecvBytes)
        case .bytes:
            return Self.descending(a.monotonicSentBytes &+ a.monotonicRecvBytes,
                                   b.monotonicSentBytes &+ b.monotonicRecvBytes)
        case .sent: return Self.descending(a.monotonicSentBytes, b.monotonicSentBytes)
        case .recv: return Self.descending(a.monotonicRecvBytes, b.monotonicRecvBytes)
        case .retrans: return Self.descending(a.monotonicRetransmits, b.monotonicRetransmits)
        // Oldest first means the smallest first-seen time first.
        case .age: return Self.ascending(a.firstSeen, b.firstSeen)
        case .pid: return Self.ascending(a.pid, b.pid)
        case .comm: return Self.ascending(a.comm, b.comm)
        case .proto: return Self.ascending(a.tuple.type.rawValue, b.tuple.type.rawValue)
        case .port:
            if let order = Self.ascending(a.tuple.sport, b.tuple.sport) { return order }
            return Self.ascending(a.tuple.dport, b.tuple.dport)
        case .netns: return Self.ascending(a.tuple.netns, b.tuple.netns)
        }
    }

    private static func ascending<T: Comparable>(_ a: T, _ b: T) -> Bool? {
        a == b ? nil : a < b
    }

    private static func descending<T: Comparable>(_ a: T, _ b: T) -> Bool? {
        a == b ? nil : a > b
    }
}
