import XCTest
import TracerCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

final class ConnectionTableTests: XCTestCase {
    private typealias F = ModelFixtures
    private let s = ModelFixtures.second
    private let web = ModelFixtures.tuple(.tcp, "10.0.0.1", 40000, "10.0.0.2", 80)
    private let dns = ModelFixtures.tuple(.udp, "10.0.0.1", 41000, "10.0.0.53", 53)

    private func rows(_ table: inout ConnectionTable, _ client: String, at now: UInt64,
                      offset: Int64 = 0) -> [ConnectionStats] {
        table.connections(client: client, now: now, wallClockOffsetNs: offset)
    }

    // MARK: - Per-client deltas

    func testFirstPollReportsEverythingSinceTrackingBegan() {
        var table = ConnectionTable(config: TableConfig())
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 1500, recv: 300, retransmits: 2, lastActivity: 5 * s)],
                         closed: [], now: 5 * s)
        let r = rows(&table, "ui", at: 5 * s)
        XCTAssertEqual(r.count, 1)
        XCTAssertEqual(r[0].tuple, web)
        XCTAssertEqual(r[0].monotonicSentBytes, 1500)
        XCTAssertEqual(r[0].lastSentBytes, 1500)
        XCTAssertEqual(r[0].monotonicRecvBytes, 300)
        XCTAssertEqual(r[0].lastRecvBytes, 300)
        XCTAssertEqual(r[0].monotonicRetransmits, 2)
        XCTAssertEqual(r[0].lastRetransmits, 2)
        XCTAssertEqual(r[0].pid, 1234)
        XCTAssertEqual(r[0].comm, "curl")
        XCTAssertEqual(r[0].direction, .outgoing)
        XCTAssertEqual(r[0].tcpState, 1)
        XCTAssertFalse(r[0].closed)
        XCTAssertNil(r[0].conntrack)
    }

    func testTwoClientsPollingAtDifferentTimesGetTheirOwnDeltas() {
        var table = ConnectionTable(config: TableConfig())
        func tick(_ sent: UInt64, _ recv: UInt64, at t: UInt64) {
            _ = table.update(live: [F.sample(web, cookie: 1, sent: sent, recv: recv, lastActivity: t)], closed: [], now: t)
        }
        tick(100, 10, at: 1 * s)
        let a1 = rows(&table, "ui", at: 1 * s)
        XCTAssertEqual(a1.map(\.lastSentBytes), [100])

        tick(250, 30, at: 2 * s)
        let b1 = rows(&table, "json", at: 2 * s)
        XCTAssertEqual(b1.map(\.lastSentBytes), [250])
        XCTAssertEqual(b1.map(\.lastRecvBytes), [30])

        tick(400, 35, at: 3 * s)
        let a2 = rows(&table, "ui", at: 3 * s)
        XCTAssertEqual(a2.map(\.lastSentBytes), [300])
        XCTAssertEqual(a2.map(\.lastRecvBytes), [25])
        XCTAssertEqual(a2.map(\.monotonicSentBytes), [400])

        tick(1000, 35, at: 4 * s)
        let b2 = rows(&table, "json", at: 4 * s)
        XCTAssertEqual(b2.map(\.lastSentBytes), [750])
        XCTAssertEqual(b2.map(\.lastRecvBytes), [5])
        let a3 = rows(&table, "ui", at: 4 * s)
        XCTAssertEqual(a3.map(\.lastSentBytes), [600])
        XCTAssertEqual(a3.map(\.lastRecvBytes), [0])

        // Polling twice with no new traffic: nothing happened since.
        let a4 = rows(&table, "ui", at: 4 * s)
        XCTAssertEqual(a4.map(\.lastSentBytes), [0])
        XCTAssertEqual(a4.map(\.monotonicSentBytes), [1000])
        XCTAssertEqual(table.counters.clients, 2)
    }

    func testCounterThatWentDownIsTheWholeDelta() {
        var table = ConnectionTable(config: TableConfig())
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 500, recv: 500, retransmits: 3)], closed: [], now: s)
        _ = rows(&table, "ui", at: s)
        // The kernel entry was deleted and made again: counts restart from zero.
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 40, recv: 600, retransmits: 0)], closed: [], now: 2 * s)
        let r = rows(&table, "ui", at: 2 * s)
        XCTAssertEqual(r[0].lastSentBytes, 40)
        XCTAssertEqual(r[0].lastRecvBytes, 600, "a recreated entry's counts are all new")
        XCTAssertEqual(r[0].lastRetransmits, 0)
        XCTAssertEqual(r[0].monotonicSentBytes, 40)
    }

    func testNewFirstSeenIsANewEntryEvenWhenCountsGrew() {
        var table = ConnectionTable(config: TableConfig())
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 100, firstSeen: 1 * s)], closed: [], now: s)
        _ = rows(&table, "ui", at: s)
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 700, firstSeen: 3 * s)], closed: [], now: 4 * s)
        XCTAssertEqual(rows(&table, "ui", at: 4 * s).map(\.lastSentBytes), [700])
    }

    func testLastUpdateEpochUsesTheWallClockOffset() {
        var table = ConnectionTable(config: TableConfig())
        _ = table.update(live: [F.sample(web, cookie: 1, lastActivity: 5_500_000_000)], closed: [], now: 6 * s)
        let offset: Int64 = 1_700_000_000 * 1_000_000_000
        XCTAssertEqual(rows(&table, "ui", at: 6 * s, offset: offset).map(\.lastUpdateEpoch), [1_700_000_005])
        XCTAssertEqual(rows(&table, "ui", at: 6 * s, offset: -10_000_000_000).map(\.lastUpdateEpoch), [0])
        let r = rows(&table, "ui", at: 6 * s)
        XCTAssertEqual(r.map(\.lastActivity), [5_500_000_000])
        XCTAssertEqual(r.map(\.firstSeen), [1])
    }

    func testOutputIsSortedByTuple() {
        var table = ConnectionTable(config: TableConfig())
        let tuples = [
            F.tuple(.udp, "10.0.0.1", 5000, "10.0.0.9", 53),
            F.tuple(.tcp, netns: 9, "10.0.0.1", 5000, "10.0.0.9", 80),
            F.tuple(.tcp, "10.0.0.1", 5001, "10.0.0.9", 80),
            F.tuple(.tcp, "10.0.0.1", 5000, "10.0.0.9", 80),
            F.tuple(.tcp, "fd00::1", 5000, "fd00::9", 80),
        ]
        let live = tuples.enumerated().map { F.sample($1, cookie: UInt64($0 + 1)) }
        _ = table.update(live: live, closed: [], now: s)
        let got = rows(&table, "ui", at: s).map(\.tuple)
        XCTAssertEqual(got, [tuples[1], tuples[3], tuples[2], tuples[4], tuples[0]])
    }

    /// Each poll lays its rows out in the previous poll's output order before sorting them; the order must
    /// still be exactly a fresh table's, whether the input kept its order, was shuffled, or grew and shrank.
    func testOrderDoesNotDependOnThePreviousPoll() {
        var rng = SplitMix(seed: 7)
        var table = ConnectionTable(config: TableConfig())
        var live: [ConnectionSample] = []
        var nextCookie: UInt64 = 1
        for tick in UInt64(1)...40 {
            let now = tick * s
            var closed: [ConnectionSample] = []
            if tick % 4 == 0 { live.shuffle(using: &rng) }
            for _ in 0..<Int.random(in: 0...3, using: &rng) where !live.isEmpty {
                closed.append(live.remove(at: Int.random(in: 0..<live.count, using: &rng)))
            }
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                // Few distinct tuples, so that rows share them and fall back to firstSeen and liveness.
                let tuple = F.tuple(.tcp, "10.0.0.1", UInt16.random(in: 1000...1003, using: &rng), "10.0.1.1", 80)
                live.insert(F.sample(tuple, cookie: nextCookie, sent: nextCookie, firstSeen: now - UInt64.random(in: 0...1, using: &rng)),
                            at: Int.random(in: 0...live.count, using: &rng))
                nextCookie += 1
            }
            _ = table.update(live: live, closed: closed, now: now)
            var fresh = ConnectionTable(config: TableConfig())
            _ = fresh.update(live: live, closed: closed, now: now)
            let key = { (r: ConnectionStats) in "\(r.tuple) \(r.firstSeen) \(r.closed) \(r.monotonicSentBytes)" }
            XCTAssertEqual(rows(&table, "ui", at: now).map(key), rows(&fresh, "ui", at: now).map(key), "tick \(tick)")
        }
        XCTAssertGreaterThan(nextCookie, 60, "rows came and went")
    }

    func testDirectionFollowsTheCurrentPortMapping() {
        var table = ConnectionTable(config: TableConfig())
        let inbound = F.tuple(.tcp, "10.0.0.1", 22, "10.0.0.50", 51000)
        table.seed([F.sample(inbound, cookie: nil, origin: .unknown)], now: s)
        XCTAssertEqual(rows(&table, "ui", at: s).map(\.direction), [.outgoing])
        table.ports.add(type: .tcp, netns: F.hostNetns, port: 22)
        XCTAssertEqual(rows(&table, "ui", at: s).map(\.direction), [.incoming])
    }

    func testAcceptedEndWithoutOwnerShowsItsListenersProcess() {
        var table = ConnectionTable(config: TableConfig())
        let accepted = F.tuple(.tcp, "10.0.0.1", 8443, "10.0.0.50", 51000)
        let other = F.tuple(.tcp, "10.0.0.1", 9000, "10.0.0.50", 51001)
        let connected = F.tuple(.tcp, "10.0.0.1", 51002, "10.0.0.2", 8443)
        table.ports.add(type: .tcp, netns: F.hostNetns, port: 8443, owner: PortMapping.Owner(pid: 4242, comm: "server"))
        _ = table.update(live: [F.sample(accepted, cookie: 1, origin: .accept, pid: 0, comm: ""),
                                F.sample(other, cookie: 2, origin: .accept, pid: 0, comm: ""),
                                F.sample(connected, cookie: 3, origin: .connect, pid: 0, comm: "")],
                         closed: [], now: s)
        let byPort = { (r: [ConnectionStats]) in Dictionary(uniqueKeysWithValues: r.map { ($0.tuple.sport, "\($0.pid) \($0.comm)") }) }
        // Only an accepted end on the listener's port takes its owner; nothing is made up for the others.
        XCTAssertEqual(byPort(rows(&table, "ui", at: s)), [8443: "4242 server", 9000: "0 ", 51002: "0 "])
        // Its first byte names the process that accepted it, which wins over the listener's.
        _ = table.update(live: [F.sample(accepted, cookie: 1, recv: 10, origin: .accept, pid: 4300, comm: "worker")],
                         closed: [], now: 2 * s)
        XCTAssertEqual(byPort(rows(&table, "ui", at: 2 * s))[8443], "4300 worker")
    }

    func testRowWhoseTupleChangedKeepsItsCounts() {
        var table = ConnectionTable(config: TableConfig())
        let bound = F.tuple(.tcp, "0.0.0.0", 40000, "10.0.0.2", 80)
        _ = table.update(live: [F.sample(bound, cookie: 1, sent: 10)], closed: [], now: s)
        _ = rows(&table, "ui", at: s)
        // The same socket end, now with its local address: the kernel key says it is the same row.
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 25)], closed: [], now: 2 * s)
        let r = rows(&table, "ui", at: 2 * s)
        XCTAssertEqual(r.map(\.tuple), [web])
        XCTAssertEqual(r.map(\.lastSentBytes), [15])
    }

    func testSocketEndsSharingATupleKeepTheirOwnCounts() {
        // Two SO_REUSEPORT sockets with the same tuple, first seen at the same moment.
        var table = ConnectionTable(config: TableConfig())
        func tick(_ a: UInt64, _ b: UInt64, at t: UInt64) -> [UInt64] {
            _ = table.update(live: [F.sample(dns, cookie: 2, sent: b), F.sample(dns, cookie: 1, sent: a)], closed: [], now: t)
            return rows(&table, "ui", at: t).map(\.lastSentBytes).sorted()
        }
        XCTAssertEqual(tick(100, 1000, at: s), [100, 1000])
        XCTAssertEqual(tick(101, 1500, at: 2 * s), [1, 500])
        XCTAssertEqual(tick(151, 1500, at: 3 * s), [0, 50])
    }

    /// Many ticks of churn (rows opening, closing, moving, being recreated) against a plain reference:
    /// each client's `last*` is what changed since what it was shown at its previous poll.
    func testDeltasMatchAReferenceUnderChurn() {
        var rng = SplitMix(seed: 42)
        var table = ConnectionTable(config: TableConfig())
        struct Conn { var tuple: ConnectionTuple; var sent: UInt64; var recv: UInt64; var firstSeen: UInt64 }
        var open: [UInt64: Conn] = [:]          // cookie → connection
        var nextCookie: UInt64 = 1
        var shown: [String: [UInt64: Conn]] = [:] // client → cookie → what it was shown
        var allClosed: [ConnectionSample] = []
        func randomTuple() -> ConnectionTuple {
            F.tuple(Bool.random(using: &rng) ? .tcp : .udp, netns: UInt32.random(in: 1...3, using: &rng),
                    "10.0.0.\(UInt8.random(in: 1...3, using: &rng))", UInt16.random(in: 1000...1010, using: &rng),
                    "10.0.1.\(UInt8.random(in: 1...3, using: &rng))", UInt16.random(in: 80...82, using: &rng))
        }
        for tick in UInt64(1)...60 {
            let now = tick * s
            var closed: [ConnectionSample] = []
            for cookie in open.keys.sorted() {
                switch UInt.random(in: 0..<20, using: &rng) {
                case 0:   // closes, with a last bit of traffic
                    var c = open.removeValue(forKey: cookie)!
                    c.sent += 7
                    closed.append(F.sample(c.tuple, cookie: cookie, sent: c.sent, recv: c.recv, firstSeen: c.firstSeen,
                                           lastActivity: now))
                case 1:   // the kernel entry is made again: counts restart
                    open[cookie]!.firstSeen = now
                    open[cookie]!.sent = UInt64.random(in: 0...50, using: &rng)
                    open[cookie]!.recv = 0
                case 2:   // its tuple changes
                    open[cookie]!.tuple = randomTuple()
                default:
                    open[cookie]!.sent += UInt64.random(in: 0...1000, using: &rng)
                    open[cookie]!.recv += UInt64.random(in: 0...1000, using: &rng)
                }
            }
            for _ in 0..<Int.random(in: 0...8, using: &rng) {
                open[nextCookie] = Conn(tuple: randomTuple(), sent: UInt64.random(in: 0...100, using: &rng), recv: 0,
                                        firstSeen: now)
                nextCookie += 1
            }
            var live = open.map { F.sample($0.value.tuple, cookie: $0.key, sent: $0.value.sent, recv: $0.value.recv,
                                           firstSeen: $0.value.firstSeen, lastActivity: now) }
            live.shuffle(using: &rng)
            _ = table.update(live: live, closed: closed, now: now)
            allClosed += closed

            for client in ["ui", "json"] where tick == 1 || UInt.random(in: 0..<3, using: &rng) > 0 {
                let got = rows(&table, client, at: now)
                let before = shown[client] ?? [:]
                var after: [UInt64: Conn] = [:]
                XCTAssertTrue(zip(got, got.dropFirst()).allSatisfy { !($1.tuple < $0.tuple) }, "tick \(tick)")
                for row in got {
                    // Cookies are recovered through the (tuple, firstSeen, sent) of the input, unique here.
                    let matches = row.closed
                        ? allClosed.filter { $0.tuple == row.tuple && $0.firstSeen == row.firstSeen
                                             && $0.sentBytes == row.monotonicSentBytes }.map { $0.kernelKey!.cookie }
                        : open.filter { $0.value.tuple == row.tuple && $0.value.firstSeen == row.firstSeen
                                        && $0.value.sent == row.monotonicSentBytes }.map(\.key)
                    guard let cookie = matches.first else { XCTFail("row not in the input: \(row)"); continue }
                    let c = Conn(tuple: row.tuple, sent: row.monotonicSentBytes, recv: row.monotonicRecvBytes,
                                 firstSeen: row.firstSeen)
                    after[cookie] = c
                    var expectSent = c.sent, expectRecv = c.recv
                    if let p = before[cookie], p.firstSeen == c.firstSeen, p.sent <= c.sent, p.recv <= c.recv {
                        expectSent -= p.sent
                        expectRecv -= p.recv
                    }
                    XCTAssertEqual(row.lastSentBytes, expectSent, "tick \(tick) \(client) cookie \(cookie)")
                    XCTAssertEqual(row.lastRecvBytes, expectRecv, "tick \(tick) \(client) cookie \(cookie)")
                }
                XCTAssertEqual(got.filter { !$0.closed }.count, open.count, "tick \(tick)")
                XCTAssertEqual(Set(after.keys).count, got.count, "each row matched one input, tick \(tick)")
                shown[client] = after
            }
        }
        XCTAssertGreaterThan(nextCookie, 150, "the churn opened connections")
    }

    // MARK: - Closed rows

    func testClosedRowIsShownOnceToEachClient() {
        var table = ConnectionTable(config: TableConfig())
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 100)], closed: [], now: s)
        _ = rows(&table, "ui", at: s)
        _ = rows(&table, "json", at: s)

        _ = table.update(live: [], closed: [F.sample(web, cookie: 1, sent: 180, lastActivity: 2 * s)], now: 2 * s)
        XCTAssertEqual(table.counters.closedPending, 1)
        XCTAssertEqual(table.counters.closedReceived, 1)
        XCTAssertEqual(table.counters.trackedCount, 0)

        let ui = rows(&table, "ui", at: 2 * s)
        XCTAssertEqual(ui.count, 1)
        XCTAssertTrue(ui[0].closed)
        XCTAssertEqual(ui[0].lastSentBytes, 80, "counted from what this client saw live")
        XCTAssertEqual(ui[0].monotonicSentBytes, 180)
        XCTAssertEqual(table.counters.closedPending, 1, "json has not seen it yet")
        XCTAssertEqual(rows(&table, "ui", at: 3 * s).count, 0)

        let json = rows(&table, "json", at: 3 * s)
        XCTAssertEqual(json.map(\.closed), [true])
        XCTAssertEqual(json.map(\.lastSentBytes), [80])
        XCTAssertEqual(table.counters.closedPending, 0)
        XCTAssertEqual(rows(&table, "json", at: 4 * s).count, 0)
    }

    func testShortLivedConnectionClosedBeforeAnyPollIsNotMissed() {
        var table = ConnectionTable(config: TableConfig())
        _ = table.update(live: [], closed: [F.sample(web, cookie: 1, sent: 42, recv: 7)], now: s)
        let r = rows(&table, "ui", at: 2 * s)
        XCTAssertEqual(r.count, 1)
        XCTAssertEqual(r[0].lastSentBytes, 42)
        XCTAssertEqual(r[0].lastRecvBytes, 7)
        XCTAssertTrue(r[0].closed)
        XCTAssertEqual(table.counters.closedPending, 0)
    }

    func testClientThatArrivesLaterSeesClosedRowsStillWaiting() {
        var table = ConnectionTable(config: TableConfig())
        _ = rows(&table, "ui", at: s)
        _ = table.update(live: [], closed: [F.sample(web, cookie: 1, sent: 5)], now: 2 * s)
        XCTAssertEqual(rows(&table, "json", at: 2 * s).map(\.closed), [true])
        XCTAssertEqual(rows(&table, "ui", at: 3 * s).map(\.closed), [true])
        XCTAssertEqual(table.counters.closedPending, 0)
    }

    func testClosedRowSharingALiveTupleIsItsOwnRow() {
        var table = ConnectionTable(config: TableConfig())
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 100, firstSeen: 1 * s)], closed: [], now: s)
        _ = rows(&table, "ui", at: s)
        // The old socket closed and a new one reused the same ports.
        _ = table.update(live: [F.sample(web, cookie: 2, sent: 900, firstSeen: 2 * s)],
                         closed: [F.sample(web, cookie: 1, sent: 150, firstSeen: 1 * s)], now: 3 * s)
        let r = rows(&table, "ui", at: 3 * s)
        XCTAssertEqual(r.count, 2)
        XCTAssertEqual(r.map(\.closed), [true, false], "the older socket end first")
        XCTAssertEqual(r.map(\.lastSentBytes), [50, 900])
        XCTAssertEqual(r.map(\.monotonicSentBytes), [150, 900])
        XCTAssertEqual(table.counters.trackedCount, 1)
    }

    func testLiveEntryAlsoReportedClosedIsOnlyTheClosedRow() {
        var table = ConnectionTable(config: TableConfig())
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 10)], closed: [F.sample(web, cookie: 1, sent: 10)], now: s)
        let r = rows(&table, "ui", at: s)
        XCTAssertEqual(r.map(\.closed), [true])
        XCTAssertEqual(r.map(\.lastSentBytes), [10])
        XCTAssertEqual(table.counters.trackedCount, 0)
    }

    func testClosedBufferOverflowDropsOldestAndCountsThem() {
        var table = ConnectionTable(config: TableConfig(maxClosed: 3))
        let closed = (1...5).map { F.sample(F.tuple(.tcp, "10.0.0.1", UInt16(40000 + $0), "10.0.0.2", 80),
                                             cookie: UInt64($0), sent: UInt64($0)) }
        _ = table.update(live: [], closed: Array(closed[0..<2]), now: s)
        _ = table.update(live: [], closed: Array(closed[2...]), now: 2 * s)
        XCTAssertEqual(table.counters.closedBufferDrops, 2)
        XCTAssertEqual(table.counters.closedReceived, 5)
        XCTAssertEqual(table.counters.closedPending, 3)
        let r = rows(&table, "ui", at: 2 * s)
        XCTAssertEqual(r.map(\.monotonicSentBytes), [3, 4, 5])
        XCTAssertTrue(r.allSatisfy(\.closed))
    }

    func testOverflowWhileAClientLagsSkipsOnlyWhatWasDropped() {
        var table = ConnectionTable(config: TableConfig(maxClosed: 2))
        _ = rows(&table, "fast", at: 0)
        _ = rows(&table, "slow", at: 0)
        func close(_ n: UInt64, at t: UInt64) {
            _ = table.update(live: [], closed: [F.sample(F.tuple(.udp, "10.0.0.1", UInt16(n), "10.0.0.2", 53),
                                                          cookie: n, sent: n)], now: t)
        }
        close(1, at: 1 * s)
        XCTAssertEqual(rows(&table, "fast", at: 1 * s).map(\.monotonicSentBytes), [1])
        close(2, at: 2 * s)
        XCTAssertEqual(rows(&table, "fast", at: 2 * s).map(\.monotonicSentBytes), [2])
        close(3, at: 3 * s)   // "slow" still holds 1 and 2: 1 is dropped
        XCTAssertEqual(table.counters.closedBufferDrops, 1)
        XCTAssertEqual(rows(&table, "slow", at: 3 * s).map(\.monotonicSentBytes), [2, 3])
        XCTAssertEqual(rows(&table, "fast", at: 3 * s).map(\.monotonicSentBytes), [3])
        XCTAssertEqual(table.counters.closedPending, 0)
    }

    func testZeroCapacityClosedBufferCountsEveryClose() {
        var table = ConnectionTable(config: TableConfig(maxClosed: 0))
        _ = table.update(live: [], closed: [F.sample(web, cookie: 1), F.sample(dns, cookie: 2)], now: s)
        XCTAssertEqual(table.counters.closedBufferDrops, 2)
        XCTAssertEqual(rows(&table, "ui", at: s).count, 0)
    }

    func testManyClosedRowsReachEachClientExactlyOnce() {
        var table = ConnectionTable(config: TableConfig(maxClosed: 10_000))
        var received: [String: [UInt64]] = ["fast": [], "slow": []]
        var cookie: UInt64 = 0
        // Both register before anything closes; "slow" then polls only every seventh tick.
        _ = rows(&table, "fast", at: 0)
        _ = rows(&table, "slow", at: 0)
        for tick in UInt64(1)...50 {
            let ended = (0..<100).map { _ -> ConnectionSample in
                cookie += 1
                return F.sample(F.tuple(.udp, "10.0.0.1", UInt16(cookie % 60000), "10.0.0.2", 53), cookie: cookie,
                                sent: cookie)
            }
            _ = table.update(live: [], closed: ended, now: tick * s)
            for client in ["fast", "slow"] where client == "fast" || tick % 7 == 0 || tick == 50 {
                received[client]! += rows(&table, client, at: tick * s).map(\.monotonicSentBytes)
            }
        }
        for (client, got) in received {
            XCTAssertEqual(got.count, 5000, client)
            XCTAssertTrue(got.sorted() == Array(1...5000), "\(client) got each closed row once")
        }
        XCTAssertEqual(table.counters.closedPending, 0)
        XCTAssertEqual(table.counters.closedBufferDrops, 0)
    }

    // MARK: - Clients

    func testIdleClientIsForgottenAndStopsHoldingClosedRows() {
        var table = ConnectionTable(config: TableConfig(clientExpiry: 10 * s))
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 100, lastActivity: 0)], closed: [], now: 0)
        _ = rows(&table, "ui", at: 0)
        _ = rows(&table, "json", at: 0)
        let webLive = [F.sample(web, cookie: 1, sent: 100, lastActivity: 0)]
        _ = table.update(live: webLive, closed: [F.sample(dns, cookie: 2, sent: 1)], now: 1 * s)
        XCTAssertEqual(rows(&table, "ui", at: 5 * s).map(\.tuple), [web, dns])
        XCTAssertEqual(table.counters.closedPending, 1, "json still holds it")

        _ = table.update(live: webLive, closed: [], now: 10 * s)
        XCTAssertEqual(table.counters.clients, 2, "exactly clientExpiry idle: kept")
        XCTAssertEqual(table.counters.closedPending, 1)

        _ = table.update(live: webLive, closed: [], now: 10 * s + 1)
        XCTAssertEqual(table.counters.clients, 1)
        XCTAssertEqual(table.counters.closedPending, 0)

        // Coming back, json is a new client: deltas count from the start again.
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 300, lastActivity: 11 * s)], closed: [], now: 11 * s)
        XCTAssertEqual(rows(&table, "json", at: 11 * s).map(\.lastSentBytes), [300])
        XCTAssertEqual(rows(&table, "ui", at: 11 * s).map(\.lastSentBytes), [200])
    }

    func testRemovedClientStopsHoldingClosedRows() {
        var table = ConnectionTable(config: TableConfig())
        _ = rows(&table, "ui", at: 0)
        _ = rows(&table, "json", at: 0)
        _ = table.update(live: [], closed: [F.sample(dns, cookie: 2)], now: s)
        _ = rows(&table, "ui", at: s)
        XCTAssertEqual(table.counters.closedPending, 1)
        table.removeClient("json")
        XCTAssertEqual(table.counters.closedPending, 0)
        XCTAssertEqual(table.counters.clients, 1)
    }

    // MARK: - Expiry

    func testTCPExpiresJustAfterItsTimeout() {
        var table = ConnectionTable(config: TableConfig(tcpTimeout: 100 * s, udpTimeout: 30 * s))
        let t0: UInt64 = 1000 * s
        let live = [F.sample(web, cookie: 7, lastActivity: t0)]
        XCTAssertEqual(table.update(live: live, closed: [], now: t0 + 100 * s), [])
        XCTAssertEqual(table.counters.trackedCount, 1)
        XCTAssertEqual(table.counters.expiredTCP, 0)

        XCTAssertEqual(table.update(live: live, closed: [], now: t0 + 100 * s + 1), [F.key(7)])
        XCTAssertEqual(table.counters.trackedCount, 0)
        XCTAssertEqual(table.counters.expiredTCP, 1)
        XCTAssertEqual(table.counters.expiredUDP, 0)
        XCTAssertEqual(rows(&table, "ui", at: t0 + 100 * s + 1).count, 0)
    }

    func testUDPExpiresOnItsOwnShorterTimeout() {
        var table = ConnectionTable(config: TableConfig(tcpTimeout: 100 * s, udpTimeout: 30 * s))
        let t0: UInt64 = 1000 * s
        let peer = KernelKey(cookie: 9, peer: F.ip("10.0.0.53"), peerPort: 53)
        var udp = F.sample(dns, cookie: nil, lastActivity: t0)
        udp.kernelKey = peer
        let live = [udp, F.sample(web, cookie: 7, lastActivity: t0)]
        XCTAssertEqual(table.update(live: live, closed: [], now: t0 + 30 * s), [])
        XCTAssertEqual(table.counters.trackedCount, 2)

        XCTAssertEqual(table.update(live: live, closed: [], now: t0 + 30 * s + 1), [peer])
        XCTAssertEqual(table.counters.expiredUDP, 1)
        XCTAssertEqual(table.counters.expiredTCP, 0)
        XCTAssertEqual(rows(&table, "ui", at: t0 + 31 * s).map(\.tuple), [web])
    }

    func testActivityAfterNowIsNotExpired() {
        var table = ConnectionTable(config: TableConfig(udpTimeout: 1))
        XCTAssertEqual(table.update(live: [F.sample(dns, cookie: 1, lastActivity: 50 * s)], closed: [], now: 49 * s), [])
        XCTAssertEqual(table.counters.trackedCount, 1)
    }

    /// Rows handed back are refilled in their own memory, with this poll's values.
    func testRowsAreMadeInTheMemoryHandedBack() {
        var table = ConnectionTable(config: TableConfig())
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 10), F.sample(dns, cookie: 2, sent: 20)], closed: [], now: s)
        var storage = rows(&table, "ui", at: s)
        storage.reserveCapacity(64)
        let memory = storage.withUnsafeBufferPointer { $0.baseAddress }
        _ = table.update(live: [F.sample(web, cookie: 1, sent: 15)], closed: [], now: 2 * s)
        let again = table.connections(client: "ui", now: 2 * s, wallClockOffsetNs: 0, reusing: &storage)
        XCTAssertEqual(again.withUnsafeBufferPointer { $0.baseAddress }, memory)
        XCTAssertTrue(storage.isEmpty)
        XCTAssertEqual(again.map(\.tuple), [web])
        XCTAssertEqual(again.map(\.monotonicSentBytes), [15])
        XCTAssertEqual(again.map(\.lastSentBytes), [5])
    }

    // MARK: - Seeds (connections that existed at start)

    func testSeedsCountFromStartAndAreReplacedByTheKernelRow() {
        var table = ConnectionTable(config: TableConfig())
        var seed = F.sample(web, cookie: nil, sent: 999, recv: 999, origin: .unknown)
        seed.lastActivity = 0
        table.seed([seed, F.sample(dns, cookie: nil, origin: .unknown)], now: 10 * s)
        XCTAssertEqual(table.counters.trackedCount, 2)
        let before = rows(&table, "ui", at: 10 * s)
        XCTAssertEqual(before.map(\.tuple), [web, dns])
        XCTAssertEqual(before.map(\.monotonicSentBytes), [0, 0], "counted from the moment we started")
        XCTAssertEqual(before.map(\.firstSeen), [10 * s, 10 * s])
        XCTAssertEqual(before.map(\.lastActivity), [10 * s, 10 * s])

        _ = table.update(live: [F.sample(web, cookie: 3, sent: 64, lastActivity: 11 * s)], closed: [], now: 11 * s)
        XCTAssertEqual(table.counters.trackedCount, 2)
        let after = rows(&table, "ui", at: 11 * s)
        XCTAssertEqual(after.map(\.tuple), [web, dns])
        XCTAssertEqual(after.map(\.monotonicSentBytes), [64, 0])
        XCTAssertEqual(after.map(\.lastSentBytes), [64, 0])
    }

    func testSeedsBeyondMaxConnectionsAreCounted() {
        var table = ConnectionTable(config: TableConfig(maxConnections: 3))
        _ = table.update(live: [F.sample(web, cookie: 1)], closed: [], now: s)
        let seeds = (1...4).map { F.sample(F.tuple(.tcp, "10.0.1.1", UInt16($0), "10.0.1.2", 80), cookie: nil) }
        // The kernel already tracks `web`: seeding it again is not a second row.
        table.seed(seeds + [F.sample(web, cookie: nil)], now: s)
        XCTAssertEqual(table.counters.trackedCount, 3)
        XCTAssertEqual(table.counters.mapFullDrops, 2)
        XCTAssertEqual(rows(&table, "ui", at: s).count, 3)
    }

    func testSeedsGiveWayWhenKernelRowsFillTheTable() {
        var table = ConnectionTable(config: TableConfig(maxConnections: 3))
        let seeds = (1...3).map { F.sample(F.tuple(.tcp, "10.0.1.1", UInt16($0), "10.0.1.2", 80), cookie: nil) }
        table.seed(seeds, now: s)
        XCTAssertEqual(table.counters.mapFullDrops, 0)
        _ = table.update(live: [F.sample(web, cookie: 1, lastActivity: 2 * s), F.sample(dns, cookie: 2, lastActivity: 2 * s)],
                         closed: [], now: 2 * s)
        XCTAssertEqual(table.counters.trackedCount, 3)
        XCTAssertEqual(table.counters.mapFullDrops, 2)
        let r = rows(&table, "ui", at: 2 * s).map(\.tuple)
        XCTAssertEqual(r, [web, seeds[0].tuple, dns], "the largest seeded tuples went")
    }

    func testSeedExpiresWithoutAKernelKey() {
        var table = ConnectionTable(config: TableConfig(tcpTimeout: 60 * s))
        table.seed([F.sample(web, cookie: nil, origin: .unknown)], now: 100 * s)
        XCTAssertEqual(table.update(live: [], closed: [], now: 160 * s), [])
        XCTAssertEqual(table.counters.trackedCount, 1)
        XCTAssertEqual(table.update(live: [], closed: [], now: 160 * s + 1), [])
        XCTAssertEqual(table.counters.trackedCount, 0)
        XCTAssertEqual(table.counters.expiredTCP, 1)
    }

    func testCloseOfASeededConnectionEndsTheSeed() {
        var table = ConnectionTable(config: TableConfig())
        table.seed([F.sample(web, cookie: nil, origin: .unknown)], now: s)
        _ = rows(&table, "ui", at: s)
        _ = table.update(live: [], closed: [F.sample(web, cookie: 5, sent: 20)], now: 2 * s)
        XCTAssertEqual(table.counters.trackedCount, 0)
        let r = rows(&table, "ui", at: 2 * s)
        XCTAssertEqual(r.map(\.closed), [true])
        XCTAssertEqual(r.map(\.lastSentBytes), [20])
    }

    // MARK: - Scale

    /// Many rows in the kernel's (unsorted) order, every count moved since the previous tick: deltas and
    /// order stay exact at scale. (What a tick costs is measured by `make bench`, not asserted here.)
    func testManyRowsPerTick() {
        let n = 20_000
        var table = ConnectionTable(config: TableConfig(maxConnections: 200_000))
        // Tick k: row i has sent k * i bytes, last active at k seconds.
        func live(_ tick: UInt64) -> [ConnectionSample] {
            var rng = SplitMix(seed: tick)
            var rows = (0..<n).map { i in
                let t = ConnectionTuple(type: i % 4 == 0 ? .udp : .tcp, netns: UInt32(i % 7),
                                        source: IPAddress(v4: 10, 0, UInt8(i >> 16 & 0xff), UInt8(i >> 8 & 0xff)),
                                        sport: UInt16(truncatingIfNeeded: i), dest: IPAddress(v4: 10, 1, 0, 1), dport: 443)
                return F.sample(t, cookie: UInt64(i), sent: tick * UInt64(i), lastActivity: tick * s)
            }
            rows.shuffle(using: &rng)
            return rows
        }
        for k in 0..<3 {
            let rows = live(UInt64(k + 1))
            let now = UInt64(k + 1) * s
            let expired = table.update(live: rows, closed: [], now: now)
            let r = table.connections(client: "ui", now: now, wallClockOffsetNs: 0)
            XCTAssertEqual(expired, [])
            XCTAssertEqual(r.count, n)
            // Each row's count grew by its index since the previous tick (from zero before the first).
            let indexSum = UInt64(n) * UInt64(n - 1) / 2
            XCTAssertEqual(r.reduce(0) { $0 + $1.lastSentBytes }, indexSum)
            XCTAssertEqual(r.reduce(0) { $0 + $1.monotonicSentBytes }, UInt64(k + 1) * indexSum)
            XCTAssertTrue(zip(r, r.dropFirst()).allSatisfy { $0.tuple < $1.tuple })
        }
    }
}
