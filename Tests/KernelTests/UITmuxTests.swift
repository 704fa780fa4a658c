import Foundation
import Glibc
import XCTest

/// The interactive UI end to end: the real nettop (real tracer) in a tmux session of a fixed size, known
/// traffic between two test namespaces, the screen read back with `capture-pane`. Every wait is bounded;
/// the tmux server, the peers and the namespaces are removed at teardown whatever happens.
final class UITmuxTests: KernelTestCase {
    /// Bound for nettop to load its programs and draw its first tick, and for the screen to show a change.
    private let startTimeout: TimeInterval = 90
    /// Generous: a debug build on a host with tens of thousands of connections redraws slowly.
    private let screenTimeout: TimeInterval = 45

    /// One TCP connection held open between namespaces, as both ends saw it.
    private struct Link {
        let client: PeerProcess, server: PeerProcess
        let clientLocal: String, serverLocal: String   // "10.231.X.1:40000"
    }

    func testInteractiveUIShowsBytesSortsFiltersByNetnsAndRestoresTheTerminal() throws {
        let sandbox = makeSandbox()
        // Named before nettop starts, so its first look at /run/netns already has the names.
        let nsA = try sandbox.makeNamespace(), nsB = try sandbox.makeNamespace()
        let veth = try sandbox.link(nsA, nsB)
        let tmux = try TmuxSession(columns: 200, rows: 50)
        addTeardownBlock { tmux.kill() }

        try startNetTop(in: tmux)
        XCTAssertEqual(tmux.display("#{alternate_on}"), "1", "nettop draws on the alternate screen")

        // A client in each namespace talks to a server in the other; each end sends a known amount.
        let ab = try hold(client: nsA, server: nsB, serverAddress: veth.v4B)
        let ba = try hold(client: nsB, server: nsA, serverAddress: veth.v4A)
        ab.client.send("send 1000000")
        ab.server.send("send 123457")
        ba.client.send("send 300000")
        ba.server.send("send 7000")

        // Only this test's rows (the host may be busy, with other tests' peers too): find the sandbox's
        // namespace names, "ntt-<pid>-", over the NETNS column; Enter keeps the find.
        let ours = NetnsSandbox.prefix + "\(getpid())-"
        try tmux.keys("/")
        try tmux.type(ours)
        try tmux.keys("Enter")
        let rows: [(what: String, local: String, remote: String, ns: String, sent: String, recv: String)] = [
            ("client in A", ab.clientLocal, ab.serverLocal, nsA.name, "976.6 KiB", "120.6 KiB"),
            ("server in B", ab.serverLocal, ab.clientLocal, nsB.name, "120.6 KiB", "976.6 KiB"),
            ("client in B", ba.clientLocal, ba.serverLocal, nsB.name, "293.0 KiB", "6.8 KiB"),
            ("server in A", ba.serverLocal, ba.clientLocal, nsA.name, "6.8 KiB", "293.0 KiB"),
        ]
        // The connection is there, in its namespace, with the right bytes (SENT and RECV, 9 columns each).
        let shown = tmux.waitForScreen(timeout: screenTimeout) { screen in
            rows.allSatisfy { r in
                Self.row(screen, local: r.local, remote: r.remote).map {
                    $0.line.contains(" \(r.ns) ") && $0.line.contains(Self.pad(r.sent) + " " + Self.pad(r.recv))
                } ?? false
            }
        }
        XCTAssertNotNil(shown, "the four rows with their bytes; screen:\n\(tmux.screenText)")

        // Sort by SENT from the F6 menu: 1,000,000 > 300,000 > 123,457 > 7,000.
        try tmux.keys("F6")
        XCTAssertNotNil(tmux.waitForScreen(timeout: screenTimeout) { $0.contains { $0.contains("Sort by") } },
                        "the sort menu; screen:\n\(tmux.screenText)")
        for _ in 0..<4 { try tmux.keys("Down") }   // rate, txrate, rxrate, bytes, sent
        try tmux.keys("Enter")
        try assertOrder(tmux, header: "sort sent, largest first", rows.map { ($0.local, $0.remote) },
                        expected: [0, 2, 1, 3])
        // ">" moves to the next column, RECV: 1,000,000 > 300,000 > 123,457 > 7,000 the other way round.
        try tmux.keys(">")
        try assertOrder(tmux, header: "sort recv, largest first", rows.map { ($0.local, $0.remote) },
                        expected: [1, 3, 0, 2])
        try tmux.keys("I")
        try assertOrder(tmux, header: "sort recv, smallest first", rows.map { ($0.local, $0.remote) },
                        expected: [2, 0, 3, 1])

        // The netns picker: Esc clears the find text, n lists the namespaces with their counts.
        try tmux.keys("Escape")
        XCTAssertNotNil(tmux.waitForScreen(timeout: screenTimeout) { $0.count > 3 && $0[3].contains("filter none") },
                        "Esc clears the filter; screen:\n\(tmux.screenText)")
        try tmux.keys("n")
        guard let picker = tmux.waitForScreen(timeout: screenTimeout, { s in s.contains { $0.contains(nsB.name) && $0.contains("2 rows") } }),
              let top = picker.firstIndex(where: { $0.contains("Network namespace") }) else {
            return XCTFail("the netns picker with both namespaces and their counts; screen:\n\(tmux.screenText)")
        }
        let entries = picker[(top + 1)...].prefix { $0.contains("│") || $0.contains("|") }
        guard let offset = entries.firstIndex(where: { $0.contains(nsA.name) }) else {
            return XCTFail("\(nsA.name) in the picker:\n\(picker.joined(separator: "\n"))")
        }
        XCTAssertTrue(entries[offset].contains("2 rows"), entries[offset])
        XCTAssertTrue(entries.first?.contains("all namespaces") == true, picker.joined(separator: "\n"))
        for _ in 0..<(offset - (top + 1)) { try tmux.keys("Down") }
        try tmux.keys("Enter")
        // Only that namespace's rows are left: the client in A and the server in A.
        let filtered = tmux.waitForScreen(timeout: screenTimeout) { s in
            s.count > 3 && s[3].contains("filter netns \(nsA.name)") && Self.tableRows(s).count == 2
        }
        XCTAssertNotNil(filtered, "netns filter; screen:\n\(tmux.screenText)")
        let left = Self.tableRows(filtered ?? tmux.screen)
        XCTAssertTrue(left.allSatisfy { $0.contains(" \(nsA.name) ") }, left.joined(separator: "\n"))
        XCTAssertNotNil(Self.row(left, local: ab.clientLocal, remote: ab.serverLocal), left.joined(separator: "\n"))
        XCTAssertNotNil(Self.row(left, local: ba.serverLocal, remote: ba.clientLocal), left.joined(separator: "\n"))

        // The detail view of the client in A has the exact counts: filter it down to that one row, Enter.
        try tmux.keys("f")
        try tmux.type(" port \(ab.serverLocal.split(separator: ":").last!)")
        try tmux.keys("Enter")
        XCTAssertNotNil(tmux.waitForScreen(timeout: screenTimeout) { Self.tableRows($0).count == 1 },
                        "one row; screen:\n\(tmux.screenText)")
        try tmux.keys("Enter")
        let pid = try XCTUnwrap(ab.client.events("connected").first?.pid)
        let detail = tmux.waitForScreen(timeout: screenTimeout) { s in
            s.contains { $0.contains("Sent         1,000,000 bytes") }
                && s.contains { $0.contains("Received     123,457 bytes") }
                && s.contains { $0.contains("Process      \(pid) nettop-peer") }
                && s.contains { $0.contains("\(nsA.name) (inode \(nsA.inode))") }
        }
        XCTAssertNotNil(detail, "detail view; screen:\n\(tmux.screenText)")
        try tmux.keys("Escape")

        // At 80x24 (a resize): the four rows again, every line within the width.
        try tmux.keys("Escape", "/")
        try tmux.type(ours)
        try tmux.keys("Enter")
        try tmux.resize(columns: 80, rows: 24)
        let small = tmux.waitForScreen(timeout: screenTimeout) { s in
            s.count == 24 && s[4].contains("PID COMMAND") && !s[4].contains("LOCAL")
                && Self.tableRows(s).filter { $0.contains("nettop-peer") }.count == 4
        }
        XCTAssertNotNil(small, "the 80x24 screen after a resize; screen:\n\(tmux.screenText)")
        let capture = small ?? tmux.screen
        XCTAssertTrue(capture.allSatisfy { $0.count <= 80 }, capture.joined(separator: "\n"))
        print("nettop at 80x24 under tmux:\n" + capture.joined(separator: "\n"))

        // q gives the terminal back: the alternate screen is off and the shell prompt is there again.
        try tmux.keys("q")
        try assertExitedCleanly(tmux, how: "q")
    }

