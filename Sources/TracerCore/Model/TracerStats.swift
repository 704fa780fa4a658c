/// Self-telemetry, shown in every JSON tick's `stats`, `nettop debug stats` and the UI header.
/// Counters are totals since start unless named otherwise.
public struct TracerStats: Sendable, Hashable {
    public var tracked = 0               // rows currently tracked (live connections)
    public var closedReceived: UInt64 = 0 // close events received through the ring buffer
    public var closedLost: UInt64 = 0    // ring-buffer events the kernel could not queue
    public var closedBufferDrops: UInt64 = 0 // closed rows dropped because the closed buffer was full
    public var mapFullDrops: UInt64 = 0  // connections not tracked: --max-connections reached
    public var expiredTCP: UInt64 = 0
    public var expiredUDP: UInt64 = 0
    public var pollMs: Double = 0        // duration of the last poll + state update
    public var tickMs: Double = 0        // the last tick in all: poll, state update and the rows made for its client
    public var wholeMapReads: UInt64 = 0 // ticks that read the whole connection map (not only changed entries)
    public var udpPeerUnknown: UInt64 = 0 // UDP bytes on unconnected sockets whose peer was unreadable
    public var syscallContextFull: UInt64 = 0
    public var conntrackResyncs: UInt64 = 0
    public var conntrackAvailable = false
    public var conntrackRejected: UInt64 = 0 // conntrack messages refused unparsed (malformed)
    /// conntrack reads that failed: an event read, a dump (retried at the next tick), a namespace that
    /// could not be opened
    public var conntrackErrors: UInt64 = 0
    public var maxConnections = 0

    public init() {}
}
