import Glibc

/// What one peer of the UDP server exchanged with it.
private struct PeerCount {
    var recv = 0, sent = 0, datagramsRecv = 0, datagramsSent = 0
}

/// udp-server: an unconnected socket that serves whoever sends, counting per peer.
func runUDPServer(_ o: Options, _ deadline: Deadline) throws {
    let bindAddr = try SocketAddress(host: try o.string("bind"), port: try o.port())
    let expected = try o.int("expect-datagrams", min: 1)
    let echo = o.has("echo")
    let holdMs = try o.int("hold-ms", default: 0)
    guard let recvCall = RecvCall(rawValue: o.optionalString("api") ?? "recvfrom"), recvCall != .recv else {
        throw PeerError.usage("udp-server: --api must be recvfrom, recvmsg or recvmmsg")
    }
    let sendCall: SendCall = recvCall == .recvmsg ? .sendmsg : recvCall == .recvmmsg ? .sendmmsg : .sendto

    let fd = try newSocket(family: bindAddr.family, type: SOCK_DGRAM)
    defer { close(fd) }
    try setReuseAddr(fd)
    try bindSocket(fd, bindAddr)
    let bound = try SocketAddress.of(fd, peer: false)
    var ready = JSONLine("listening")
    ready.add("local", bound.host); ready.add("lport", Int(bound.port))
    ready.emit()

    let io = DatagramIO(fd: fd)
    var peers: [SocketAddress: PeerCount] = [:]
    var order: [SocketAddress] = []
    var received = 0
    while received < expected {
        let batch = try io.receive(max: expected - received, call: recvCall, deadline,
                                   "waiting for datagrams (\(received) of \(expected) received)")
        for d in batch {
            guard let p = d.peer else { continue }
            if peers[p] == nil { order.append(p) }
            peers[p, default: PeerCount()].recv += d.size
            peers[p, default: PeerCount()].datagramsRecv += 1
        }
        received += batch.count
        if echo {
            try io.send(batch, call: sendCall, deadline)
            for d in batch {
                guard let p = d.peer else { continue }
                peers[p, default: PeerCount()].sent += d.size
                peers[p, default: PeerCount()].datagramsSent += 1
            }
        }
    }
    for p in order {
        let c = peers[p]!
        var line = JSONLine("udp-peer")
        line.add(local: bound, remote: p)
        line.add("recv", c.recv); line.add("sent", c.sent)
        line.add("datagrams_recv", c.datagramsRecv); line.add("datagrams_sent", c.datagramsSent)
        line.emit()
    }
    if holdMs > 0 { try sleepMs(holdMs, deadline, "holding the socket open") }
}

/// udp-client: N datagrams of S bytes to one server, optionally waiting for their echoes.
func runUDPClient(_ o: Options, _ deadline: Deadline) throws {
    let remote = try SocketAddress(host: try o.string("connect"), port: try o.port())
    let count = try o.int("datagrams", min: 1)
    let size = try o.int("size", min: 0, max: 65_000)
    let connected = o.has("connected")
    let echo = o.has("echo")
    let intervalMs = try o.int("interval-ms", default: 0)
    let holdMs = try o.int("hold-ms", default: 0)
    guard let sendCall = SendCall(rawValue: o.optionalString("api") ?? (connected ? "send" : "sendto")) else {
        throw PeerError.usage("udp-client: --api must be send, sendto, sendmsg or sendmmsg")
    }
    if sendCall == .send && !connected { throw PeerError.usage("udp-client: --api send needs --connected") }
    let defaultRecv: RecvCall = [.send: .recv, .sendto: .recvfrom, .sendmsg: .recvmsg, .sendmmsg: .recvmmsg][sendCall]!
    guard let recvCall = RecvCall(rawValue: o.optionalString("recv-api") ?? defaultRecv.rawValue) else {
        throw PeerError.usage("udp-client: --recv-api must be recv, recvfrom, recvmsg or recvmmsg")
    }

    let fd = try newSocket(family: remote.family, type: SOCK_DGRAM)
    defer { close(fd) }
    if let local = try o.localBinding(for: remote) { try bindSocket(fd, local) }
    if connected {
        _ = try remote.withSockaddr { sa, len in try sys("connect \(remote.description)") { connect(fd, sa, len) } }
    }
    let io = DatagramIO(fd: fd)
    let one = Datagram(peer: connected ? nil : remote, size: size)
    if sendCall == .sendmmsg || intervalMs == 0 {
        try io.send(Array(repeating: one, count: count), call: sendCall, deadline)
    } else {
        for i in 0..<count {
            if i > 0 { try sleepMs(intervalMs, deadline, "pausing between datagrams") }
            try io.send([one], call: sendCall, deadline)
        }
    }
    var recvBytes = 0, recvDatagrams = 0
    if echo {
        while recvDatagrams < count {
            let batch = try io.receive(max: count - recvDatagrams, call: recvCall, deadline,
                                       "waiting for echoes (\(recvDatagrams) of \(count) received)")
            recvDatagrams += batch.count
            recvBytes += batch.reduce(0) { $0 + $1.size }
        }
    }
    let local = try SocketAddress.of(fd, peer: false)
    var line = JSONLine("udp")
    line.add(local: local, remote: remote)
    line.add("sent", count * size); line.add("recv", recvBytes)
    line.add("datagrams_sent", count); line.add("datagrams_recv", recvDatagrams)
    line.emit()
    if holdMs > 0 { try sleepMs(holdMs, deadline, "holding the socket open") }
}
