import Foundation
import Glibc
import XCTest

/// Base of the kernel tests: starts the real nettop and nettop-peer processes and test namespaces, and
/// tears all of it down after each test, whatever happened. Nothing here skips: on this machine nettop
/// must load, so a nettop that cannot start fails the test.
class KernelTestCase: XCTestCase {
    /// Generous bound for waiting for rows: a tick is 0.2 s, so this is many ticks.
    let rowTimeout: TimeInterval = 15

    /// Under software emulation (make vmtest sets NETTOP_VMTEST) every step is many times slower.
    static let underEmulation = ProcessInfo.processInfo.environment["NETTOP_VMTEST"] != nil

    /// A bound on how long a bounded piece of work (a burst, a guess) may take: `seconds` here, six times
    /// that under emulation.
    func workBound(_ seconds: TimeInterval) -> TimeInterval { Self.underEmulation ? seconds * 6 : seconds }

    /// `workBound(seconds)` in milliseconds, as the peers' `--timeout-ms` takes it.
    func workBoundMs(_ seconds: TimeInterval) -> String { "\(Int(workBound(seconds) * 1000))" }

    override class func setUp() {
        super.setUp()
        // Writing to the stdin of a peer that already exited must be an error, not the end of the test run.
        signal(SIGPIPE, SIG_IGN)
    }

    /// Starts `nettop --json --interval 0.2 <extra>` and waits for its first tick (BPF attached).
    /// At teardown, nettop is stopped with SIGINT and must exit 0.
    func startNetTop(_ extra: [String] = [], withoutCgroup2: Bool = false, file: StaticString = #filePath,
                     line: UInt = #line) throws -> NetTopRunner {
        let nettop = try NetTopRunner(extraArguments: extra, withoutCgroup2: withoutCgroup2)
        addTeardownBlock {
            if nettop.wasStopped { return }
            guard nettop.isRunning else {
                XCTFail("nettop \(nettop.arguments.joined(separator: " ")) exited during the test; stderr:\n\(nettop.stderr)", file: file, line: line)
                return
            }
            let status = nettop.stop()
            XCTAssertEqual(status, 0, "nettop exit status after SIGINT; stderr:\n\(nettop.stderr)", file: file, line: line)
        }
        do {
            try nettop.waitUntilReady()
        } catch {
            nettop.kill()
            throw error
        }
        return nettop
    }

    /// Starts a nettop-peer, killed at teardown if still running.
    func startPeer(_ arguments: [String], in ns: Namespace? = nil) throws -> PeerProcess {
        let peer = try PeerProcess(arguments, in: ns)
        addTeardownBlock { peer.terminate() }
        return peer
    }

    /// Runs a nettop-peer to completion (exit 0 required) and returns its lines.
    @discardableResult
    func runPeer(_ arguments: [String], in ns: Namespace? = nil, timeout: TimeInterval = 60) throws -> [PeerEvent] {
        let peer = try startPeer(arguments, in: ns)
        try peer.finish(timeout: timeout)
        return peer.allEvents
    }

    /// A sandbox of test namespaces, removed at teardown.
    func makeSandbox() -> NetnsSandbox {
        let sandbox = NetnsSandbox()
        addTeardownBlock { sandbox.teardown() }
        return sandbox
    }

    /// Waits until exactly one row matches `match` and `done` holds for it; asserts with the rows seen.
    @discardableResult
    func waitForRow(_ nettop: NetTopRunner, _ what: String, timeout: TimeInterval? = nil,
                    match: @escaping (ObservedTable) -> [ObservedRow], done: @escaping (ObservedRow) -> Bool = { _ in true },
                    file: StaticString = #filePath, line: UInt = #line) -> ObservedRow? {
        let ok = nettop.waitFor(timeout: timeout ?? rowTimeout) { t in
            let rows = match(t)
            return rows.count == 1 && done(rows[0])
        }
        let rows = match(nettop.table)
        if !ok || rows.count != 1 {
            XCTFail("\(what): \(rows.count) matching rows" + (rows.isEmpty ? "" : ":\n  " + rows.map(\.description).joined(separator: "\n  "))
                    + "\nticks: \(nettop.table.tickCount), stats: \(nettop.table.lastStats.values)", file: file, line: line)
            return rows.count == 1 ? rows[0] : nil
        }
        return rows[0]
    }
}
