/// What the table remembers about one consumer (the UI, a JSON stream) between its polls: the rows it
/// was shown, in output order, with their counts then, so the next poll reports differences.
///
/// A poll's rows come sorted, and mostly the same rows as last time, so they are matched against the
/// previous poll's by walking both in order, not by hashing each row: at 100k rows the hash lookups
/// (a cache miss each) were a third of a poll. A row whose place in the order changed (it closed, or
/// its tuple changed) is matched by its identity afterwards, among the few left unmatched.
struct ClientState: Sendable {
    typealias Delta = (sent: UInt64, recv: UInt64, retransmits: UInt32)

    /// The counters a row had when this client last saw it.
    struct Seen: Sendable, Hashable {
        var firstSeen: UInt64
        var sent: UInt64
        var recv: UInt64
        var retransmits: UInt32

        init(_ sample: borrowing ConnectionSample) {
            firstSeen = sample.firstSeen
            sent = sample.sentBytes
            recv = sample.recvBytes
            retransmits = sample.retransmits
        }

        /// The counts of `self` since `previous`. A kernel entry that was deleted and made again starts its
        /// counters from zero: a counter that went down, or another start time, means everything now
        /// counted is new.
        func since(_ previous: Seen?) -> Delta {
            guard let p = previous, p.firstSeen == firstSeen,
                  sent >= p.sent, recv >= p.recv, retransmits >= p.retransmits
            else { return (sent, recv, retransmits) }
            return (sent - p.sent, recv - p.recv, retransmits - p.retransmits)
        }
    }

    private struct Shown: Sendable {
        var position: RowOrder
        var id: RowID
        var seen: Seen
    }

    var lastPoll: UInt64
    /// Closed rows numbered below this have been shown to this client (they are shown in order, all at once).
    var nextClosedSeq: UInt64
    /// The previous poll's rows, in output order; `current` is being filled by this poll.
    private var previous: [Shown] = []
    private var current: [Shown] = []
    private var cursor = 0
    /// Previous rows passed over, and this poll's rows that found no partner in order.
    private var passedOver: [Int] = []
    private var unmatched: [(output: Int, id: RowID, seen: Seen)] = []

    init(lastPoll: UInt64, nextClosedSeq: UInt64) {
        self.lastPoll = lastPoll
        self.nextClosedSeq = nextClosedSeq
    }

    func isIdle(now: UInt64, expiry: UInt64) -> Bool {
        now > lastPoll && now - lastPoll > expiry
    }

    mutating func beginPoll(now: UInt64, rows: Int) {
        lastPoll = now
        current.removeAll(keepingCapacity: true)
        current.reserveCapacity(rows)
        cursor = 0
        passedOver.removeAll(keepingCapacity: true)
        unmatched.removeAll(keepingCapacity: true)
    }

    /// The counts of row number `output` of this poll since the previous poll; rows must come in output
    /// order. A row not found in place gets everything it counted here, which `endPoll` may correct.
    mutating func delta(_ sample: borrowing ConnectionSample, at position: RowOrder, output: Int) -> Delta {
        let shown = Shown(position: position, id: RowID(sample), seen: Seen(sample))
        current.append(shown)
        while cursor < previous.count && previous[cursor].position.precedes(position) {
            passedOver.append(cursor)
            cursor += 1
        }
        if cursor < previous.count && previous[cursor].id == shown.id && previous[cursor].position.isAt(position) {
            cursor += 1
            return shown.seen.since(previous[cursor - 1].seen)
        }
        unmatched.append((output, shown.id, shown.seen))
        return shown.seen.since(nil)
    }

    /// Ends the poll; returns the deltas of rows that were shown last time at another place in the order.
    mutating func endPoll() -> [(output: Int, delta: Delta)] {
        var corrections: [(output: Int, delta: Delta)] = []
        if !unmatched.isEmpty {
            passedOver.append(contentsOf: cursor..<previous.count)
            var left = [RowID: Seen](minimumCapacity: passedOver.count)
            for i in passedOver { left[previous[i].id] = previous[i].seen }
            for row in unmatched {
                if let before = left[row.id] { corrections.append((row.output, row.seen.since(before))) }
            }
        }
        swap(&previous, &current)
        return corrections
    }
}
