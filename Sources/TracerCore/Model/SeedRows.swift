/// Connections found in /proc at start that the kernel has not reported yet, one per tuple. The rows sit
/// in one array that polls read in place, found by tuple through an index beside it: kept in a dictionary
/// of rows, 100,000 connections' seeds were copied out whole on every poll (30 MB, twice), and their
/// storage stayed allocated after the kernel's rows had replaced them all.
struct SeedRows: Sendable {
    private(set) var rows: [ConnectionSample] = []
    private var positions: [ConnectionTuple: Int] = [:]
    /// One bit per local port that some seed has (or had: bits are cleared only when the index is rebuilt).
    /// Every live row of every poll asks whether it replaces a seed, and the host's own few idle seeds
    /// stay for good: the bit answers most of those questions without hashing a tuple.
    private var portBits = [UInt64](repeating: 0, count: 1024)

    var count: Int { rows.count }
    var isEmpty: Bool { rows.isEmpty }
    /// Room the index holds, for tests of its shrinking.
    var indexCapacity: Int { positions.capacity }

    func contains(_ tuple: ConnectionTuple) -> Bool { mayHave(tuple.sport) && positions[tuple] != nil }

    private func mayHave(_ port: UInt16) -> Bool {
        portBits.withUnsafeBufferPointer { $0[Int(port >> 6)] & (1 << UInt64(port & 63)) != 0 }
    }

    private mutating func markPort(_ port: UInt16) {
        portBits[Int(port >> 6)] |= 1 << UInt64(port & 63)
    }

    /// Room for `n` rows in all, so that adding them does not grow the storage in steps (each step holds
    /// the old and the new copy at once).
    mutating func reserveCapacity(_ n: Int) {
        rows.reserveCapacity(n)
        positions.reserveCapacity(n)
    }

    /// Adds `row` unless its tuple is here already; returns whether it was added.
    @discardableResult
    mutating func insert(_ row: ConnectionSample) -> Bool {
        guard positions[row.tuple] == nil else { return false }
        positions[row.tuple] = rows.count
        rows.append(row)
        markPort(row.tuple.sport)
        return true
    }

    /// Removes the row of `tuple`, if any; the last row takes its place.
    mutating func remove(_ tuple: ConnectionTuple) {
        guard mayHave(tuple.sport), let at = positions.removeValue(forKey: tuple) else { return }
        let last = rows.count - 1
        if at != last {
            rows.swapAt(at, last)
            positions[rows[at].tuple] = at
        }
        rows.removeLast()
        shrinkIfSparse()
    }

    /// Removes every row `drop` says to, in one pass; returns them. Nothing is copied when none goes.
    mutating func removeAll(where drop: (ConnectionSample) -> Bool) -> [ConnectionSample] {
        var removed: [ConnectionSample] = []
        var next = 0
        for i in rows.indices {
            if drop(rows[i]) {
                removed.append(rows[i])
            } else {
                if next != i { rows.swapAt(next, i) }
                next += 1
            }
        }
        guard !removed.isEmpty else { return [] }
        rows.removeLast(rows.count - next)
        if !shrinkIfSparse() { rebuildIndex() }
        return removed
    }

    /// The tuples, largest first.
    func tuplesDescending() -> [ConnectionTuple] { rows.map(\.tuple).sorted(by: >) }

    /// A dictionary and an array keep their storage when entries leave: given back once at most a
    /// quarter of it is used.
    @discardableResult
    private mutating func shrinkIfSparse() -> Bool {
        guard rows.capacity > 64, rows.count <= rows.capacity / 4 else { return false }
        var smaller: [ConnectionSample] = []
        smaller.reserveCapacity(rows.count)
        smaller.append(contentsOf: rows)
        rows = smaller
        rebuildIndex()
        return true
    }

    private mutating func rebuildIndex() {
        positions = [:]
        for i in portBits.indices { portBits[i] = 0 }
        guard !rows.isEmpty else { return }
        positions.reserveCapacity(rows.count)
        for (i, row) in rows.enumerated() {
            positions[row.tuple] = i
            markPort(row.tuple.sport)
        }
    }
}
