import Glibc

/// One JSON object per line on stdout, written with a single write(2) so it is flushed at once,
/// also when stdout is a pipe.
struct JSONLine {
    private var fields: [String] = []

    init(_ event: String) {
        add("event", event)
        add("pid", Int(getpid()))
    }

    mutating func add(_ key: String, _ value: String) { fields.append("\"\(key)\":\"\(escape(value))\"") }
    mutating func add(_ key: String, _ value: Int) { fields.append("\"\(key)\":\(value)") }
    mutating func add(_ key: String, _ value: [Int]) {
        fields.append("\"\(key)\":[\(value.map(String.init).joined(separator: ","))]")
    }

    /// local/lport/remote/rport of a socket end.
    mutating func add(local: SocketAddress, remote: SocketAddress) {
        add("local", local.host); add("lport", Int(local.port))
        add("remote", remote.host); add("rport", Int(remote.port))
    }

    func emit() { writeLine(1, "{" + fields.joined(separator: ",") + "}") }

    private func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where c.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count) + String(c.value, radix: 16)
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

func writeLine(_ fd: Int32, _ line: String) {
    var bytes = Array((line + "\n").utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
        if n < 0 { if errno == EINTR { continue }; return }
        off += n
    }
}
