/// What the run loop needs from a terminal: its size, a way to show a `Screen`, and keys. The real one
/// is `CursesTerminal` (the only type that touches ncurses); tests use a scripted fake.
protocol TerminalDevice: AnyObject {
    var size: TerminalSize { get }
    /// False when the locale cannot show more than ASCII.
    var supportsUnicode: Bool { get }
    /// Shows `screen`; `repaint` clears the terminal first (Ctrl-L).
    func draw(_ screen: Screen, repaint: Bool)
    /// Waits up to `timeout` seconds for keys and returns those read: empty when the time ran out or a
    /// signal cut the wait short (the caller then asks the `TickWaiter` whether to stop).
    func waitForKeys(timeout: Double) -> [Key]
    /// Gives the terminal back as it was; safe to call twice.
    func close()
}
