import TracerCore

/// The `f` prompt's little language: `pid N`, `port N`, `tcp` | `udp` (or `proto tcp`), `netns NAME|INODE`,
/// `host ADDR`, in any order; an empty expression shows everything. It sets the same filters as the
/// command-line flags, and the prompt opens with the current ones written out, to be edited.
struct FilterExpression: Equatable, Sendable {
    var netns: UInt32?
    var pid: UInt32?
    var proto: ConnectionType?
    var port: UInt16?
    var host: IPAddress?

    /// Parses `text`; a problem comes back as one sentence for the key bar.
    static func parse(_ text: String, netnsNames: [UInt32: String]) -> Result<FilterExpression, ParseError> {
        var result = FilterExpression()
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)[...]
        while let word = words.popFirst() {
            switch word.lowercased() {
            case "tcp": result.proto = .tcp
            case "udp": result.proto = .udp
            case "proto":
                guard let value = words.popFirst(), let proto = ConnectionType(rawValue: value.lowercased()) else {
                    return .failure(ParseError("proto needs tcp or udp"))
                }
                result.proto = proto
            case "pid":
                guard let value = words.popFirst(), let pid = UInt32(value) else {
                    return .failure(ParseError("pid needs a process id"))
                }
                result.pid = pid
            case "port":
                guard let value = words.popFirst(), let port = UInt16(value), port > 0 else {
                    return .failure(ParseError("port needs a number from 1 to 65535"))
                }
                result.port = port
            case "netns":
                guard let value = words.popFirst() else { return .failure(ParseError("netns needs a name or an inode")) }
                if let inode = UInt32(value) {
                    result.netns = inode
                } else if let inode = netnsNames.first(where: { $0.value == value })?.key {
                    result.netns = inode
                } else {
                    return .failure(ParseError("no network namespace named '\(TerminalSafeText.sanitize(value))' is in view"))
                }
            case "host":
                guard let value = words.popFirst(), let address = IPAddress(value) else {
                    return .failure(ParseError("host needs an IPv4 or IPv6 address"))
                }
                result.host = address
            default:
                return .failure(ParseError("unknown filter '\(TerminalSafeText.sanitize(word))': use pid, port, tcp, udp, netns or host"))
            }
        }
        return .success(result)
    }

    /// The filters of `state` as an expression this parser reads back.
    static func text(of state: ViewState, netnsNames: [UInt32: String]) -> String {
        var words: [String] = []
        if let pid = state.view.pid { words.append("pid \(pid)") }
        if let port = state.view.port { words.append("port \(port)") }
        if let proto = state.view.proto { words.append(proto.rawValue) }
        if let netns = state.view.netns {
            // A name with a blank would not read back; the inode always does.
            let name = netnsNames[netns].flatMap { $0.contains(" ") ? nil : $0 }
            words.append("netns \(name ?? String(netns))")
        }
        if let host = state.host { words.append("host \(host)") }
        return words.joined(separator: " ")
    }

    struct ParseError: Error, Equatable, Sendable {
        var message: String
        init(_ message: String) { self.message = message }
    }
}
