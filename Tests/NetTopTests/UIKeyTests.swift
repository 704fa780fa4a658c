@testable import NetTop
import TracerCore
import XCTest

/// Keys → actions → state: sort, invert, filters, netns picker, group, pause, selection, interval.
final class UIKeyTests: XCTestCase {
    private let blue = Fixtures.blueNetns

    // MARK: Sort

    func testDefaultSortIsTotalRateDescending() {
        let model = UIFixtures.model()
        XCTAssertEqual(model.state.view.sort, .rate)
        XCTAssertFalse(model.state.view.reverse)
        // 13.4 MB, 251 kB, 576 B, 30 B in the last interval; the idle rows by tuple (local port).
        XCTAssertEqual(UIFixtures.pids(model), [4242, 1234, 77, 900, 31337, 666, 4321, 55])
    }

    func testDirectSortKeysAndInvert() {
        var model = UIFixtures.model()
        XCTAssertEqual(UIFixtures.press(&model, .character("P")), [.resort, .redraw])
        XCTAssertEqual(UIFixtures.pids(model), [55, 77, 666, 900, 1234, 4242, 4321, 31337])
        UIFixtures.press(&model, .character("I"))
        XCTAssertTrue(model.state.view.reverse)
        XCTAssertEqual(UIFixtures.pids(model), [31337, 4321, 4242, 1234, 900, 666, 77, 55])
        // A new key starts in its own natural direction.
        UIFixtures.press(&model, .character("B"))
        XCTAssertEqual(model.state.view.sort, .bytes)
        XCTAssertFalse(model.state.view.reverse)
        XCTAssertEqual(UIFixtures.pids(model).first, 4242)   // 5 GiB
        UIFixtures.press(&model, .character("R"))
        XCTAssertEqual(model.state.view.sort, .rate)
        XCTAssertEqual(UIFixtures.press(&model, .character("R")), [], "the same key again changes nothing")
    }

    func testAngleBracketsMoveThroughTheVisibleColumns() {
        var model = UIFixtures.model(columns: 200, lines: 50)
        // From total rate (no column of its own) the first step lands on TX/s.
        UIFixtures.press(&model, .character(">"))
        XCTAssertEqual(model.state.view.sort, .txrate)
        UIFixtures.press(&model, .character(">"))
        XCTAssertEqual(model.state.view.sort, .rxrate)
        UIFixtures.press(&model, .character("<"), .character("<"))
        XCTAssertEqual(model.state.view.sort, .netns)
        var visited: [SortKey] = []
        for _ in 0..<13 {
            UIFixtures.press(&model, .character(">"))
            visited.append(model.state.view.sort)
        }
        XCTAssertEqual(visited, [.txrate, .rxrate, .sent, .recv, .retrans, .age, .pid, .comm, .proto, .dir, .local,
                                 .remote, .netns])
        // At 80 columns only the columns on screen take part.
        var narrow = UIFixtures.model()
        UIFixtures.press(&narrow, .character("P"), .character("<"))
        XCTAssertEqual(narrow.state.view.sort, .recv)
        UIFixtures.press(&narrow, .character(">"), .character(">"))
        XCTAssertEqual(narrow.state.view.sort, .comm)
    }

