import ArgumentParser

/// Which front end runs and how often it ticks.
struct OutputArguments: ParsableArguments {
    enum Mode: Equatable { case interactive, batch, json }

    @Flag(help: "Print a plain-text table every tick, like `top -b`.")
    var batch = false

    @Flag(help: "Print one JSON object per tick on stdout (NDJSON), flushed every line.")
    var json = false

    // Numeric options parse `.unconditional`ly so "--interval -1" reaches validate() and is reported
    // as a bad interval, not as a missing value followed by an unknown option.
    @Option(parsing: .unconditional,
            help: ArgumentHelp("Stop after N ticks (default: run until interrupted).", valueName: "N"))
    var iterations: Int?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Seconds between ticks; fractions allowed.", valueName: "SECONDS"))
    var interval: Double = 1

    var mode: Mode { batch ? .batch : json ? .json : .interactive }

    func validate() throws {
        if batch && json { throw ValidationError("--batch and --json cannot be used together") }
        if let iterations, iterations < 1 {
            throw ValidationError("--iterations must be at least 1 (got \(iterations))")
        }
        guard interval.isFinite, interval > 0 else {
            throw ValidationError("--interval must be a number of seconds greater than 0 (got \(interval.plain))")
        }
        // poll() takes milliseconds in an Int32: about 24 days.
        if interval > 2_000_000 {
            throw ValidationError("--interval must be at most 2000000 seconds (got \(interval.plain))")
        }
    }
}
