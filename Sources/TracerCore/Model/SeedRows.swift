/// Connections found in /proc at start that the kernel has not reported yet, one per tuple. The rows sit
/// in one array that polls read in place, found by tuple through an index beside it: kept in a dictionary
/// of rows, 100,000 connections' seeds were copied out whole on every poll (30 MB, twice), and their
/// storage stayed allocated after the kernel's rows had replaced them all.
///
/// The index holds the tuple's 64-bit fingerprint (`RowID`) and the row's place, 12 bytes an entry: keyed
/// by the tuple itself it was 56, 29 MB at 200,000 seeds. A tuple whose fingerprint another seed already
/// has (about one chance in 2^30 at that many) is indexed by its whole tuple in `collided`.
struct SeedRows: Sendable {
    private(set) var rows: [ConnectionSample] = []
    private var positions: [RowID: Int32] = [:]
    private var collided: [ConnectionTuple: Int32] = [:]
    /// Bits of the fingerprint used: all of them, except in tests that make fingerprints collide.
    private let fingerprintMask: UInt64

    init(fingerprintMask: UInt64 = .max) {
        self.fingerprintMask = fingerprintMask
    }

    private func id(_ tuple: ConnectionTuple) -> RowID { RowID(key: nil, tuple: tuple).masked(fingerprintMask) }
    /// One bit per local port that some seed has (or had: bits are cleared only when the index is rebuilt).
    /// Every live row of every poll asks whether it replaces a seed, and the host's own few idle seeds
    /// stay for good: the bit answers most of those questions without hashing a tuple.
    private var portBits = [UInt64](repeating: 0, count: 1024)

    var count: Int { rows.count }
    var isEmpty: Bool { rows.isEmpty }
    /// Room the index holds, for tests of its shrinking.
    var indexCapacity: Int { positions.capacity }

    func contains(_ tuple: ConnectionTuple) -> Bool { mayHave(tuple.sport) && position(of: tuple) != nil }

    private func position(of tuple: ConnectionTuple) -> Int? {
        if let i = positions[id(tuple)], rows[Int(i)].tuple == tuple { return Int(i) }
        if !collided.isEmpty, let i = collided[tuple] { return Int(i) }
        return nil
    }

    /// Points the index entry of the row at `place` there.
    private mutating func index(_ place: Int) {
        let tuple = rows[place].tuple
        let id = id(tuple)
        if let i = positions[id], Int(i) != place, rows[Int(i)].tuple != tuple {
            collided[tuple] = Int32(place)
        } else {
            positions[id] = Int32(place)
        }
    }

    private mutating func unindex(_ tuple: ConnectionTuple, at place: Int) {
        let id = id(tuple)
        if positions[id] == Int32(place) {
            positions.removeValue(forKey: id)
        } else {
            collided.removeValue(forKey: tuple)
        }
    }

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
        guard position(of: row.tuple) == nil else { return false }
        rows.append(row)
        index(rows.count - 1)
        markPort(row.tuple.sport)
        return true
    }

    /// Removes the row of `tuple`, if any; the last row takes its place.
    mutating func remove(_ tuple: ConnectionTuple) {
        guard mayHave(tuple.sport), let at = position(of: tuple) else { return }
        unindex(tuple, at: at)
        let last = rows.count - 1
        if at != last {
            unindex(rows[last].tuple, at: last)
            rows.swapAt(at, last)
            index(at)
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

    /// A dictionary and an array keep their storage when entries leave: given back once at most half of it
    /// is used. Half, not less: when the kernel's rows replace half of 200,000 seeds in one tick, the rest
    /// otherwise kept 33 MB through the tick's highest point (each row is copied at most twice in all).
    @discardableResult
    private mutating func shrinkIfSparse() -> Bool {
        guard rows.capacity > 64, rows.count <= rows.capacity / 2 else { return false }
        var smaller: [ConnectionSample] = []
        smaller.reserveCapacity(rows.count)
        smaller.append(contentsOf: rows)
        rows = smaller
        rebuildIndex()
        return true
    }

    private mutating func rebuildIndex() {
        positions = [:]
        collided = [:]
        for i in portBits.indices { portBits[i] = 0 }
        guard !rows.isEmpty else { return }
        positions.reserveCapacity(rows.count)
        for i in rows.indices {
            index(i)
            markPort(rows[i].tuple.sport)
        }
    }
}