    func testSortMenu() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .function(6))
        XCTAssertEqual(model.state.mode, .sortMenu(0))
        XCTAssertTrue(UIFixtures.screen(model).text.contains("Sort by"))
        let pidIndex = UIModel.sortMenuKeys.firstIndex(of: .pid)!
        for _ in 0..<pidIndex { UIFixtures.press(&model, .down) }
        XCTAssertEqual(UIFixtures.press(&model, .enter), [.resort, .redraw])
        XCTAssertEqual(model.state.mode, .table)
        XCTAssertEqual(model.state.view.sort, .pid)
        UIFixtures.press(&model, .function(6), .escape)
        XCTAssertEqual(model.state.mode, .table)
        XCTAssertEqual(model.state.view.sort, .pid)
    }

    func testEqualRowsDoNotJumpBetweenTicks() {
        var model = UIFixtures.model()
        let idle = UIFixtures.rows.filter { !$0.closed }.map { row -> ConnectionStats in
            var r = row
            r.lastSentBytes = 0
            r.lastRecvBytes = 0
            return r
        }
        UIFixtures.tick(&model, idle)
        let order = UIFixtures.pids(model)
        // The same idle rows, fed in other orders: every row ties on rate, and none moves.
        for rotation in 1...3 {
            UIFixtures.tick(&model, Array(idle[rotation...] + idle[..<rotation]).reversed())
            XCTAssertEqual(UIFixtures.pids(model).filter { $0 != 900 }, order.filter { $0 != 900 }, "tick \(rotation)")
        }
    }

    // MARK: Filters

    func testFindFiltersAsYouTypeAndEscClears() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .character("/"))
        XCTAssertEqual(model.state.mode, .find)
        UIFixtures.type(&model, "DNS")
        XCTAssertEqual(UIFixtures.pids(model), [77], "case-insensitive, over the command column")
        UIFixtures.press(&model, .backspace, .backspace, .backspace)
        UIFixtures.type(&model, ":443")
        XCTAssertEqual(Set(UIFixtures.pids(model)), [4242, 1234, 4321], "over the address columns")
        UIFixtures.press(&model, .backspace, .backspace, .backspace, .backspace)
        UIFixtures.type(&model, "blue")
        XCTAssertEqual(UIFixtures.pids(model), [77], "over the netns name")
        XCTAssertTrue(UIFixtures.screen(model).line(23).hasPrefix("Find: blue_"))
        // Enter keeps the filter; Esc in the table clears every filter.
        UIFixtures.press(&model, .enter)
        XCTAssertEqual(model.state.mode, .table)
        XCTAssertEqual(UIFixtures.pids(model), [77])
        XCTAssertTrue(UIFixtures.screen(model).line(3).contains("filter find \"blue\""))
        UIFixtures.press(&model, .escape)
        XCTAssertEqual(model.rows.count, 8)
        // Esc while typing drops the text.
        UIFixtures.press(&model, .character("/"))
        UIFixtures.type(&model, "zzz")
        XCTAssertEqual(model.rows.count, 0)
        XCTAssertTrue(UIFixtures.screen(model).text.contains("no connection matches the filter"))
        UIFixtures.press(&model, .escape)
        XCTAssertEqual(model.state.findText, "")
        XCTAssertEqual(model.rows.count, 8)
    }

    func testFilterExpression() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .character("f"))
        UIFixtures.type(&model, "port 443 tcp")
        UIFixtures.press(&model, .enter)
        XCTAssertEqual(model.state.view.port, 443)
        XCTAssertEqual(model.state.view.proto, .tcp)
        XCTAssertEqual(Set(UIFixtures.pids(model)), [4242, 1234, 4321])
        // The prompt opens with the filters in force, to be edited.
        UIFixtures.press(&model, .character("f"))
        XCTAssertEqual(model.state.mode, .filterExpression("port 443 tcp"))
        for _ in 0..<12 { UIFixtures.press(&model, .backspace) }
        UIFixtures.type(&model, "netns blue")
        UIFixtures.press(&model, .enter)
        XCTAssertEqual(model.state.view.netns, blue)
        XCTAssertNil(model.state.view.port)
        XCTAssertEqual(UIFixtures.pids(model), [77])
        // A mistake keeps the prompt open and says what is wrong.
        UIFixtures.press(&model, .character("f"))
        UIFixtures.type(&model, " pid x")
        UIFixtures.press(&model, .enter)
        XCTAssertEqual(model.state.mode, .filterExpression("netns blue pid x"))
        XCTAssertEqual(model.state.message, "pid needs a process id")
        XCTAssertTrue(UIFixtures.screen(model).line(23).contains("pid needs a process id"))
        UIFixtures.press(&model, .escape)
        XCTAssertEqual(model.state.mode, .table)
        XCTAssertEqual(model.state.view.netns, blue)
    }

    func testKeysArrivingTogetherResortOnceAndInOrder() {
        var model = UIFixtures.model()
        // "/", "dns", Enter, Down, Enter in one read: the selection moves over the filtered rows.
        let followup = model.press([.character("/"), .character("d"), .character("n"), .character("s"), .enter, .enter])
        XCTAssertTrue(followup.contains(.redraw))
        XCTAssertEqual(UIFixtures.pids(model), [77])
        XCTAssertEqual(model.state.mode, .detail(ConnectionID(UIFixtures.rows[1])))
        // Quit ends the batch.
        XCTAssertEqual(model.press([.escape, .character("q"), .character("g")]), .quit)
        XCTAssertEqual(model.state.group, .none)
    }

    func testPidAndProtocolFilterKeys() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .down, .character("p"))   // the second row: curl, pid 1234
        XCTAssertEqual(model.state.view.pid, 1234)
        XCTAssertEqual(UIFixtures.pids(model), [1234])
        UIFixtures.press(&model, .character("p"))
        XCTAssertNil(model.state.view.pid)
        UIFixtures.press(&model, .character("u"))
        XCTAssertEqual(model.state.view.proto, .tcp)
        XCTAssertFalse(UIFixtures.pids(model).contains(77))
        UIFixtures.press(&model, .character("u"))
        XCTAssertEqual(Set(UIFixtures.pids(model)), [77, 55])
        UIFixtures.press(&model, .character("u"))
        XCTAssertNil(model.state.view.proto)
        XCTAssertEqual(model.rows.count, 8)
    }

    func testCommandLineFlagsSetTheInitialView() {
        let view = ViewOptions(sort: .pid, reverse: true, netns: nil, pid: nil, proto: .tcp, port: nil)
        let model = UIFixtures.model(state: ViewState(view: view, interval: 2))
        XCTAssertEqual(UIFixtures.pids(model), [31337, 4321, 4242, 1234, 900, 666])
        let screen = UIFixtures.screen(model)
        XCTAssertTrue(screen.line(0).contains("every 2s"), screen.line(0))
        XCTAssertTrue(screen.line(3).hasPrefix("sort pid, descending  group none  filter tcp"), screen.line(3))
    }

    // MARK: Netns picker

    func testNetnsPickerListsNamespacesWithCountsAndFilters() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .character("n"))
        XCTAssertEqual(model.state.mode, .netnsPicker(0))
        XCTAssertEqual(model.netnsEntries, [
            UIModel.NetnsEntry(inode: nil, label: "all namespaces", connections: 8),
            UIModel.NetnsEntry(inode: blue, label: "blue", connections: 1),
            UIModel.NetnsEntry(inode: Fixtures.hostNetns, label: String(Fixtures.hostNetns), connections: 7),
        ])
        let text = UIFixtures.screen(model).text
        XCTAssertTrue(text.contains("Network namespace"))
        XCTAssertTrue(text.contains(" blue  \(blue)"), text)
        XCTAssertTrue(text.contains("7 rows"))
        UIFixtures.press(&model, .down)
        XCTAssertEqual(model.state.mode, .netnsPicker(1))
        XCTAssertEqual(UIFixtures.press(&model, .enter), [.resort, .redraw])
        XCTAssertEqual(model.state.view.netns, blue)
        XCTAssertEqual(UIFixtures.pids(model), [77])
        // Reopened, it points at the namespace in force; the first entry shows every namespace again.
        UIFixtures.press(&model, .character("n"))
        XCTAssertEqual(model.state.mode, .netnsPicker(1))
        UIFixtures.press(&model, .home, .enter)
        XCTAssertNil(model.state.view.netns)
        XCTAssertEqual(model.rows.count, 8)
        // Esc closes it without a change.
        UIFixtures.press(&model, .character("n"), .down, .down, .escape)
        XCTAssertNil(model.state.view.netns)
        XCTAssertEqual(model.state.mode, .table)
    }

    // MARK: Group

    func testGroupCyclesAndAggregates() {
        let second = Fixtures.row(sport: 43211, pid: 1234, comm: "curl", sent: 24, lastSent: 24, recv: 1_000,
                                  lastRecv: 1_000, firstSeen: UIFixtures.tickNs - 5 * UIFixtures.second)
        var model = UIFixtures.model(UIFixtures.rows + [second])
        UIFixtures.press(&model, .character("g"))
        XCTAssertEqual(model.state.group, .process)
        XCTAssertEqual(model.rows.count, 8)
        guard case .group(let curl) = model.rows[1] else { return XCTFail("groups expected") }
        XCTAssertEqual(curl.key, .process(pid: 1234, comm: "curl"))
        XCTAssertEqual(curl.connections, 2)
        XCTAssertEqual(curl.sent, 1_000_024)
        XCTAssertEqual(curl.recv, 3_048)
        XCTAssertEqual(curl.txRate, 250_024)
        XCTAssertEqual(curl.oldestAge, 65, accuracy: 0.01)

        UIFixtures.press(&model, .character("g"))
        XCTAssertEqual(model.state.group, .netns)
        XCTAssertEqual(model.rows.map(\.key), [.group(.netns(Fixtures.hostNetns)), .group(.netns(blue))])
        guard case .group(let host) = model.rows[0] else { return XCTFail("groups expected") }
        XCTAssertEqual(host.connections, 8)
        XCTAssertEqual(host.processes.count, 7)
        let screen = UIFixtures.screen(model)
        XCTAssertTrue(screen.line(4).hasPrefix("NETNS"), screen.line(4))
        XCTAssertTrue(screen.line(3).contains("group netns"))

        UIFixtures.press(&model, .character("g"))
        XCTAssertEqual(model.state.group, .remoteHost)
        XCTAssertTrue(model.rows.contains { $0.key == .group(.remoteHost(IPAddress("127.0.0.1")!)) })
        XCTAssertTrue(UIFixtures.screen(model).line(4).hasPrefix("REMOTE HOST"))

        UIFixtures.press(&model, .character("g"))
        XCTAssertEqual(model.state.group, .none)
        XCTAssertEqual(model.rows.count, 9)
    }

    func testGroupsSortByTheirSums() {
        var model = UIFixtures.model(state: { var s = ViewState(); s.group = .netns; return s }())
        UIFixtures.press(&model, .character("P"))
        // Grouped by netns, pid sorts by what is grouped (the inode), and I flips it.
        XCTAssertEqual(model.rows.map(\.key), [.group(.netns(Fixtures.hostNetns)), .group(.netns(blue))])
        UIFixtures.press(&model, .character("I"))
        XCTAssertEqual(model.rows.map(\.key), [.group(.netns(blue)), .group(.netns(Fixtures.hostNetns))])
        UIFixtures.press(&model, .character("B"))
        XCTAssertEqual(model.rows.first?.key, .group(.netns(Fixtures.hostNetns)))
    }

    func testEnterOnAGroupShowsItsConnections() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .character("g"), .character("g"))   // by netns: host, then blue
        UIFixtures.press(&model, .down, .enter)
        XCTAssertEqual(model.state.group, .none)
        XCTAssertEqual(model.state.view.netns, blue)
        XCTAssertEqual(UIFixtures.pids(model), [77])
    }

    // MARK: Pause

    func testPauseFreezesTheDisplayWhileTicksAccumulate() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .character(" "))
        XCTAssertTrue(model.state.paused)
        let frozen = model.rows
        // evil (pid 666) becomes the busiest.
        let busier = UIFixtures.rows.filter { !$0.closed }.map { row -> ConnectionStats in
            guard row.pid == 666 else { return row }
            var r = row
            r.lastSentBytes = 99_000_000
            r.monotonicSentBytes += 99_000_000
            return r
        }
        UIFixtures.tick(&model, busier)
        UIFixtures.tick(&model, busier)
        XCTAssertEqual(model.rows, frozen, "the display does not move while paused")
        XCTAssertEqual(model.live.ticks, 3, "ticks go on being recorded")
        XCTAssertTrue(UIFixtures.screen(model).line(0).contains("PAUSED 2 ticks since"), UIFixtures.screen(model).line(0))
        // Sorting still works on what is frozen.
        UIFixtures.press(&model, .character("P"))
        XCTAssertEqual(UIFixtures.pids(model).first, 55)
        UIFixtures.press(&model, .character("R"))
        UIFixtures.press(&model, .character("Z"))
        XCTAssertFalse(model.state.paused)
        XCTAssertEqual(UIFixtures.pids(model).first, 666)
        XCTAssertFalse(UIFixtures.screen(model).line(0).contains("PAUSED"))
    }

    // MARK: Selection

    func testSelectionFollowsItsConnectionAcrossResorts() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .down, .down)   // dnsmasq, third by rate
        XCTAssertEqual(model.state.cursor, 2)
        let dnsmasq = RowKey.connection(ConnectionID(UIFixtures.rows[1]))
        XCTAssertEqual(model.state.selection, dnsmasq)
        // dnsmasq becomes the busiest: it moves to the top and the selection goes with it.
        var rows = UIFixtures.rows.filter { !$0.closed }
        rows[1].lastSentBytes = 500_000_000
        UIFixtures.tick(&model, rows)
        XCTAssertEqual(UIFixtures.pids(model).first, 77)
        XCTAssertEqual(model.state.cursor, 0)
        XCTAssertEqual(model.selectedRow?.key, dnsmasq)
        // Re-sorted by pid, it is second.
        UIFixtures.press(&model, .character("P"))
        XCTAssertEqual(model.state.cursor, 1)
        XCTAssertEqual(model.selectedRow?.key, dnsmasq)
        let screen = UIFixtures.screen(model)
        XCTAssertTrue(screen.line(6).contains("dnsmasq"))
        XCTAssertEqual(screen.styleLine(6), String(repeating: "S", count: 80))
    }

    func testSelectionStaysInPlaceWhenItsRowLeaves() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .down, .down)   // dnsmasq at index 2
        let rows = UIFixtures.rows.filter { $0.pid != 77 && !$0.closed }
        UIFixtures.tick(&model, rows)
        XCTAssertEqual(model.state.cursor, 2)
        XCTAssertEqual(model.selectedRow?.key, model.rows[2].key)
    }

    func testPagingAndScrolling() {
        let many = (0..<50).map { i in
            Fixtures.row(sport: UInt16(10_000 + i), pid: UInt32(100 + i), comm: "p\(i)", firstSeen: UIFixtures.tickNs)
        }
        var model = UIFixtures.model(many, state: { var s = ViewState(); s.view.sort = .pid; return s }())
        let page = model.layout.tableRows
        XCTAssertEqual(page, 18)
        UIFixtures.press(&model, .pageDown)
        XCTAssertEqual(model.state.cursor, 18)
        XCTAssertEqual(model.state.scrollTop, 1)
        UIFixtures.press(&model, .end)
        XCTAssertEqual(model.state.cursor, 49)
        XCTAssertEqual(model.state.scrollTop, 32)
        let screen = UIFixtures.screen(model)
        XCTAssertTrue(screen.line(22).contains(" p49 "), screen.line(22))
        XCTAssertEqual(UIFixtures.press(&model, .down), [], "nothing below the last row")
        UIFixtures.press(&model, .pageUp)
        XCTAssertEqual(model.state.cursor, 31)
        XCTAssertEqual(model.state.scrollTop, 31)
        UIFixtures.press(&model, .home)
        XCTAssertEqual(model.state.cursor, 0)
        XCTAssertEqual(model.state.scrollTop, 0)
        // A smaller terminal keeps the selection on screen.
        UIFixtures.press(&model, .end)
        model.resize(to: TerminalSize(rows: 10, columns: 80))
        XCTAssertEqual(model.state.scrollTop, 50 - model.layout.tableRows)
    }

    // MARK: Detail, help, interval, units

    func testDetailViewFollowsItsConnection() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .down, .enter)
        XCTAssertEqual(model.state.mode, .detail(ConnectionID(UIFixtures.rows[0])))
        var rows = UIFixtures.rows.filter { !$0.closed }
        rows[0].monotonicSentBytes = 2_000_000
        rows[0].lastSentBytes = 1_000_000
        UIFixtures.tick(&model, rows)
        let text = UIFixtures.screen(model).text
        XCTAssertTrue(text.contains("Sent         2,000,000 bytes (1.9 MiB); 1,000,000 in the last 1s: 976.6 KiB/s"), text)
        XCTAssertEqual(model.shown.histories[ConnectionID(UIFixtures.rows[0])]?.tx, [250_000, 1_000_000])
        XCTAssertTrue(text.contains(" TX/s "))
        // Keys of the table do nothing here but the few listed; Esc returns.
        XCTAssertEqual(UIFixtures.press(&model, .character("g")), [])
        UIFixtures.press(&model, .escape)
        XCTAssertEqual(model.state.mode, .table)
    }

    func testDetailOfNATedConnection() {
        var model = UIFixtures.model(state: { var s = ViewState(); s.view.pid = 4321; return s }())
        UIFixtures.press(&model, .enter)
        let text = UIFixtures.screen(model).text
        XCTAssertTrue(text.contains("NAT          replies from 1.1.1.1:443 to 192.168.1.10:61000"), text)
    }

    func testHelpOpensAndAnyKeyCloses() {
        var model = UIFixtures.model()
        for key in [Key.character("h"), .character("?"), .function(1)] {
            UIFixtures.press(&model, key)
            XCTAssertEqual(model.state.mode, .help)
            XCTAssertTrue(UIFixtures.screen(model).text.contains("nettop keys"))
            UIFixtures.press(&model, .character("x"))
            XCTAssertEqual(model.state.mode, .table)
        }
        UIFixtures.press(&model, .character("h"))
        XCTAssertEqual(UIFixtures.press(&model, .character("q")), .quit)
    }

    func testQuitKeys() {
        var model = UIFixtures.model()
        XCTAssertEqual(UIFixtures.press(&model, .character("q")), .quit)
        XCTAssertEqual(UIFixtures.press(&model, .function(10)), .quit)
        // While typing, q is a letter.
        UIFixtures.press(&model, .character("/"))
        XCTAssertEqual(UIFixtures.press(&model, .character("q")), [.resort, .redraw])
        XCTAssertEqual(UIFixtures.press(&model, .function(10)), .quit)
    }

    func testIntervalKeys() {
        var model = UIFixtures.model()
        XCTAssertEqual(UIFixtures.press(&model, .character("+")), [.reschedule, .redraw])
        XCTAssertEqual(model.state.interval, 2)
        UIFixtures.press(&model, .character("-"), .character("-"))
        XCTAssertEqual(model.state.interval, 0.5)
        for _ in 0..<10 { UIFixtures.press(&model, .character("-")) }
        XCTAssertEqual(model.state.interval, 0.1)
        XCTAssertEqual(UIFixtures.press(&model, .character("-")), [])
        XCTAssertTrue(UIFixtures.screen(model).line(0).contains("every 0.1s"))
        XCTAssertEqual(UIModel.nextInterval(from: 1.5, longer: true), 2)
        XCTAssertEqual(UIModel.nextInterval(from: 1.5, longer: false), 1)
    }

    func testBitsKey() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .character("b"))
        XCTAssertEqual(model.state.rateUnit, .bits)
        let screen = UIFixtures.screen(model)
        // curl: 250,000 B/s = 2.0 Mb/s; totals stay in bytes.
        XCTAssertTrue(screen.line(6).contains("    2.0 Mb    8.2 kb 976.6 KiB"), screen.line(6))
        XCTAssertTrue(screen.line(1).hasPrefix("TX 100.8 Mb/s  RX 8.4 Mb/s"), screen.line(1))
        UIFixtures.press(&model, .character("b"))
        XCTAssertEqual(model.state.rateUnit, .bytes)
    }

    func testResizeAndRepaintAreFollowups() {
        var model = UIFixtures.model()
        XCTAssertEqual(UIFixtures.press(&model, .resize), [.resize, .resort, .redraw])
        XCTAssertEqual(UIFixtures.press(&model, .control("l")), [.repaint, .redraw])
    }
}
