import TracerCore

/// The columns rows can be sorted by (`--sort KEY`, and the UI's sort keys).
///
/// Quantities (bytes, rates, retransmits, age) sort largest first and names and numbers that identify
/// a row (pid, comm, proto, port, netns) sort ascending, because that is what a user scanning for "the
/// busiest" or "this process" expects first; `--reverse` flips either.
enum SortKey: String, CaseIterable, Sendable {
    case rate, bytes, sent, recv, retrans, age, pid, comm, proto, port, netns
    /// Keys of the interactive UI's columns that `--sort` has no word for (see `allCases`).
    case txrate, rxrate, dir, local, remote

    /// The keys `--sort` documents, in its help and error messages. The UI sorts by every column, and
    /// the five column keys above are left out here: the command-line list is part of the contract scripts
    /// and tests read, and adding to it is a separate decision (`--sort txrate` is still accepted).
    static let allCases: [SortKey] = [.rate, .bytes, .sent, .recv, .retrans, .age, .pid, .comm, .proto, .port, .netns]

    /// Every key, the UI's column keys included.
    static let everyKey: [SortKey] = allCases + [.txrate, .rxrate, .dir, .local, .remote]

    /// True when the key sorts largest (or oldest) first unless reversed.
    var isDescendingByDefault: Bool {
        switch self {
        case .rate, .bytes, .sent, .recv, .retrans, .txrate, .rxrate: return true
        case .age, .pid, .comm, .proto, .port, .netns, .dir, .local, .remote: return false
        }
    }

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
        case .txrate: return "bytes sent during the last interval, largest first"
        case .rxrate: return "bytes received during the last interval, largest first"
        case .dir: return "direction (incoming, outgoing, local, unknown), then local port"
        case .local: return "local address, then local port"
        case .remote: return "remote address, then remote port"
        }
    }

    /// Orders `a` before `b` by this key alone; `nil` when the key cannot tell them apart.
    func precedes(_ a: ConnectionStats, _ b: ConnectionStats) -> Bool? {
        withUnsafePointer(to: a) { a in withUnsafePointer(to: b) { b in precedes(a, b) } }
    }

    /// The same for rows read in place: only the fields the key needs are loaded, where passing rows by
    /// value out of an array copied each whole (and retained its name) for every comparison.
    func precedes(_ a: UnsafePointer<ConnectionStats>, _ b: UnsafePointer<ConnectionStats>) -> Bool? {
        switch self {
        case .rate:
            return Self.descending(a.pointee.lastSentBytes &+ a.pointee.lastRecvBytes,
                                   b.pointee.lastSentBytes &+ b.pointee.lastRecvBytes)
        case .bytes:
            return Self.descending(a.pointee.monotonicSentBytes &+ a.pointee.monotonicRecvBytes,
                                   b.pointee.monotonicSentBytes &+ b.pointee.monotonicRecvBytes)
        case .sent: return Self.descending(a.pointee.monotonicSentBytes, b.pointee.monotonicSentBytes)
        case .recv: return Self.descending(a.pointee.monotonicRecvBytes, b.pointee.monotonicRecvBytes)
        case .retrans: return Self.descending(a.pointee.monotonicRetransmits, b.pointee.monotonicRetransmits)
        // Oldest first means the smallest first-seen time first.
        case .age: return Self.ascending(a.pointee.firstSeen, b.pointee.firstSeen)
        case .pid: return Self.ascending(a.pointee.pid, b.pointee.pid)
        case .comm: return Self.ascending(a.pointee.comm, b.pointee.comm)
        case .proto: return Self.ascending(a.pointee.tuple.type.rawValue, b.pointee.tuple.type.rawValue)
        case .port:
            if let order = Self.ascending(a.pointee.tuple.sport, b.pointee.tuple.sport) { return order }
            return Self.ascending(a.pointee.tuple.dport, b.pointee.tuple.dport)
        case .netns: return Self.ascending(a.pointee.tuple.netns, b.pointee.tuple.netns)
        case .txrate: return Self.descending(a.pointee.lastSentBytes, b.pointee.lastSentBytes)
        case .rxrate: return Self.descending(a.pointee.lastRecvBytes, b.pointee.lastRecvBytes)
        // Rows of one direction are many: the local port keeps them apart, as the port key orders them.
        case .dir:
            if let order = Self.ascending(Self.directionRank(a.pointee.direction), Self.directionRank(b.pointee.direction)) {
                return order
            }
            return Self.ascending(a.pointee.tuple.sport, b.pointee.tuple.sport)
        case .local:
            if let order = Self.ascending(a.pointee.tuple.source, b.pointee.tuple.source) { return order }
            return Self.ascending(a.pointee.tuple.sport, b.pointee.tuple.sport)
        case .remote:
            if let order = Self.ascending(a.pointee.tuple.dest, b.pointee.tuple.dest) { return order }
            return Self.ascending(a.pointee.tuple.dport, b.pointee.tuple.dport)
        }
    }

    private static func directionRank(_ direction: Direction) -> Int {
        switch direction {
        case .incoming: return 0
        case .outgoing: return 1
        case .local: return 2
        case .none: return 3
        }
    }

    private static func ascending<T: Comparable>(_ a: T, _ b: T) -> Bool? {
        a == b ? nil : a < b
    }

    private static func descending<T: Comparable>(_ a: T, _ b: T) -> Bool? {
        a == b ? nil : a > b
    }
}
