import Foundation
import Glibc
import XCTest

/// SIGINT, SIGTERM and SIGHUP end `--batch` and `--json` cleanly: exit 0, nothing on stderr, and none of
/// nettop's BPF programs, links or maps left in the kernel, nothing pinned. Also when the signal comes
/// while the programs are still being loaded, twice in a row, or when stdout goes away; and after
/// SIGKILL the kernel alone must be able to clean up (nothing pinned, no link that outlives its fd).
/// Each run shows only port 1 (no rows): what is cleaned up does not depend on the rows shown, and on a
/// host with 100,000 connections an unfiltered tick is tens of megabytes.
final class SignalCleanupTests: KernelTestCase {
    private let signalNames: [Int32: String] = [SIGINT: "SIGINT", SIGTERM: "SIGTERM", SIGHUP: "SIGHUP"]

    func testStopSignalsInBatchAndJSONExitZeroAndLeaveNothingLoaded() throws {
        let pinnedBefore = BPFInspector.pinned()
        for mode in ["--batch", "--json"] {
            for signo in [SIGINT, SIGTERM, SIGHUP] {
                let what = "\(mode) + \(signalNames[signo]!)"
                let nettop = try startRawNetTop([mode, "--interval", "0.2", "--port", "1"])
                guard nettop.waitForLines(2, timeout: 60) else {
                    XCTFail("\(what): no output within 60 s; stderr: \(nettop.stderr)")
                    continue
                }
                let footprint = try footprintOfRunningNetTop(pid: nettop.pid, what)
                let names = try BPFInspector.programs().filter { footprint.programs.contains($0.key) }.values.sorted()
                XCTAssertTrue(names.contains { $0.contains("sock_send_length") || $0.contains("sendmsg") }, "\(what): \(names)")
                nettop.signal(signo)
                let status = nettop.waitForExit(timeout: 15)
                XCTAssertEqual(status, 0, "\(what): exit status; stderr: \(nettop.stderr)")
                XCTAssertEqual(nettop.stderr, "", what)
                assertNoBPFLeft(footprint, pinnedBefore: pinnedBefore, what)
                nettop.cleanup()
            }
        }
    }

    /// A stop signal while nettop is still loading and attaching (its handlers are installed before the
    /// tracer opens): the tracer is closed again and the exit is clean. The footprint is sampled all along,
    /// so every program it ever held is checked.
    func testStopSignalDuringStartupExitsZeroAndLeavesNothingLoaded() throws {
        let pinnedBefore = BPFInspector.pinned()
        for (mode, signo) in [("--json", SIGTERM), ("--batch", SIGINT)] {
            let what = "\(mode) + \(signalNames[signo]!) during startup"
            let nettop = try startRawNetTop([mode, "--interval", "0.5", "--port", "1"])
            // SigCgt holds bit (signal - 1) once a handler is installed.
            let handled = nettop.waitFor(timeout: 30, poll: 1_000) { caughtSignals(pid: nettop.pid) & (1 << UInt64(signo - 1)) != 0 }
            XCTAssertTrue(handled, "\(what): the stop handler was never installed; stderr: \(nettop.stderr)")
            nettop.signal(signo)
            var footprint = BPFFootprint()
            let end = Date().addingTimeInterval(30)
            while nettop.isRunning && Date() < end {
                footprint.formUnion(BPFFootprint.of(pid: nettop.pid))
                usleep(2_000)
            }
            XCTAssertEqual(nettop.waitForExit(timeout: 5), 0, "\(what): exit status; stderr: \(nettop.stderr)")
            XCTAssertEqual(nettop.stderr, "", what)
            XCTAssertEqual(nettop.lineCount, 0, "\(what): no tick should have been printed")
            assertNoBPFLeft(footprint, pinnedBefore: pinnedBefore, what)
        }
    }

    func testRepeatedSignalsStillExitZero() throws {
        let pinnedBefore = BPFInspector.pinned()
        let nettop = try startRawNetTop(["--json", "--interval", "0.2", "--port", "1"])
        XCTAssertTrue(nettop.waitForLines(1, timeout: 60), "no tick; stderr: \(nettop.stderr)")
        let footprint = try footprintOfRunningNetTop(pid: nettop.pid, "SIGINT, SIGTERM, SIGHUP at once")
        for signo in [SIGINT, SIGTERM, SIGHUP, SIGINT] { nettop.signal(signo) }
        XCTAssertEqual(nettop.waitForExit(timeout: 15), 0, "stderr: \(nettop.stderr)")
        assertNoBPFLeft(footprint, pinnedBefore: pinnedBefore, "SIGINT, SIGTERM, SIGHUP at once")
    }

    /// The reader of `nettop --json | head -1` goes away: nettop notices at its next write and exits 0.
    func testClosedStdoutEndsCleanly() throws {
        let pinnedBefore = BPFInspector.pinned()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.nettop)
        process.arguments = ["--json", "--interval", "0.2", "--port", "1"] + TestBackend.arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        addTeardownBlock { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        // Read the first line, then close our end of the pipe.
        var first = [UInt8]()
        let reader = out.fileHandleForReading
        let end = Date().addingTimeInterval(60)
        var sawNewline = false
        while !sawNewline && Date() < end {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            sawNewline = chunk.contains(0x0a)
            first += chunk
        }
        XCTAssertTrue(sawNewline, "no first tick")
        let footprint = BPFFootprint.of(pid: process.processIdentifier)
        XCTAssertFalse(footprint.programs.isEmpty)
        try reader.close()
        let exitEnd = Date().addingTimeInterval(15)
        while process.isRunning && Date() < exitEnd { usleep(20_000) }
        XCTAssertFalse(process.isRunning, "nettop still running 15 s after its stdout was closed")
        if !process.isRunning {
            XCTAssertEqual(process.terminationReason, .exit)
            XCTAssertEqual(process.terminationStatus, 0)
        }
        assertNoBPFLeft(footprint, pinnedBefore: pinnedBefore, "closed stdout")
    }

    /// SIGKILL runs no code of nettop's: the kernel must free everything with its file descriptors, which
    /// holds only because nothing is pinned and every attachment is a link owned by an fd.
    func testSIGKILLLeavesNothingBehind() throws {
        let pinnedBefore = BPFInspector.pinned()
        let nettop = try startRawNetTop(["--json", "--interval", "0.2", "--port", "1"])
        XCTAssertTrue(nettop.waitForLines(1, timeout: 60), "no tick; stderr: \(nettop.stderr)")
        let footprint = try footprintOfRunningNetTop(pid: nettop.pid, "SIGKILL")
        nettop.signal(SIGKILL)
        XCTAssertEqual(nettop.waitForExit(timeout: 15), 128 + SIGKILL)
        assertNoBPFLeft(footprint, pinnedBefore: pinnedBefore, "SIGKILL")
    }
}

/// The SigCgt mask of /proc/PID/status (0 when unreadable).
func caughtSignals(pid: Int32) -> UInt64 {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }) else { return 0 }
    return UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16) ?? 0
}
