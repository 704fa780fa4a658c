import TracerCore

/// The interactive loop: wait for a key or the next tick, whichever comes first; tick the tracer on
/// schedule (also while paused: data keeps accumulating); turn keys into actions; draw when something
/// changed. Stops on `q`, on a stop signal (asked of the `TickWaiter` after every wait) and on a tracer
/// error (thrown; the caller gives the terminal back before reporting it).
///
/// Ticks follow `StreamRunner`'s schedule — fixed steps of the interval, no catch-up bursts — except
/// that the first comes soon after start, so the screen fills at once.
final class UIRunLoop {
    private(set) var model: UIModel
    private let source: any ConnectionSource
    private let waiter: any TickWaiter
    private let terminal: any TerminalDevice
    private let clock: () -> Double
    private let renderer: ScreenRenderer
    /// This front end's name for its per-client `last*` deltas.
    let client = "ui"
    /// The first tick comes this soon (or one interval, if shorter).
    static let firstTickDelay = 0.25
    /// Waits are cut to this, so a stop signal that was delivered to another thread (not blocking it) is
    /// noticed soon even without a key or a tick.
    static let longestWait = 0.5

    init(model: UIModel, source: any ConnectionSource, waiter: any TickWaiter, terminal: any TerminalDevice,
         clock: @escaping () -> Double) {
        self.model = model
        self.source = source
        self.waiter = waiter
        self.terminal = terminal
        self.clock = clock
        renderer = ScreenRenderer(unicode: terminal.supportsUnicode)
    }

    /// Runs until quit or a stop signal (0); tracer errors are thrown.
    func run() throws(NetTopError) -> Int32 {
        model.resize(to: terminal.size)
        var lastTick = clock()
        var deadline = lastTick + min(model.state.interval, Self.firstTickDelay)
        draw()
        while true {
            var now = clock()
            if now >= deadline {
                let tickStart = now
                let snapshot = try source.tick(client: client)
                let next = model.record(snapshot, elapsed: tickStart - lastTick,
                                        monotonicNs: UInt64(max(0, tickStart) * 1e9))
                lastTick = tickStart
                deadline += model.state.interval
                now = clock()
                if deadline < now { deadline = now + model.state.interval }
                if next.contains(.redraw) { draw() }
                continue
            }
            let keys = terminal.waitForKeys(timeout: min(deadline - now, Self.longestWait))
            if waiter.waitForStop(until: -Double.infinity) { return 0 }
            let pending = model.press(keys)
            if pending.contains(.quit) { return 0 }
            if pending.contains(.resize) { model.resize(to: terminal.size) }
            if pending.contains(.reschedule) {
                deadline = max(lastTick + model.state.interval, clock())
            }
            if pending.contains(.redraw) || pending.contains(.repaint) { draw(repaint: pending.contains(.repaint)) }
        }
    }

    private func draw(repaint: Bool = false) {
        terminal.draw(renderer.render(model), repaint: repaint)
    }
}
