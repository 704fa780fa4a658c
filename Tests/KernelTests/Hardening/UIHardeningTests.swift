import Foundation
import Glibc
import XCTest

/// The interactive UI under stress: no usable terminal, stop signals (also the hang-up of a closed
/// terminal), and hostile process and namespace names, with the real nettop in a tmux pane of its own.
/// (UITmuxTests covers the UI's features and Ctrl-C / SIGTERM restoring the terminal; here: the exit
/// status, the BPF left behind, SIGHUP, and what hostile names do to the terminal.)
final class UIHardeningTests: KernelTestCase {
    private let startTimeout: TimeInterval = 90
    private let screenTimeout: TimeInterval = 45

    /// No terminal at all (stdout a file), or TERM=dumb / unset / unknown on a real one: one sentence that
    /// points at --batch, exit 69, nothing loaded, and the terminal as it was.
    func testWithoutAUsableTerminalItSaysToUseBatch() throws {
        let pinnedBefore = BPFInspector.pinned()
        let plain = try startRawNetTop([])
        XCTAssertEqual(plain.waitForExit(timeout: 60), 69, "stderr: \(plain.stderr)")
        XCTAssertEqual(plain.stderr.filter { $0 == "\n" }.count, 1, plain.stderr)
        XCTAssertTrue(plain.stderr.hasPrefix("nettop: ") && plain.stderr.contains("--batch"), plain.stderr)
        XCTAssertEqual(plain.output, [])

        let tmux = try HardeningTmux(columns: 120, rows: 30)
        addTeardownBlock { tmux.kill() }
        for (term, expected) in [("dumb", "TERM=dumb"), ("", "TERM is not set"), ("nosuch-terminal", "nosuch-terminal")] {
            let setTerm = term.isEmpty ? "unset TERM;" : "TERM=\(term);"
            try tmux.run("clear; (\(setTerm) exec \(Binaries.nettop) \(TestBackend.arguments.joined(separator: " "))); echo NETTOP-EXIT=$?")
            let screen = tmux.waitForScreen(timeout: startTimeout) { $0.contains { $0.hasPrefix("NETTOP-EXIT=") } }
            let text = (screen ?? tmux.screen).joined(separator: "\n")
            XCTAssertTrue(text.contains("NETTOP-EXIT=69"), "TERM=\(term): \(text)")
            XCTAssertTrue(text.contains(expected) && text.contains("--batch"), "TERM=\(term): \(text)")
            XCTAssertEqual(tmux.display("#{alternate_on}"), "0", "TERM=\(term): alternate screen left on")
            XCTAssertEqual(tmux.display("#{cursor_flag}"), "1", "TERM=\(term): cursor left hidden")
        }
        assertNoBPFLeft(BPFFootprint(), pinnedBefore: pinnedBefore, "no usable terminal")
    }

    /// SIGINT, SIGTERM and SIGHUP sent to the UI: exit 0, the terminal given back, nothing loaded.
    /// Then the terminal itself goes away (the tmux server is killed: a real hang-up): nettop still ends
    /// and leaves nothing loaded.
    func testStopSignalsAndHangUpInTheUILeaveTheTerminalAndKernelClean() throws {
        let pinnedBefore = BPFInspector.pinned()
        let tmux = try HardeningTmux(columns: 120, rows: 30)
        addTeardownBlock { tmux.kill() }
        for signo in [SIGINT, SIGTERM, SIGHUP] {
            let what = "UI + signal \(signo)"
            let pid = try startUI(in: tmux, extra: ["--port", "1"])
            let footprint = try footprintOfRunningNetTop(pid: pid, what)
            XCTAssertEqual(kill(pid, signo), 0)
            let done = tmux.waitForScreen(timeout: screenTimeout) { s in
                s.contains { $0.hasPrefix("NETTOP-EXIT=") } && s.contains { $0.hasPrefix(HardeningTmux.prompt) }
            }
            let text = (done ?? tmux.screen).joined(separator: "\n")
            XCTAssertTrue(text.contains("NETTOP-EXIT=0"), "\(what): \(text)")
            XCTAssertEqual(tmux.display("#{alternate_on}"), "0", "\(what): alternate screen left on")
            XCTAssertEqual(tmux.display("#{cursor_flag}"), "1", "\(what): cursor left hidden")
            assertNoBPFLeft(footprint, pinnedBefore: pinnedBefore, what)
        }

        let pid = try startUI(in: tmux, extra: ["--port", "1"])
        let footprint = try footprintOfRunningNetTop(pid: pid, "hang-up")
        tmux.kill()
        let end = Date().addingTimeInterval(30)
        while kill(pid, 0) == 0 && Date() < end { usleep(50_000) }
        XCTAssertNotEqual(kill(pid, 0), 0, "nettop still running 30 s after its terminal went away")
        assertNoBPFLeft(footprint, pinnedBefore: pinnedBefore, "hang-up")
    }

