import XCTest
@testable import TracerCore

/// A tick that reads only the kernel entries that changed (`ConnectionTable.apply`) must leave the table
/// exactly as a read of the whole map (`update(live:)`) would have: same rows, same counters, same deltas
/// for every client, same keys to delete.
final class PartialPollTests: XCTestCase {
    private typealias F = ModelFixtures
    private let s = ModelFixtures.second

    private func tcp(_ port: UInt16) -> ConnectionTuple { F.tuple(.tcp, "10.0.0.1", port, "10.0.0.2", 80) }

    private func udpSample(cookie: UInt64, peer: String, port: UInt16, sent: UInt64, at t: UInt64) -> ConnectionSample {
        ConnectionSample(tuple: F.tuple(.udp, "10.0.0.1", 5353, peer, port),
                         kernelKey: KernelKey(cookie: cookie, peer: F.ip(peer), peerPort: port),
                         pid: 7, comm: "dns", sentBytes: sent, recvBytes: 0, retransmits: 0,
                         firstSeen: 1, lastActivity: t, origin: .udpBound, tcpState: 0)
    }

    func testAChangedRowIsUpdatedInPlaceAndTheOthersKeepTheirCounts() {
        var table = ConnectionTable()
        _ = table.update(live: [F.sample(tcp(1), cookie: 1, sent: 100, lastActivity: s),
                                F.sample(tcp(2), cookie: 2, sent: 200, lastActivity: s)], closed: [], now: s)
        _ = table.connections(client: "ui", now: s, wallClockOffsetNs: 0)

        let deleted = table.apply(changed: [F.sample(tcp(2), cookie: 2, sent: 250, lastActivity: 2 * s)],
                                  closed: [], released: [], now: 2 * s)
        XCTAssertEqual(deleted, [])
        let rows = table.connections(client: "ui", now: 2 * s, wallClockOffsetNs: 0)
        let byPort = Dictionary(uniqueKeysWithValues: rows.map { ($0.tuple.sport, $0) })
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(byPort[1]?.monotonicSentBytes, 100)
        XCTAssertEqual(byPort[1]?.lastSentBytes, 0)
        XCTAssertEqual(byPort[2]?.monotonicSentBytes, 250)
        XCTAssertEqual(byPort[2]?.lastSentBytes, 50)
        XCTAssertEqual(table.counters.trackedCount, 2)
    }

    func testANewEntryIsAddedAndACloseEndsARowThatDidNotChange() {
        var table = ConnectionTable()
        _ = table.update(live: [F.sample(tcp(1), cookie: 1, sent: 100, lastActivity: s)], closed: [], now: s)
        _ = table.connections(client: "ui", now: s, wallClockOffsetNs: 0)

        _ = table.apply(changed: [F.sample(tcp(3), cookie: 3, sent: 7, lastActivity: 2 * s)],
                        closed: [F.sample(tcp(1), cookie: 1, sent: 120, lastActivity: 2 * s)], released: [], now: 2 * s)
        let rows = table.connections(client: "ui", now: 2 * s, wallClockOffsetNs: 0)
        XCTAssertEqual(Set(rows.map(\.tuple.sport)), [1, 3])
        let closed = rows.first { $0.tuple.sport == 1 }
        XCTAssertEqual(closed?.closed, true)
        XCTAssertEqual(closed?.monotonicSentBytes, 120)
        XCTAssertEqual(rows.first { $0.tuple.sport == 3 }?.lastSentBytes, 7)
        XCTAssertEqual(table.counters.trackedCount, 1)
        XCTAssertEqual(table.counters.closedReceived, 1)
    }

