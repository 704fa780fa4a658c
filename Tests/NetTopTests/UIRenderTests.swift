@testable import NetTop
import TracerCore
import XCTest

/// The screen as a pure function of traffic, view state and size: golden screens, and the rules behind
/// them (units, truncation, grouping, closed rows dimmed).
final class UIRenderTests: XCTestCase {
    func testGolden80x24() {
        assertScreen(UIFixtures.screen(UIFixtures.model()), UIGoldenScreens.table80x24)
    }

    func testGolden200x50() {
        assertScreen(UIFixtures.screen(UIFixtures.model(columns: 200, lines: 50)), UIGoldenScreens.table200x50)
    }

    func testGoldenGroupedByProcess80x24() {
        var model = UIFixtures.model(UIFixtures.rows + [Fixtures.row(sport: 43211, pid: 1234, comm: "curl",
                                                                     sent: 24, lastSent: 24, recv: 1_000, lastRecv: 1_000,
                                                                     firstSeen: UIFixtures.tickNs - 5 * UIFixtures.second)])
        UIFixtures.press(&model, .character("g"))
        assertScreen(UIFixtures.screen(model), UIGoldenScreens.groupedByProcess80x24)
    }

    func testGoldenDetail80x24() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .down, .enter)   // the second row by rate: curl
        assertScreen(UIFixtures.screen(model), UIGoldenScreens.detail80x24)
    }

    func testClosedRowsAreDimmedAndLeaveAfterAFewTicks() {
        var model = UIFixtures.model(columns: 200, lines: 50)
        let screen = UIFixtures.screen(model)
        let closedLine = (0..<screen.height).first { screen.line($0).contains("server") }!
        // The whole row, gaps included, so it reads as one dimmed line.
        XCTAssertEqual(screen.styleLine(closedLine), String(repeating: "d", count: 200))
        XCTAssertTrue(screen.line(closedLine).hasSuffix("0s closed"), screen.line(closedLine))
        // Live rows are not dimmed.
        let liveLine = (0..<screen.height).first { screen.line($0).contains("dnsmasq") }!
        XCTAssertFalse(screen.styleLine(liveLine).contains("d"))

        // The tracer reports a closed row once; the UI keeps it, dimmed, for closedLingerTicks ticks.
        let live = UIFixtures.rows.filter { !$0.closed }
        for tick in 1..<TrafficHistory.closedLingerTicks {
            UIFixtures.tick(&model, live)
            XCTAssertTrue(UIFixtures.pids(model).contains(900), "tick \(tick)")
            let row = model.rows.first { $0.key == .connection(ConnectionID(UIFixtures.rows[2])) }
            XCTAssertEqual(row?.isClosed, true)
        }
        UIFixtures.tick(&model, live)
        XCTAssertFalse(UIFixtures.pids(model).contains(900))
    }

    func testCursorRowIsHighlightedWholeWidth() {
        let screen = UIFixtures.screen(UIFixtures.model())
        let row = ScreenLayout(TerminalSize(rows: 24, columns: 80)).firstTableRow
        XCTAssertEqual(screen.styleLine(row), String(repeating: "S", count: 80))
        XCTAssertEqual(screen.styleLine(row + 1), "")
    }

    func testSortColumnTitleIsMarked() {
        var model = UIFixtures.model(columns: 200, lines: 50)
        UIFixtures.press(&model, .character("P"))
        let screen = UIFixtures.screen(model)
        let titles = screen.line(4), styles = screen.styleLine(4)
        let pid = titles.range(of: "PID")!
        let start = titles.distance(from: titles.startIndex, to: pid.lowerBound)
        XCTAssertEqual(Array(styles)[start], "O")
        let sent = titles.distance(from: titles.startIndex, to: titles.range(of: "SENT")!.lowerBound)
        XCTAssertEqual(Array(styles)[sent], "H")
    }

    func testAlertsWhenEventsAreLost() {
        let screen = UIFixtures.screen(UIFixtures.model())
        // Fixtures.stats: 2 lost + 1 dropped closed rows, 5 map-full drops.
        let line = screen.line(2)
        XCTAssertTrue(line.hasPrefix("lost events 3  map-full drops 5"), line)
        let styles = Array(screen.styleLine(2))
        XCTAssertEqual(styles[12], "!")
        var clean = Fixtures.stats
        clean.closedLost = 0
        clean.closedBufferDrops = 0
        clean.mapFullDrops = 0
        var model = UIModel(hostname: "h", state: ViewState(), size: TerminalSize(rows: 24, columns: 80))
        _ = model.record(Snapshot(timestamp: 1, backend: "kprobe", connections: [], stats: clean), elapsed: 1,
                         monotonicNs: 1)
        XCTAssertFalse(UIFixtures.screen(model).styleLine(2).contains("!"))
    }

    func testColumnsFitEveryWidth() {
        for width in stride(from: 40, through: 240, by: 7) {
            let screen = UIFixtures.screen(UIFixtures.model(columns: width, lines: 30))
            for line in screen.lines {
                XCTAssertLessThanOrEqual(TextWidth.of(line), width, "width \(width): \(line)")
            }
            let titles = screen.line(4)
            XCTAssertTrue(titles.contains("PID") || titles.isEmpty, "width \(width): \(titles)")
            XCTAssertTrue(titles.contains("COMMAND"), "width \(width): \(titles)")
        }
    }

    func testNarrowLayoutsKeepTheCoreColumnsAndWideOnesShowAll() {
        func titles(_ width: Int) -> [String] {
            TableLayout(group: .none, width: width).columns.map(\.column.title)
        }
        XCTAssertEqual(titles(80), ["PID", "COMMAND", "REMOTE", "TX/s", "RX/s", "SENT", "RECV"])
        XCTAssertEqual(titles(200), ["PID", "COMMAND", "PROTO", "DIR", "LOCAL", "REMOTE", "NETNS", "TX/s", "RX/s",
                                     "SENT", "RECV", "RETRANS", "AGE/STATE"])
        // Columns come in priority order as the terminal widens, never one out of turn.
        var previous: Set<String> = []
        for width in 40...220 {
            let now = Set(titles(width))
            XCTAssertTrue(previous.isSubset(of: now), "width \(width)")
            previous = now
        }
        // The layout uses the width it is given, no more.
        for width in 40...220 {
            let last = TableLayout(group: .none, width: width).columns.last!
            XCTAssertLessThanOrEqual(last.x + last.width, width)
        }
    }

    func testHelpFitsAt80x24() {
        var model = UIFixtures.model()
        UIFixtures.press(&model, .character("h"))
        let text = UIFixtures.screen(model).text
        for (keys, does) in KeyMap.help {
            XCTAssertTrue(text.contains(" " + keys + " "), keys)
            XCTAssertTrue(text.contains(does), does)
        }
    }

    func testTooSmallTerminalSaysSo() {
        let screen = UIFixtures.screen(UIFixtures.model(columns: 30, lines: 6))
        XCTAssertEqual(screen.line(0), "Terminal too small for nettop")
    }

    func testASCIIOnlyTerminal() {
        let screen = UIFixtures.screen(UIFixtures.model(), unicode: false)
        XCTAssertTrue(screen.lines.allSatisfy { $0.allSatisfy(\.isASCII) })
        XCTAssertTrue(screen.text.contains("???"), "the wide name reads ???")
    }

    func testWideCharactersTakeTwoColumns() {
        let screen = UIFixtures.screen(UIFixtures.model())
        let line = (0..<screen.height).first { screen.line($0).contains("日本語") }!
        // "  31337 日本語" then the column after COMMAND starts where it does on every other row.
        let text = screen.line(line)
        XCTAssertTrue(text.hasPrefix("  31337 日本語       "), text)
        XCTAssertEqual(TextWidth.of(text), TextWidth.of(screen.line(line)))
        XCTAssertTrue(screen[line, 9].isContinuation)
    }

    func testHostileNamesAreEscaped() {
        let text = UIFixtures.screen(UIFixtures.model(columns: 200, lines: 50)).text
        XCTAssertFalse(text.contains("\u{1b}"))
        XCTAssertTrue(text.contains("\\x1b[2Jevil"))
    }
}
