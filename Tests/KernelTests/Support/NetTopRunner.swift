import Foundation
import Glibc
import XCTest

/// Where the binaries under test are: NETTOP_BIN / NETTOP_PEER, else next to the test bundle
/// (`swift build --show-bin-path`, the directory holding the .xctest).
enum Binaries {
    static var binDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        // .build/<triple>/debug/nettopPackageTests.xctest (a file on Linux; a bundle directory elsewhere).
        var url = URL(fileURLWithPath: exe)
        while url.path != "/" && !url.lastPathComponent.hasSuffix(".xctest") { url.deleteLastPathComponent() }
        if url.path == "/" { url = URL(fileURLWithPath: exe) }
        return url.deletingLastPathComponent().path
    }

    static var nettop: String {
        ProcessInfo.processInfo.environment["NETTOP_BIN"] ?? binDirectory + "/nettop"
    }

    static var peer: String {
        if let p = ProcessInfo.processInfo.environment["NETTOP_PEER"] { return p }
        let beside = URL(fileURLWithPath: nettop).deletingLastPathComponent().appendingPathComponent("nettop-peer").path
        return FileManager.default.isExecutableFile(atPath: beside) ? beside : binDirectory + "/nettop-peer"
    }
}

/// The real `nettop --json` binary, running for the length of one test; its ticks accumulate in a table.
final class NetTopRunner: @unchecked Sendable {
    let arguments: [String]
    private var child: ChildProcess!
    private let lock = NSLock()
    private var accumulated = ObservedTable()
    private var rawTail: [String] = []

    /// `withoutCgroup2`: nettop runs in a mount namespace of its own where no cgroup v2 hierarchy is mounted
    /// (as on a host with cgroup v1 only), so it attaches none of its cgroup programs.
    init(extraArguments: [String] = [], interval: Double = 0.2, withoutCgroup2: Bool = false) throws {
        arguments = ["--json", "--interval", String(interval)] + extraArguments + TestBackend.arguments
        let path = Binaries.nettop
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw KernelTestError("nettop binary not found at \(path) (build it, or set NETTOP_BIN)")
        }
        var executable = path, argv = arguments
        if withoutCgroup2 {
            // unshare and sh exec: the child's pid stays nettop's, so SIGINT reaches it.
            executable = "/usr/bin/unshare"
            argv = ["--mount", "--propagation", "private", "/bin/sh", "-c",
                    "awk '$3 == \"cgroup2\" { print $2 }' /proc/self/mounts | while read -r m; do umount -l \"$m\" || exit 1; done && exec \"$0\" \"$@\"",
                    path] + arguments
        }
        // The pipe reader only queues lines; a second thread decodes them. So however busy the host (thousands
        // of rows a tick) nettop never blocks writing to its stdout because of the test.
        let queue = lineQueue
        child = try ChildProcess(label: "nettop", executable: executable, arguments: argv) { line in
            queue.condition.lock()
            queue.lines.append(line)
            queue.condition.signal()
            queue.condition.unlock()
        }
        Thread.detachNewThread { [self] in decodeLines() }
    }

    private final class LineQueue: @unchecked Sendable {
        let condition = NSCondition()
        var lines: [String] = []
        var finished = false
    }
    private let lineQueue = LineQueue()

    private func decodeLines() {
        while true {
            lineQueue.condition.lock()
            while lineQueue.lines.isEmpty && !lineQueue.finished {
                _ = lineQueue.condition.wait(until: Date().addingTimeInterval(0.5))
                if lineQueue.lines.isEmpty && !child.isRunning && child.stdoutClosed { lineQueue.finished = true }
            }
            let batch = lineQueue.lines
            lineQueue.lines = []
            let done = lineQueue.finished && batch.isEmpty
            lineQueue.condition.unlock()
            if done { return }
            for line in batch {
                let tick = ObservedTick(line: line)
                lock.withLock {
                    accumulated.ingest(tick, line: line)
                    rawTail.append(String(line.prefix(2000)))
                    if rawTail.count > 3 { rawTail.removeFirst() }
                }
            }
        }
    }

    /// Lines read but not yet decoded (the decoder's backlog).
    var backlog: Int {
        lineQueue.condition.lock()
        defer { lineQueue.condition.unlock() }
        return lineQueue.lines.count
    }

    var table: ObservedTable { lock.withLock { accumulated } }
    var pid: Int32 { child.pid }
    var stderr: String { child.stderr }
    var isRunning: Bool { child.isRunning }

    /// nettop prints its first tick only after its BPF programs are attached: wait for it before any traffic.
    func waitUntilReady(timeout: TimeInterval = 60) throws {
        let end = Date().addingTimeInterval(timeout)
        while table.tickCount == 0 {
            if !child.isRunning {
                let status = child.waitForExit(timeout: 1).map(String.init) ?? "?"
                throw KernelTestError("nettop \(arguments.joined(separator: " ")) exited with status \(status) before its first tick; stderr:\n\(stderr)")
            }
            if Date() > end {
                throw KernelTestError("nettop printed no tick within \(timeout) s; stderr:\n\(stderr)\nundecodable output: \(table.undecodable)")
            }
            usleep(20_000)
        }
    }

    /// Waits until `predicate` holds over everything seen so far; false on timeout (the caller asserts).
    @discardableResult
    func waitFor(timeout: TimeInterval, _ predicate: (ObservedTable) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while true {
            if predicate(table) { return true }
            if Date() > end || !child.isRunning { return predicate(table) }
            usleep(50_000)
        }
    }

    /// Waits for `n` more ticks (bounded).
    func waitTicks(_ n: Int, timeout: TimeInterval = 10) {
        let target = table.tickCount + n
        waitFor(timeout: timeout) { $0.tickCount >= target }
    }

    /// The last few raw lines, for failure messages.
    var lastLines: [String] { lock.withLock { rawTail } }

    /// Whether `stop()` already ran (the test stopped it itself).
    var wasStopped: Bool { lock.withLock { stopped } }
    private var stopped = false

    /// SIGINT, then the exit status (nil if it had to be killed).
    func stop(timeout: TimeInterval = 15) -> Int32? {
        lock.withLock { stopped = true }
        child.signal(SIGINT)
        if let status = child.waitForExit(timeout: timeout) { return status }
        child.terminate()
        return nil
    }

    /// Ends nettop without judging its exit (the test already failed).
    func kill() {
        lock.withLock { stopped = true }
        child.terminate()
    }
}
