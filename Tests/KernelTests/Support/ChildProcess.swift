import Foundation
import Glibc

/// A child process whose stdout is read line by line on a background thread (so a chatty child never
/// blocks on a full pipe) and whose stderr is kept for failure messages. Every wait is bounded.
final class ChildProcess: @unchecked Sendable {
    let label: String
    private let process = Process()
    private let stdinPipe = Pipe()
    private let lock = NSLock()
    private var stderrText = ""
    private var stdoutIsClosed = false
    private var stderrIsClosed = false
    private var stdinClosed = false
    private let onLine: @Sendable (String) -> Void

    /// Starts `executable arguments`; `onLine` is called on the reader thread for each stdout line.
    init(label: String, executable: String, arguments: [String], onLine: @escaping @Sendable (String) -> Void) throws {
        self.label = label
        self.onLine = onLine
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdinPipe
        do {
            try process.run()
        } catch {
            throw KernelTestError("\(label): cannot start \(executable): \(error)")
        }
        let outHandle = out.fileHandleForReading, errHandle = err.fileHandleForReading
        Thread.detachNewThread { [self] in readLines(outHandle) }
        Thread.detachNewThread { [self] in readStderr(errHandle) }
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    var stderr: String { lock.withLock { stderrText } }
    var stdoutClosed: Bool { lock.withLock { stdoutIsClosed } }

    private func readLines(_ handle: FileHandle) {
        // Only the newly read bytes are searched for newlines: a tick of thousands of rows is one long line
        // arriving in many chunks, and rescanning it from the start each time would be quadratic.
        var pending: [UInt8] = []
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            var searchFrom = pending.count
            pending.append(contentsOf: chunk)
            var lineStart = 0
            while let nl = ChildProcess.newline(in: pending, from: searchFrom) {
                onLine(String(decoding: pending[lineStart..<nl], as: UTF8.self))
                lineStart = nl + 1
                searchFrom = lineStart
            }
            if lineStart > 0 { pending.removeFirst(lineStart) }
        }
        if !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
        try? handle.close()
        lock.withLock { stdoutIsClosed = true }
    }

    /// Index of the next "\n" at or after `from` (memchr: this loop sees every byte nettop prints).
    private static func newline(in bytes: [UInt8], from: Int) -> Int? {
        bytes.withUnsafeBufferPointer { b -> Int? in
            guard from < b.count, let base = b.baseAddress, let hit = memchr(base + from, 10, b.count - from) else { return nil }
            return UnsafeRawPointer(hit) - UnsafeRawPointer(base)
        }
    }

    private func readStderr(_ handle: FileHandle) {
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            lock.withLock { stderrText += String(decoding: chunk, as: UTF8.self) }
        }
        try? handle.close()
        lock.withLock { stderrIsClosed = true }
    }

    /// Writes one line to the child's stdin.
    func writeLine(_ line: String) {
        lock.withLock {
            guard !stdinClosed else { return }
            // A child that already exited makes this EPIPE (SIGPIPE is ignored in the test process).
            try? stdinPipe.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
        }
    }

    func closeStdin() {
        lock.withLock {
            guard !stdinClosed else { return }
            stdinClosed = true
            try? stdinPipe.fileHandleForWriting.close()
        }
    }

    /// Waits for the exit; returns the exit status (128 + signal when killed), or nil on timeout.
    func waitForExit(timeout: TimeInterval) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > end { return nil }
            usleep(10_000)
        }
        // Give the reader threads a moment to deliver the last lines, of stderr too: a one-line error
        // written just before exit was once not read yet on a loaded machine.
        let drainEnd = Date().addingTimeInterval(2)
        while !lock.withLock({ stdoutIsClosed && stderrIsClosed }) && Date() < drainEnd { usleep(5_000) }
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    func signal(_ sig: Int32) {
        if process.isRunning { kill(process.processIdentifier, sig) }
    }

    /// Ends the child for good: SIGTERM, then SIGKILL if it lingers.
    func terminate() {
        closeStdin()
        guard process.isRunning else { return }
        signal(SIGTERM)
        if waitForExit(timeout: 3) == nil {
            signal(SIGKILL)
            _ = waitForExit(timeout: 3)
        }
    }
}

struct KernelTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command to completion (bounded), capturing its output.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}

@discardableResult
func runCommand(_ executable: String, _ arguments: [String], timeout: TimeInterval = 30) throws -> CommandResult {
    let lines = Lines()
    let child = try ChildProcess(label: executable, executable: executable, arguments: arguments) { lines.append($0) }
    child.closeStdin()
    guard let status = child.waitForExit(timeout: timeout) else {
        child.terminate()
        throw KernelTestError("timeout after \(timeout) s: \(executable) \(arguments.joined(separator: " "))")
    }
    return CommandResult(status: status, stdout: lines.all.joined(separator: "\n"), stderr: child.stderr)
}

/// Runs a command that must succeed.
@discardableResult
func mustRun(_ executable: String, _ arguments: [String], timeout: TimeInterval = 30) throws -> String {
    let r = try runCommand(executable, arguments, timeout: timeout)
    guard r.status == 0 else {
        throw KernelTestError("\(executable) \(arguments.joined(separator: " ")) exited \(r.status): \(r.stderr)")
    }
    return r.stdout
}
