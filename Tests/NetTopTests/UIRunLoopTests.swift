@testable import NetTop
import TracerCore
import XCTest

/// The interactive loop and its entry point, against a fake tracer, clock, signal waiter and terminal.
final class UIRunLoopTests: XCTestCase {
    private func loop(_ world: FakeWorld, _ terminal: FakeTerminal, interval: Double = 1) -> UIRunLoop {
        let model = UIModel(hostname: "h", state: ViewState(interval: interval), size: terminal.size)
        return UIRunLoop(model: model, source: world.tracer, waiter: world.waiter, terminal: terminal,
                         clock: { world.clock.now })
    }

    func testTicksOnScheduleBetweenKeysAndQuits() throws {
        let world = FakeWorld()
        world.tracer = FakeTracer([Fixtures.snapshot([Fixtures.tcpV4]), Fixtures.snapshot([Fixtures.tcpV4])])
        let start = world.clock.now
        let terminal = FakeTerminal(clock: world.clock, script: [.idle, .idle, .keys([.down]), .idle, .keys([.character("q")])])
        XCTAssertEqual(try loop(world, terminal).run(), 0)
        // First tick 0.25 s after start, then one interval later; waits last until the next tick, at most
        // half a second.
        XCTAssertEqual(terminal.timeouts, [0.25, 0.5, 0.5, 0.5, 0.5])
        XCTAssertEqual(world.tracer.clients, ["ui", "ui"])
        XCTAssertEqual(world.clock.now, start + 1.25)
        XCTAssertEqual(terminal.screens.last?.line(0).hasPrefix("nettop  h  backend tracepoint"), true)
    }

    func testPausedDisplayKeepsTicking() throws {
        let world = FakeWorld()
        let terminal = FakeTerminal(clock: world.clock,
                                    script: [.keys([.character(" ")])] + Array(repeating: .idle, count: 6)
                                        + [.keys([.character("q")])])
        let run = loop(world, terminal)
        XCTAssertEqual(try run.run(), 0)
        XCTAssertEqual(world.tracer.clients.count, 3)
        XCTAssertEqual(run.model.live.ticks, 3)
        XCTAssertEqual(run.model.shown.ticks, 0)
        XCTAssertTrue(terminal.screens.last!.line(0).contains("PAUSED 3 ticks since"), terminal.screens.last!.line(0))
    }

    func testStopSignalEndsTheLoopCleanly() throws {
        let world = FakeWorld()
        world.waiter.stopAtWait = 3
        let terminal = FakeTerminal(clock: world.clock, script: [.idle, .idle, .interrupted])
        XCTAssertEqual(try loop(world, terminal).run(), 0)
        XCTAssertEqual(terminal.timeouts.count, 3)
        // The loop only asks the waiter, never sleeps in it.
        XCTAssertTrue(world.waiter.deadlines.allSatisfy { $0 == -Double.infinity })
    }

    func testIntervalChangeReschedulesTheNextTick() throws {
        // Ticks at 0.25 and 1.25 s with the 1 s interval...
        let steady = FakeWorld()
        let idle = Array(repeating: FakeTerminal.Step.idle, count: 4)
        XCTAssertEqual(try loop(steady, FakeTerminal(clock: steady.clock, script: idle + [.keys([.character("q")])])).run(), 0)
        XCTAssertEqual(steady.tracer.clients.count, 2)
        // ...but after "+" (2 s) right after the first tick, the next one is due at 2.25 s.
        let slower = FakeWorld()
        let script: [FakeTerminal.Step] = [.idle, .keys([.character("+")])] + idle.dropLast() + [.keys([.character("q")])]
        XCTAssertEqual(try loop(slower, FakeTerminal(clock: slower.clock, script: script)).run(), 0)
        XCTAssertEqual(slower.clock.now, 1_000 + 1.75)
        XCTAssertEqual(slower.tracer.clients.count, 1)
    }

    func testResizeRedrawsAtTheNewSize() throws {
        let world = FakeWorld()
        world.tracer = FakeTracer([Fixtures.snapshot([Fixtures.tcpV4])])
        let terminal = FakeTerminal(clock: world.clock, script: [
            .idle, .resize(TerminalSize(rows: 50, columns: 200)), .keys([.character("q")]),
        ])
        let run = loop(world, terminal)
        XCTAssertEqual(try run.run(), 0)
        XCTAssertEqual(terminal.screens.first?.width, 80)
        XCTAssertEqual(terminal.screens.last?.width, 200)
        XCTAssertEqual(terminal.screens.last?.height, 50)
        XCTAssertEqual(run.model.size, TerminalSize(rows: 50, columns: 200))
        XCTAssertTrue(terminal.screens.last!.line(4).contains("AGE/STATE"))
    }

    func testRepaintClearsTheTerminal() throws {
        let world = FakeWorld()
        let terminal = FakeTerminal(clock: world.clock, script: [.keys([.control("l")]), .keys([.character("q")])])
        XCTAssertEqual(try loop(world, terminal).run(), 0)
        XCTAssertEqual(terminal.repaints, 1)
    }

    // MARK: The entry point

    private let tty = TerminalCheck(standardInputIsTerminal: true, standardOutputIsTerminal: true, term: "xterm")

