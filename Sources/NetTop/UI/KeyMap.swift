/// Which action each key means, in each mode, in the conventions of htop, btop and top
/// (the help panel lists the same bindings from `KeyMap.help`).
enum KeyMap {
    static func action(for key: Key, in mode: ViewState.Mode) -> Action? {
        // Everywhere: these never mean anything else.
        switch key {
        case .resize: return .resize
        case .control("l"): return .repaint
        case .control("c"): return .quit
        case .function(10): return .quit
        default: break
        }
        switch mode {
        case .table: return tableAction(key)
        case .find, .filterExpression: return promptAction(key)
        case .netnsPicker, .sortMenu: return menuAction(key)
        case .help:
            // Any key closes the help, as in htop; q still quits.
            return key == .character("q") ? .quit : .cancel
        case .detail: return detailAction(key)
        }
    }

    private static func tableAction(_ key: Key) -> Action? {
        switch key {
        case .character("q"): return .quit
        case .up, .character("k"): return .move(-1)
        case .down, .character("j"): return .move(1)
        case .pageUp: return .page(-1)
        case .pageDown: return .page(1)
        case .home: return .moveToFirst
        case .end: return .moveToLast
        case .character("<"), .character(","), .left: return .sortPreviousColumn
        case .character(">"), .character("."), .right: return .sortNextColumn
        case .function(6): return .openSortMenu
        case .character("R"): return .sortBy(.rate)
        case .character("B"): return .sortBy(.bytes)
        case .character("P"): return .sortBy(.pid)
        case .character("I"): return .invertSort
        case .character("/"), .function(3): return .startFind
        case .character("f"), .character("\\"), .function(4): return .startFilterExpression
        case .character("n"): return .openNetnsPicker
        case .character("p"): return .togglePidFilter
        case .character("u"): return .cycleProtocol
        case .character("g"), .character("t"), .function(5): return .cycleGroup
        case .character(" "), .character("Z"), .character("z"): return .togglePause
        case .character("+"), .character("="): return .longerInterval
        case .character("-"), .character("_"): return .shorterInterval
        case .character("b"): return .toggleRateUnit
        case .character("h"), .character("?"), .function(1): return .showHelp
        case .enter: return .confirm
        case .escape: return .cancel
        default: return nil
        }
    }

    private static func promptAction(_ key: Key) -> Action? {
        switch key {
        case .enter: return .confirm
        case .escape: return .cancel
        case .backspace: return .deleteBackward
        case .up: return .move(-1)
        case .down: return .move(1)
        case .pageUp: return .page(-1)
        case .pageDown: return .page(1)
        case .character(let c): return .type(c)
        default: return nil
        }
    }

    private static func menuAction(_ key: Key) -> Action? {
        switch key {
        case .character("q"): return .quit
        case .up, .character("k"): return .move(-1)
        case .down, .character("j"): return .move(1)
        case .pageUp: return .page(-1)
        case .pageDown: return .page(1)
        case .home: return .moveToFirst
        case .end: return .moveToLast
        case .enter, .character(" "): return .confirm
        case .escape, .left, .backspace, .function(6), .character("n"): return .cancel
        default: return nil
        }
    }

    private static func detailAction(_ key: Key) -> Action? {
        switch key {
        case .character("q"): return .quit
        case .escape, .enter, .backspace, .left: return .cancel
        case .character(" "), .character("Z"), .character("z"): return .togglePause
        case .character("+"), .character("="): return .longerInterval
        case .character("-"), .character("_"): return .shorterInterval
        case .character("b"): return .toggleRateUnit
        case .character("h"), .character("?"), .function(1): return .showHelp
        default: return nil
        }
    }

    /// The help panel's lines: keys, then what they do.
    static let help: [(keys: String, does: String)] = [
        ("Arrows PgUp PgDn Home End", "move the selection (it follows its connection)"),
        ("Enter", "details; on a group, show its connections"),
        ("< >  F6", "sort by the previous / next column; F6: a menu"),
        ("R  B  P", "sort by rate, total bytes, pid"),
        ("I", "invert the sort order"),
        ("/  F3", "find rows with this text in any column"),
        ("f  \\  F4", "filter: pid N port N tcp|udp netns NAME host ADDR"),
        ("n", "pick a network namespace (with connection counts)"),
        ("p", "only the selected row's process (again: all)"),
        ("u", "protocol: all, tcp, udp"),
        ("Esc", "clear every filter"),
        ("g  t  F5", "group: none, process, netns, remote host"),
        ("Space  Z", "pause the display (data keeps being collected)"),
        ("+  -", "longer / shorter interval"),
        ("b", "rates in bytes or bits per second"),
        ("Ctrl-L", "repaint the screen"),
        ("h  ?  F1", "this help"),
        ("q  F10", "quit"),
    ]
}
