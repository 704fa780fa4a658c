import TracerCore

/// What the UI knows about the traffic: the last tick's rows with their rates, the connections that
/// closed recently (the tracer reports a closed row once; the UI keeps it a few ticks, dimmed), and each
/// connection's recent rates. A value: pausing keeps a copy while this one goes on recording.
struct TrafficHistory: Sendable {
    struct Row: Sendable, Equatable {
        var stats: ConnectionStats
        var id: ConnectionID
        /// Bytes per second over the last interval (0 on the ticks after a connection closed).
        var txRate: Double
        var rxRate: Double
        /// nil while the connection is open; 0 on the tick it closed, then 1, 2, ... until it leaves.
        var closedTicksAgo: Int?
        /// Seconds from first seen to this tick, or to the last activity of a closed connection.
        var ageSeconds: Double

        var isClosed: Bool { closedTicksAgo != nil }
    }

    /// How many ticks a closed row stays on screen, the one it closed on included.
    static let closedLingerTicks = 3
    /// At most this many connections keep a rate history; later ones get theirs when room frees up.
    static let maxHistories = 10_000

    private(set) var rows: [Row] = []
    private(set) var histories: [ConnectionID: RateHistory] = [:]
    /// Unix seconds of the last tick (0 before the first).
    private(set) var timestamp: Double = 0
    private(set) var backend = ""
    private(set) var stats = TracerStats()
    private(set) var netnsNames: [UInt32: String] = [:]
    /// Seconds the last tick's `last*` counters cover.
    private(set) var elapsed: Double = 0
    private(set) var ticks = 0
    /// Rates of all connections together (the filters do not apply), bytes per second.
    private(set) var totalTxRate: Double = 0
    private(set) var totalRxRate: Double = 0
    /// CLOCK_MONOTONIC nanoseconds of the last tick, to place `firstSeen` and `lastActivity` in time.
    private(set) var monotonicNs: UInt64 = 0

    init() {}

    /// Takes one tick. `elapsed` is the time the snapshot's `last*` counters cover; `monotonicNs` the
    /// CLOCK_MONOTONIC time of the tick, the clock of the rows' `firstSeen`.
    mutating func record(_ snapshot: Snapshot, elapsed: Double, monotonicNs: UInt64) {
        var next: [Row] = []
        next.reserveCapacity(snapshot.connections.count + 8)
        var totalTx = 0.0, totalRx = 0.0
        for stats in snapshot.connections {
            let tx = Self.rate(stats.lastSentBytes, elapsed), rx = Self.rate(stats.lastRecvBytes, elapsed)
            totalTx += tx
            totalRx += rx
            next.append(Row(stats: stats, id: ConnectionID(stats), txRate: tx, rxRate: rx,
                            closedTicksAgo: stats.closed ? 0 : nil,
                            ageSeconds: ConnectionText.ageSeconds(stats, monotonicNs: monotonicNs)))
        }
        // Closed rows of earlier ticks stay a few ticks more, unless the tracer reports their connection
        // again. Only those few are looked for among this tick's rows (no set of every row's identity:
        // a busy host has tens of thousands).
        var lingering: [ConnectionID: Row] = [:]
        for var row in rows {
            guard let ago = row.closedTicksAgo, ago + 1 < Self.closedLingerTicks else { continue }
            row.closedTicksAgo = ago + 1
            row.txRate = 0
            row.rxRate = 0
            // So that sorting by rate treats it as the idle row it now is.
            row.stats.lastSentBytes = 0
            row.stats.lastRecvBytes = 0
            row.stats.lastRetransmits = 0
            lingering[row.id] = row
        }
        if !lingering.isEmpty {
            for row in next where lingering[row.id] != nil { lingering[row.id] = nil }
            next.append(contentsOf: lingering.values.sorted { $0.stats.tuple < $1.stats.tuple })
        }

        // Only rows the tracer reported this tick have a new sample; lingering closed rows keep theirs.
        let tick = ticks + 1
        for row in next where (row.closedTicksAgo ?? 0) == 0 {
            if let i = histories.index(forKey: row.id) {
                guard histories.values[i].lastTick != tick else { continue }
                histories.values[i].append(tx: row.txRate, rx: row.rxRate, tick: tick)
            } else if histories.count < Self.maxHistories {
                var history = RateHistory()
                history.append(tx: row.txRate, rx: row.rxRate, tick: tick)
                histories[row.id] = history
            }
        }
        // Histories of connections no longer in the table go (those lingering closed keep theirs).
        if histories.count > 0 {
            let gone = histories.filter { $0.value.lastTick != tick && lingering[$0.key] == nil }.map(\.key)
            for id in gone { histories[id] = nil }
        }

        rows = next
        timestamp = snapshot.timestamp
        backend = snapshot.backend
        stats = snapshot.stats
        netnsNames = snapshot.netnsNames
        self.elapsed = elapsed
        ticks += 1
        totalTxRate = totalTx
        totalRxRate = totalRx
        self.monotonicNs = monotonicNs
    }

    /// The row of a connection, if it is still in the table (a live row before a closed one).
    func row(_ id: ConnectionID) -> Row? {
        rows.first { $0.id == id && !$0.isClosed } ?? rows.first { $0.id == id }
    }

    /// Unix seconds of a monotonic time (a row's `firstSeen` or `lastActivity`), by the last tick's clocks.
    func wallClock(ofMonotonic ns: UInt64) -> Double {
        timestamp - Double(Int64(bitPattern: monotonicNs &- ns)) / 1e9
    }

    private static func rate(_ bytes: UInt64, _ elapsed: Double) -> Double {
        elapsed > 0 ? Double(bytes) / elapsed : 0
    }
}