    func testStopSignalsRestoreTheTerminal() throws {
        let tmux = try TmuxSession(columns: 120, rows: 30)
        addTeardownBlock { tmux.kill() }
        // Ctrl-C in the terminal (SIGINT from the tty), then SIGTERM from outside.
        try startNetTop(in: tmux)
        try tmux.keys("C-c")
        try assertExitedCleanly(tmux, how: "Ctrl-C")

        try startNetTop(in: tmux)
        let shell = try XCTUnwrap(Int32(tmux.display("#{pane_pid}")))
        let children = (try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
        let nettop = try XCTUnwrap(children.split(separator: " ").compactMap { Int32($0) }.first,
                                   "nettop's pid among the shell's children")
        XCTAssertEqual(Glibc.kill(nettop, SIGTERM), 0)
        try assertExitedCleanly(tmux, how: "SIGTERM")
    }

    func testMonochromeTerminalAndNoUsableTerminal() throws {
        // vt100 has no colours: the monochrome styles draw the same screen.
        let tmux = try TmuxSession(columns: 100, rows: 30, term: "vt100")
        addTeardownBlock { tmux.kill() }
        try startNetTop(in: tmux)
        XCTAssertNotNil(tmux.waitForScreen(timeout: screenTimeout) { $0.count > 4 && $0[4].contains("PID COMMAND") },
                        "column titles; screen:\n\(tmux.screenText)")
        try tmux.keys("q")
        try assertExitedCleanly(tmux, how: "q on vt100", alternateScreen: false)

        // TERM=dumb, and standard output not a terminal: one sentence pointing at --batch, exit 69.
        try tmux.run("clear; TERM=dumb \(Binaries.nettop); echo NETTOP-EXIT=$?")
        let dumb = tmux.waitForScreen(timeout: screenTimeout) { $0.contains("NETTOP-EXIT=69") }
        XCTAssertNotNil(dumb, "TERM=dumb; screen:\n\(tmux.screenText)")
        XCTAssertTrue(tmux.screenText.contains("TERM=dumb cannot show a full-screen UI; run nettop --batch"), tmux.screenText)
        try tmux.run("clear; \(Binaries.nettop) | cat; echo NETTOP-EXIT=$?")
        let piped = tmux.waitForScreen(timeout: screenTimeout) { $0.contains("NETTOP-EXIT=0") || $0.contains { $0.contains("standard output is not one") } }
        XCTAssertNotNil(piped, "stdout a pipe; screen:\n\(tmux.screenText)")
        XCTAssertTrue(tmux.screenText.replacingOccurrences(of: "\n", with: "").contains("standard output is not one; run nettop --batch"),
                      tmux.screenText)
    }

    // MARK: Helpers

    /// Clears the pane, starts nettop with a short interval, waits for its first tick on screen.
    private func startNetTop(in tmux: TmuxSession, file: StaticString = #filePath, line: UInt = #line) throws {
        try tmux.run("clear; \(Binaries.nettop) --interval 0.5; echo NETTOP-EXIT=$?")
        guard tmux.waitForScreen(timeout: startTimeout, { s in s.first?.hasPrefix("nettop ") == true && s[0].contains("backend") }) != nil else {
            throw KernelTestError("nettop drew no first tick within \(startTimeout) s; screen:\n\(tmux.screenText)")
        }
    }

    private func assertExitedCleanly(_ tmux: TmuxSession, how: String, alternateScreen: Bool = true,
                                     file: StaticString = #filePath, line: UInt = #line) throws {
        let done = tmux.waitForScreen(timeout: screenTimeout) { s in
            s.contains("NETTOP-EXIT=0") && s.contains { $0.hasPrefix(TmuxSession.prompt) }
        }
        XCTAssertNotNil(done, "after \(how): exit status 0 and the prompt; screen:\n\(tmux.screenText)", file: file, line: line)
        if alternateScreen {
            XCTAssertEqual(tmux.display("#{alternate_on}"), "0", "after \(how): alternate screen off", file: file, line: line)
        }
        XCTAssertEqual(tmux.display("#{cursor_flag}"), "1", "after \(how): cursor visible", file: file, line: line)
    }

    /// A hold-server in `server` and a hold client in `client` connected to it, both up.
    private func hold(client: Namespace, server: Namespace, serverAddress: String) throws -> Link {
        let bound = ["--timeout-ms", "240000"]
        let srv = try startPeer(["hold-server", "--bind", serverAddress, "--port", "0"] + bound, in: server)
        let port = try srv.listeningPort()
        let cli = try startPeer(["hold", "--connect", serverAddress, "--port", "\(port)"] + bound, in: client)
        let connected = try cli.waitFor("connected")[0]
        try srv.waitFor("accepted")
        return Link(client: cli, server: srv, clientLocal: "\(connected.local):\(connected.lport)",
                    serverLocal: "\(serverAddress):\(port)")
    }

    /// Waits for `header` in the view line, then checks the rows (by their endpoints) come in `expected` order.
    private func assertOrder(_ tmux: TmuxSession, header: String, _ endpoints: [(String, String)], expected: [Int],
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let screen = tmux.waitForScreen(timeout: screenTimeout) { s in
            guard s.count > 3, s[3].hasPrefix(header) else { return false }
            return Self.order(s, endpoints) == expected
        }
        XCTAssertNotNil(screen, "\(header): rows in order \(expected), got \(Self.order(tmux.screen, endpoints)); screen:\n\(tmux.screenText)",
                        file: file, line: line)
    }

    /// The indices of `endpoints` sorted by where their rows are on screen.
    private static func order(_ screen: [String], _ endpoints: [(String, String)]) -> [Int] {
        endpoints.indices.compactMap { i in row(screen, local: endpoints[i].0, remote: endpoints[i].1).map { (i, $0.index) } }
            .sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// The table's rows: between the column titles (line 5) and the key bar (the last line).
    private static func tableRows(_ screen: [String]) -> [String] {
        guard screen.count > 6 else { return [] }
        return screen[5..<(screen.count - 1)].filter { !$0.isEmpty }
    }

    /// The row with `local` in its LOCAL column and `remote` in the REMOTE column right after it (the two
    /// ends of one connection have the same endpoints the other way round).
    private static func row(_ screen: [String], local: String, remote: String) -> (index: Int, line: String)? {
        for (i, line) in screen.enumerated() {
            guard let at = line.range(of: " \(local) ") else { continue }
            if line[at.upperBound...].drop(while: { $0 == " " }).hasPrefix(remote + " ") { return (i, line) }
        }
        return nil
    }

    /// A number column's text, right-aligned in its 9 columns.
    private static func pad(_ text: String) -> String {
        String(repeating: " ", count: max(0, 9 - text.count)) + text
    }
}
