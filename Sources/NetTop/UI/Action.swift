import TracerCore

/// What a key asks for. Actions change the model's state and say what must happen next (`Followup`);
/// they never draw.
enum Action: Sendable, Equatable {
    case quit
    /// Moves the selection (or a menu's highlight) by rows, by pages, or to either end.
    case move(Int)
    case page(Int)
    case moveToFirst
    case moveToLast
    case sortNextColumn
    case sortPreviousColumn
    case sortBy(SortKey)
    case invertSort
    case openSortMenu
    case startFind
    case startFilterExpression
    case type(Character)
    case deleteBackward
    /// Enter: details of the selected row (or open the group), accept a prompt, pick a menu entry.
    case confirm
    /// Esc: close a panel or prompt; in the table, clear every filter.
    case cancel
    case openNetnsPicker
    /// Shows only the selected row's process; again shows all.
    case togglePidFilter
    /// All protocols → tcp → udp → all.
    case cycleProtocol
    case cycleGroup
    case togglePause
    case longerInterval
    case shorterInterval
    case toggleRateUnit
    case showHelp
    /// Ctrl-L: repaint everything (the terminal was scribbled on).
    case repaint
    case resize
}

/// What must happen after an action or a tick, for the run loop.
struct Followup: OptionSet, Sendable {
    let rawValue: UInt8

    /// Draw the screen again.
    static let redraw = Followup(rawValue: 1 << 0)
    /// The rows must be filtered, grouped and sorted again.
    static let resort = Followup(rawValue: 1 << 1)
    static let quit = Followup(rawValue: 1 << 2)
    /// The interval changed: the next tick is due at another time.
    static let reschedule = Followup(rawValue: 1 << 3)
    /// Clear the terminal before drawing (Ctrl-L).
    static let repaint = Followup(rawValue: 1 << 4)
    /// Ask the terminal for its size.
    static let resize = Followup(rawValue: 1 << 5)
}
