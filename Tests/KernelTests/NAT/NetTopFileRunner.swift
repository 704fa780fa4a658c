import Foundation
import Glibc

/// `nettop --json` writing into a file rather than a pipe, for ticks of thousands of rows: the test reads
/// only the newest complete line when it wants one, instead of decoding every multi-megabyte line as it
/// comes. Stopped with SIGINT (exit status checked by the caller); the files are removed at `stop()`.
final class NetTopFileRunner: @unchecked Sendable {
    let arguments: [String]
    private let process = Process()
    private let outPath: String
    private let errPath: String
    private var offset: UInt64 = 0
    private var pending = Data()
    private var newest: String?
    private(set) var linesRead = 0

    init(arguments: [String]) throws {
        self.arguments = arguments
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("ntt-\(getpid())-nettop-\(UInt32.random(in: 0...UInt32.max))")
        outPath = base.path + ".out"
        errPath = base.path + ".err"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Binaries.nettop)
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw KernelTestError("cannot start \(Binaries.nettop): \(error)") }
    }

    var isRunning: Bool { process.isRunning }
    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// The newest complete line so far (nil before the first tick).
    func newestLine() -> String? {
        guard let handle = FileHandle(forReadingAtPath: outPath) else { return newest }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let data = handle.readDataToEndOfFile()
        offset += UInt64(data.count)
        pending.append(data)
        if let nl = pending.lastIndex(of: 10) {
            let complete = pending[pending.startIndex..<nl]
            let start = complete.lastIndex(of: 10).map { $0 + 1 } ?? complete.startIndex
            newest = String(decoding: complete[start...], as: UTF8.self)
            linesRead += complete.reduce(0) { $1 == 10 ? $0 + 1 : $0 } + 1
            pending = Data(pending[(nl + 1)...])
        }
        return newest
    }

    /// The newest tick, decoded.
    func newestTick() -> ObservedTick? { newestLine().flatMap { ObservedTick(line: $0) } }

    /// A stat of the newest tick, numbers and booleans alike.
    func newestStats() -> [String: Any] {
        guard let line = newestLine(), let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return [:] }
        return obj["stats"] as? [String: Any] ?? [:]
    }

    func waitUntilReady(timeout: TimeInterval = 60) throws {
        let end = Date().addingTimeInterval(timeout)
        while newestLine() == nil {
            if !process.isRunning { throw KernelTestError("nettop \(arguments) exited before its first tick; stderr:\n\(stderr)") }
            if Date() > end { throw KernelTestError("nettop printed no tick within \(timeout) s; stderr:\n\(stderr)") }
            usleep(50_000)
        }
    }

    /// SIGINT, then the exit status (nil if it had to be killed); removes the output files.
    func stop(timeout: TimeInterval = 15) -> Int32? {
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        if process.isRunning { kill(process.processIdentifier, SIGINT) }
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }
}