    func testAReleasedUDPSocketEndsEveryPeerRowOfItsCookieAndTheirKeysAreDeleted() {
        var table = ConnectionTable()
        _ = table.update(live: [udpSample(cookie: 9, peer: "10.0.0.53", port: 53, sent: 40, at: s),
                                udpSample(cookie: 9, peer: "10.0.0.54", port: 53, sent: 50, at: s),
                                udpSample(cookie: 8, peer: "10.0.0.53", port: 53, sent: 60, at: s)], closed: [], now: s)
        _ = table.connections(client: "ui", now: s, wallClockOffsetNs: 0)

        let deleted = table.apply(changed: [udpSample(cookie: 9, peer: "10.0.0.54", port: 53, sent: 55, at: 2 * s)],
                                  closed: [], released: [9], now: 2 * s)
        XCTAssertEqual(Set(deleted), [KernelKey(cookie: 9, peer: F.ip("10.0.0.53"), peerPort: 53),
                                      KernelKey(cookie: 9, peer: F.ip("10.0.0.54"), peerPort: 53)])
        let rows = table.connections(client: "ui", now: 2 * s, wallClockOffsetNs: 0)
        XCTAssertEqual(rows.filter(\.closed).map(\.monotonicSentBytes).sorted(), [40, 55],
                       "the released rows end with their latest counts")
        XCTAssertEqual(rows.filter { !$0.closed }.map(\.monotonicSentBytes), [60])
        XCTAssertEqual(table.counters.trackedCount, 1)
    }

    func testAnIdleRowExpiresAndTheRowMovedIntoItsPlaceIsStillFoundByItsKey() {
        var config = TableConfig()
        config.tcpTimeout = 10 * s
        var table = ConnectionTable(config: config)
        _ = table.update(live: [F.sample(tcp(1), cookie: 1, lastActivity: s),
                                F.sample(tcp(2), cookie: 2, lastActivity: 5 * s),
                                F.sample(tcp(3), cookie: 3, lastActivity: 5 * s)], closed: [], now: 5 * s)
        // Row 1 expires; the last row (3) takes its place.
        let deleted = table.apply(changed: [], closed: [], released: [], now: 12 * s)
        XCTAssertEqual(deleted, [F.key(1)])
        XCTAssertEqual(table.counters.expiredTCP, 1)
        _ = table.apply(changed: [F.sample(tcp(3), cookie: 3, sent: 9, lastActivity: 13 * s)], closed: [], released: [],
                        now: 13 * s)
        let rows = table.connections(client: "ui", now: 13 * s, wallClockOffsetNs: 0)
        XCTAssertEqual(rows.map(\.tuple.sport).sorted(), [2, 3])
        XCTAssertEqual(rows.first { $0.tuple.sport == 3 }?.monotonicSentBytes, 9)
        XCTAssertEqual(table.counters.trackedCount, 2, "updated in place, not added a second time")
    }

    func testAChangedEntryThatAlsoClosedThisTickIsNotKeptAlive() {
        var table = ConnectionTable()
        _ = table.update(live: [F.sample(tcp(1), cookie: 1, sent: 1, lastActivity: s)], closed: [], now: s)
        _ = table.apply(changed: [F.sample(tcp(1), cookie: 1, sent: 5, lastActivity: 2 * s)],
                        closed: [F.sample(tcp(1), cookie: 1, sent: 6, lastActivity: 2 * s)], released: [], now: 2 * s)
        XCTAssertEqual(table.counters.trackedCount, 0)
        let rows = table.connections(client: "ui", now: 2 * s, wallClockOffsetNs: 0)
        XCTAssertEqual(rows.map(\.closed), [true])
        XCTAssertEqual(rows.map(\.monotonicSentBytes), [6])
    }

    func testAClosedEntryReadTwiceInOnePollEndsOnce() {
        var table = ConnectionTable()
        _ = table.update(live: [F.sample(tcp(1), cookie: 1, sent: 1, lastActivity: s)], closed: [], now: s)
        let closed = F.sample(tcp(1), cookie: 1, sent: 9, lastActivity: 2 * s)
        _ = table.apply(changed: [], closed: [closed, closed], released: [], now: 2 * s)
        let rows = table.connections(client: "ui", now: 2 * s, wallClockOffsetNs: 0)
        XCTAssertEqual(rows.map(\.closed), [true])
        XCTAssertEqual(table.counters.closedReceived, 1)
    }

