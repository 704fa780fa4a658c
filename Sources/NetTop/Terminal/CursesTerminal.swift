#if canImport(Glibc)
import Glibc
#endif
import CCurses
import TracerCore

/// The one type that talks to ncurses: opens the terminal (alternate screen, no echo, keypad keys),
/// copies `Screen`s to it with colours or, on a monochrome terminal, attributes, reads keys, and gives
/// the terminal back on `close()` — which every way out of the UI calls (see `InteractiveUI`).
///
/// Waiting for keys cooperates with `SignalWatcher`: the stop signals stay blocked except during the
/// wait itself, where pselect() unblocks them atomically; a signal ends the wait with no key, and the run
/// loop then asks the watcher.
final class CursesTerminal: TerminalDevice {
    private let screen: OpaquePointer
    private let window: UnsafeMutablePointer<WINDOW>
    private let output: UnsafeMutablePointer<FILE>
    private let input: UnsafeMutablePointer<FILE>
    private let wakeSignals: [Int32]
    /// The terminal shows the UI on a screen of its own, which leaving gives back (smcup/rmcup).
    private let hasAlternateScreen: Bool
    private let styles: [Style: (attributes: attr_t, pair: Int16)]
    let supportsUnicode: Bool
    let hasColors: Bool
    private var closed = false

    /// Takes over the terminal on standard input and output. `term` is `$TERM` (checked by the caller);
    /// `wakeSignals` are the signals that may end a wait for keys. `NO_COLOR` (no-color.org) asks for
    /// monochrome.
    static func open(term: String, wakeSignals: [Int32]) throws(NetTopError) -> CursesTerminal {
        // Before newterm, so ncurses picks the locale's encoding (UTF-8 for wide characters).
        setlocale(LC_ALL, "")
        let unicode = nt_locale_is_utf8() != 0
        var saved = termios()
        _ = tcgetattr(STDIN_FILENO, &saved)
        // ncurses needs FILE streams; these two live as long as the process (closing them would close
        // standard input and output).
        guard let output = fdopen(STDOUT_FILENO, "w"), let input = fdopen(STDIN_FILENO, "r") else {
            throw NetTopError(.software, "cannot open the terminal's streams: \(String(cString: strerror(errno))).")
        }
        // Unlike initscr, newterm reports a terminal it does not know instead of exiting the process.
        guard let screen = newterm(term, output, input) else {
            throw NetTopError(.unavailable, "the terminal type '\(TerminalSafeText.sanitize(term))' is unknown to "
                              + "ncurses (no terminfo entry); set TERM to one it knows, or run nettop --batch.")
        }
        set_term(screen)
        guard let window = nt_stdscr() else {
            endwin()
            delscreen(screen)
            throw NetTopError(.software, "ncurses opened the terminal but gave no window.")
        }
        cbreak()          // keys arrive at once; Ctrl-C still raises SIGINT, which SignalWatcher turns into a stop
        noecho()
        nonl()
        intrflush(window, false)
        keypad(window, true)
        nodelay(window, true)
        leaveok(window, true)
        _ = curs_set(0)
        _ = set_escdelay(25)   // a lone Esc is a key here, not the start of a sequence to wait a second for

        let noColor = getenv("NO_COLOR").map { $0.pointee != 0 } ?? false
        let colors = !noColor && has_colors() && start_color() == OK
        let styles = colors ? colourStyles() : monochromeStyles()
        let reset = resetBytes()
        TerminalCrashGuard.arm(reset: reset, saved: saved)
        return CursesTerminal(screen: screen, window: window, output: output, input: input, wakeSignals: wakeSignals,
                              styles: styles, unicode: unicode, colors: colors,
                              alternateScreen: nt_tigetstr("rmcup") != nil)
    }

