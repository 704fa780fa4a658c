import Foundation
@testable import NetTop
import XCTest

final class SignalWatcherTests: XCTestCase {
    func testDeadlineWithoutSignal() throws {
        let watcher = try SignalWatcher.install()
        defer { watcher.close() }
        let start = MonotonicClock.seconds()
        XCTAssertFalse(watcher.waitForStop(until: start + 0.05))
        let slept = MonotonicClock.seconds() - start
        XCTAssertGreaterThanOrEqual(slept, 0.05)
        XCTAssertLessThan(slept, 1)
    }

    func testEachStopSignalWakesTheWaitAtOnce() throws {
        for signo in SignalWatcher.stopSignals {
            let watcher = try SignalWatcher.install()
            defer { watcher.close() }
            XCTAssertEqual(raise(signo), 0)
            // Blocked outside the wait: it cannot interrupt the tracer's syscalls mid-tick.
            XCTAssertEqual(SignalWatcher.receivedCount, 0, "signal \(signo)")
            let start = MonotonicClock.seconds()
            XCTAssertTrue(watcher.waitForStop(until: start + 30), "signal \(signo)")
            XCTAssertLessThan(MonotonicClock.seconds() - start, 1, "signal \(signo)")
            XCTAssertEqual(SignalWatcher.receivedCount, 1)
        }
    }

    func testSignalFromAnotherThreadCutsTheSleepShort() throws {
        let watcher = try SignalWatcher.install()
        defer { watcher.close() }
        let sender = Thread { usleep(100_000); kill(getpid(), SIGTERM) }
        let start = MonotonicClock.seconds()
        sender.start()
        XCTAssertTrue(watcher.waitForStop(until: start + 30))
        XCTAssertLessThan(MonotonicClock.seconds() - start, 5)
    }

    func testSignalPendingAtCloseIsTakenByOurHandlerNotTheDefault() throws {
        let watcher = try SignalWatcher.install()
        XCTAssertEqual(raise(SIGHUP), 0)
        XCTAssertEqual(SignalWatcher.receivedCount, 0)
        watcher.close()
        // Still alive, and the signal was counted rather than terminating the process.
        XCTAssertEqual(SignalWatcher.receivedCount, 1)
    }

    func testBrokenPipeIsAValueNotADeath() {
        FileOutput.ignoreBrokenPipes()
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&fds), 0)
        close(fds[0])
        defer { close(fds[1]) }
        XCTAssertEqual(FileOutput(fd: fds[1]).write("tick\n"), .closed)
    }

    func testWholeBufferReachesThePipe() {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[0]) }
        XCTAssertEqual(FileOutput(fd: fds[1]).write("{\"a\":1}\n"), .written)
        close(fds[1])
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(fds[0], &buffer, 64)
        XCTAssertEqual(String(decoding: buffer[0..<max(0, n)], as: UTF8.self), "{\"a\":1}\n")
    }
}
