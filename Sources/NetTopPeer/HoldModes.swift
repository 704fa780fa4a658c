import Glibc

/// Reads commands from stdin, a line at a time: "send N", "close". Reports EOF.
private struct StdinCommands {
    private var pending: [UInt8] = []
    private(set) var eof = false

    /// Reads what stdin has (call after poll says it is readable); returns the complete lines.
    mutating func read() -> [String] {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = Glibc.read(0, &buf, buf.count)
        if n <= 0 {
            if n < 0 && errno == EINTR { return [] }
            eof = true
            return []
        }
        pending += buf[0..<n]
        var lines: [String] = []
        while let nl = pending.firstIndex(of: 10) {
            lines.append(String(decoding: pending[..<nl], as: UTF8.self))
            pending.removeSubrange(...nl)
        }
        return lines
    }
}

/// Keeps `fd` open: counts what arrives, obeys stdin commands. Ends at the peer's EOF, at stdin's EOF or
/// "close" (when `stopOnStdinEOF`), or after `holdMs`. Returns (sent, recv, peerClosed).
private func holdOpen(_ fd: Int32, holdMs: Int?, stopOnStdinEOF: Bool, _ deadline: Deadline) throws -> (Int, Int, Bool) {
    var sent = 0, recvd = 0
    var stdin = StdinCommands()
    let watchStdin = holdMs == nil
    let holdEnd = holdMs.map { monotonicNanoseconds() + UInt64($0) * 1_000_000 }
    while true {
        if let holdEnd, monotonicNanoseconds() >= holdEnd { return (sent, recvd, false) }
        try deadline.check("holding a connection open (\(sent) sent, \(recvd) received)")
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        if watchStdin && !stdin.eof { fds.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
        var wait = deadline.remainingMs
        if let holdEnd {
            let now = monotonicNanoseconds()
            wait = min(wait, Int32(clamping: holdEnd > now ? (holdEnd - now) / 1_000_000 + 1 : 0))
        }
        let r = poll(&fds, nfds_t(fds.count), wait)
        if r < 0 { if errno == EINTR { continue }; throw PeerError.system("poll", errno) }
        if r == 0 { continue }
        if fds[0].revents != 0 {
            guard let n = try readAvailable(fd) else { return (sent, recvd, true) }
            recvd += n
        }
        if fds.count > 1 && fds[1].revents != 0 {
            for cmd in stdin.read() {
                let words = cmd.split(separator: " ")
                if words.first == "send", words.count == 2, let n = Int(words[1]), n >= 0 {
                    sent += try sendAll(fd, count: n, deadline)
                } else if words.first == "close" {
                    return (sent, recvd, false)
                } else if !words.isEmpty {
                    writeLine(2, "nettop-peer: ignoring stdin command '\(cmd)' (expected 'send N' or 'close')")
                }
            }
            if stdin.eof && stopOnStdinEOF { return (sent, recvd, false) }
        }
    }
}

/// hold: one client connection held open, for "existed before nettop started".
func runHold(_ o: Options, _ deadline: Deadline) throws {
    let remote = try SocketAddress(host: try o.string("connect"), port: try o.port())
    let holdMs = try o.optionalInt("hold-ms")
    let fd = try tcpConnect(remote, bindTo: try o.localBinding(for: remote), deadline)
    defer { close(fd) }
    let local = try SocketAddress.of(fd, peer: false)
    var line = JSONLine("connected")
    line.add(local: local, remote: remote)
    line.emit()
    var (sent, recvd, peerClosed) = try holdOpen(fd, holdMs: holdMs, stopOnStdinEOF: true, deadline)
    try sys("shutdown(SHUT_WR)") { shutdown(fd, Int32(SHUT_WR)) }
    if !peerClosed { recvd += try readToEOF(fd, deadline) }
    var done = JSONLine("closed")
    done.add(local: local, remote: remote)
    done.add("sent", sent); done.add("recv", recvd)
    done.emit()
}

/// hold-server: accepts one connection and keeps it until the peer closes.
func runHoldServer(_ o: Options, _ deadline: Deadline) throws {
    let bindAddr = try SocketAddress(host: try o.string("bind"), port: try o.port())
    let listener = try tcpListen(bindAddr, backlog: 16)
    let bound = try SocketAddress.of(listener, peer: false)
    var ready = JSONLine("listening")
    ready.add("local", bound.host); ready.add("lport", Int(bound.port))
    ready.emit()
    let fd = try tcpAccept(listener, deadline)
    close(listener)
    defer { close(fd) }
    let local = try SocketAddress.of(fd, peer: false)
    let remote = try SocketAddress.of(fd, peer: true)
    var line = JSONLine("accepted")
    line.add(local: local, remote: remote)
    line.emit()
    let (sent, recvd, _) = try holdOpen(fd, holdMs: nil, stopOnStdinEOF: false, deadline)
    var done = JSONLine("closed")
    done.add(local: local, remote: remote)
    done.add("sent", sent); done.add("recv", recvd)
    done.emit()
}

/// many: N concurrent connections held open (for --max-connections).
func runMany(_ o: Options, _ deadline: Deadline) throws {
    let remote = try SocketAddress(host: try o.string("connect"), port: try o.port())
    let n = try o.int("connections", min: 1, max: 100_000)
    let holdMs = try o.optionalInt("hold-ms")
    try raiseFileLimit(to: n + 64)
    var fds: [Int32] = []
    defer { for fd in fds { close(fd) } }
    // Start them all, then wait for each: the server's backlog holds the ones it has not accepted yet.
    for _ in 0..<n { fds.append(try startConnect(remote, bindTo: nil)) }
    var lports: [Int] = []
    for fd in fds {
        try finishConnect(fd, remote, deadline)
        lports.append(Int(try SocketAddress.of(fd, peer: false).port))
    }
    var line = JSONLine("connected")
    line.add("remote", remote.host); line.add("rport", Int(remote.port))
    line.add("count", n); line.add("lports", lports)
    line.emit()
    if let holdMs {
        try sleepMs(holdMs, deadline, "holding \(n) connections")
    } else {
        var stdin = StdinCommands()
        while !stdin.eof {
            try waitReady(0, Int16(POLLIN), deadline, "holding \(n) connections until stdin closes")
            for cmd in stdin.read() {
                let words = cmd.split(separator: " ")
                guard words.first == "send", words.count == 2, let bytes = Int(words[1]), bytes >= 0 else {
                    if !words.isEmpty { writeLine(2, "nettop-peer: ignoring stdin command '\(cmd)' (expected 'send N')") }
                    continue
                }
                for fd in fds { _ = try sendAll(fd, count: bytes, deadline) }
                var sent = JSONLine("sent")
                sent.add("count", n); sent.add("bytes", bytes)
                sent.emit()
            }
        }
    }
    for fd in fds { close(fd) }
    fds = []
    var done = JSONLine("closed")
    done.add("count", n)
    done.emit()
}

/// many-server: accepts N connections and holds each until its peer closes.
func runManyServer(_ o: Options, _ deadline: Deadline) throws {
    let bindAddr = try SocketAddress(host: try o.string("bind"), port: try o.port())
    let n = try o.int("connections", min: 1, max: 100_000)
    try raiseFileLimit(to: n + 64)
    let listener = try tcpListen(bindAddr, backlog: Int32(clamping: n))
    let bound = try SocketAddress.of(listener, peer: false)
    var ready = JSONLine("listening")
    ready.add("local", bound.host); ready.add("lport", Int(bound.port))
    ready.emit()
    var fds: [Int32] = []
    defer { for fd in fds where fd >= 0 { close(fd) } }
    while fds.count < n { fds.append(try tcpAccept(listener, deadline)) }
    close(listener)
    var line = JSONLine("accepted")
    line.add("count", n)
    line.emit()
    // Stdin last in the poll set when it may end the wait (fd -1, which poll skips, otherwise).
    let watchStdin = o.has("until-stdin-eof")
    var stdin = StdinCommands()
    var open = n
    while open > 0 && !stdin.eof {
        try deadline.check("holding connections (\(open) of \(n) still open)")
        var pfds = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        pfds.append(pollfd(fd: watchStdin ? 0 : -1, events: Int16(POLLIN), revents: 0))
        let r = poll(&pfds, nfds_t(pfds.count), deadline.remainingMs)
        if r < 0 { if errno == EINTR { continue }; throw PeerError.system("poll", errno) }
        if pfds[n].revents != 0 { _ = stdin.read() }
        for (i, p) in pfds.prefix(n).enumerated() where p.fd >= 0 && p.revents != 0 {
            if try readAvailable(p.fd) == nil {
                close(p.fd)
                fds[i] = -1
                open -= 1
            }
        }
        // Each poll looks at every descriptor: when the peers close one by one, wait a moment so that one
        // pass takes many closes (otherwise 10,000 closes cost 10,000 passes over 10,000 descriptors, which
        // took minutes under emulation).
        if r > 0 && open > 0 && !stdin.eof { usleep(5_000) }
    }
    var done = JSONLine("closed")
    done.add("count", n)
    done.add("still_open", open)
    done.emit()
}
