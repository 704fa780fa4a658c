/// One row as a client sees it: the seed's ConnectionStats, with per-client `last*` deltas.
/// The fields are ordered for size, not by meaning (the initializer takes them by name): the one-byte ones
/// after the 4-byte ones, in the room before the next 8-byte field. 200,000 rows are made every tick at 100k
/// connections, and in the order of meaning each was 16 bytes larger.
public struct ConnectionStats: Sendable, Hashable {
    public var tuple: ConnectionTuple
    public var pid: UInt32
    public var monotonicRetransmits: UInt32
    public var lastRetransmits: UInt32
    public var direction: Direction
    /// True for a connection that closed since this client's previous poll.
    public var closed: Bool
    public var tcpState: UInt8
    public var comm: String
    public var monotonicSentBytes: UInt64
    public var lastSentBytes: UInt64
    public var monotonicRecvBytes: UInt64
    public var lastRecvBytes: UInt64
    /// Unix seconds of the last activity (wall clock, converted by the caller's clock offset).
    public var lastUpdateEpoch: UInt64
    /// Monotonic nanoseconds of the first and last activity, for ages and rates.
    public var firstSeen: UInt64
    public var lastActivity: UInt64
    /// The NAT translation, when conntrack knows one. Kept boxed: few rows have one, and held in place it
    /// made every row 40 bytes larger (8 MB of the 200,000 rows made each tick at 100k connections).
    public var conntrack: IPTranslation? {
        get { translation?.value }
        set { translation = newValue.map(TranslationBox.init) }
    }
    private var translation: TranslationBox?

    public init(tuple: ConnectionTuple, direction: Direction, pid: UInt32, comm: String,
                monotonicSentBytes: UInt64, lastSentBytes: UInt64,
                monotonicRecvBytes: UInt64, lastRecvBytes: UInt64,
                monotonicRetransmits: UInt32, lastRetransmits: UInt32,
                lastUpdateEpoch: UInt64, firstSeen: UInt64, lastActivity: UInt64,
                closed: Bool, tcpState: UInt8, conntrack: IPTranslation? = nil) {
        self.tuple = tuple
        self.direction = direction
        self.pid = pid
        self.comm = comm
        self.monotonicSentBytes = monotonicSentBytes
        self.lastSentBytes = lastSentBytes
        self.monotonicRecvBytes = monotonicRecvBytes
        self.lastRecvBytes = lastRecvBytes
        self.monotonicRetransmits = monotonicRetransmits
        self.lastRetransmits = lastRetransmits
        self.lastUpdateEpoch = lastUpdateEpoch
        self.firstSeen = firstSeen
        self.lastActivity = lastActivity
        self.closed = closed
        self.tcpState = tcpState
        self.translation = conntrack.map(TranslationBox.init)
    }
}

/// A translation behind a reference, compared and hashed by its value.
private final class TranslationBox: Hashable, Sendable {
    let value: IPTranslation

    init(_ value: IPTranslation) { self.value = value }

    static func == (a: TranslationBox, b: TranslationBox) -> Bool { a.value == b.value }
    func hash(into hasher: inout Hasher) { hasher.combine(value) }
}

/// The reply direction of a NATed flow, as conntrack records it (the JSON contract's `conntrack`).
public struct IPTranslation: Sendable, Hashable {
    public var replSrcIP: IPAddress
    public var replSport: UInt16
    public var replDstIP: IPAddress
    public var replDport: UInt16

    public init(replSrcIP: IPAddress, replSport: UInt16, replDstIP: IPAddress, replDport: UInt16) {
        self.replSrcIP = replSrcIP
        self.replSport = replSport
        self.replDstIP = replDstIP
        self.replDport = replDport
    }
}