    /// A traced process with an OSC title sequence, a BEL, a clear-screen sequence, a newline and invalid
    /// UTF-8 in its name, in a namespace with an escape sequence in its name: the UI shows them escaped,
    /// the pane's title is not changed, the screen is not cleared.
    func testHostileNamesAreShownEscapedInTheUI() throws {
        let nsName = "ntt-\(getpid())-u\u{1b}[41m\u{07}"
        try mustRun(ipTool, ["netns", "add", nsName])
        addTeardownBlock { _ = try? runCommand(ipTool, ["netns", "del", nsName]) }
        try mustRun(ipTool, ["-n", nsName, "link", "set", "lo", "up"])
        var st = stat()
        XCTAssertEqual(stat("/run/netns/\(nsName)", &st), 0)
        let ns = Namespace(name: nsName, inode: UInt64(st.st_ino))
        let server = try startPeer(["tcp-server", "--bind", "127.0.0.1", "--port", "0", "--send", "500", "--timeout-ms", "120000"],
                                   in: ns)
        let port = try server.listeningPort()

        let tmux = try HardeningTmux(columns: 200, rows: 40)
        addTeardownBlock { tmux.kill() }
        let titleBefore = tmux.display("#{pane_title}")
        _ = try startUI(in: tmux, extra: ["--port", "\(port)"])
        let client = try HostileClient(name: HostileNameTests.hostileName, port: port, send: 2222, in: ns)
        addTeardownBlock { client.terminate() }
        let lport = try client.connectedPort()
        let escapedStart = "\\x1b]0;pwn"
        let escapedNamespace = "ntt-\(getpid())-u\\x1b"
        let shown = tmux.waitForScreen(timeout: screenTimeout) { s in
            s.contains { $0.contains(":\(lport)") && $0.contains(escapedStart) && $0.contains(escapedNamespace) }
        }
        XCTAssertNotNil(shown, "the client row with its name and namespace escaped; screen:\n\(tmux.screenText)")
        print("ui: hostile names on screen:\n" + (shown ?? []).filter { $0.contains("\\x1b") }.joined(separator: "\n"))
        client.go()
        XCTAssertEqual(try client.done(), 500)
        // The header is still on the first line (no clear-screen took effect), the title is unchanged.
        let after = tmux.waitForScreen(timeout: screenTimeout) { $0.first?.hasPrefix("nettop ") == true } ?? tmux.screen
        XCTAssertTrue(after.first?.hasPrefix("nettop ") == true, "screen:\n\(after.joined(separator: "\n"))")
        XCTAssertEqual(tmux.display("#{pane_title}"), titleBefore, "the process name retitled the terminal")
        XCTAssertFalse(after.contains { $0.contains("pwn") && !$0.contains("\\x1b]0;pwn") }, after.joined(separator: "\n"))
        try tmux.keys("q")
        let done = tmux.waitForScreen(timeout: screenTimeout) { $0.contains { $0.hasPrefix("NETTOP-EXIT=") } }
        XCTAssertTrue((done ?? tmux.screen).contains("NETTOP-EXIT=0"), tmux.screenText)
    }

    // MARK: - Helpers

