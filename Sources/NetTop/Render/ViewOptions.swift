import TracerCore

/// What the user asked to see: the row filters and the sort order. Shared by the batch and JSON output
/// and the interactive UI, so every front end shows the same rows in the same order.
struct ViewOptions: Sendable, Equatable {
    var sort: SortKey = .rate
    var reverse = false
    /// Network namespace inode (a name given on the command line is resolved before this point).
    var netns: UInt32?
    var pid: UInt32?
    var proto: ConnectionType?
    /// Matches either end, like tcpdump's `port`.
    var port: UInt16?

    func matches(_ row: ConnectionStats) -> Bool {
        if let netns, row.tuple.netns != netns { return false }
        if let pid, row.pid != pid { return false }
        if let proto, row.tuple.type != proto { return false }
        if let port, row.tuple.sport != port && row.tuple.dport != port { return false }
        return true
    }

    /// The matching rows in display order.
    ///
    /// `--reverse` flips only the chosen key: rows the key cannot tell apart always follow the
    /// connection tuple's order, so equal rows keep their places from one tick to the next instead of
    /// shuffling.
    ///
    /// In place: a tick's rows are over 200 bytes each, 200k of them on a busy host, and the array handed
    /// in is usually the only reference, so no second copy of them is made. They mostly arrive in the
    /// order they leave (the tracer's tuple order, which ties of the usual keys fall back to), which the
    /// sort finds in one pass.
    func apply(to rows: consuming [ConnectionStats]) -> [ConnectionStats] {
        if netns != nil || pid != nil || proto != nil || port != nil { rows.removeAll { !matches($0) } }
        if !isSorted(rows) { rows.sort(by: precedes) }
        return rows
    }

    /// Whether `rows` are in display order already (an idle host's rows, tick after tick), checked without
    /// copying any row out; sorting them anyway would allocate room for half of them.
    private func isSorted(_ rows: [ConnectionStats]) -> Bool {
        rows.withUnsafeBufferPointer { r in
            guard let first = r.baseAddress else { return true }
            for i in r.indices.dropFirst() where precedes(first + i, first + i - 1) { return false }
            return true
        }
    }

    /// The display order of two rows: the sort key (flipped by `reverse`), then the tie-break below.
    func precedes(_ a: ConnectionStats, _ b: ConnectionStats) -> Bool {
        withUnsafePointer(to: a) { a in withUnsafePointer(to: b) { b in precedes(a, b) } }
    }

    /// The same for rows read in place, field by field. Rows the sort key finds equal are ordered by their
    /// tuple, then live before closed, then pid, then first seen: a total order.
    func precedes(_ a: UnsafePointer<ConnectionStats>, _ b: UnsafePointer<ConnectionStats>) -> Bool {
        if let order = sort.precedes(a, b) { return order != reverse }
        let x = a.pointee.tuple, y = b.pointee.tuple
        if x != y { return x < y }
        if a.pointee.closed != b.pointee.closed { return !a.pointee.closed }
        if a.pointee.pid != b.pointee.pid { return a.pointee.pid < b.pointee.pid }
        return a.pointee.firstSeen < b.pointee.firstSeen
    }

    func apply(to snapshot: consuming Snapshot) -> Snapshot {
        var rows: [ConnectionStats] = []
        swap(&rows, &snapshot.connections)
        snapshot.connections = apply(to: consume rows)
        return snapshot
    }


}
