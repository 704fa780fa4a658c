import Glibc

/// The send and receive calls a UDP peer can be told to use, so the tests cover each path the tracer hooks.
enum SendCall: String { case send, sendto, sendmsg, sendmmsg }
enum RecvCall: String { case recv, recvfrom, recvmsg, recvmmsg }

/// sendmmsg/recvmmsg and struct mmsghdr are hidden behind _GNU_SOURCE, which the Glibc module does not set,
/// so they are looked up at run time and the structs are laid out by hand (x86-64 / aarch64: a 56-byte
/// msghdr followed by the u32 msg_len, 64-byte stride).
private typealias SendMMsgFn = @convention(c) (Int32, UnsafeMutableRawPointer?, UInt32, Int32) -> Int32
private typealias RecvMMsgFn = @convention(c) (Int32, UnsafeMutableRawPointer?, UInt32, Int32, UnsafeMutablePointer<timespec>?) -> Int32
private let mmsgStride = 64
private let msgLenOffset = MemoryLayout<msghdr>.size

private func lookup(_ name: String) throws -> UnsafeMutableRawPointer {
    guard let sym = dlsym(nil, name) else { throw PeerError.failed("\(name) not found in the C library") }
    return sym
}

let maxDatagram = 65_536
let batchLimit = 64

/// One datagram to send or one that was received: the peer (nil when the socket is connected) and its size.
struct Datagram {
    var peer: SocketAddress?
    var size: Int
}

/// Buffers for up to `batchLimit` datagrams, reused for every call.
final class DatagramIO {
    let fd: Int32
    private let names = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: batchLimit)
    private let iovs = UnsafeMutablePointer<iovec>.allocate(capacity: batchLimit)
    private let buffers = UnsafeMutableRawPointer.allocate(byteCount: batchLimit * maxDatagram, alignment: 16)
    private let mmsgs = UnsafeMutableRawPointer.allocate(byteCount: batchLimit * mmsgStride, alignment: 16)

    init(fd: Int32) {
        self.fd = fd
        memset(buffers, 0x5a, batchLimit * maxDatagram)
        memset(mmsgs, 0, batchLimit * mmsgStride)
        names.initialize(repeating: sockaddr_storage(), count: batchLimit)
        iovs.initialize(repeating: iovec(), count: batchLimit)
    }

    deinit {
        names.deallocate(); iovs.deallocate(); buffers.deallocate(); mmsgs.deallocate()
    }

    /// Fills header `i` for one datagram of `size` bytes to/from `peer` (nil: no address, connected socket).
    private func header(_ i: Int, size: Int, peer: SocketAddress?, receiving: Bool) -> msghdr {
        iovs[i] = iovec(iov_base: buffers + i * maxDatagram, iov_len: size)
        var h = msghdr()
        if receiving {
            h.msg_name = UnsafeMutableRawPointer(names + i)
            h.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
        } else if let peer {
            names[i] = peer.storage
            h.msg_name = UnsafeMutableRawPointer(names + i)
            h.msg_namelen = peer.length
        }
        h.msg_iov = iovs + i
        h.msg_iovlen = 1
        return h
    }

    /// Sends every datagram, waiting for room as needed; returns when all are sent.
    func send(_ datagrams: [Datagram], call: SendCall, _ deadline: Deadline) throws {
        var next = 0
        while next < datagrams.count {
            try waitReady(fd, Int16(POLLOUT), deadline, "sending datagram \(next + 1) of \(datagrams.count)")
            let d = datagrams[next]
            let flags = Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)
            var n: Int
            switch call {
            case .send:
                n = Glibc.send(fd, buffers, d.size, flags)
                if n >= 0 { n = 1 }
            case .sendto:
                if let p = d.peer {
                    n = p.withSockaddr { sa, len in sendto(fd, buffers, d.size, flags, sa, len) }
                } else {
                    n = sendto(fd, buffers, d.size, flags, nil, 0)
                }
                if n >= 0 { n = 1 }
            case .sendmsg:
                var h = header(0, size: d.size, peer: d.peer, receiving: false)
                n = sendmsg(fd, &h, flags)
                if n >= 0 { n = 1 }
            case .sendmmsg:
                let batch = min(batchLimit, datagrams.count - next)
                for j in 0..<batch {
                    let dj = datagrams[next + j]
                    let h = header(j, size: dj.size, peer: dj.peer, receiving: false)
                    (mmsgs + j * mmsgStride).storeBytes(of: h, as: msghdr.self)
                }
                let fn = unsafeBitCast(try lookup("sendmmsg"), to: SendMMsgFn.self)
                n = Int(fn(fd, mmsgs, UInt32(batch), flags))
            }
            if n < 0 {
                let err = errno
                if err == EINTR || err == EAGAIN || err == ENOBUFS { continue }
                throw PeerError.system(call.rawValue, err)
            }
            next += n
        }
    }

    /// Waits for at least one datagram, then receives up to `max` of them with the chosen call.
    func receive(max: Int, call: RecvCall, _ deadline: Deadline, _ doing: @autoclosure () -> String) throws -> [Datagram] {
        while true {
            try waitReady(fd, Int16(POLLIN), deadline, doing())
            let flags = Int32(MSG_DONTWAIT)
            var nameLen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            var result: [Datagram] = []
            var err: Int32 = 0
            switch call {
            case .recv:
                let n = recv(fd, buffers, maxDatagram, flags)
                if n >= 0 { result = [Datagram(peer: nil, size: n)] } else { err = errno }
            case .recvfrom:
                let n = UnsafeMutableRawPointer(names).withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, buffers, maxDatagram, flags, $0, &nameLen)
                }
                if n >= 0 { result = [Datagram(peer: SocketAddress(storage: names[0], length: nameLen), size: n)] } else { err = errno }
            case .recvmsg:
                var h = header(0, size: maxDatagram, peer: nil, receiving: true)
                let n = recvmsg(fd, &h, flags)
                if n >= 0 { result = [Datagram(peer: SocketAddress(storage: names[0], length: h.msg_namelen), size: n)] } else { err = errno }
            case .recvmmsg:
                let batch = Swift.max(1, Swift.min(batchLimit, max))
                for j in 0..<batch {
                    let h = header(j, size: maxDatagram, peer: nil, receiving: true)
                    (mmsgs + j * mmsgStride).storeBytes(of: h, as: msghdr.self)
                }
                let fn = unsafeBitCast(try lookup("recvmmsg"), to: RecvMMsgFn.self)
                let n = fn(fd, mmsgs, UInt32(batch), flags, nil)
                if n >= 0 {
                    for j in 0..<Int(n) {
                        let h = (mmsgs + j * mmsgStride).load(as: msghdr.self)
                        let len = (mmsgs + j * mmsgStride + msgLenOffset).load(as: UInt32.self)
                        result.append(Datagram(peer: SocketAddress(storage: names[j], length: h.msg_namelen), size: Int(len)))
                    }
                } else { err = errno }
            }
            if err == 0 { return result }
            if err == EINTR || err == EAGAIN { continue }
            throw PeerError.system(call.rawValue, err)
        }
    }
}
