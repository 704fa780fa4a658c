import Foundation
import Glibc

/// One JSON line of nettop-peer (see `nettop-peer --help`).
struct PeerEvent: Sendable, CustomStringConvertible {
    let event: String
    let ints: [String: Int]
    let strings: [String: String]
    let arrays: [String: [Int]]
    let raw: String

    init?(line: String) {
        guard let data = line.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let event = obj["event"] as? String else { return nil }
        self.event = event
        var ints: [String: Int] = [:], strings: [String: String] = [:], arrays: [String: [Int]] = [:]
        for (k, v) in obj {
            if let s = v as? String { strings[k] = s }
            else if let a = v as? [Any] { arrays[k] = a.compactMap { ($0 as? NSNumber)?.intValue ?? ($0 as? Int) } }
            else if let n = v as? NSNumber { ints[k] = n.intValue }
            else if let i = v as? Int { ints[k] = i }
        }
        self.ints = ints; self.strings = strings; self.arrays = arrays
        raw = line
    }

    func int(_ key: String) -> Int { ints[key] ?? -1 }
    func string(_ key: String) -> String { strings[key] ?? "" }
    var pid: Int { int("pid") }
    var lport: Int { int("lport") }
    var rport: Int { int("rport") }
    var local: String { canonicalAddress(string("local")) }
    var remote: String { canonicalAddress(string("remote")) }
    var description: String { raw }
}

/// A running nettop-peer (in the root namespace or, through `ip netns exec`, in a test namespace).
final class PeerProcess: @unchecked Sendable {
    let arguments: [String]
    private var child: ChildProcess!
    private let lock = NSLock()
    private var events: [PeerEvent] = []
    private var junk: [String] = []

    init(_ arguments: [String], in ns: Namespace? = nil) throws {
        self.arguments = arguments
        let peer = Binaries.peer
        guard FileManager.default.isExecutableFile(atPath: peer) else {
            throw KernelTestError("nettop-peer not found at \(peer) (swift build --product nettop-peer, or set NETTOP_PEER)")
        }
        let (exe, args) = (ns == nil || ns!.isRoot) ? (peer, arguments) : (ipTool, ["netns", "exec", ns!.name, peer] + arguments)
        child = try ChildProcess(label: "nettop-peer \(arguments.first ?? "")", executable: exe, arguments: args) { [weak self] line in
            self?.ingest(line)
        }
    }

    private func ingest(_ line: String) {
        lock.withLock {
            if let e = PeerEvent(line: line) { events.append(e) } else { junk.append(line) }
        }
    }

    var allEvents: [PeerEvent] { lock.withLock { events } }
    func events(_ name: String) -> [PeerEvent] { allEvents.filter { $0.event == name } }
    var pid: Int32 { child.pid }
    var isRunning: Bool { child.isRunning }

    private var context: String { "nettop-peer \(arguments.joined(separator: " ")): stderr: \(child.stderr)" }

    /// Waits until the peer has printed `count` lines of `event`; returns them.
    @discardableResult
    func waitFor(_ event: String, count: Int = 1, timeout: TimeInterval = 15) throws -> [PeerEvent] {
        let end = Date().addingTimeInterval(timeout)
        while true {
            let seen = events(event)
            if seen.count >= count { return seen }
            if !child.isRunning {
                usleep(100_000)   // the reader thread may still be delivering
                let seen = events(event)
                if seen.count >= count { return seen }
                throw KernelTestError("peer exited after \(seen.count) of \(count) '\(event)' lines; \(context)")
            }
            if Date() > end { throw KernelTestError("no \(count) '\(event)' lines within \(timeout) s; \(context)") }
            usleep(10_000)
        }
    }

    /// The port a server peer is listening on (after its "listening" line).
    func listeningPort(timeout: TimeInterval = 15) throws -> Int { try waitFor("listening", timeout: timeout)[0].lport }

    /// Waits for a clean exit (status 0); throws with the peer's stderr otherwise.
    func finish(timeout: TimeInterval = 30) throws {
        guard let status = child.waitForExit(timeout: timeout) else {
            child.terminate()
            throw KernelTestError("peer still running after \(timeout) s; \(context)")
        }
        if status != 0 { throw KernelTestError("peer exited with status \(status); \(context)") }
    }

    func send(_ line: String) { child.writeLine(line) }
    func closeStdin() { child.closeStdin() }
    func terminate() { child.terminate() }
}
