@testable import NetTop
import TracerCore
import XCTest

/// Rows, models and a scripted terminal for the UI tests (no terminal, no kernel).
enum UIFixtures {
    /// CLOCK_MONOTONIC of the test ticks: a million seconds after boot.
    static let tickNs: UInt64 = 1_000_000_000_000_000
    static let second: UInt64 = 1_000_000_000

    /// Eight connections that exercise every column: rates and totals in every unit, IPv6 to shorten,
    /// a closed row, NAT, a hostile and a wide process name, an unconnected UDP socket.
    static var rows: [ConnectionStats] {
        [
            Fixtures.row(sent: 1_000_000, lastSent: 250_000, recv: 2_048, lastRecv: 1_024, retransmits: 3,
                         lastRetransmits: 1, firstSeen: tickNs - 65 * second),
            Fixtures.row(.udp, source: "fd00::53", sport: 53, dest: "fd00::1:2", dport: 40000,
                         netns: Fixtures.blueNetns, direction: .incoming, pid: 77, comm: "dnsmasq",
                         sent: 512, lastSent: 512, recv: 64, lastRecv: 64, firstSeen: tickNs - 3 * 3600 * second),
            Fixtures.row(source: "127.0.0.1", sport: 8080, dest: "127.0.0.1", dport: 50000, direction: .local,
                         pid: 900, comm: "server", sent: 10, lastSent: 10, recv: 20, lastRecv: 20,
                         firstSeen: tickNs - 2 * second, closed: true, tcpState: 7),
            Fixtures.row(source: "172.17.0.2", sport: 51000, dest: "1.1.1.1", dport: 443, pid: 4321, comm: "wget",
                         sent: 300, recv: 5_000, firstSeen: tickNs - 10 * second,
                         conntrack: IPTranslation(replSrcIP: IPAddress("1.1.1.1")!, replSport: 443,
                                                  replDstIP: IPAddress("192.168.1.10")!, replDport: 61000)),
            Fixtures.row(source: "2001:db8::10", sport: 55555, dest: "2001:db8:85a3:8d3:1319:8a2e:370:7348", dport: 443,
                         pid: 4242, comm: "firefox", sent: 5_368_709_120, lastSent: 12_345_678,
                         recv: 123_456_789, lastRecv: 1_048_576, retransmits: 12, firstSeen: tickNs - 2 * 86400 * second),
            Fixtures.row(sport: 6666, dest: "198.51.100.7", dport: 6667, pid: 666, comm: "\u{1b}[2Jevil",
                         sent: 42, recv: 42, firstSeen: tickNs - 30 * second),
            Fixtures.row(source: "10.0.0.1", sport: 22, dest: "203.0.113.9", dport: 52000, direction: .incoming,
                         pid: 31337, comm: "日本語", sent: 4_096, recv: 8_192, firstSeen: tickNs - 600 * second),
            Fixtures.row(.udp, source: "0.0.0.0", sport: 123, dest: "0.0.0.0", dport: 0, direction: .incoming,
                         pid: 55, comm: "chronyd", firstSeen: tickNs - 5 * second),
        ]
    }

    static func model(_ rows: [ConnectionStats] = rows, columns: Int = 80, lines: Int = 24,
                      state: ViewState = ViewState()) -> UIModel {
        var model = UIModel(hostname: "testhost", state: state, size: TerminalSize(rows: lines, columns: columns))
        _ = model.record(Fixtures.snapshot(rows), elapsed: 1, monotonicNs: tickNs)
        return model
    }

    /// One more tick a second later.
    static func tick(_ model: inout UIModel, _ rows: [ConnectionStats], seconds: UInt64 = 1) {
        _ = model.record(Fixtures.snapshot(rows, timestamp: 1_700_000_000.5 + Double(model.live.ticks)),
                         elapsed: 1, monotonicNs: tickNs + seconds * second * UInt64(model.live.ticks))
    }

    static func screen(_ model: UIModel, unicode: Bool = true) -> Screen {
        ScreenRenderer(unicode: unicode).render(model)
    }

    /// Presses keys in order; returns the last follow-up.
    @discardableResult
    static func press(_ model: inout UIModel, _ keys: Key...) -> Followup {
        var last: Followup = []
        for key in keys { last = model.press(key) }
        return last
    }

    static func type(_ model: inout UIModel, _ text: String) {
        for c in text { _ = model.press(.character(c)) }
    }

    /// The pids of the connection rows, in display order.
    static func pids(_ model: UIModel) -> [UInt32] {
        model.rows.compactMap { row in
            if case .connection(let r) = row { return r.stats.pid }
            return nil
        }
    }
}

/// Asserts a screen's text equals `golden` line by line, printing the whole screen when it does not.
func assertScreen(_ screen: Screen, _ golden: String, file: StaticString = #filePath, line: UInt = #line) {
    let actual = screen.lines
    var expected = golden.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    while expected.count < actual.count { expected.append("") }
    if actual != expected {
        let diff = zip(actual, expected).enumerated().filter { $0.element.0 != $0.element.1 }
            .map { "line \($0.offset):\n  got      |\($0.element.0)|\n  expected |\($0.element.1)|" }
        XCTFail("screen differs from the golden one:\n" + diff.joined(separator: "\n")
                + "\nwhole screen:\n" + screen.text, file: file, line: line)
    }
}

/// A terminal that follows a script: each wait for keys takes the next step.
final class FakeTerminal: TerminalDevice {
    enum Step {
        /// Returns these keys at once.
        case keys([Key])
        /// Lets the whole timeout pass (the clock moves), no key.
        case idle
        /// Returns no key at once, as a signal does.
        case interrupted
        /// The terminal takes a new size and reports it (KEY_RESIZE).
        case resize(TerminalSize)
    }

    var size: TerminalSize
    var supportsUnicode = true
    var script: [Step]
    let clock: FakeClock
    private(set) var screens: [Screen] = []
    private(set) var repaints = 0
    private(set) var timeouts: [Double] = []
    private(set) var closeCount = 0
    /// Shared with other fakes to record the order of events.
    var log: (String) -> Void = { _ in }

    init(size: TerminalSize = TerminalSize(rows: 24, columns: 80), clock: FakeClock, script: [Step]) {
        self.size = size
        self.clock = clock
        self.script = script
    }

    func draw(_ screen: Screen, repaint: Bool) {
        screens.append(screen)
        if repaint { repaints += 1 }
    }

    func waitForKeys(timeout: Double) -> [Key] {
        timeouts.append(timeout)
        guard !script.isEmpty else {
            // Out of script: quit, so a broken loop cannot hang the test.
            return [.character("q")]
        }
        switch script.removeFirst() {
        case .keys(let keys): return keys
        case .idle:
            clock.now += timeout
            return []
        case .interrupted: return []
        case .resize(let newSize):
            size = newSize
            return [.resize]
        }
    }

    func close() {
        closeCount += 1
        log("terminal closed")
    }
}
