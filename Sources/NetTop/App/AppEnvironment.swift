#if canImport(Glibc)
import Glibc
#endif
import TracerCore

/// Everything the commands need from the outside world, as values, so tests can run them against a fake
/// tracer and capture their output without root or a kernel (`.live` is the real thing).
struct AppEnvironment {
    var isRoot: () -> Bool
    var openTracer: (TracerConfig) throws(NetTopError) -> any KernelTracing
    var checkSupport: (TracerConfig) -> SupportReport
    var netnsResolver: NetnsResolver
    /// Writes bytes to standard output (lent for the call: not to be kept).
    var writeRaw: (UnsafeRawBufferPointer) -> WriteOutcome
    /// One line of diagnostics (the newline is added).
    var writeError: (String) -> Void
    var makeWaiter: () throws(NetTopError) -> any TickWaiter
    var monotonicSeconds: () -> Double
    /// Seconds east of UTC at a given Unix time, for the batch header's clock.
    var utcOffset: (Double) -> Int

    /// Computed rather than stored: closures are not Sendable, and a global would have to be.
    static var live: AppEnvironment {
        AppEnvironment(
            isRoot: { geteuid() == 0 },
            openTracer: { config throws(NetTopError) in try Tracers.open(config: config) },
            checkSupport: { config in Tracers.check(config: config) },
            netnsResolver: NetnsResolver(),
            writeRaw: { FileOutput.standardOutput.write($0) },
            writeError: { _ = FileOutput.standardError.write($0 + "\n") },
            makeWaiter: { () throws(NetTopError) in try SignalWatcher.install() },
            monotonicSeconds: MonotonicClock.seconds,
            utcOffset: localUTCOffset
        )
    }

    func writeOutput(_ bytes: [UInt8]) -> WriteOutcome {
        bytes.withUnsafeBytes { writeRaw($0) }
    }

    /// Prints a tracer or usage error as the contract wants it: one line, plus the detail only with --debug.
    func report(_ error: NetTopError, debug: Bool) -> Int32 {
        writeError("nettop: " + CommandLineParser.oneLine(error.message))
        if debug, let detail = error.detail, !detail.isEmpty { writeError(detail) }
        return error.exitCode
    }
}

/// The message every BPF-loading path gives a user who is not root.
let needsRootError = NetTopError(.noPermission, "loading BPF programs needs root; run nettop with sudo.")

private func localUTCOffset(at unixSeconds: Double) -> Int {
    // time_t(Double) traps outside its range; a tracer's timestamp is never that far off, but no trap.
    guard unixSeconds.isFinite, abs(unixSeconds) < 1e15 else { return 0 }
    var time = time_t(unixSeconds)
    var parts = tm()
    guard localtime_r(&time, &parts) != nil else { return 0 }
    return parts.tm_gmtoff
}
