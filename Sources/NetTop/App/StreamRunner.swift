#if canImport(Glibc)
import Glibc
#endif
import TracerCore

/// The `--batch` / `--json` loop: every interval, tick the tracer, apply the view, render, write.
///
/// The first tick comes one interval after the tracer opened, so every tick (the first included)
/// covers one whole interval and its `last_*` counters and rates mean the same thing. Deadlines are
/// fixed multiples of the interval from the start, so ticks do not drift; a tick that runs late is not
/// followed by a burst of catch-up ticks.
struct StreamRunner {
    enum Format: Equatable { case batch, json }

    var format: Format
    var view: ViewOptions
    var interval: Double
    var iterations: Int?
    /// This front end's name for its per-client `last_*` deltas.
    var client = "main"
    /// The size of the pieces a JSON line is written in.
    static let jsonChunkBytes = 1 << 20

    /// Runs until `iterations` ticks, a stop signal or a closed stdout; all three are a clean exit (0).
    /// The caller owns `source` and closes it.
    func run(source: any ConnectionSource, waiter: any TickWaiter,
             environment env: AppEnvironment) throws(NetTopError) -> Int32 {
        var previousTick = env.monotonicSeconds()
        var deadline = previousTick + interval
        var ticks = 0
        while iterations.map({ ticks < $0 }) ?? true {
            if waiter.waitForStop(until: deadline) { return 0 }
            let tickStart = env.monotonicSeconds()
            // Handed on, not kept: the view filters and sorts the tick's rows in place.
            var shown = view.apply(to: try source.tick(client: client))
            let elapsed = tickStart - previousTick
            previousTick = tickStart
            let outcome = write(shown, elapsed: elapsed, monotonicNs: UInt64(max(0, tickStart) * 1e9), tickIndex: ticks,
                                environment: env)
            // The rows go back to be refilled, this snapshot holding no second reference to them.
            var done: [ConnectionStats] = []
            swap(&done, &shown.connections)
            source.recycle(done)
            switch outcome {
            case .written: break
            case .closed: return 0
            case .failed(let reason):
                throw NetTopError(.software, "cannot write to standard output: \(String(cString: strerror(reason))).")
            }
            ticks += 1
            deadline += interval
            let now = env.monotonicSeconds()
            if deadline < now { deadline = now + interval }
        }
        return 0
    }

    /// Writes one tick. A JSON line goes out in pieces of about `jsonChunkBytes`, so a tick of 200k rows
    /// (90 MB of JSON) never has to be held whole; the line still ends only once all of it is written.
    func write(_ snapshot: Snapshot, elapsed: Double, monotonicNs: UInt64, tickIndex: Int,
               environment env: AppEnvironment) -> WriteOutcome {
        switch format {
        case .json:
            var outcome = WriteOutcome.written
            JSONRenderer.write(snapshot, chunkBytes: Self.jsonChunkBytes) { piece in
                outcome = env.writeRaw(piece)
                return outcome == .written
            }
            return outcome
        case .batch:
            let renderer = BatchRenderer(utcOffsetSeconds: env.utcOffset(snapshot.timestamp))
            // A blank line between ticks, as `top -b` separates its screens.
            let text = (tickIndex > 0 ? "\n" : "") + renderer.render(snapshot, elapsed: elapsed, monotonicNs: monotonicNs)
            return env.writeOutput(Array(text.utf8))
        }
    }
}
