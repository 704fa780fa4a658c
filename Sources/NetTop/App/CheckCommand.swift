import ArgumentParser
import TracerCore

/// `nettop check`: whether this kernel can run nettop, with which backend, and why. Runs without root
/// (it is what a user runs first); the tracer's report says whether nettop would have the privilege it needs.
struct CheckCommand: ParsableCommand, NetTopRunnable, NetTopSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Say whether this kernel can run nettop, which backend it would use, and why.",
        usage: "nettop check [<tracer options>]"
    )

    @OptionGroup(title: "Tracer") var tracer: TracerArguments

    var name: String { "check" }

    func execute(in env: AppEnvironment) -> Int32 {
        let report = env.checkSupport(tracer.config)
        var lines: [String] = []
        switch (report.supported, report.backend) {
        case (true, let backend?):
            lines.append("nettop can run on this kernel with the \(backend) backend.")
        case (false, let backend?) where report.exitCode == needsRootError.exitCode:
            lines.append("nettop would use the \(backend) backend on this kernel, but it needs root to load its BPF "
                + "programs; run it with sudo.")
        default:
            lines.append("nettop cannot run on this kernel with these options.")
        }
        // The findings say why, one capability a line, the privilege included.
        lines += report.findings.map(TerminalSafeText.sanitize)
        _ = env.writeOutput(Array((lines.joined(separator: "\n") + "\n").utf8))
        return report.exitCode
    }
}
