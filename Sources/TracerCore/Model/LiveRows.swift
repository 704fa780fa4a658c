/// The kernel's live rows as the table keeps them from one poll to the next: an array the views read in
/// place, and an index from kernel key to place in it, so that a poll that read only the entries that
/// changed (`ConnectionTable.apply`) updates those rows where they are instead of the whole table being
/// handed over again.
///
/// The index holds 64-bit fingerprints (`RowID`), 12 bytes a row rather than the 40 of a kernel key, and is
/// built on the first partial poll after a whole-map read replaced the rows. Rows leave by moving the last
/// row into their place, so a removal costs one index update, and the other rows keep their places (which
/// is what lets the view's order hint stay right from poll to poll).
struct LiveRows: Sendable {
    private(set) var rows: [ConnectionSample] = []
    private var index: [RowID: Int32] = [:]
    private var indexed = false

    var count: Int { rows.count }
    var isEmpty: Bool { rows.isEmpty }

    /// A whole-map read: these are now all the rows. The index is built again when next needed.
    mutating func replace(with samples: [ConnectionSample]) {
        rows = samples
        dropIndex()
    }

    /// Hands the rows over, leaving none (their memory is refilled by the next whole-map read).
    mutating func take() -> [ConnectionSample] {
        var taken: [ConnectionSample] = []
        swap(&taken, &rows)
        dropIndex()
        return taken
    }

    /// The row of `key`, if there is one.
    func position(of key: KernelKey) -> Int? {
        guard indexed, let i = index[RowID(key: key)] else { return nil }
        return rows[Int(i)].kernelKey == key ? Int(i) : nil
    }

    /// The kernel's latest word on a row: replaces the row with the same key, or adds it.
    mutating func upsert(_ sample: ConnectionSample) {
        guard let key = sample.kernelKey else { return }
        buildIndex()
        let id = RowID(key: key)
        if let i = index[id] {
            if rows[Int(i)].kernelKey == key {
                rows[Int(i)] = sample
                return
            }
            // Two keys with one fingerprint (about one chance in 2^30 at 200,000 rows): the row is kept
            // without an index entry; the next whole-map read places it again.
            rows.append(sample)
            return
        }
        index[id] = Int32(rows.count)
        rows.append(sample)
    }

    /// Removes the rows at `positions` (ascending, no repeats), each replaced by the row then last.
    mutating func remove(at positions: [Int]) {
        guard !positions.isEmpty else { return }
        buildIndex()
        for i in positions.reversed() {
            if let key = rows[i].kernelKey {
                let id = RowID(key: key)
                if index[id] == Int32(i) { index.removeValue(forKey: id) }
            }
            let last = rows.count - 1
            if i != last {
                rows.swapAt(i, last)
                if let key = rows[i].kernelKey {
                    let id = RowID(key: key)
                    if index[id] == Int32(last) { index[id] = Int32(i) }
                }
            }
            rows.removeLast()
        }
    }

    /// Puts the rows in the order `order` gives (a permutation of their positions: the row now at
    /// `order[k]` moves to `k`), in place, each row moved once. The index is built again when next needed.
    mutating func reorder(_ order: [Int32]) {
        rows.rearrange(by: order)
        dropIndex()
    }

    private mutating func buildIndex() {
        guard !indexed else { return }
        index = [RowID: Int32](minimumCapacity: rows.count)
        for i in rows.indices {
            if let key = rows[i].kernelKey { index[RowID(key: key)] = Int32(i) }
        }
        indexed = true
    }

    private mutating func dropIndex() {
        index = [:]
        indexed = false
    }
}
