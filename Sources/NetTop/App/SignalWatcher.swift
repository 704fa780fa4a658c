#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TracerCore

/// Sleeps between ticks and wakes at once on SIGINT, SIGTERM or SIGHUP, so the run loop can close the
/// tracer (detaching every BPF program) and exit 0 instead of dying with programs still attached.
///
/// The stop signals are blocked in the installing thread (and so in every thread the tracer starts
/// later) and unblocked only while waiting: a signal never interrupts the tracer's syscalls or a write
/// with EINTR, it just ends the next wait. The handler only counts the signal and writes one byte to a
/// non-blocking pipe (the self-pipe trick), both async-signal-safe; poll() on the pipe's read end covers
/// a signal that lands between unblocking and poll().
final class SignalWatcher: TickWaiter {
    static let stopSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// How many stop signals arrived since the last `install()`.
    static var receivedCount: Int { stopSignalCount.load(ordering: .relaxed) }

    private let readEnd: Int32
    private let writeEnd: Int32
    private let clock: () -> Double
    private var installed = true

    /// Installs the handlers; only one watcher may be installed at a time.
    static func install(clock: @escaping () -> Double = MonotonicClock.seconds) throws(NetTopError) -> SignalWatcher {
        var fds: [Int32] = [-1, -1]
        // pipe2() is hidden behind _GNU_SOURCE in Glibc's Swift overlay; fcntl() does the same.
        guard pipe(&fds) == 0 else {
            throw NetTopError(.software, "cannot create the signal pipe: \(String(cString: strerror(errno))).")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        stopSignalCount.store(0, ordering: .relaxed)
        signalPipeWriteEnd.store(fds[1], ordering: .relaxed)
        for signo in stopSignals { setHandler(signo, handleStopSignal) }
        setMask(SIG_BLOCK)
        return SignalWatcher(readEnd: fds[0], writeEnd: fds[1], clock: clock)
    }

    private init(readEnd: Int32, writeEnd: Int32, clock: @escaping () -> Double) {
        self.readEnd = readEnd
        self.writeEnd = writeEnd
        self.clock = clock
    }

    deinit { close() }

    /// True as soon as a stop signal has arrived (now or earlier); false when `deadline` passes first.
    func waitForStop(until deadline: Double) -> Bool {
        Self.setMask(SIG_UNBLOCK)
        defer { Self.setMask(SIG_BLOCK) }
        while true {
            if Self.receivedCount > 0 { return true }
            let remaining = deadline - clock()
            if remaining <= 0 { return false }
            // Round up so a wait never ends early and spins; the interval is capped well below Int32.max.
            let millis = Int32(min((remaining * 1000).rounded(.up), Double(Int32.max)))
            var entry = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            if poll(&entry, 1, millis) > 0 { return true }
            // EINTR or a timeout: loop and let the count and the clock decide.
        }
    }

    /// Unblocks the signals, then restores their default action, then closes the pipe; safe to call twice.
    /// In that order: a signal still pending from the last tick must reach our handler, not kill nettop.
    func close() {
        guard installed else { return }
        installed = false
        Self.setMask(SIG_UNBLOCK)
        for signo in Self.stopSignals { signal(signo, SIG_DFL) }
        signalPipeWriteEnd.store(-1, ordering: .relaxed)
        Glibc.close(readEnd)
        Glibc.close(writeEnd)
    }

    private static func setHandler(_ signo: Int32, _ handler: @convention(c) (Int32) -> Void) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler
        sigemptyset(&action.sa_mask)
        // Should a thread that does not block the signals take it, its syscalls resume rather than fail.
        action.sa_flags = Int32(SA_RESTART)
        sigaction(signo, &action, nil)
    }

    private static func setMask(_ how: Int32) {
        var set = sigset_t()
        sigemptyset(&set)
        for signo in stopSignals { sigaddset(&set, signo) }
        pthread_sigmask(how, &set, nil)
    }
}

/// Sleeps between ticks; the real one is `SignalWatcher`, tests use a fake.
protocol TickWaiter: AnyObject {
    /// Returns true when the run should stop, false when `deadline` (monotonic seconds) was reached.
    func waitForStop(until deadline: Double) -> Bool
    func close()
}

// Globals because a C signal handler cannot capture context; atomics because it may run between any
// two instructions of the main thread.
private let stopSignalCount = Atomic<Int>(0)
private let signalPipeWriteEnd = Atomic<Int32>(-1)

private func handleStopSignal(_ signo: Int32) {
    let savedErrno = errno
    stopSignalCount.wrappingAdd(1, ordering: .relaxed)
    let fd = signalPipeWriteEnd.load(ordering: .relaxed)
    if fd >= 0 {
        var byte = UInt8(truncatingIfNeeded: signo)
        _ = write(fd, &byte, 1)
    }
    errno = savedErrno
}

enum MonotonicClock {
    /// CLOCK_MONOTONIC seconds: rates and deadlines must not jump when the wall clock is set.
    static func seconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
