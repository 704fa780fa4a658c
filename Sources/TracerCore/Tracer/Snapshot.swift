/// What one tick gives one client: the rows it should see and the tracer's self-telemetry.
public struct Snapshot: Sendable {
    /// Unix seconds (wall clock) of the tick.
    public var timestamp: Double
    public var backend: String
    public var connections: [ConnectionStats]
    public var stats: TracerStats
    /// Network namespace inode → name (`ip netns` names), for display.
    public var netnsNames: [UInt32: String]

    public init(timestamp: Double, backend: String, connections: [ConnectionStats], stats: TracerStats,
                netnsNames: [UInt32: String] = [:]) {
        self.timestamp = timestamp
        self.backend = backend
        self.connections = connections
        self.stats = stats
        self.netnsNames = netnsNames
    }
}

/// Where snapshots come from: the real kernel tracer, or a fake in tests and render checks.
public protocol ConnectionSource: AnyObject {
    var backendName: String { get }
    /// Polls the kernel (or the fake) and returns this client's view. `client` names a consumer with its
    /// own `last*` deltas (the UI, a JSON stream).
    func tick(client: String) throws(NetTopError) -> Snapshot
    /// Detaches everything; safe to call twice.
    func close()
    /// Hands back the rows of a snapshot the caller is done with, for the next tick to refill.
    func recycle(_ rows: consuming [ConnectionStats])
}

extension ConnectionSource {
    /// Sources that make few rows need nothing back.
    public func recycle(_ rows: consuming [ConnectionStats]) {}
}
