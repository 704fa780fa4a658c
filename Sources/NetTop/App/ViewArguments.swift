import ArgumentParser
import TracerCore

/// Which rows are shown and in what order (`ViewOptions` once the namespace name is resolved).
struct ViewArguments: ParsableArguments {
    @Option(help: ArgumentHelp("Sort rows by KEY.", valueName: "KEY"))
    var sort: SortKey = .rate

    @Flag(help: "Reverse the sort order.")
    var reverse = false

    @Option(help: ArgumentHelp("Show only one network namespace, by inode or `ip netns` name.",
                               valueName: "INODE|NAME"))
    var netns: NetnsSelector?

    @Option(parsing: .unconditional, help: ArgumentHelp("Show only connections of process PID.", valueName: "PID"))
    var pid: UInt32?

    @Option(help: ArgumentHelp("Show only tcp or udp connections.", valueName: "tcp|udp"))
    var proto: ConnectionType?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Show only connections with N as local or remote port.", valueName: "N"))
    var port: Int?

    func validate() throws {
        if let port, !(1...65535).contains(port) {
            throw ValidationError("--port must be between 1 and 65535 (got \(port))")
        }
    }

    func viewOptions(resolver: NetnsResolver) throws(NetTopError) -> ViewOptions {
        var view = ViewOptions(sort: sort, reverse: reverse, pid: pid, proto: proto)
        if let port { view.port = UInt16(port) }
        if let netns { view.netns = try resolver.inode(for: netns) }
        return view
    }
}