    private func runUI(_ world: FakeWorld, check: TerminalCheck, terminal: FakeTerminal?,
                       openError: NetTopError? = nil) -> Int32 {
        InteractiveUI.run(view: ViewOptions(), tracer: try! TracerArguments.parse([]), interval: 1, environment: world.environment,
                          terminalCheck: check) { _, _ throws(NetTopError) in
            if let openError { throw openError }
            return terminal!
        }
    }

    func testWithoutAUsableTerminalItSuggestsBatch() {
        let cases: [(TerminalCheck, String)] = [
            (TerminalCheck(standardInputIsTerminal: true, standardOutputIsTerminal: false, term: "xterm"),
             "nettop: the interactive UI needs a terminal, and standard output is not one; run nettop --batch for a plain-text table (or --json for NDJSON)."),
            (TerminalCheck(standardInputIsTerminal: false, standardOutputIsTerminal: true, term: "xterm"),
             "nettop: the interactive UI reads keys from a terminal, and standard input is not one; run nettop --batch for a plain-text table (or --json for NDJSON)."),
            (TerminalCheck(standardInputIsTerminal: true, standardOutputIsTerminal: true, term: nil),
             "nettop: TERM is not set, so the interactive UI cannot draw; set it (e.g. TERM=xterm-256color) or run nettop --batch for a plain-text table (or --json for NDJSON)."),
            (TerminalCheck(standardInputIsTerminal: true, standardOutputIsTerminal: true, term: ""),
             "nettop: TERM is not set, so the interactive UI cannot draw; set it (e.g. TERM=xterm-256color) or run nettop --batch for a plain-text table (or --json for NDJSON)."),
            (TerminalCheck(standardInputIsTerminal: true, standardOutputIsTerminal: true, term: "dumb"),
             "nettop: TERM=dumb cannot show a full-screen UI; run nettop --batch for a plain-text table (or --json for NDJSON)."),
        ]
        for (check, message) in cases {
            let world = FakeWorld()
            XCTAssertEqual(runUI(world, check: check, terminal: nil), 69)
            XCTAssertEqual(world.errors, [message])
            XCTAssertTrue(world.openedConfigs.isEmpty, "no BPF loading for a UI that cannot be shown")
        }
    }

    func testUnknownTerminalTypeIsReportedAfterTheTracerCloses() {
        let world = FakeWorld()
        let error = NetTopError(.unavailable, "the terminal type 'vt999' is unknown to ncurses (no terminfo entry); "
                                + "set TERM to one it knows, or run nettop --batch.")
        XCTAssertEqual(runUI(world, check: tty, terminal: nil, openError: error), 69)
        XCTAssertEqual(world.errors, ["nettop: " + error.message])
        XCTAssertEqual(world.tracer.closeCount, 1)
        XCTAssertTrue(world.waiter.closed)
    }

    func testQuitClosesTerminalTracerAndWaiter() {
        let world = FakeWorld()
        let terminal = FakeTerminal(clock: world.clock, script: [.idle, .keys([.character("q")])])
        XCTAssertEqual(runUI(world, check: tty, terminal: terminal), 0)
        XCTAssertEqual(terminal.closeCount, 1)
        XCTAssertEqual(world.tracer.closeCount, 1)
        XCTAssertTrue(world.waiter.closed)
        XCTAssertTrue(world.errors.isEmpty)
    }

    func testTracerErrorGivesTheTerminalBackBeforeReporting() {
        let world = FakeWorld()
        world.tracer.tickError = NetTopError(.software, "the ring buffer broke.")
        var events: [String] = []
        let terminal = FakeTerminal(clock: world.clock, script: [.idle])
        terminal.log = { events.append($0) }
        let environment = world.environment
        var reporting = environment
        reporting.writeError = { events.append("error: " + $0) }
        let status = InteractiveUI.run(view: ViewOptions(), tracer: try! TracerArguments.parse([]), interval: 1,
                                       environment: reporting, terminalCheck: tty) { _, _ throws(NetTopError) in terminal }
        XCTAssertEqual(status, 70)
        XCTAssertEqual(events, ["terminal closed", "error: nettop: the ring buffer broke."])
        XCTAssertEqual(world.tracer.closeCount, 1)
    }

    func testTheRealTerminalNeedsTheRealSignalWatcher() {
        // With a fake waiter, the live entry refuses to take the terminal (a stop signal during a wait
        // would otherwise kill nettop with the terminal still raw) — and so never waits for a key here.
        let world = FakeWorld()
        let status = InteractiveUI.run(view: ViewOptions(), tracer: try! TracerArguments.parse([]), interval: 1,
                                       environment: world.environment)
        XCTAssertTrue(status == 69 || status == 70, "\(status)")
        XCTAssertEqual(world.errors.count, 1)
    }

    func testStopSignalThroughTheEntryPoint() {
        let world = FakeWorld()
        world.waiter.stopAtWait = 2
        let terminal = FakeTerminal(clock: world.clock, script: [.idle, .interrupted])
        XCTAssertEqual(runUI(world, check: tty, terminal: terminal), 0)
        XCTAssertEqual(terminal.closeCount, 1)
    }
}
