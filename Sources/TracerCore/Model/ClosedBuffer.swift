/// Closed rows waiting to be shown, oldest first and numbered in arrival order, so what a client has
/// seen is one number (every row below it) instead of a set per client.
struct ClosedBuffer: Sendable {
    let capacity: Int
    private var rows: [ConnectionSample] = []
    /// `rows[..<head]` are gone; removing from the front of an array is O(n), so they are compacted
    /// away in bulk, once they are half of it or all of it.
    private var head = 0
    /// The number of `rows[head]`.
    private(set) var oldestSeq: UInt64 = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    var count: Int { rows.count - head }
    /// The number the next appended row will get.
    var nextSeq: UInt64 { oldestSeq + UInt64(count) }

    /// Returns how many rows were dropped to stay within capacity (the oldest, or this one when the
    /// capacity is zero).
    mutating func append(_ row: ConnectionSample) -> Int {
        guard capacity > 0 else { return 1 }
        rows.append(row)
        let excess = count - capacity
        if excess > 0 { dropOldest(excess) }
        return max(0, excess)
    }

    /// The rows numbered `seq` and above.
    func rows(from seq: UInt64) -> ArraySlice<ConnectionSample> {
        let skip = seq > oldestSeq ? Int(min(seq - oldestSeq, UInt64(count))) : 0
        return rows[(head + skip)...]
    }

    /// Forgets the rows numbered below `seq`.
    mutating func release(before seq: UInt64) {
        guard seq > oldestSeq else { return }
        dropOldest(Int(min(seq - oldestSeq, UInt64(count))))
    }

    private mutating func dropOldest(_ n: Int) {
        head += n
        oldestSeq += UInt64(n)
        if head == rows.count {
            rows.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= rows.count {
            rows.removeFirst(head)
            head = 0
        }
    }
}