    /// Two connections one after the other under one key (a socket address the kernel reused) that both
    /// close within a poll are two closed rows.
    func testTwoConnectionsClosingUnderOneReusedKeyInOnePollAreBothShown() {
        var table = ConnectionTable()
        _ = table.update(live: [], closed: [], now: s)
        let first = F.sample(tcp(1), cookie: 7, sent: 10, firstSeen: s, lastActivity: s)
        let second = F.sample(tcp(2), cookie: 7, sent: 20, firstSeen: s + 1000, lastActivity: s + 2000)
        _ = table.apply(changed: [], closed: [first, second], released: [], now: 2 * s)
        let rows = table.connections(client: "ui", now: 2 * s, wallClockOffsetNs: 0)
        XCTAssertEqual(rows.filter(\.closed).map(\.monotonicSentBytes).sorted(), [10, 20])
        XCTAssertEqual(table.counters.closedReceived, 2)
    }

    func testASeedIsReplacedByTheKernelRowAPartialPollBrings() {
        var table = ConnectionTable()
        table.seed([F.sample(tcp(1), cookie: nil)], now: s)
        _ = table.update(live: [], closed: [], now: s)
        _ = table.apply(changed: [F.sample(tcp(1), cookie: 1, sent: 3, lastActivity: 2 * s)], closed: [], released: [],
                        now: 2 * s)
        let rows = table.connections(client: "ui", now: 2 * s, wallClockOffsetNs: 0)
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.first?.monotonicSentBytes, 3)
    }

    /// Random traffic, creations, closes and idle expiry over 60 ticks (seeded, so every run is the same): a
    /// table fed only the changed entries and a table fed the whole map each tick show the same rows.
    func testPartialPollsAgreeWithWholeMapReadsOverRandomChurn() {
        var rng = SplitMix(seed: 0x5eed_d1a7)
        var config = TableConfig()
        config.tcpTimeout = 8 * s
        var partial = ConnectionTable(config: config)
        var whole = ConnectionTable(config: config)
        var kernel: [UInt64: ConnectionSample] = [:]   // the map, by cookie
        var nextCookie: UInt64 = 1
        for t in 1...60 {
            let now = UInt64(t) * s
            var changed: [UInt64] = []
            var ended: [ConnectionSample] = []
            for _ in 0..<Int.random(in: 0...6, using: &rng) {          // new connections
                let cookie = nextCookie
                nextCookie += 1
                kernel[cookie] = F.sample(tcp(UInt16(truncatingIfNeeded: cookie)), cookie: cookie,
                                          sent: UInt64.random(in: 0...100, using: &rng), firstSeen: now, lastActivity: now)
                changed.append(cookie)
            }
            for cookie in kernel.keys.sorted() {
                switch Int.random(in: 0..<20, using: &rng) {
                case 0..<3:                                              // traffic
                    kernel[cookie]!.sentBytes += UInt64.random(in: 1...1000, using: &rng)
                    kernel[cookie]!.lastActivity = now
                    changed.append(cookie)
                case 3:                                                  // close (the event, then gone)
                    var row = kernel.removeValue(forKey: cookie)!
                    row.lastActivity = now
                    ended.append(row)
                default:
                    break
                }
            }
            let all = kernel.values.sorted { $0.kernelKey!.cookie < $1.kernelKey!.cookie }
            let deletedWhole = whole.update(live: all, closed: ended, now: now)
            let deletedPartial = partial.apply(changed: changed.compactMap { kernel[$0] }, closed: ended, released: [],
                                               now: now)
            XCTAssertEqual(Set(deletedPartial), Set(deletedWhole), "tick \(t)")
            for key in deletedPartial { kernel.removeValue(forKey: key.cookie) }

            let a = partial.connections(client: "json", now: now, wallClockOffsetNs: 0)
            let b = whole.connections(client: "json", now: now, wallClockOffsetNs: 0)
            func normal(_ rows: [ConnectionStats]) -> [String] {
                rows.map { "\($0.tuple.sport) \($0.closed) \($0.monotonicSentBytes) \($0.lastSentBytes) \($0.lastActivity)" }
                    .sorted()
            }
            XCTAssertEqual(normal(a), normal(b), "tick \(t)")
            XCTAssertEqual(partial.counters, whole.counters, "tick \(t)")
        }
        XCTAssertGreaterThan(whole.counters.expiredTCP, 0, "the run exercised expiry")
        XCTAssertGreaterThan(whole.counters.closedReceived, 0, "the run exercised closes")
    }

    func testLiveRowsReorderPlacesEachRowWhereTheOrderSaysAndFindsThemByKeyAfter() {
        var live = LiveRows()
        live.replace(with: (0..<7).map { F.sample(tcp(UInt16(10 + $0)), cookie: UInt64($0)) })
        live.reorder([3, 0, 6, 1, 5, 2, 4])
        XCTAssertEqual(live.rows.map { $0.kernelKey!.cookie }, [3, 0, 6, 1, 5, 2, 4])
        for cookie in 0..<7 {
            XCTAssertEqual(live.position(of: F.key(UInt64(cookie))), nil, "the index is dropped until needed")
        }
        live.upsert(F.sample(tcp(15), cookie: 5, sent: 99))
        XCTAssertEqual(live.position(of: F.key(5)), 4)
        XCTAssertEqual(live.rows[4].sentBytes, 99)
        XCTAssertEqual(live.count, 7)
    }

    /// Past 4096 rows the table moves its rows into output order when they are far from it; the rows
    /// shown, their deltas, and later partial polls are unchanged by that.
    func testRowsLaidOutInOutputOrderStayTheSameRowsForLaterPolls() {
        var table = ConnectionTable(config: TableConfig())
        let count = 6000
        // The kernel's order: the reverse of the output order (by tuple).
        let rows = (0..<count).reversed().map { F.sample(tcp(UInt16(1000 + $0)), cookie: UInt64($0), sent: UInt64($0), lastActivity: s) }
        _ = table.update(live: rows, closed: [], now: s)
        let first = table.connections(client: "ui", now: s, wallClockOffsetNs: 0)
        XCTAssertEqual(first.map(\.tuple.sport), (0..<count).map { UInt16(1000 + $0) })

        var changed: [ConnectionSample] = []
        for c in stride(from: 0, to: count, by: 7) {
            changed.append(F.sample(tcp(UInt16(1000 + c)), cookie: UInt64(c), sent: UInt64(c) + 5, lastActivity: 2 * s))
        }
        _ = table.apply(changed: changed, closed: [], released: [], now: 2 * s)
        let second = table.connections(client: "ui", now: 2 * s, wallClockOffsetNs: 0)
        XCTAssertEqual(second.count, count, "rows updated in place, none added")
        XCTAssertEqual(second.map(\.tuple.sport), (0..<count).map { UInt16(1000 + $0) })
        for (n, row) in second.enumerated() {
            XCTAssertEqual(row.monotonicSentBytes, UInt64(n) + (n % 7 == 0 ? 5 : 0), "row \(n)")
            XCTAssertEqual(row.lastSentBytes, n % 7 == 0 ? 5 : 0, "row \(n)")
        }
    }

    // MARK: - When a tick reads the whole map

    func testTheWholeMapIsReadFirstThenOnlyChangesUntilSomethingSaysOtherwise() {
        var policy = MapReadPolicy()
        XCTAssertTrue(policy.readWholeMap(changed: 0, lost: 0, tracked: 0), "the first tick")
        XCTAssertFalse(policy.readWholeMap(changed: 10, lost: 0, tracked: 100_000))
        XCTAssertTrue(policy.readWholeMap(changed: 10, lost: 3, tracked: 100_000), "the kernel could not queue a key")
        XCTAssertFalse(policy.readWholeMap(changed: 10, lost: 3, tracked: 100_000), "lost keys counted once")
        XCTAssertTrue(policy.readWholeMap(changed: 60_000, lost: 3, tracked: 100_000), "most entries changed")
        XCTAssertFalse(policy.readWholeMap(changed: 600, lost: 3, tracked: 1_000), "a few lookups stay cheap")
        XCTAssertEqual(policy.wholeReads, 3)
    }

    func testQuietTicksNeverReadTheWholeMapButSweepAThirtiethOfIt() {
        var policy = MapReadPolicy()
        XCTAssertTrue(policy.readWholeMap(changed: 0, lost: 0, tracked: 10))
        for tick in 0..<1000 {
            XCTAssertFalse(policy.readWholeMap(changed: 5, lost: 0, tracked: 200_000), "tick \(tick)")
        }
        XCTAssertEqual(policy.wholeReads, 1)
        XCTAssertEqual(MapReadPolicy.sweepEntries(tracked: 200_000), 6666)
        XCTAssertEqual(MapReadPolicy.sweepEntries(tracked: 300), 1024, "at least a batch")
    }
}
