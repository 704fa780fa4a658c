/// Tells which end of a connection a socket end is, from what the kernel saw and the listening ports.
public enum DirectionResolver {
    public static func direction(for sample: borrowing ConnectionSample, ports: PortMapping) -> Direction {
        direction(tuple: sample.tuple, origin: sample.origin, ports: ports)
    }

    public static func direction(tuple: ConnectionTuple, origin: Origin, ports: PortMapping) -> Direction {
        // No peer (e.g. a UDP datagram whose sender could not be read): there is no other end to be
        // incoming from or outgoing to.
        if tuple.dest.isUnspecified && tuple.dport == 0 { return .none }
        // Loopback never leaves the namespace, so the peer is another socket end of this host and netns.
        if tuple.dest.isLoopback { return .local }
        switch origin {
        case .connect, .udpClient:
            return .outgoing
        case .accept, .udpBound:
            return .incoming
        case .unknown:
            // Rows read from /proc at start: whoever owns a listening local port was connected to.
            return ports.isListening(type: tuple.type, netns: tuple.netns, port: tuple.sport) ? .incoming : .outgoing
        }
    }
}
