/// A key press as the UI sees it, whatever terminal library read it.
enum Key: Sendable, Equatable {
    case character(Character)
    case up, down, left, right
    case pageUp, pageDown, home, end
    case enter, escape, backspace, tab
    /// F1 ... F12.
    case function(Int)
    /// Ctrl and a letter (Ctrl-L is `.control("l")`).
    case control(Character)
    /// The terminal changed size.
    case resize
}
