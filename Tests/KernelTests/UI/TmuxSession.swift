import Foundation
import Glibc

/// A detached tmux session of a fixed size, on a tmux server of its own (`tmux -L`), running a plain
/// shell with a known prompt: the UI test types commands into it and reads the screen back with
/// `capture-pane`. `kill()` (also from deinit) ends the server and everything in it.
///
/// tmux runs through posix_spawn here, not Foundation's Process: the screen is read many times a second,
/// and Process.run() of this toolchain crashes now and then (it over-reads /proc/self/fd entries,
/// swift-corelibs-foundation#5472); and the server tmux starts daemonizes and would keep Process's
/// exit-detection socket open, so the starting command would look alive as long as the server.
final class TmuxSession: @unchecked Sendable {
    static let tmux = ["/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    } ?? "/usr/bin/tmux"
    /// The shell's prompt, to tell when a command has finished (as captured: trailing blank trimmed).
    static let prompt = "ntt-ui$"

    let server: String
    let target = "ui"
    private var killed = false

    /// Starts the server and a `columns`x`rows` session running `sh` with a UTF-8 locale and `term`.
    init(columns: Int, rows: Int, term: String = "tmux-256color") throws {
        server = "ntt-ui-\(getpid())"
        // A server left by a crashed run of this same pid (unlikely) would keep the old size and panes.
        _ = try? Self.spawn([Self.tmux, "-L", server, "kill-server"])
        let shell = "env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=\(term) "
            + "PS1='\(Self.prompt) ' /bin/sh"
        let started = try Self.spawn([Self.tmux, "-L", server, "-f", "/dev/null", "new-session", "-d", "-s", target,
                                      "-x", String(columns), "-y", String(rows), shell], timeout: 20)
        guard started.status == 0 else { throw KernelTestError("tmux new-session failed (status \(started.status))") }
        // The window keeps the size asked for, whatever clients attach (none do).
        _ = try? tmux(["set-option", "-t", target, "window-size", "manual"])
        guard waitForScreen(timeout: 10, { $0.contains { $0.hasPrefix(Self.prompt) } }) != nil else {
            kill()
            throw KernelTestError("tmux session shows no shell prompt; screen:\n\(screenText)")
        }
    }

    deinit { kill() }

    /// Types `text` literally, then Enter.
    func run(_ text: String) throws {
        try type(text)
        try keys("Enter")
    }

    /// Sends tmux key names ("q", "Escape", "Down", "F6", "C-c") or single characters.
    func keys(_ names: String...) throws {
        try mustTmux(["send-keys", "-t", target] + names)
    }

    /// Types characters literally (no key-name lookup).
    func type(_ text: String) throws {
        try mustTmux(["send-keys", "-t", target, "-l", text])
    }

    /// The visible screen, one string per row, trailing blanks removed.
    var screen: [String] {
        let text = (try? tmux(["capture-pane", "-p", "-t", target]).output) ?? ""
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            var line = String($0)
            while line.last == " " { line.removeLast() }
            return line
        }
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    var screenText: String { screen.joined(separator: "\n") }

    /// A tmux format about the pane (`#{alternate_on}`, `#{pane_pid}`, `#{window_width}`).
    func display(_ format: String) -> String {
        let out = (try? tmux(["display-message", "-p", "-t", target, format]).output) ?? ""
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Resizes the window (the pane follows).
    func resize(columns: Int, rows: Int) throws {
        try mustTmux(["resize-window", "-t", target, "-x", String(columns), "-y", String(rows)])
    }

    /// Polls the screen until `predicate` holds; the screen then, or nil after `timeout` seconds.
    @discardableResult
    func waitForScreen(timeout: TimeInterval, _ predicate: ([String]) -> Bool) -> [String]? {
        let end = Date().addingTimeInterval(timeout)
        while true {
            let lines = screen
            if predicate(lines) { return lines }
            if Date() > end { return nil }
            usleep(200_000)
        }
    }

    /// Ends the server, its session and whatever still runs in it (they get SIGHUP), and removes the
    /// server's socket file. Idempotent.
    func kill() {
        guard !killed else { return }
        killed = true
        _ = try? tmux(["kill-server"])
        let directory = ProcessInfo.processInfo.environment["TMUX_TMPDIR"] ?? "/tmp"
        unlink("\(directory)/tmux-\(getuid())/\(server)")
    }

    // MARK: Running tmux

    private func tmux(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try Self.spawn([Self.tmux, "-L", server] + arguments, captureOutput: true)
    }

    private func mustTmux(_ arguments: [String]) throws {
        let result = try tmux(arguments)
        guard result.status == 0 else {
            throw KernelTestError("tmux \(arguments.joined(separator: " ")) exited with status \(result.status)")
        }
    }

    /// Runs `argv` with standard input and error on /dev/null and nothing else of this process open;
    /// standard output is returned when `captureOutput`, else /dev/null. Bounded by `timeout`.
    private static func spawn(_ argv: [String], captureOutput: Bool = false,
                              timeout: TimeInterval = 10) throws -> (status: Int32, output: String) {
        var fds: [Int32] = [-1, -1]
        if captureOutput {
            guard pipe(&fds) == 0 else { throw KernelTestError("pipe: \(String(cString: strerror(errno)))") }
        }
        defer { for fd in fds where fd >= 0 { close(fd) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if captureOutput {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
        for fd in open where fd > 2 && fcntl(fd, F_GETFD) != -1 { posix_spawn_file_actions_addclose(&actions, fd) }

        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ)
        guard rc == 0 else { throw KernelTestError("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }

        let end = Date().addingTimeInterval(timeout)
        var output: [UInt8] = []
        if captureOutput {
            close(fds[1])
            fds[1] = -1
            var buffer = [UInt8](repeating: 0, count: 65536)
            while Date() < end {
                var entry = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
                guard poll(&entry, 1, 100) >= 0 || errno == EINTR else { break }
                guard entry.revents != 0 else { continue }
                let n = read(fds[0], &buffer, buffer.count)
                if n > 0 { output += buffer[0..<n] } else if n == 0 || errno != EINTR { break }
            }
        }
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { throw KernelTestError("waitpid \(argv[0]): \(String(cString: strerror(errno)))") }
            if Date() > end {
                Glibc.kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                throw KernelTestError("\(argv.joined(separator: " ")) did not finish within \(timeout) s")
            }
            usleep(5_000)
        }
        // WIFEXITED / WEXITSTATUS are macros: a normal exit has the low 7 bits clear.
        let exitStatus: Int32 = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitStatus, String(decoding: output, as: UTF8.self))
    }
}
