import Glibc

// nettop-peer: generates known TCP and UDP traffic for nettop's kernel tests (see `usageText`).

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.isEmpty || arguments.contains("--help") || arguments.contains("-h") || arguments.first == "help" {
    writeLine(arguments.isEmpty ? 2 : 1, usageText)
    exit(arguments.isEmpty ? 64 : 0)
}

signal(SIGPIPE, SIG_IGN)
prepareBuffers()

do {
    let options = try Options(arguments)
    let timeoutMs = try options.int("timeout-ms", default: 10_000, min: 1, max: 3_600_000)
    let deadline = Deadline(milliseconds: timeoutMs)
    // A last resort should a bug ever escape the poll() bounds: SIGALRM ends the process.
    alarm(UInt32(timeoutMs / 1000 + 5))
    switch options.mode {
    case "tcp-server": try runTCPServer(options, deadline)
    case "tcp-client": try runTCPClient(options, deadline)
    case "udp-server": try runUDPServer(options, deadline)
    case "udp-client": try runUDPClient(options, deadline)
    case "hold": try runHold(options, deadline)
    case "hold-server": try runHoldServer(options, deadline)
    case "many": try runMany(options, deadline)
    case "many-server": try runManyServer(options, deadline)
    default: throw PeerError.usage("unknown mode '\(options.mode)'")
    }
    exit(0)
} catch let error as PeerError {
    writeLine(2, "nettop-peer: \(error.message)")
    exit(error.exitStatus)
} catch {
    writeLine(2, "nettop-peer: \(error)")
    exit(1)
}