    /// Starts `nettop --interval 0.5 <extra>` in the pane; its pid once it drew its first tick.
    private func startUI(in tmux: HardeningTmux, extra: [String]) throws -> Int32 {
        let arguments = (["--interval", "0.5"] + extra + TestBackend.arguments).joined(separator: " ")
        try tmux.run("clear; \(Binaries.nettop) \(arguments); echo NETTOP-EXIT=$?")
        guard tmux.waitForScreen(timeout: startTimeout, { s in s.first?.hasPrefix("nettop ") == true }) != nil else {
            throw KernelTestError("nettop drew no first tick within \(startTimeout) s; screen:\n\(tmux.screenText)")
        }
        let shell = tmux.display("#{pane_pid}")
        let children = (try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
        guard let pid = children.split(separator: " ").compactMap({ Int32($0) }).first else {
            throw KernelTestError("no nettop among the pane shell's children")
        }
        return pid
    }
}

/// A detached tmux session of a fixed size on a server of its own (`tmux -L`), running `sh` with a known
/// prompt. `kill()` ends the server and whatever runs in it (they get SIGHUP).
final class HardeningTmux: @unchecked Sendable {
    static let tmux = ["/usr/bin/tmux", "/usr/local/bin/tmux"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "tmux"
    static let prompt = "ntt-hardening$"
    let server = "ntt-hardening-\(getpid())"
    private var killed = false

    init(columns: Int, rows: Int) throws {
        _ = try? runCommand(Self.tmux, ["-L", server, "kill-server"], timeout: 10)
        let shell = "env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=tmux-256color "
            + "PS1='\(Self.prompt) ' /bin/sh"
        try Self.spawnDetached([Self.tmux, "-L", server, "-f", "/dev/null", "new-session", "-d", "-s", "h",
                                "-x", String(columns), "-y", String(rows), shell])
        _ = try? runCommand(Self.tmux, ["-L", server, "set-option", "-t", "h", "window-size", "manual"], timeout: 10)
        guard waitForScreen(timeout: 10, { $0.contains { $0.hasPrefix(Self.prompt) } }) != nil else {
            kill()
            throw KernelTestError("tmux shows no prompt; screen:\n\(screenText)")
        }
    }

    deinit { kill() }

    /// The tmux server daemonizes and keeps every descriptor it inherits: started with none of ours open
    /// (Foundation's Process would wait on a descriptor the server keeps for as long as it lives).
    private static func spawnDetached(_ argv: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in 0...2 { posix_spawn_file_actions_addopen(&actions, Int32(fd), "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(name), fd > 2, fcntl(fd, F_GETFD) != -1 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ)
        guard rc == 0 else { throw KernelTestError("cannot start tmux: \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        let end = Date().addingTimeInterval(20)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > end { Glibc.kill(pid, SIGKILL); waitpid(pid, &status, 0); throw KernelTestError("tmux did not start") }
            usleep(10_000)
        }
        guard status == 0 else { throw KernelTestError("tmux new-session failed (wait status \(status))") }
    }

    func run(_ command: String) throws {
        try mustRun(Self.tmux, ["-L", server, "send-keys", "-t", "h", "-l", command], timeout: 10)
        try keys("Enter")
    }

    func keys(_ names: String...) throws {
        try mustRun(Self.tmux, ["-L", server, "send-keys", "-t", "h"] + names, timeout: 10)
    }

    var screen: [String] {
        let text = (try? runCommand(Self.tmux, ["-L", server, "capture-pane", "-p", "-t", "h"], timeout: 10).stdout) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).map {
            var line = String($0)
            while line.last == " " { line.removeLast() }
            return line
        }
    }

    var screenText: String { screen.joined(separator: "\n") }

    func display(_ format: String) -> String {
        let out = (try? runCommand(Self.tmux, ["-L", server, "display-message", "-p", "-t", "h", format], timeout: 10).stdout) ?? ""
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    func waitForScreen(timeout: TimeInterval, _ predicate: ([String]) -> Bool) -> [String]? {
        let end = Date().addingTimeInterval(timeout)
        while true {
            let lines = screen
            if predicate(lines) { return lines }
            if Date() > end { return nil }
            usleep(100_000)
        }
    }

    func kill() {
        guard !killed else { return }
        killed = true
        _ = try? runCommand(Self.tmux, ["-L", server, "kill-server"], timeout: 10)
    }
}
