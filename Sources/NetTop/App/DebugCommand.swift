import ArgumentParser
import TracerCore

/// `nettop debug TOPIC`: one JSON document from the tracer, for diagnosis and bug reports.
struct DebugCommand: ParsableCommand, NetTopRunnable, NetTopSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "debug",
        abstract: "Print a JSON dump of the tracer's offsets, maps, state or stats.",
        usage: "nettop debug offsets|maps|state|stats [<tracer options>]"
    )

    @Argument(help: ArgumentHelp(
        "What to dump: offsets (where struct sock keeps each field, from BTF or guessed), maps (the BPF maps "
            + "and their fill), state (the connections as the tracer holds them) or stats (self-telemetry).",
        valueName: "offsets|maps|state|stats"))
    var topic: DebugTopic

    @OptionGroup(title: "Tracer") var tracer: TracerArguments

    var name: String { "debug" }

    func execute(in env: AppEnvironment) -> Int32 {
        do throws(NetTopError) {
            guard env.isRoot() else { throw needsRootError }
            let source = try env.openTracer(tracer.config)
            defer { source.close() }
            let json = try source.debugJSON(topic)
            switch env.writeOutput(Array((json + "\n").utf8)) {
            case .written, .closed: return 0
            case .failed: throw NetTopError(.software, "cannot write to standard output.")
            }
        } catch {
            return env.report(error, debug: tracer.debug)
        }
    }
}

