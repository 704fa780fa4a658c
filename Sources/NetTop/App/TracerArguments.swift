import ArgumentParser
import TracerCore

/// What the kernel tracer collects and how it attaches (`TracerConfig`); shared by the monitor,
/// `check` and `debug`, so all three describe the same tracer.
struct TracerArguments: ParsableArguments {
    /// The help shows the tracer's own defaults, so the two cannot drift apart.
    private static let defaults = TracerConfig()

    @Flag(name: .customLong("no-tcp"), help: "Do not collect TCP connections.")
    var noTCP = false

    @Flag(name: .customLong("no-udp"), help: "Do not collect UDP connections.")
    var noUDP = false

    @Flag(name: .customLong("no-ipv6"), help: "Do not collect IPv6 connections.")
    var noIPv6 = false

    @Option(name: .customLong("tcp-timeout"), parsing: .unconditional,
            help: ArgumentHelp("Forget TCP connections idle for S seconds "
                + "(default: \(Self.defaults.tcpTimeoutSeconds.plain)).", valueName: "S"))
    var tcpTimeout: Double?

    @Option(name: .customLong("udp-timeout"), parsing: .unconditional,
            help: ArgumentHelp("Forget UDP connections idle for S seconds "
                + "(default: \(Self.defaults.udpTimeoutSeconds.plain)).", valueName: "S"))
    var udpTimeout: Double?

    @Option(name: .customLong("max-connections"), parsing: .unconditional,
            help: ArgumentHelp("Track at most N rows; more are counted as map_full_drops "
                + "(default: \(Self.defaults.maxConnections)).", valueName: "N"))
    var maxConnections: Int?

    @Flag(name: .customLong("no-conntrack"), help: "Do not read NAT translations from conntrack.")
    var noConntrack = false

    @Option(name: .customLong("conntrack-buffer"), parsing: .unconditional,
            help: ArgumentHelp("Size of the conntrack event buffer "
                + "(default: \(Self.defaults.conntrackBufferSize)).", valueName: "N"))
    var conntrackBuffer: Int?

    @Option(help: ArgumentHelp("Kernel hooks to attach to: auto picks the best the kernel has.",
                               valueName: "auto|tracepoint|fentry|kprobe"))
    var backend: TracerConfig.Backend = .auto

    @Flag(name: .customLong("no-btf"), help: "Ignore the kernel's BTF and guess struct offsets instead.")
    var noBTF = false

    @Flag(help: "Show BPF verifier logs and error details.")
    var debug = false

    func validate() throws {
        if noTCP && noUDP { throw ValidationError("--no-tcp and --no-udp together leave nothing to collect") }
        try Self.positive(tcpTimeout, "--tcp-timeout")
        try Self.positive(udpTimeout, "--udp-timeout")
        if let maxConnections, !(1...Int(Int32.max)).contains(maxConnections) {
            throw ValidationError("--max-connections must be between 1 and \(Int32.max) (got \(maxConnections))")
        }
        if let conntrackBuffer, !(1...Int(Int32.max)).contains(conntrackBuffer) {
            throw ValidationError("--conntrack-buffer must be between 1 and \(Int32.max) (got \(conntrackBuffer))")
        }
    }

    private static func positive(_ seconds: Double?, _ flag: String) throws {
        if let seconds, !(seconds.isFinite && seconds > 0) {
            throw ValidationError("\(flag) must be a number of seconds greater than 0 (got \(seconds.plain))")
        }
    }

    var config: TracerConfig {
        var config = TracerConfig()
        config.collectTCP = !noTCP
        config.collectUDP = !noUDP
        config.collectIPv6 = !noIPv6
        if let tcpTimeout { config.tcpTimeoutSeconds = tcpTimeout }
        if let udpTimeout { config.udpTimeoutSeconds = udpTimeout }
        if let maxConnections { config.maxConnections = maxConnections }
        config.enableConntrack = !noConntrack
        if let conntrackBuffer { config.conntrackBufferSize = conntrackBuffer }
        config.backend = backend
        config.useBTF = !noBTF
        config.bpfDebug = debug
        return config
    }
}
