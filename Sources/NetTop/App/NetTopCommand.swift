#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import TracerCore

/// `nettop`: the monitor itself (interactive, `--batch` or `--json`), with `check` and `debug`.
@main
struct NetTopCommand: ParsableCommand, NetTopRunnable {
    static let configuration = CommandConfiguration(
        commandName: "nettop",
        abstract: "Show every TCP and UDP connection on this host with its traffic, process and namespace.",
        usage: """
            nettop [--batch | --json] [--iterations N] [<options>]
            nettop check [<tracer options>]
            nettop debug offsets|maps|state|stats [<tracer options>]
            """,
        discussion: """
            Without --batch or --json nettop runs its interactive UI. Everything but `check` needs root.
            Exit status: 0 success (also after SIGINT, SIGTERM or SIGHUP), 64 bad usage, 69 a feature \
            this kernel lacks, 77 not root, 70 any other failure.
            """,
        subcommands: [CheckCommand.self, DebugCommand.self]
    )

    @OptionGroup(title: "Output") var output: OutputArguments
    @OptionGroup(title: "View") var view: ViewArguments
    @OptionGroup(title: "Tracer") var tracer: TracerArguments

    /// Options that are fine alone but show nothing together.
    func validate() throws {
        if view.proto == .tcp && tracer.noTCP { throw ValidationError("--proto tcp shows nothing with --no-tcp") }
        if view.proto == .udp && tracer.noUDP { throw ValidationError("--proto udp shows nothing with --no-udp") }
    }

    static func main() {
        Glibc.exit(NetTopMain.run(arguments: Array(CommandLine.arguments.dropFirst()), environment: .live))
    }

    func execute(in env: AppEnvironment) -> Int32 {
        do throws(NetTopError) {
            // Usage problems (an unknown netns name) come before the privilege check: fix the command first.
            let viewOptions = try view.viewOptions(resolver: env.netnsResolver)
            guard env.isRoot() else { throw needsRootError }
            let format: StreamRunner.Format
            switch output.mode {
            case .interactive:
                return InteractiveUI.run(view: viewOptions, tracer: tracer, interval: output.interval,
                                         environment: env)
            case .batch: format = .batch
            case .json: format = .json
            }
            let waiter = try env.makeWaiter()
            defer { waiter.close() }
            let source = try env.openTracer(tracer.config)
            defer { source.close() }
            let runner = StreamRunner(format: format, view: viewOptions, interval: output.interval,
                                      iterations: output.iterations)
            return try runner.run(source: source, waiter: waiter, environment: env)
        } catch {
            return env.report(error, debug: tracer.debug)
        }
    }
}

/// The process's life in one place: SIGPIPE ignored, argv parsed, the command run, its status returned.
enum NetTopMain {
    static func run(arguments: [String], environment env: AppEnvironment) -> Int32 {
        FileOutput.ignoreBrokenPipes()
        switch CommandLineParser.parse(arguments) {
        case .run(let command):
            return command.execute(in: env)
        case .exit(let status, let standardOutput, let standardError):
            if !standardOutput.isEmpty { _ = env.writeOutput(Array(standardOutput.utf8)) }
            // writeError adds the newline back.
            if !standardError.isEmpty {
                env.writeError(standardError.hasSuffix("\n") ? String(standardError.dropLast()) : standardError)
            }
            return status
        }
    }
}
