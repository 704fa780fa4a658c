@testable import NetTop
import TracerCore
import XCTest

final class ViewOptionsTests: XCTestCase {
    /// Three rows that differ in every sortable column, named by pid.
    private let a = Fixtures.row(.tcp, sport: 3000, dport: 80, netns: 30, pid: 30, comm: "bravo",
                                 sent: 100, lastSent: 5, recv: 100, lastRecv: 5, retransmits: 2, firstSeen: 300)
    private let b = Fixtures.row(.udp, sport: 1000, dport: 53, netns: 10, pid: 10, comm: "charlie",
                                 sent: 500, lastSent: 1, recv: 0, lastRecv: 0, retransmits: 0, firstSeen: 100)
    private let c = Fixtures.row(.tcp, sport: 2000, dport: 22, netns: 20, pid: 20, comm: "alpha",
                                 sent: 10, lastSent: 50, recv: 10, lastRecv: 50, retransmits: 9, firstSeen: 200)

    private func order(_ key: SortKey, reverse: Bool = false) -> [UInt32] {
        ViewOptions(sort: key, reverse: reverse).apply(to: [a, b, c]).map(\.pid)
    }

    func testEachSortKey() {
        XCTAssertEqual(order(.rate), [20, 30, 10])      // 100, 10, 1 bytes in the interval
        XCTAssertEqual(order(.bytes), [10, 30, 20])     // 500, 200, 20
        XCTAssertEqual(order(.sent), [10, 30, 20])      // 500, 100, 10
        XCTAssertEqual(order(.recv), [30, 20, 10])      // 100, 10, 0
        XCTAssertEqual(order(.retrans), [20, 30, 10])   // 9, 2, 0
        XCTAssertEqual(order(.age), [10, 20, 30])       // first seen 100, 200, 300: oldest first
        XCTAssertEqual(order(.pid), [10, 20, 30])
        XCTAssertEqual(order(.comm), [20, 30, 10])      // alpha, bravo, charlie
        XCTAssertEqual(order(.port), [10, 20, 30])      // local 1000, 2000, 3000
        XCTAssertEqual(order(.netns), [10, 20, 30])
        // tcp before udp; the two tcp rows by tuple (netns 20 before 30).
        XCTAssertEqual(order(.proto), [20, 30, 10])
    }

    func testReverseFlipsEachKey() {
        for key in SortKey.allCases where key != .proto {
            XCTAssertEqual(order(key, reverse: true), order(key).reversed(), "\(key)")
        }
        XCTAssertEqual(order(.proto, reverse: true), [10, 20, 30])
    }

    func testPortSortFallsBackToRemotePort() {
        let x = Fixtures.row(sport: 5000, dport: 443, pid: 1)
        let y = Fixtures.row(sport: 5000, dport: 80, pid: 2)
        XCTAssertEqual(ViewOptions(sort: .port).apply(to: [x, y]).map(\.pid), [2, 1])
    }

    func testEqualKeysKeepTupleOrderEvenReversed() {
        // Same pid, different tuples, fed in scrambled order: ties follow the tuple (local port here).
        let rows = [4000, 1000, 3000, 2000].map { Fixtures.row(sport: UInt16($0), pid: 7) }
        for reverse in [false, true] {
            let shown = ViewOptions(sort: .pid, reverse: reverse).apply(to: rows)
            XCTAssertEqual(shown.map(\.tuple.sport), [1000, 2000, 3000, 4000], "reverse \(reverse)")
        }
        // The same rows fed in another order come out the same: stable from tick to tick.
        let again = ViewOptions(sort: .rate).apply(to: rows.reversed())
        XCTAssertEqual(again.map(\.tuple.sport), [1000, 2000, 3000, 4000])
    }

    func testClosedAndLiveRowsWithOneTuple() {
        let live = Fixtures.row(pid: 1)
        let closed = Fixtures.row(pid: 1, closed: true)
        XCTAssertEqual(ViewOptions(sort: .pid).apply(to: [closed, live]).map(\.closed), [false, true])
    }

    func testFilters() {
        let rows = [a, b, c]
        XCTAssertEqual(ViewOptions(sort: .pid, netns: 20).apply(to: rows).map(\.pid), [20])
        XCTAssertEqual(ViewOptions(sort: .pid, pid: 30).apply(to: rows).map(\.pid), [30])
        XCTAssertEqual(ViewOptions(sort: .pid, proto: .tcp).apply(to: rows).map(\.pid), [20, 30])
        XCTAssertEqual(ViewOptions(sort: .pid, proto: .udp).apply(to: rows).map(\.pid), [10])
        // --port matches either end: 53 is b's remote port, 2000 is c's local one.
        XCTAssertEqual(ViewOptions(sort: .pid, port: 53).apply(to: rows).map(\.pid), [10])
        XCTAssertEqual(ViewOptions(sort: .pid, port: 2000).apply(to: rows).map(\.pid), [20])
        XCTAssertEqual(ViewOptions(sort: .pid, proto: .tcp, port: 53).apply(to: rows).map(\.pid), [])
        XCTAssertEqual(ViewOptions(sort: .pid, pid: 99).apply(to: rows).count, 0)
    }

    func testSnapshotKeepsEverythingButTheRows() {
        let snapshot = Fixtures.snapshot([a, b, c])
        let shown = ViewOptions(sort: .pid, proto: .tcp).apply(to: snapshot)
        XCTAssertEqual(shown.connections.map(\.pid), [20, 30])
        XCTAssertEqual(shown.stats, snapshot.stats)
        XCTAssertEqual(shown.backend, "tracepoint")
        XCTAssertEqual(shown.netnsNames, [Fixtures.blueNetns: "blue"])
    }
}
