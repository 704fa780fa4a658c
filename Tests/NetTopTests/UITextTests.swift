@testable import NetTop
import TracerCore
import XCTest

/// The UI's text helpers: units, widths, truncation, sparklines, filter expressions, column widths.
final class UITextTests: XCTestCase {
    func testRateUnits() {
        XCTAssertEqual(UnitText.rate(250_000, .bytes), "244.1 KiB")
        XCTAssertEqual(UnitText.rate(250_000, .bits), "2.0 Mb")
        XCTAssertEqual(UnitText.bits(0), "0 b")
        XCTAssertEqual(UnitText.bits(999), "999 b")
        XCTAssertEqual(UnitText.bits(999.6), "1.0 kb")
        XCTAssertEqual(UnitText.bits(1_500_000_000), "1.5 Gb")
        XCTAssertEqual(UnitText.bits(999_960), "1.0 Mb", "rounds before choosing the unit")
        XCTAssertEqual(UnitText.bits(.nan), "0 b")
    }

    func testUnitsFitTheirColumn() {
        XCTAssertEqual(UnitText.fit("1023.9 KiB", width: 9), "1023 KiB")
        XCTAssertEqual(UnitText.fit("976.6 KiB", width: 9), "976.6 KiB")
        XCTAssertEqual(UnitText.fit("999 B", width: 3), "999 B", "nothing to drop")
    }

    func testGroupedAndAges() {
        XCTAssertEqual(UnitText.grouped(0), "0")
        XCTAssertEqual(UnitText.grouped(999), "999")
        XCTAssertEqual(UnitText.grouped(1_000), "1,000")
        XCTAssertEqual(UnitText.grouped(1_000_000), "1,000,000")
        XCTAssertEqual(UnitText.age(0), "0s")
        XCTAssertEqual(UnitText.age(59.9), "59s")
        XCTAssertEqual(UnitText.age(65), "1m05s")
        XCTAssertEqual(UnitText.age(3 * 3600 + 120), "3h02m")
        XCTAssertEqual(UnitText.age(2 * 86400 + 3 * 3600), "2d03h")
        XCTAssertEqual(UnitText.interval(1), "1s")
        XCTAssertEqual(UnitText.interval(0.25), "0.25s")
    }

    func testWidths() {
        XCTAssertEqual(TextWidth.of("abc"), 3)
        XCTAssertEqual(TextWidth.of("日本語"), 6)
        XCTAssertEqual(TextWidth.of("e\u{301}"), 1, "a combining accent takes no column")
        XCTAssertEqual(TextWidth.of("🙂"), 2)
        XCTAssertEqual(TextWidth.of("…"), 1)
    }

    func testTruncation() {
        XCTAssertEqual(TextWidth.truncate("firefox-esr", to: 8, ellipsis: "…"), "firefox…")
        XCTAssertEqual(TextWidth.truncate("short", to: 8, ellipsis: "…"), "short")
        XCTAssertEqual(TextWidth.truncate("日本語日本語", to: 6, ellipsis: "…"), "日本…", "never half a wide character")
        XCTAssertEqual(TextWidth.truncate("abcdef", to: 4, ellipsis: "~"), "abc~")
    }

    func testLongAddressesKeepTheirPort() {
        let v6 = "[2001:db8:85a3:8d3:1319:8a2e:370:7348]:443"
        let fitted = RowText.fitEndpoint(v6, width: 20, ellipsis: "…")
        XCTAssertEqual(fitted, "[2001:db8:85a3…]:443")
        XCTAssertEqual(TextWidth.of(fitted), 20)
        XCTAssertEqual(RowText.fitEndpoint("10.231.200.102:40123", width: 16, ellipsis: "…"), "10.231.20…:40123")
        XCTAssertEqual(RowText.fitEndpoint("93.184.216.34:443", width: 30, ellipsis: "…"), "93.184.216.34:443")
    }

    func testScreenPutsWideCharactersWhole() {
        var screen = Screen(width: 5, height: 1)
        XCTAssertEqual(screen.put("a日本", row: 0, column: 0, style: .normal), 5)
        XCTAssertEqual(screen.line(0), "a日本")
        XCTAssertTrue(screen[0, 2].isContinuation)
        // A wide character that would straddle the edge is left out.
        var edge = Screen(width: 4, height: 1)
        XCTAssertEqual(edge.put("ab日", row: 0, column: 1, style: .normal), 2)
        XCTAssertEqual(edge.line(0), " ab")
        // Overwriting half of a wide character blanks the other half.
        screen.put("x", row: 0, column: 2, style: .normal)
        XCTAssertEqual(screen.line(0), "a x本")
    }