    private init(screen: OpaquePointer, window: UnsafeMutablePointer<WINDOW>, output: UnsafeMutablePointer<FILE>,
                 input: UnsafeMutablePointer<FILE>, wakeSignals: [Int32], styles: [Style: (attributes: attr_t, pair: Int16)],
                 unicode: Bool, colors: Bool, alternateScreen: Bool) {
        self.screen = screen
        self.window = window
        self.output = output
        self.input = input
        self.wakeSignals = wakeSignals
        self.styles = styles
        supportsUnicode = unicode
        hasColors = colors
        hasAlternateScreen = alternateScreen
    }

    deinit { close() }

    var size: TerminalSize {
        TerminalSize(rows: Int(nt_getmaxy(window)), columns: Int(nt_getmaxx(window)))
    }

    // MARK: Drawing

    func draw(_ frame: Screen, repaint: Bool) {
        guard !closed else { return }
        let rows = min(frame.height, size.rows), columns = min(frame.width, size.columns)
        var run: [wchar_t] = []
        var runStart = 0
        var runStyle = Style.normal
        func flush(_ y: Int) {
            guard !run.isEmpty else { return }
            put(run, y: y, x: runStart, style: runStyle)
            run.removeAll(keepingCapacity: true)
        }
        for y in 0..<rows {
            run.removeAll(keepingCapacity: true)
            for x in 0..<columns {
                let cell = frame[y, x]
                if cell.isContinuation { flush(y); continue }
                if cell.character.isASCII {
                    if run.isEmpty || cell.style != runStyle { flush(y); runStart = x; runStyle = cell.style }
                    run.append(wchar_t(cell.character.asciiValue ?? 0x20))
                } else {
                    // Placed alone at its own column: should the terminal's idea of its width differ from
                    // TextWidth's, the rest of the line still lands where the renderer put it.
                    flush(y)
                    put(cell.character.unicodeScalars.map { wchar_t(bitPattern: $0.value) }, y: y, x: x, style: cell.style)
                }
            }
            flush(y)
        }
        if repaint { clearok(window, true) }
        wnoutrefresh(window)
        doupdate()
    }

    private func put(_ text: [wchar_t], y: Int, x: Int, style: Style) {
        let look = styles[style] ?? (0, 0)
        _ = nt_set_style(window, look.attributes, look.pair)
        _ = wmove(window, Int32(y), Int32(x))
        // Writing the bottom-right cell returns ERR (the cursor cannot move past it) but the cell is drawn.
        _ = text.withUnsafeBufferPointer { waddnwstr(window, $0.baseAddress, Int32($0.count)) }
    }

    // MARK: Keys

