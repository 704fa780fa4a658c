import Glibc

/// tcp-server: N connections one after another; read each to EOF, reply, close.
func runTCPServer(_ o: Options, _ deadline: Deadline) throws {
    let bindAddr = try SocketAddress(host: try o.string("bind"), port: try o.port())
    let count = try o.int("count", default: 1, min: 1)
    let reply = try o.int("send", default: 0)
    let backlog = try o.int("backlog", default: max(128, min(count, 4096)), min: 1)
    guard let call = StreamCall(rawValue: o.optionalString("api") ?? "send") else {
        throw PeerError.usage("tcp-server: --api must be send, write or sendfile")
    }
    let listener = try tcpListen(bindAddr, backlog: Int32(clamping: backlog))
    defer { close(listener) }
    var ready = JSONLine("listening")
    let bound = try SocketAddress.of(listener, peer: false)
    ready.add("local", bound.host); ready.add("lport", Int(bound.port))
    ready.emit()

    for _ in 0..<count {
        let fd = try tcpAccept(listener, deadline)
        defer { close(fd) }
        let local = try SocketAddress.of(fd, peer: false)
        let remote = try SocketAddress.of(fd, peer: true)
        let recvd = try readToEOF(fd, deadline, call: call)
        let sent = try sendAll(fd, count: reply, deadline, call: call)
        var line = JSONLine("tcp")
        line.add(local: local, remote: remote)
        line.add("recv", recvd); line.add("sent", sent)
        line.emit()
    }
}

/// tcp-client: N sequential connections, each writes exactly BYTES, half-closes, reads the reply to EOF.
func runTCPClient(_ o: Options, _ deadline: Deadline) throws {
    let remote = try SocketAddress(host: try o.string("connect"), port: try o.port())
    let bytes = try o.int("send")
    let expect = try o.optionalInt("recv-expect")
    let count = try o.int("count", default: 1, min: 1)
    let holdMs = try o.int("hold-ms", default: 0)
    let lingerMs = try o.int("sleep-before-close-ms", default: 0)
    let localBind = try o.localBinding(for: remote)
    guard let call = StreamCall(rawValue: o.optionalString("api") ?? "send") else {
        throw PeerError.usage("tcp-client: --api must be send, write or sendfile")
    }

    for i in 0..<count {
        let started = monotonicNanoseconds()
        let fd = try tcpConnect(remote, bindTo: localBind, deadline)
        defer { close(fd) }
        let local = try SocketAddress.of(fd, peer: false)
        if holdMs > 0 { try sleepMs(holdMs, deadline, "holding connection \(i + 1) before sending") }
        let sent = try sendAll(fd, count: bytes, deadline, call: call)
        try sys("shutdown(SHUT_WR)") { shutdown(fd, Int32(SHUT_WR)) }
        let recvd = try readToEOF(fd, deadline, call: call)
        if lingerMs > 0 { try sleepMs(lingerMs, deadline, "waiting before close") }
        var line = JSONLine("tcp")
        line.add(local: local, remote: remote)
        line.add("sent", sent); line.add("recv", recvd)
        line.add("duration_us", Int((monotonicNanoseconds() - started) / 1000))
        line.emit()
        if let expect, recvd != expect {
            throw PeerError.failed("connection \(i + 1) from port \(local.port): received \(recvd) bytes, expected \(expect)")
        }
    }
}