    func testSparkline() {
        XCTAssertEqual(Sparkline.render([0, 1, 2, 4, 8], width: 5, unicode: true), " ▁▂▄█")
        XCTAssertEqual(Sparkline.render([8], width: 4, unicode: true), "   █")
        XCTAssertEqual(Sparkline.render([], width: 3, unicode: true), "   ")
        XCTAssertEqual(Sparkline.render([1, 2, 3], width: 2, unicode: false), "*@", "only the newest that fit")
        XCTAssertEqual(Sparkline.render([0, 0], width: 2, unicode: false), "  ")
    }

    func testFilterExpressions() {
        let names: [UInt32: String] = [Fixtures.blueNetns: "blue"]
        let parsed = try? FilterExpression.parse("pid 42  port 443 UDP netns blue host fd00::1", netnsNames: names).get()
        XCTAssertEqual(parsed, FilterExpression(netns: Fixtures.blueNetns, pid: 42, proto: .udp, port: 443,
                                                host: IPAddress("fd00::1")))
        XCTAssertEqual(try? FilterExpression.parse("", netnsNames: [:]).get(), FilterExpression())
        XCTAssertEqual(try? FilterExpression.parse("netns 4026531840 proto tcp", netnsNames: [:]).get(),
                       FilterExpression(netns: 4_026_531_840, proto: .tcp))
        for (text, message) in [
            ("pid", "pid needs a process id"),
            ("port 0", "port needs a number from 1 to 65535"),
            ("netns red", "no network namespace named 'red' is in view"),
            ("host nowhere", "host needs an IPv4 or IPv6 address"),
            ("proto icmp", "proto needs tcp or udp"),
            ("colour blue", "unknown filter 'colour': use pid, port, tcp, udp, netns or host"),
        ] {
            XCTAssertEqual(FilterExpression.parse(text, netnsNames: names), .failure(.init(message)), text)
        }
        var state = ViewState()
        state.view.pid = 42
        state.view.netns = Fixtures.blueNetns
        state.host = IPAddress("10.0.0.1")
        XCTAssertEqual(FilterExpression.text(of: state, netnsNames: names), "pid 42 netns blue host 10.0.0.1")
    }

    func testKeyMapModes() {
        XCTAssertEqual(KeyMap.action(for: .character("q"), in: .table), .quit)
        XCTAssertEqual(KeyMap.action(for: .character("q"), in: .find), .type("q"))
        XCTAssertEqual(KeyMap.action(for: .character("q"), in: .netnsPicker(0)), .quit)
        XCTAssertEqual(KeyMap.action(for: .character("x"), in: .help), .cancel)
        XCTAssertEqual(KeyMap.action(for: .resize, in: .detail(ConnectionID(Fixtures.tcpV4))), .resize)
        XCTAssertEqual(KeyMap.action(for: .enter, in: .table), .confirm)
        XCTAssertEqual(KeyMap.action(for: .escape, in: .table), .cancel)
        XCTAssertNil(KeyMap.action(for: .character("~"), in: .table))
    }

    func testTrafficHistoryIsBounded() {
        var history = TrafficHistory()
        let row = Fixtures.row(sent: 1, lastSent: 1)
        for i in 0..<(RateHistory.capacity + 5) {
            history.record(Fixtures.snapshot([row]), elapsed: 1, monotonicNs: UInt64(i) * 1_000_000_000 + 2_000)
        }
        XCTAssertEqual(history.histories[ConnectionID(row)]?.count, RateHistory.capacity)
        // A connection that is gone loses its history.
        history.record(Fixtures.snapshot([]), elapsed: 1, monotonicNs: 100_000_000_000)
        XCTAssertTrue(history.histories.isEmpty)
        XCTAssertTrue(history.rows.isEmpty)
    }

    func testRatesUseTheMeasuredInterval() {
        var history = TrafficHistory()
        history.record(Fixtures.snapshot([Fixtures.row(sent: 3_000, lastSent: 3_000, recv: 500, lastRecv: 500)]),
                       elapsed: 2, monotonicNs: 5_000)
        XCTAssertEqual(history.rows[0].txRate, 1_500)
        XCTAssertEqual(history.rows[0].rxRate, 250)
        XCTAssertEqual(history.totalTxRate, 1_500)
    }
}
