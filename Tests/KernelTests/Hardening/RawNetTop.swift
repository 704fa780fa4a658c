import Foundation
import Glibc

/// The real nettop (optionally behind a wrapper such as setpriv or unshare), its stdout and stderr going to
/// files so the test sees the exact bytes nettop wrote — escape sequences, invalid UTF-8 and all — and
/// nettop never blocks on a pipe the test is slow to read. Lines are collected by `poll()`, each with the
/// time it was first seen. Every wait is bounded; the files are removed by `cleanup()`.
final class RawNetTop: @unchecked Sendable {
    let arguments: [String]
    private let process = Process()
    private let outPath: String
    private let errPath: String
    private let lock = NSLock()
    private var offset: UInt64 = 0
    private var pending: [UInt8] = []
    private var collected: [[UInt8]] = []
    private var arrivalTimes: [Date] = []
    private var everything: [UInt8] = []
    private let keepEverything: Bool

    /// `wrapper` comes first on the command line (e.g. ["/usr/bin/setpriv", ...]); nettop's path follows it,
    /// then `nettopArguments`. With `keepEverything` false, only lines are kept (long runs).
    init(_ nettopArguments: [String], wrapper: [String] = [], keepEverything: Bool = true) throws {
        arguments = nettopArguments
        self.keepEverything = keepEverything
        let base = FileManager.default.temporaryDirectory
            .appendingPathComponent("ntt-\(getpid())-raw-\(UInt32.random(in: 0...UInt32.max))").path
        outPath = base + ".out"
        errPath = base + ".err"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let command = wrapper + [Binaries.nettop] + nettopArguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            cleanup()
            throw KernelTestError("cannot start \(command.joined(separator: " ")): \(error)")
        }
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }
    var stderrBytes: [UInt8] { (FileManager.default.contents(atPath: errPath)).map { [UInt8]($0) } ?? [] }

    /// Reads what nettop wrote since the last call; complete lines are added to `lines`.
    func poll() {
        guard let handle = FileHandle(forReadingAtPath: outPath) else { return }
        defer { try? handle.close() }
        try? handle.seek(toOffset: lock.withLock { offset })
        let data = [UInt8](handle.readDataToEndOfFile())
        guard !data.isEmpty else { return }
        let now = Date()
        lock.withLock {
            offset += UInt64(data.count)
            if keepEverything { everything += data }
            var searchFrom = pending.count
            pending += data
            var lineStart = 0
            while let nl = pending[searchFrom...].firstIndex(of: 0x0a) {
                collected.append(Array(pending[lineStart..<nl]))
                arrivalTimes.append(now)
                lineStart = nl + 1
                searchFrom = lineStart
            }
            if lineStart > 0 { pending.removeFirst(lineStart) }
        }
    }

    /// Complete lines so far (without their newlines).
    var lines: [[UInt8]] { poll(); return lock.withLock { collected } }
    var lineCount: Int { poll(); return lock.withLock { collected.count } }
    /// When each line was first seen (`poll()` granularity).
    var arrivals: [Date] { lock.withLock { arrivalTimes } }
    /// Every byte of stdout so far (with `keepEverything`).
    var output: [UInt8] { poll(); return lock.withLock { everything } }

    /// Lines that parse as JSON objects (the NDJSON ticks).
    var ticks: [[String: Any]] {
        lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
    }

    /// Waits until `predicate` holds; false on timeout or once nettop has exited without it holding.
    @discardableResult
    func waitFor(timeout: TimeInterval, poll interval: useconds_t = 50_000, _ predicate: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while true {
            if predicate() { return true }
            if !isRunning { usleep(100_000); return predicate() }
            if Date() > end { return false }
            usleep(interval)
        }
    }

    @discardableResult
    func waitForLines(_ count: Int, timeout: TimeInterval) -> Bool {
        waitFor(timeout: timeout) { lineCount >= count }
    }

    func signal(_ signo: Int32) {
        if process.isRunning { kill(process.processIdentifier, signo) }
    }

    /// The exit status (128 + the signal when killed by one), or nil if still running after `timeout`.
    func waitForExit(timeout: TimeInterval) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > end { return nil }
            usleep(10_000)
        }
        poll()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// Ends nettop for good (SIGTERM, then SIGKILL) and removes the files. Idempotent.
    func cleanup() {
        if process.isRunning {
            signal(SIGTERM)
            if waitForExit(timeout: 10) == nil {
                signal(SIGKILL)
                _ = waitForExit(timeout: 5)
            }
        }
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
    }
}

extension KernelTestCase {
    /// A RawNetTop stopped and cleaned up at teardown (the test judges its exit itself). The backend options
    /// of the run (NETTOP_TEST_BACKEND, NETTOP_TEST_NO_BTF) are added, as for every kernel test's nettop.
    func startRawNetTop(_ arguments: [String], wrapper: [String] = [], keepEverything: Bool = true) throws -> RawNetTop {
        let nettop = try RawNetTop(arguments + TestBackend.arguments, wrapper: wrapper, keepEverything: keepEverything)
        addTeardownBlock { nettop.cleanup() }
        return nettop
    }
}

/// What `/proc/PID/status` says about a process's memory, in kB.
struct ProcessMemory {
    var rssKB: Int
    var peakKB: Int

    static func of(pid: Int32) -> ProcessMemory? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "")
        }
        guard let rss = field("VmRSS"), let peak = field("VmHWM") else { return nil }
        return ProcessMemory(rssKB: rss, peakKB: peak)
    }
}
