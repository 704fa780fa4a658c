#if canImport(Glibc)
import Glibc
#endif
import TracerCore

/// `nettop` with neither --batch nor --json: the full-screen UI.
///
/// `NetTopCommand.execute` calls `run` after the usage and root checks. The order here matters: the
/// terminal is checked first (no BPF loading for a UI that cannot be shown), the signal watcher is
/// installed before ncurses (so ncurses leaves SIGINT/SIGTERM to it), and the tracer is opened before the
/// terminal is taken (its errors print as plain lines). The terminal is given back by `defer` on every way
/// out — q, a stop signal, a tracer error — before any error is reported.
enum InteractiveUI {
    /// The exit status when the UI cannot be shown here (no terminal, TERM unset, dumb or unknown): the
    /// interactive feature is unavailable, and the message points at --batch.
    static let unavailableStatus: Int32 = 69

    static func run(view: ViewOptions, tracer: TracerArguments, interval: Double,
                    environment env: AppEnvironment) -> Int32 {
        run(view: view, tracer: tracer, interval: interval, environment: env, terminalCheck: .live) {
            term, waiter throws(NetTopError) in
            // The terminal unblocks the stop signals while it waits for keys: without SignalWatcher's
            // handlers, Ctrl-C would kill nettop there and leave the terminal as the UI set it.
            guard waiter is SignalWatcher else {
                throw NetTopError(.software, "the interactive UI needs SignalWatcher's handlers for SIGINT, SIGTERM "
                                  + "and SIGHUP, so that a stop gives the terminal back.")
            }
            return try CursesTerminal.open(term: term, wakeSignals: SignalWatcher.stopSignals)
        }
    }

    /// `run` with the terminal check and the terminal itself passed in, for tests.
    static func run(view: ViewOptions, tracer: TracerArguments, interval: Double, environment env: AppEnvironment,
                    terminalCheck: TerminalCheck,
                    openTerminal: (String, any TickWaiter) throws(NetTopError) -> any TerminalDevice) -> Int32 {
        guard let term = terminalCheck.usableTerm else {
            env.writeError("nettop: " + (terminalCheck.problem ?? "no terminal."))
            return unavailableStatus
        }
        do throws(NetTopError) {
            let waiter = try env.makeWaiter()
            defer { waiter.close() }
            let source = try env.openTracer(tracer.config)
            defer { source.close() }
            let terminal = try openTerminal(term, waiter)
            defer { terminal.close() }
            let state = ViewState(view: view, interval: interval)
            let model = UIModel(hostname: hostName(), state: state, size: terminal.size,
                                utcOffsetSeconds: env.utcOffset(Double(time(nil))))
            let loop = UIRunLoop(model: model, source: source, waiter: waiter, terminal: terminal,
                                 clock: env.monotonicSeconds)
            return try loop.run()
        } catch {
            // An unknown TERM is reported here too (as `.unavailable`, so also 69).
            return env.report(error, debug: tracer.debug)
        }
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
