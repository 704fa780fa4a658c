/// Whether a tick reads the whole connection map (a batch dump) or looks up only the entries the kernel
/// marked as changed. Pure: the kernel layer tells it what it saw.
///
/// The whole map is read on the first tick, when the kernel could not queue a changed key (its ring was
/// full, so some change is known only to the map), and when so many entries changed that one batch dump
/// is cheaper than a lookup each (a lookup costs about twice a dumped entry). Ticks that read only changes
/// also read the next piece of a sweep through the whole map (`sweepEntries`), which bounds how long a
/// change that raced the epoch's advance can stay unseen without a tick that reads everything at once.
struct MapReadPolicy: Sendable {
    /// Ticks a sweep through the whole map takes.
    static let sweepTicks = 30

    private var first = true
    private var lostSeen: UInt64 = 0

    /// Whole-map reads so far.
    private(set) var wholeReads: UInt64 = 0

    /// Decides this tick's read. `changed`: keys queued; `lost`: the kernel's count of keys it could not
    /// queue (a running total); `tracked`: rows the table holds.
    mutating func readWholeMap(changed: Int, lost: UInt64, tracked: Int) -> Bool {
        let whole = first || lost != lostSeen || (changed > 1024 && changed * 2 > tracked)
        first = false
        lostSeen = lost
        if whole { wholeReads += 1 }
        return whole
    }

    /// Entries of the map to read this tick in the sweep: all of them over `sweepTicks` ticks, at least a
    /// batch.
    static func sweepEntries(tracked: Int) -> Int { max(1024, tracked / sweepTicks) }
}
