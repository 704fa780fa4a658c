import ArgumentParser

/// `check` and `debug`, which take the tracer options but none of the monitor's.
protocol NetTopSubcommand {
    var name: String { get }
}

/// A command ready to run: what `NetTopCommand`, `CheckCommand` and `DebugCommand` have in common.
protocol NetTopRunnable {
    /// Runs the command and returns the process's exit status; never traps, never calls exit().
    func execute(in environment: AppEnvironment) -> Int32
}

/// Turns argv into a command or into the exact exit the contract wants, without argument-parser's own
/// exit path (which prints the usage screen and may use other statuses).
enum CommandLineParser {
    enum Outcome {
        case run(any NetTopRunnable)
        /// Print `standardOutput` and `standardError` (each as is, when not empty) and exit.
        case exit(status: Int32, standardOutput: String, standardError: String)
    }

    static func parse(_ arguments: [String]) -> Outcome {
        do {
            let command = try NetTopCommand.parseAsRoot(arguments)
            if let subcommand = command as? any NetTopSubcommand,
               let misplaced = misplacedMonitorOption(in: arguments) {
                return .exit(status: 64, standardOutput: "", standardError:
                    "nettop: \(misplaced) is an option of the monitor, not of 'nettop \(subcommand.name)'\n")
            }
            if let runnable = command as? any NetTopRunnable { return .run(runnable) }
            // Only argument-parser's own `help` subcommand lands here; running it throws its help text.
            var other = command
            try other.run()
            return .exit(status: 0, standardOutput: "", standardError: "")
        } catch {
            return outcome(for: error)
        }
    }

    /// The monitor's own options. argument-parser accepts a parent command's options after a subcommand
    /// and then drops them, so `nettop check --json` would silently ignore --json; it is bad usage instead.
    static let monitorOnlyOptions: Set<String> = [
        "--batch", "--json", "--iterations", "--interval", "--sort", "--reverse", "--netns", "--pid", "--proto",
        "--port",
    ]

    static func misplacedMonitorOption(in arguments: [String]) -> String? {
        for argument in arguments {
            if argument == "--" { return nil }
            let name = String(argument.prefix { $0 != "=" })
            if monitorOnlyOptions.contains(name) { return name }
        }
        return nil
    }

    /// `--help` (and other clean exits) print their text and exit 0; anything else is bad usage:
    /// exactly one line naming the problem, exit 64.
    static func outcome(for error: any Error) -> Outcome {
        if NetTopCommand.exitCode(for: error) == .success {
            var text = NetTopCommand.fullMessage(for: error)
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            return .exit(status: 0, standardOutput: text, standardError: "")
        }
        return .exit(status: 64, standardOutput: "",
                     standardError: "nettop: " + oneLine(NetTopCommand.message(for: error)) + "\n")
    }

    /// Collapses a possibly multi-line message to one line, without argument-parser's "Error: " prefix;
    /// a bulleted list of valid values ("- rate", "- bytes", ...) becomes "rate, bytes, ...". Messages echo
    /// the values given (a namespace name, an unknown option), so control characters in them are escaped:
    /// they must not reach the user's terminal raw.
    static func oneLine(_ message: String) -> String {
        var parts: [String] = []
        var listItems: [String] = []
        for raw in message.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: " \t")
            if line.hasPrefix("- ") {
                listItems.append(String(line.dropFirst(2)))
            } else if !line.isEmpty {
                parts.append(line)
            }
        }
        if !listItems.isEmpty { parts.append(listItems.joined(separator: ", ")) }
        var text = parts.joined(separator: " ")
        if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
        return TerminalSafeText.sanitize(text)
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var slice = self[...]
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
