import XCTest
@testable import TracerCore

final class SeedRowsTests: XCTestCase {
    private typealias F = ModelFixtures

    private func seed(_ port: Int) -> ConnectionSample {
        F.sample(F.tuple(.tcp, "10.0.1.\(port / 50_000 + 1)", UInt16(port % 50_000), "10.0.1.2", 80), cookie: nil,
                 sent: UInt64(port))
    }

    func testInsertRemoveAndLookUpByTuple() {
        var seeds = SeedRows()
        XCTAssertTrue(seeds.insert(seed(1)))
        XCTAssertTrue(seeds.insert(seed(2)))
        XCTAssertTrue(seeds.insert(seed(3)))
        XCTAssertFalse(seeds.insert(seed(2)), "one row per tuple")
        XCTAssertEqual(seeds.count, 3)
        // A seed's local port alone does not make a match (the port is only a quick first check).
        let samePort = F.tuple(.tcp, "10.0.1.1", 2, "10.0.1.3", 80)
        XCTAssertFalse(seeds.contains(samePort))
        seeds.remove(samePort)
        XCTAssertEqual(seeds.count, 3)
        XCTAssertFalse(seeds.contains(F.tuple(.tcp, "10.0.1.1", 4, "10.0.1.2", 80)))

        // The last row takes the removed one's place, and is still found by its tuple.
        seeds.remove(seed(1).tuple)
        XCTAssertEqual(seeds.rows.map(\.sentBytes), [3, 2])
        XCTAssertFalse(seeds.contains(seed(1).tuple))
        XCTAssertTrue(seeds.contains(seed(3).tuple))
        seeds.remove(seed(3).tuple)
        XCTAssertEqual(seeds.rows.map(\.sentBytes), [2])
        seeds.remove(seed(9).tuple)
        XCTAssertEqual(seeds.count, 1, "removing an absent tuple changes nothing")
        seeds.remove(seed(2).tuple)
        XCTAssertTrue(seeds.isEmpty)
        XCTAssertTrue(seeds.insert(seed(2)), "a removed tuple can come back")
    }

    func testRemoveAllWhereReturnsWhatWentAndKeepsTheIndexRight() {
        var seeds = SeedRows()
        for port in 1...10 { seeds.insert(seed(port)) }
        let gone = seeds.removeAll { $0.sentBytes % 3 == 0 }
        XCTAssertEqual(gone.map(\.sentBytes).sorted(), [3, 6, 9])
        XCTAssertEqual(seeds.rows.map(\.sentBytes).sorted(), [1, 2, 4, 5, 7, 8, 10])
        for port in 1...10 { XCTAssertEqual(seeds.contains(seed(port).tuple), port % 3 != 0, "port \(port)") }
        XCTAssertEqual(seeds.removeAll { _ in false }, [])
        // Every position the index holds still points at its own row.
        for port in [1, 2, 4, 5, 7, 8] { seeds.remove(seed(port).tuple) }
        XCTAssertEqual(seeds.rows.map(\.sentBytes), [10])
    }

    /// 30,000 seeds replaced one by one (as kernel rows arrive) leave no storage sized for 30,000.
    func testStorageIsGivenBackAsSeedsLeave() {
        var seeds = SeedRows()
        for port in 0..<30_000 { seeds.insert(seed(port)) }
        XCTAssertGreaterThanOrEqual(seeds.indexCapacity, 30_000)
        for port in 0..<29_990 { seeds.remove(seed(port).tuple) }
        XCTAssertEqual(seeds.count, 10)
        XCTAssertLessThan(seeds.indexCapacity, 1_000)
        XCTAssertLessThan(seeds.rows.capacity, 1_000)
        XCTAssertEqual(Set(seeds.rows.map(\.sentBytes)), Set((29_990..<30_000).map(UInt64.init)))
        _ = seeds.removeAll { _ in true }
        XCTAssertTrue(seeds.isEmpty)
        XCTAssertLessThan(seeds.rows.capacity, 100)
    }

    /// With fingerprints cut to 3 bits, almost every tuple shares its fingerprint with another: the rows
    /// are still found, inserted once and removed by their whole tuple, through every kind of removal and
    /// rebuild, as a plain set of tuples says.
    func testTuplesWhoseFingerprintsCollideAreStillTellApart() {
        var seeds = SeedRows(fingerprintMask: 0x7)
        var expected = Set<ConnectionTuple>()
        var rng = SplitMix(seed: 0xc011_1de)
        for round in 0..<3000 {
            let row = seed(Int.random(in: 1...300, using: &rng))
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5:
                XCTAssertEqual(seeds.insert(row), expected.insert(row.tuple).inserted, "round \(round)")
            case 5..<9:
                seeds.remove(row.tuple)
                expected.remove(row.tuple)
            default:
                let cut = UInt64.random(in: 1...300, using: &rng)
                let gone = seeds.removeAll { $0.sentBytes < cut && $0.sentBytes % 3 == 0 }
                for r in gone { XCTAssertNotNil(expected.remove(r.tuple), "round \(round)") }
            }
            XCTAssertEqual(seeds.count, expected.count, "round \(round)")
        }
        XCTAssertEqual(Set(seeds.rows.map(\.tuple)), expected)
        for port in 1...300 {
            XCTAssertEqual(seeds.contains(seed(port).tuple), expected.contains(seed(port).tuple), "port \(port)")
        }
    }
}

final class RowIDTests: XCTestCase {
    private typealias F = ModelFixtures

    func testKernelRowsAreTheSameRowByKeyWhateverTheirTuple() {
        let before = F.tuple(.udp, "0.0.0.0", 5353, "0.0.0.0", 0), after = F.tuple(.udp, "10.0.0.1", 5353, "10.0.0.9", 53)
        let key = KernelKey(cookie: 77, peer: F.ip("10.0.0.9"), peerPort: 53)
        XCTAssertEqual(RowID(key: key, tuple: before), RowID(key: key, tuple: after))
        XCTAssertNotEqual(RowID(key: key, tuple: before),
                          RowID(key: KernelKey(cookie: 77, peer: F.ip("10.0.0.9"), peerPort: 54), tuple: before))
        XCTAssertNotEqual(RowID(key: key, tuple: before),
                          RowID(key: KernelKey(cookie: 77, peer: F.ip("fd00::9"), peerPort: 53), tuple: before))
        XCTAssertNotEqual(RowID(key: KernelKey(cookie: 77, peer: nil, peerPort: 0), tuple: before),
                          RowID(key: nil, tuple: before), "a seeded row is never a kernel row")
    }

    /// Distinct over a large set of rows that differ in one field at a time: 20,000 cookies, ports, addresses
    /// and namespaces give 80,000 fingerprints, none shared.
    func testFingerprintsOfDistinctRowsDiffer() {
        var seen = Set<RowID>()
        for i in 0..<20_000 {
            let n = UInt64(i)
            seen.insert(RowID(key: KernelKey(cookie: n, peer: nil, peerPort: 0), tuple: F.tuple()))
            seen.insert(RowID(key: KernelKey(cookie: 1, peer: F.ip("10.0.0.1"), peerPort: UInt16(truncatingIfNeeded: i)),
                              tuple: F.tuple()))
            seen.insert(RowID(key: nil, tuple: F.tuple(.tcp, netns: UInt32(i), "10.0.0.1", 1, "10.0.0.2", 2)))
            seen.insert(RowID(key: nil, tuple: F.tuple(.udp, "10.0.\(i >> 8).\(i & 255)", 1, "10.0.0.2", 2)))
        }
        XCTAssertEqual(seen.count, 80_000)
    }
}