    func waitForKeys(timeout: Double) -> [Key] {
        guard !closed else { return [] }
        // ncurses may hold keys it already read (the rest of an escape sequence, a paste).
        let pending = readKeys()
        if !pending.isEmpty { return pending }
        var mask = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &mask)
        for signo in wakeSignals { sigdelset(&mask, signo) }
        let millis = Int32(min(max(0, (timeout * 1000).rounded(.up)), 86_400_000))
        _ = nt_wait_readable(STDIN_FILENO, millis, &mask)
        return readKeys()
    }

    /// Everything ncurses has now, without waiting (the window is in nodelay mode).
    private func readKeys() -> [Key] {
        var keys: [Key] = []
        var code: wint_t = 0
        // Bounded: a paste of thousands of characters is taken over several waits.
        while keys.count < 256 {
            let result = wget_wch(window, &code)
            if result == ERR { break }
            if let key = result == KEY_CODE_YES ? Self.functionKey(Int32(code)) : Self.characterKey(UInt32(code)) {
                keys.append(key)
            }
        }
        return keys
    }

    private static func functionKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_ENTER: return .enter
        case KEY_BACKSPACE: return .backspace
        case KEY_RESIZE: return .resize
        default:
            let n = code - nt_key_f(0)
            return (1...24).contains(n) ? .function(Int(n)) : nil
        }
    }

    private static func characterKey(_ code: UInt32) -> Key? {
        switch code {
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 9: return .tab
        case 1...26: return .control(Character(Unicode.Scalar(code + 96)!))
        default:
            guard let scalar = Unicode.Scalar(code), code >= 0x20 else { return nil }
            return .character(Character(scalar))
        }
    }

    // MARK: Giving the terminal back

    func close() {
        guard !closed else { return }
        closed = true
        // Without an alternate screen the last frame would stay under the shell's prompt.
        if !hasAlternateScreen {
            _ = nt_set_style(window, 0, 0)
            werase(window)
            wrefresh(window)
        }
        _ = curs_set(1)
        endwin()
        delscreen(screen)
        TerminalCrashGuard.disarm()
    }

    // MARK: Styles

    /// Colour pairs in the manner of htop: green column titles, a cyan selection bar, red alerts, the
    /// terminal's own background everywhere else.
    private static func colourStyles() -> [Style: (attributes: attr_t, pair: Int16)] {
        let background: Int16 = use_default_colors() == OK ? -1 : Int16(COLOR_BLACK)
        var next: Int16 = 1
        func pair(_ fg: Int32, _ bg: Int32?) -> Int16 {
            let n = next
            init_pair(n, Int16(fg), bg.map(Int16.init) ?? background)
            next += 1
            return n
        }
        let bold = nt_a_bold(), dim = nt_a_dim()
        let bar = pair(COLOR_BLACK, COLOR_CYAN)
        let header = pair(COLOR_BLACK, COLOR_GREEN)
        let cyan = pair(COLOR_CYAN, nil)
        let red = pair(COLOR_RED, nil)
        let green = pair(COLOR_GREEN, nil)
        let magenta = pair(COLOR_MAGENTA, nil)
        let yellow = pair(COLOR_YELLOW, nil)
        let paused = pair(COLOR_BLACK, COLOR_YELLOW)
        return [
            .normal: (0, 0), .dim: (dim, 0),
            .selected: (0, bar), .selectedDim: (dim, bar),
            .tableHeader: (0, header), .sortHeader: (bold, bar),
            .title: (bold, cyan), .label: (0, cyan), .value: (bold, 0), .alert: (bold, red),
            .txRate: (bold, green), .rxRate: (bold, magenta),
            .keyHint: (bold, 0), .keyLabel: (0, bar),
            .panel: (0, 0), .panelTitle: (bold, yellow), .panelSelected: (0, bar),
            .prompt: (bold, yellow), .paused: (bold, paused),
        ]
    }

    /// Attributes only: reverse video for bars, bold for what stands out, dim for closed rows.
    private static func monochromeStyles() -> [Style: (attributes: attr_t, pair: Int16)] {
        let bold = nt_a_bold(), dim = nt_a_dim(), reverse = nt_a_reverse(), underline = nt_a_underline()
        return [
            .normal: (0, 0), .dim: (dim, 0),
            .selected: (reverse, 0), .selectedDim: (reverse | dim, 0),
            .tableHeader: (reverse, 0), .sortHeader: (reverse | bold | underline, 0),
            .title: (bold, 0), .label: (0, 0), .value: (bold, 0), .alert: (bold | underline, 0),
            .txRate: (0, 0), .rxRate: (0, 0),
            .keyHint: (bold, 0), .keyLabel: (reverse, 0),
            .panel: (0, 0), .panelTitle: (bold, 0), .panelSelected: (reverse, 0),
            .prompt: (bold | underline, 0), .paused: (reverse | bold, 0),
        ]
    }

    /// The terminal's strings for leaving the alternate screen, showing the cursor, resetting attributes
    /// and leaving keypad mode, for `TerminalCrashGuard`.
    private static func resetBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        for capability in ["sgr0", "cnorm", "rmkx", "rmcup"] {
            if let value = nt_tigetstr(capability) { bytes += Array(String(cString: value).utf8) }
        }
        return bytes
    }
}
