/// The recent rates of one connection, oldest first, for the detail view's sparkline.
///
/// Floats, and a fixed number of samples: the UI keeps one of these per connection shown, and a busy
/// host shows many (see `TrafficHistory.maxHistories`).
struct RateHistory: Sendable, Equatable {
    static let capacity = 60

    private(set) var tx: [Float] = []
    private(set) var rx: [Float] = []

    /// The tick of the newest sample (`TrafficHistory` counts ticks), to tell the stale ones.
    private(set) var lastTick = 0

    /// Adds one tick's rates (bytes per second), dropping the oldest beyond `capacity`.
    mutating func append(tx txRate: Double, rx rxRate: Double, tick: Int = 0) {
        lastTick = tick
        if tx.count == Self.capacity {
            tx.removeFirst()
            rx.removeFirst()
        }
        tx.append(Float(txRate))
        rx.append(Float(rxRate))
    }

    var count: Int { tx.count }
}
