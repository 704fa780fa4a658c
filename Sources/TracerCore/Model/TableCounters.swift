/// The table's share of the self-telemetry (`TracerStats`). Totals since start unless said otherwise;
/// `mapFullDrops` counts only what the table refused, the kernel counts its own.
public struct TableCounters: Sendable, Hashable {
    /// Live rows now: kernel rows plus rows seeded from /proc.
    public var trackedCount = 0
    /// Closed rows now waiting for a client to see them.
    public var closedPending = 0
    /// Clients now registered (polled within `clientExpiry`).
    public var clients = 0
    public var closedReceived: UInt64 = 0
    /// Closed rows dropped, oldest first, because `maxClosed` were already waiting.
    public var closedBufferDrops: UInt64 = 0
    /// Seeded rows not tracked, or evicted, because `maxConnections` was reached.
    public var mapFullDrops: UInt64 = 0
    public var expiredTCP: UInt64 = 0
    public var expiredUDP: UInt64 = 0

    public init() {}
}
