/// The ports something listens on, per protocol and network namespace: TCP sockets in LISTEN, and UDP
/// sockets bound to a port and not connected. Filled from /proc at start, then kept current from the
/// kernel's LISTEN/UNLISTEN events; `DirectionResolver` reads it for rows whose origin is unknown.
///
/// Each `add` and `remove` stands for one socket: an IPv4 and an IPv6 listener, or an SO_REUSEPORT group,
/// share a port, and closing one of them must not make the port look closed.
public struct PortMapping: Sendable, Hashable {
    private struct Key: Hashable, Sendable {
        var type: ConnectionType
        var netns: UInt32
        var port: UInt16
    }

    private var sockets: [Key: Int] = [:]

    public init() {}

    public init<S: Sequence>(_ listeners: S) where S.Element == (type: ConnectionType, netns: UInt32, port: UInt16) {
        for l in listeners { add(type: l.type, netns: l.netns, port: l.port) }
    }

    public mutating func add(type: ConnectionType, netns: UInt32, port: UInt16) {
        sockets[Key(type: type, netns: netns, port: port), default: 0] += 1
    }

    /// An unmatched remove (a socket the /proc read missed) is ignored rather than going negative.
    public mutating func remove(type: ConnectionType, netns: UInt32, port: UInt16) {
        let key = Key(type: type, netns: netns, port: port)
        guard let n = sockets[key] else { return }
        sockets[key] = n > 1 ? n - 1 : nil
    }

    public func isListening(type: ConnectionType, netns: UInt32, port: UInt16) -> Bool {
        sockets[Key(type: type, netns: netns, port: port)] != nil
    }

    /// Distinct (type, netns, port) entries listening.
    public var count: Int { sockets.count }
}
