/// The bounds and timeouts of a `ConnectionTable`. Durations are nanoseconds, the unit of the `now:`
/// clock every table call takes, so the table never converts.
public struct TableConfig: Sendable, Hashable {
    /// A TCP row with no activity for longer than this is dropped (and its kernel entry deleted).
    public var tcpTimeout: UInt64
    /// UDP has no close to tell us a flow ended, so its idle timeout is much shorter than TCP's.
    public var udpTimeout: UInt64
    /// Live rows (kernel rows plus rows seeded from /proc) the table tracks at most.
    public var maxConnections: Int
    /// Closed rows kept for clients that have not seen them yet; the oldest go first.
    public var maxClosed: Int
    /// A client that has not polled for this long is forgotten, so it no longer holds closed rows.
    public var clientExpiry: UInt64

    public static let nanosecondsPerSecond: UInt64 = 1_000_000_000

    public init(tcpTimeout: UInt64 = 1200 * nanosecondsPerSecond,
                udpTimeout: UInt64 = 30 * nanosecondsPerSecond,
                maxConnections: Int = 65536,
                maxClosed: Int = 65536,
                clientExpiry: UInt64 = 120 * nanosecondsPerSecond) {
        self.tcpTimeout = tcpTimeout
        self.udpTimeout = udpTimeout
        self.maxConnections = maxConnections
        self.maxClosed = maxClosed
        self.clientExpiry = clientExpiry
    }
}
