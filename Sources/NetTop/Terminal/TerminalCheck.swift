#if canImport(Glibc)
import Glibc
#endif

/// Whether this process can show a full-screen UI: both ends on a terminal, and a TERM that can draw.
struct TerminalCheck: Equatable, Sendable {
    var standardInputIsTerminal: Bool
    var standardOutputIsTerminal: Bool
    var term: String?

    static var live: TerminalCheck {
        TerminalCheck(standardInputIsTerminal: isatty(STDIN_FILENO) == 1,
                      standardOutputIsTerminal: isatty(STDOUT_FILENO) == 1,
                      term: getenv("TERM").map { String(cString: $0) })
    }

    /// TERM, when the UI can run.
    var usableTerm: String? { problem == nil ? term : nil }

    /// One sentence saying why the UI cannot run here and what to run instead; nil when it can.
    var problem: String? {
        let instead = "run nettop --batch for a plain-text table (or --json for NDJSON)."
        guard standardOutputIsTerminal else {
            return "the interactive UI needs a terminal, and standard output is not one; \(instead)"
        }
        guard standardInputIsTerminal else {
            return "the interactive UI reads keys from a terminal, and standard input is not one; \(instead)"
        }
        guard let term, !term.isEmpty else {
            return "TERM is not set, so the interactive UI cannot draw; set it (e.g. TERM=xterm-256color) or \(instead)"
        }
        guard term != "dumb" else {
            return "TERM=dumb cannot show a full-screen UI; \(instead)"
        }
        return nil
    }
}
