#if canImport(Glibc)
import Glibc
#endif

/// Gives the terminal back if nettop crashes while the UI owns it: a trap, a bad access or an abort would
/// otherwise leave the shell in the alternate screen, without echo, with the cursor hidden.
///
/// The handler may only make async-signal-safe calls: it writes bytes prepared in advance (the terminal's
/// own "leave the alternate screen, show the cursor, reset attributes" strings), restores the saved
/// termios, puts back the handler that was there before (the Swift runtime's backtracer) and returns,
/// so the fault happens again and reaches that handler.
///
/// A C library that calls exit() (libnetfilter_conntrack does on a message it cannot read; nettop checks
/// messages first, but a library may have other reasons) runs the atexit handlers: one registered here
/// gives the terminal back in that case too.
enum TerminalCrashGuard {
    static let crashSignals: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT]

    /// Arms the guard; `reset` is what to write to standard output, `saved` the termios to restore.
    static func arm(reset: [UInt8], saved: termios) {
        disarm()
        if !atExitRegistered {
            atExitRegistered = true
            atexit { restoreTerminal() }
        }
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, reset.count))
        bytes.initialize(from: reset, count: reset.count)
        let settings = UnsafeMutablePointer<termios>.allocate(capacity: 1)
        settings.initialize(to: saved)
        let previous = UnsafeMutablePointer<sigaction>.allocate(capacity: crashSignals.count)
        previous.initialize(repeating: sigaction(), count: crashSignals.count)
        guardState = GuardState(reset: bytes, resetCount: reset.count, termios: settings, previous: previous)
        for (i, signo) in crashSignals.enumerated() {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = handleCrash
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(signo, &action, previous + i)
        }
    }

    /// Puts the previous handlers back (the UI gave the terminal back normally).
    static func disarm() {
        guard let state = guardState else { return }
        guardState = nil
        for (i, signo) in crashSignals.enumerated() { sigaction(signo, state.previous + i, nil) }
        state.reset.deallocate()
        state.termios.deallocate()
        state.previous.deallocate()
    }

    fileprivate struct GuardState {
        var reset: UnsafeMutablePointer<UInt8>
        var resetCount: Int
        var termios: UnsafeMutablePointer<termios>
        var previous: UnsafeMutablePointer<sigaction>
    }
}

// A C signal handler cannot capture context. Written only while no crash handler is installed (arm and
// disarm run on the UI thread, before installing and after removing the handlers).
nonisolated(unsafe) private var guardState: TerminalCrashGuard.GuardState?
nonisolated(unsafe) private var atExitRegistered = false

/// Writes the reset strings and restores the termios, if the UI still owns the terminal.
private func restoreTerminal() {
    guard let state = guardState else { return }
    _ = write(STDOUT_FILENO, state.reset, state.resetCount)
    _ = tcsetattr(STDIN_FILENO, TCSANOW, state.termios)
}

private func handleCrash(_ signo: Int32) {
    guard let state = guardState else { return }
    restoreTerminal()
    if let i = TerminalCrashGuard.crashSignals.firstIndex(of: signo) {
        sigaction(signo, state.previous + i, nil)
    }
}
