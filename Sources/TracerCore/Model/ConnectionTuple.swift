/// What identifies one socket end to a user: protocol, namespace and both endpoints.
/// `source`/`sport` are the local end, `dest`/`dport` the remote one (the seed's naming).
///
/// The addresses are stored as their words and one byte of families, not as two `IPAddress` values:
/// each of those pads its family out to 8 bytes, and a tuple is in every row of every tick (48 bytes
/// instead of 72, at 200k rows twice over).
public struct ConnectionTuple: Hashable, Sendable, Comparable {
    public var type: ConnectionType
    /// Bit 0 set: the source is IPv6; bit 1: the dest is.
    private var families: UInt8
    public var sport: UInt16
    public var dport: UInt16
    public var netns: UInt32
    private var sourceHigh: UInt64
    private var sourceLow: UInt64
    private var destHigh: UInt64
    private var destLow: UInt64

    public init(type: ConnectionType, netns: UInt32, source: IPAddress, sport: UInt16, dest: IPAddress, dport: UInt16) {
        self.type = type
        self.netns = netns
        self.sport = sport
        self.dport = dport
        families = (source.family == .v6 ? 1 : 0) | (dest.family == .v6 ? 2 : 0)
        sourceHigh = source.high
        sourceLow = source.low
        destHigh = dest.high
        destLow = dest.low
    }

    public var source: IPAddress {
        get { Self.address(families, bit: 1, sourceHigh, sourceLow) }
        set { Self.store(newValue, bit: 1, in: &families, &sourceHigh, &sourceLow) }
    }

    public var dest: IPAddress {
        get { Self.address(families, bit: 2, destHigh, destLow) }
        set { Self.store(newValue, bit: 2, in: &families, &destHigh, &destLow) }
    }

    private static func address(_ families: UInt8, bit: UInt8, _ high: UInt64, _ low: UInt64) -> IPAddress {
        IPAddress(family: families & bit == 0 ? .v4 : .v6, high: high, low: low)
    }

    private static func store(_ address: IPAddress, bit: UInt8, in families: inout UInt8, _ high: inout UInt64,
                              _ low: inout UInt64) {
        families = families & ~bit | (address.family == .v6 ? bit : 0)
        high = address.high
        low = address.low
    }

    /// The family shown for the row: the local address's (IPv4-mapped addresses already read as IPv4).
    public var family: Family { dest.isUnspecified ? source.family : dest.family }

    /// By type, netns, source, sport, dest, dport. Written out field by field: the output of every tick
    /// is sorted with it, and building a tuple with `type.rawValue` for each comparison was the slow part.
    public static func < (a: ConnectionTuple, b: ConnectionTuple) -> Bool {
        if a.type != b.type { return a.type.rawValue < b.type.rawValue }
        if a.netns != b.netns { return a.netns < b.netns }
        if a.source != b.source { return a.source < b.source }
        if a.sport != b.sport { return a.sport < b.sport }
        if a.dest != b.dest { return a.dest < b.dest }
        return a.dport < b.dport
    }
}

/// The kernel map's key for a socket end (socket cookie, plus the peer for UDP). `nil` for rows that
/// came from /proc at start and have not been seen by the BPF programs yet.
public struct KernelKey: Hashable, Sendable {
    public var cookie: UInt64
    public var peer: IPAddress?
    public var peerPort: UInt16

    public init(cookie: UInt64, peer: IPAddress?, peerPort: UInt16) {
        self.cookie = cookie
        self.peer = peer
        self.peerPort = peerPort
    }
}
