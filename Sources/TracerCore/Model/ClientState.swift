/// What the table remembers about one consumer (the UI, a JSON stream) between its polls: the rows it
/// was shown, in output order, with their counts then, so the next poll reports differences.
///
/// A poll's rows come sorted, and mostly the same rows as last time, so they are matched against the
/// previous poll's by walking both in order, not by hashing each row: at 100k rows the hash lookups
/// (a cache miss each) were a third of a poll. The walk compares identities only: a row expected next is
/// matched in place, a row found a few places ahead means the ones between are gone, and anything else
/// (a new row, or one whose tuple moved it) is matched by its identity afterwards, among the few left
/// over. Where the walk goes wrong it only leaves more to that last step, so every row is still matched
/// exactly. Keeping no sort keys makes a row shown 40 bytes per poll kept (its RowID a fingerprint), not 152.
struct ClientState: Sendable {
    typealias Delta = (sent: UInt64, recv: UInt64, retransmits: UInt32)

    /// The counters a row had when this client last saw it.
    struct Seen: Sendable, Hashable {
        var firstSeen: UInt64
        var sent: UInt64
        var recv: UInt64
        var retransmits: UInt32

        init(_ sample: UnsafePointer<ConnectionSample>) {
            firstSeen = sample.pointee.firstSeen
            sent = sample.pointee.sentBytes
            recv = sample.pointee.recvBytes
            retransmits = sample.pointee.retransmits
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
        var id: RowID
        var seen: Seen
        /// Shown closed: the connection is over, so no later poll can show it again.
        var closed: Bool
    }

    /// How far ahead of the expected row the walk looks for the current one: past rows that closed or
    /// expired since the previous poll, a few at a time.
    private static let lookahead = 8

    var lastPoll: UInt64
    /// Closed rows numbered below this have been shown to this client (they are shown in order, all at once).
    var nextClosedSeq: UInt64
    /// The previous poll's rows, in output order; `current` is being filled by this poll.
    private var previous: [Shown] = []
    private var current: [Shown] = []
    private var cursor = 0
    /// Previous rows passed over, and this poll's rows that found no partner in order.
    /// Places only (4 bytes each): the identity and counts of a row of this poll are in `current` already.
    /// When every row moves (200,000 seeded rows becoming kernel rows in one tick), copies of them here
    /// were 19 MB at the tick's peak.
    private var passedOver: [Int32] = []
    private var unmatched: [Int32] = []

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
    /// order. A row not found in the walk gets everything it counted here, which `endPoll` may correct.
    mutating func delta(_ sample: UnsafePointer<ConnectionSample>, output: Int, closed: Bool) -> Delta {
        let shown = Shown(id: RowID(key: sample.pointee.kernelKey, tuple: sample.pointee.tuple), seen: Seen(sample),
                          closed: closed)
        current.append(shown)
        let end = min(previous.count, cursor + 1 + Self.lookahead)
        var ahead = cursor
        while ahead < end {
            if previous[ahead].id == shown.id {
                for i in cursor..<ahead { passedOver.append(Int32(truncatingIfNeeded: i)) }
                cursor = ahead + 1
                return shown.seen.since(previous[ahead].seen)
            }
            ahead += 1
        }
        // On a first poll nothing can match later: nothing is kept for `endPoll`.
        if !previous.isEmpty { unmatched.append(Int32(truncatingIfNeeded: output)) }
        return shown.seen.since(nil)
    }

    /// Ends the poll; returns the deltas of rows that were shown last time at another place in the order.
    mutating func endPoll() -> [(output: Int, delta: Delta)] {
        var corrections: [(output: Int, delta: Delta)] = []
        if !unmatched.isEmpty {
            for i in cursor..<previous.count { passedOver.append(Int32(truncatingIfNeeded: i)) }
            // The rows passed over, sorted by identity and searched by halving: when every row moves (the
            // tick where 200,000 seeded rows become kernel rows), a dictionary of them was 21 MB at the
            // tick's peak, this is 3.
            var left = passedOver.map { (id: previous[Int($0)].id, at: $0) }
            left.sort { $0.id < $1.id }
            for output in unmatched {
                let row = current[Int(output)]
                var low = 0, high = left.count
                while low < high {
                    let mid = (low + high) / 2
                    if left[mid].id < row.id { low = mid + 1 } else { high = mid }
                }
                if low < left.count, left[low].id == row.id {
                    corrections.append((Int(output), row.seen.since(previous[Int(left[low].at)].seen)))
                }
            }
        }
        swap(&previous, &current)
        // Closed rows are shown once: kept, they would only be passed over and searched by the next poll
        // (connection churn closes 50,000 a tick, and each poll sorted and searched the last one's).
        previous.removeAll { $0.closed }
        return corrections
    }
}
