/// The ports something listens on, per protocol and network namespace: TCP sockets in LISTEN, and UDP
/// sockets bound to a port and not connected. Filled from /proc at start, then kept current from the
/// kernel's LISTEN/UNLISTEN events; `DirectionResolver` reads it for rows whose origin is unknown.
///
/// Each `add` and `remove` stands for one socket: an IPv4 and an IPv6 listener, or an SO_REUSEPORT group,
/// share a port, and closing one of them must not make the port look closed.
///
/// It also knows who listens: the process that called listen() (the kernel's LISTEN event carries it).
/// An accepted connection that has moved no bytes has no owner of its own yet (the tracepoint backend has
/// no accept hook: the one accept()'s exit offers would put every system call of the host on the kernel's
/// slow tracing path), so it is shown with its listener's owner — only when every socket on that port
/// is known to be one process's (from the LISTEN event, or at start from the fd that holds it); a port
/// shared by several processes, or whose owner was not found, names nobody until all its sockets close.
public struct PortMapping: Sendable, Hashable {
    /// The process that opened a listening socket.
    public struct Owner: Sendable, Hashable {
        public var pid: UInt32
        public var comm: String
        public init(pid: UInt32, comm: String) {
            self.pid = pid
            self.comm = comm
        }

        /// The owner of two sockets on one port: the first's when both are one process's, else nobody
        /// (one unknown, or two processes).
        static func shared(_ a: Owner?, _ b: Owner?) -> Owner? {
            a?.pid == b?.pid ? a : nil
        }
    }

    private struct Key: Hashable, Sendable {
        var type: ConnectionType
        var netns: UInt32
        var port: UInt16
    }

    private struct Sockets: Hashable, Sendable {
        var count: Int
        /// Set while every socket added had this owner; once two differ or one is unknown, nil until
        /// the count is back to zero.
        var owner: Owner?
    }

    private var sockets: [Key: Sockets] = [:]

    public init() {}

    public init<S: Sequence>(_ listeners: S) where S.Element == (type: ConnectionType, netns: UInt32, port: UInt16) {
        for l in listeners { add(type: l.type, netns: l.netns, port: l.port) }
    }

    /// The listening ports read at start, each socket of them, with their owners where /proc named one.
    public init(listening: [ListeningPort]) {
        for l in listening {
            for _ in 0..<max(1, l.sockets) { add(type: l.type, netns: l.netns, port: l.port, owner: l.owner) }
        }
    }

    /// One more socket listening; `owner` nil when it is not known (read from /proc).
    public mutating func add(type: ConnectionType, netns: UInt32, port: UInt16, owner: Owner? = nil) {
        let key = Key(type: type, netns: netns, port: port)
        guard var s = sockets[key] else {
            sockets[key] = Sockets(count: 1, owner: owner)
            return
        }
        s.count += 1
        s.owner = Owner.shared(s.owner, owner)
        sockets[key] = s
    }

    /// An unmatched remove (a socket the /proc read missed) is ignored rather than going negative.
    public mutating func remove(type: ConnectionType, netns: UInt32, port: UInt16) {
        let key = Key(type: type, netns: netns, port: port)
        guard var s = sockets[key] else { return }
        s.count -= 1
        sockets[key] = s.count > 0 ? s : nil
    }

    public func isListening(type: ConnectionType, netns: UInt32, port: UInt16) -> Bool {
        sockets[Key(type: type, netns: netns, port: port)] != nil
    }

    /// The one process listening on the port, if every socket there is known to be its.
    public func owner(type: ConnectionType, netns: UInt32, port: UInt16) -> Owner? {
        sockets[Key(type: type, netns: netns, port: port)]?.owner
    }

    /// Distinct (type, netns, port) entries listening.
    public var count: Int { sockets.count }
}
