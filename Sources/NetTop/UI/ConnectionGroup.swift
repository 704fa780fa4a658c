/// One group row: the counters of its connections added up, and how many of what it holds.
struct ConnectionGroup: Sendable, Equatable {
    var key: GroupKey
    var connections = 0
    /// Members that closed recently (the group is dimmed when all of them did).
    var closed = 0
    var processes: Set<UInt32> = []
    var namespaces: Set<UInt32> = []
    var txRate = 0.0
    var rxRate = 0.0
    var lastSent: UInt64 = 0
    var lastRecv: UInt64 = 0
    var sent: UInt64 = 0
    var recv: UInt64 = 0
    var retransmits: UInt64 = 0
    /// The oldest member's age, seconds.
    var oldestAge = 0.0

    init(key: GroupKey) {
        self.key = key
    }

    var allClosed: Bool { connections > 0 && closed == connections }

    mutating func add(_ row: TrafficHistory.Row) {
        let s = row.stats
        connections += 1
        if row.isClosed { closed += 1 }
        processes.insert(s.pid)
        namespaces.insert(s.tuple.netns)
        txRate += row.txRate
        rxRate += row.rxRate
        lastSent &+= s.lastSentBytes
        lastRecv &+= s.lastRecvBytes
        sent &+= s.monotonicSentBytes
        recv &+= s.monotonicRecvBytes
        retransmits &+= UInt64(s.monotonicRetransmits)
        oldestAge = max(oldestAge, row.ageSeconds)
    }
}
