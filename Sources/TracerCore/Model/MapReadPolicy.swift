/// Whether a tick reads the whole connection map (a batch dump) or looks up only the entries the kernel
/// marked as changed. Pure: the kernel layer tells it what it saw.
///
/// The whole map is read on the first tick, when the kernel could not queue a changed key (its ring was
/// full, so some change is known only to the map), when so many entries changed that one batch dump is
/// cheaper than a lookup each (a lookup costs about twice a dumped entry), and every `safetyInterval`
/// ticks, which bounds how long a change that raced the epoch's advance can stay unseen.
struct MapReadPolicy: Sendable {
    static let safetyInterval = 30

    private var ticksSinceWhole = Int.max
    private var lostSeen: UInt64 = 0

    /// Whole-map reads so far.
    private(set) var wholeReads: UInt64 = 0

    /// Decides this tick's read. `changed`: keys queued; `lost`: the kernel's count of keys it could not
    /// queue (a running total); `tracked`: rows the table holds.
    mutating func readWholeMap(changed: Int, lost: UInt64, tracked: Int) -> Bool {
        let whole = ticksSinceWhole >= Self.safetyInterval || lost != lostSeen
            || (changed > 1024 && changed * 2 > tracked)
        lostSeen = lost
        if whole {
            ticksSinceWhole = 1
            wholeReads += 1
        } else {
            ticksSinceWhole += 1
        }
        return whole
    }
}
