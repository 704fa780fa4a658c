import Glibc

/// Socket plumbing shared by the modes. Every socket is non-blocking and every wait is a poll() bounded
/// by the run's deadline. Payload moves through send()/recv() (the calls a tracer sees), in chunks.

let chunkSize = 64 * 1024

func newSocket(family: Int32, type: __socket_type) throws -> Int32 {
    let flags = Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    return try sys("socket") { socket(family, Int32(type.rawValue) | flags, 0) }
}

func setReuseAddr(_ fd: Int32) throws {
    var one: Int32 = 1
    try sys("setsockopt(SO_REUSEADDR)") {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}

func bindSocket(_ fd: Int32, _ addr: SocketAddress) throws {
    _ = try addr.withSockaddr { sa, len in
        try sys("bind \(addr.description)") { bind(fd, sa, len) }
    }
}

func tcpListen(_ addr: SocketAddress, backlog: Int32) throws -> Int32 {
    let fd = try newSocket(family: addr.family, type: SOCK_STREAM)
    try setReuseAddr(fd)
    try bindSocket(fd, addr)
    try sys("listen") { listen(fd, backlog) }
    return fd
}

/// accept4 is hidden behind _GNU_SOURCE in the Glibc module; it is what servers call, so look it up.
private typealias Accept4Fn = @convention(c) (Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32) -> Int32

func tcpAccept(_ listener: Int32, _ deadline: Deadline) throws -> Int32 {
    guard let sym = dlsym(nil, "accept4") else { throw PeerError.failed("accept4 not found in the C library") }
    let accept4 = unsafeBitCast(sym, to: Accept4Fn.self)
    while true {
        try waitReady(listener, Int16(POLLIN), deadline, "waiting for a connection")
        let fd = accept4(listener, nil, nil, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
        if fd >= 0 { return fd }
        let err = errno
        if err == EINTR || err == EAGAIN || err == ECONNABORTED { continue }
        throw PeerError.system("accept4", err)
    }
}

/// Starts a non-blocking connect; the caller finishes it with `finishConnect`.
func startConnect(_ remote: SocketAddress, bindTo local: SocketAddress?) throws -> Int32 {
    let fd = try newSocket(family: remote.family, type: SOCK_STREAM)
    if let local { try bindSocket(fd, local) }
    let r = remote.withSockaddr { sa, len in connect(fd, sa, len) }
    if r < 0 && errno != EINPROGRESS && errno != EINTR {
        let err = errno
        close(fd)
        throw PeerError.system("connect \(remote.description)", err)
    }
    return fd
}

func finishConnect(_ fd: Int32, _ remote: SocketAddress, _ deadline: Deadline) throws {
    try waitReady(fd, Int16(POLLOUT), deadline, "connecting to \(remote.description)")
    var err: Int32 = 0
    var len = socklen_t(MemoryLayout<Int32>.size)
    try sys("getsockopt(SO_ERROR)") { getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) }
    if err != 0 { throw PeerError.system("connect \(remote.description)", err) }
}

func tcpConnect(_ remote: SocketAddress, bindTo local: SocketAddress?, _ deadline: Deadline) throws -> Int32 {
    let fd = try startConnect(remote, bindTo: local)
    do { try finishConnect(fd, remote, deadline) } catch { close(fd); throw error }
    return fd
}

/// The payload (its content does not matter, only its length) and the receive buffer: allocated once, and
/// touched before any connection starts (`prepareBuffers`), so a short connection's life is all I/O.
/// The peer is single-threaded, hence nonisolated(unsafe).
nonisolated(unsafe) let sendBuffer: UnsafeMutableRawPointer = {
    let p = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 16)
    memset(p, 0x6e, chunkSize)
    return p
}()
nonisolated(unsafe) let recvBuffer: UnsafeMutableRawPointer = {
    let p = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 16)
    memset(p, 0, chunkSize)
    return p
}()

func prepareBuffers() {
    _ = sendBuffer
    _ = recvBuffer
}

/// How a TCP peer moves its payload: send/recv, write/read, or sendfile (from a temporary file) and recv.
enum StreamCall: String { case send, write, sendfile }

/// The file sendfile reads from: one chunk of payload, unlinked at once (tmpfile), opened on first use.
nonisolated(unsafe) let sendfileSource: Int32 = {
    guard let f = tmpfile() else { return -1 }
    let fd = dup(fileno(f))
    fclose(f)
    var off = 0
    while off < chunkSize {
        let n = pwrite(fd, sendBuffer + off, chunkSize - off, off_t(off))
        if n <= 0 { return -1 }
        off += n
    }
    return fd
}()

/// Writes exactly `count` bytes, looping over partial writes.
func sendAll(_ fd: Int32, count: Int, _ deadline: Deadline, call: StreamCall = .send) throws -> Int {
    if call == .sendfile && sendfileSource < 0 { throw PeerError.failed("cannot create the file sendfile reads from") }
    var sent = 0
    while sent < count {
        try waitReady(fd, Int16(POLLOUT), deadline, "sending (\(sent) of \(count) bytes sent)")
        let len = min(chunkSize, count - sent)
        let n: Int
        switch call {
        case .send: n = send(fd, sendBuffer, len, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
        case .write: n = write(fd, sendBuffer, len)
        case .sendfile:
            var offset: off_t = 0
            n = Glibc.sendfile(fd, sendfileSource, &offset, len)
        }
        if n < 0 {
            let err = errno
            if err == EINTR || err == EAGAIN { continue }
            throw PeerError.system(call.rawValue, err)
        }
        sent += n
    }
    return sent
}

/// Reads until the peer's FIN; returns the byte count. `.write` reads with read(), the others with recv().
func readToEOF(_ fd: Int32, _ deadline: Deadline, call: StreamCall = .send) throws -> Int {
    var total = 0
    while true {
        try waitReady(fd, Int16(POLLIN), deadline, "reading to EOF (\(total) bytes so far)")
        let n = call == .write ? read(fd, recvBuffer, chunkSize) : recv(fd, recvBuffer, chunkSize, Int32(MSG_DONTWAIT))
        if n == 0 { return total }
        if n < 0 {
            let err = errno
            if err == EINTR || err == EAGAIN { continue }
            throw PeerError.system(call == .write ? "read" : "recv", err)
        }
        total += n
    }
}

/// Reads whatever is available without blocking; returns nil at EOF.
func readAvailable(_ fd: Int32) throws -> Int? {
    var total = 0
    while true {
        let n = recv(fd, recvBuffer, chunkSize, Int32(MSG_DONTWAIT))
        if n == 0 { return total > 0 ? total : nil }
        if n < 0 {
            let err = errno
            if err == EINTR { continue }
            if err == EAGAIN { return total }
            if err == ECONNRESET { return total > 0 ? total : nil }
            throw PeerError.system("recv", err)
        }
        total += n
    }
}
