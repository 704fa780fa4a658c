import Glibc

/// An IPv4 or IPv6 socket address; the literal decides the family.
struct SocketAddress: Hashable {
    var storage = sockaddr_storage()
    var length: socklen_t = 0

    var family: Int32 { Int32(storage.ss_family) }

    init(host: String, port: UInt16) throws {
        if host.contains(":") {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1 else {
                throw PeerError.usage("not an IPv6 address literal: \(host)")
            }
            withUnsafeMutableBytes(of: &storage) { dst in
                withUnsafeBytes(of: sin6) { dst.copyMemory(from: $0) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &sin.sin_addr) == 1 else {
                throw PeerError.usage("not an IPv4 address literal: \(host)")
            }
            withUnsafeMutableBytes(of: &storage) { dst in
                withUnsafeBytes(of: sin) { dst.copyMemory(from: $0) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
    }

    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    /// The local or remote address of a socket (getsockname / getpeername).
    static func of(_ fd: Int32, peer: Bool) throws -> SocketAddress {
        var st = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &st) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                if peer {
                    try sys("getpeername") { getpeername(fd, sa, &len) }
                } else {
                    try sys("getsockname") { getsockname(fd, sa, &len) }
                }
            }
        }
        return SocketAddress(storage: st, length: len)
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        try withUnsafePointer(to: storage) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, length) }
        }
    }

    var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            // sin_port and sin6_port sit at the same offset, network order.
            UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
        }
    }

    var host: String {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                _ = inet_ntop(AF_INET6, raw.baseAddress! + 8, &buf, socklen_t(buf.count))
            } else {
                _ = inet_ntop(AF_INET, raw.baseAddress! + 4, &buf, socklen_t(buf.count))
            }
        }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var description: String { family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    static func == (a: SocketAddress, b: SocketAddress) -> Bool { a.family == b.family && a.host == b.host && a.port == b.port }
    func hash(into h: inout Hasher) { h.combine(family); h.combine(host); h.combine(port) }
}
