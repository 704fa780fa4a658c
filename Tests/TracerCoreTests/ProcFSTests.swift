import Foundation
import XCTest
@testable import TracerCore
#if canImport(Glibc)
import Glibc
#endif

/// ProcFS against this machine's live /proc: sockets the test opens itself must be found with their
/// ports, the test's own pid and comm, and the test's network namespace inode.
final class ProcFSTests: XCTestCase {
    private var fds: [Int32] = []

    override func tearDown() {
        for fd in fds { close(fd) }
        fds = []
    }

    // MARK: - Socket helpers (plain Glibc)

    private func socketFD(_ family: Int32, _ type: Int32) -> Int32 {
        let fd = socket(family, type, 0)
        precondition(fd >= 0, "socket: \(errno)")
        fds.append(fd)
        return fd
    }

    private func loopback(_ family: Int32, port: UInt16) -> sockaddr_storage {
        var ss = sockaddr_storage()
        withUnsafeMutableBytes(of: &ss) { raw in
            if family == AF_INET {
                var sin = sockaddr_in()
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_port = port.bigEndian
                sin.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
                withUnsafeBytes(of: &sin) { raw.copyMemory(from: $0) }
            } else {
                var sin6 = sockaddr_in6()
                sin6.sin6_family = sa_family_t(AF_INET6)
                sin6.sin6_port = port.bigEndian
                sin6.sin6_addr = in6addr_loopback
                withUnsafeBytes(of: &sin6) { raw.copyMemory(from: $0) }
            }
        }
        return ss
    }

    private func length(_ family: Int32) -> socklen_t {
        socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
    }

    private func bindTo(_ fd: Int32, _ family: Int32, port: UInt16 = 0) {
        var ss = loopback(family, port: port)
        let rc = withUnsafePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length(family)) } }
        precondition(rc == 0, "bind: \(errno)")
    }

    private func connectTo(_ fd: Int32, _ family: Int32, port: UInt16) {
        var ss = loopback(family, port: port)
        let rc = withUnsafePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length(family)) } }
        precondition(rc == 0, "connect: \(errno)")
    }

    private func localPort(_ fd: Int32) -> UInt16 {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        precondition(rc == 0)
        return withUnsafeBytes(of: &ss) { UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self)) }
    }

    private func inode(_ fd: Int32) -> UInt64 {
        var st = stat()
        precondition(fstat(fd, &st) == 0)
        return UInt64(st.st_ino)
    }

    private func listener(_ family: Int32) -> (fd: Int32, port: UInt16) {
        let fd = socketFD(family, Int32(SOCK_STREAM.rawValue))
        bindTo(fd, family)
        precondition(listen(fd, 16) == 0)
        return (fd, localPort(fd))
    }

    /// A connected loopback pair: (client fd, client port, accepted fd).
    private func pair(_ family: Int32, to port: UInt16, listener: Int32) -> (client: Int32, port: UInt16, server: Int32) {
        let c = socketFD(family, Int32(SOCK_STREAM.rawValue))
        connectTo(c, family, port: port)
        let s = accept(listener, nil, nil)
        precondition(s >= 0)
        fds.append(s)
        return (c, localPort(c), s)
    }

    private var ownNetns: UInt32 {
        var st = stat()
        precondition(stat("/proc/self/ns/net", &st) == 0)
        return UInt32(st.st_ino)
    }

    private var ownComm: String {
        (try! String(contentsOfFile: "/proc/self/comm", encoding: .utf8)).trimmingCharacters(in: .newlines)
    }

    private func tuple(_ type: ConnectionType, _ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16,
                       ns: UInt32? = nil) -> ConnectionTuple {
        ConnectionTuple(type: type, netns: ns ?? ownNetns, source: IPAddress(src)!, sport: sport,
                        dest: IPAddress(dst)!, dport: dport)
    }

    // MARK: - Tests

    func testNamespacesAndComm() {
        let fs = ProcFS()
        let ns = fs.namespaces()
        XCTAssertEqual(fs.ownNetns(), ownNetns)
        XCTAssertNotNil(ns[ownNetns])
        XCTAssertEqual(fs.comm(pid: getpid()), ownComm)
        XCTAssertEqual(fs.comm(pid: UInt32(getpid())), ownComm)
        // comm is the executable's name cut to 15 bytes.
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).lastPathComponent
        XCTAssertEqual(ownComm, String(decoding: Array(exe.utf8.prefix(15)), as: UTF8.self))
        XCTAssertNil(fs.comm(pid: Int32.max))
        XCTAssertEqual(fs.comm(pid: 1)?.isEmpty, false)
        let missing = ProcFS(root: "/nonexistent-proc-root")
        XCTAssertTrue(missing.namespaces().isEmpty)
        XCTAssertTrue(missing.socketOwners().isEmpty)
        XCTAssertEqual(missing.scan(now: 1).seeds.count, 0)
    }

    func testScanFindsOwnSocketsWithPidCommAndNetns() {
        let l4 = listener(AF_INET)
        let p4 = pair(AF_INET, to: l4.port, listener: l4.fd)
        let l6 = listener(AF_INET6)
        let p6 = pair(AF_INET6, to: l6.port, listener: l6.fd)
        let udpServer = socketFD(AF_INET, Int32(SOCK_DGRAM.rawValue))
        bindTo(udpServer, AF_INET)
        let udpPort = localPort(udpServer)
        let udpClient = socketFD(AF_INET, Int32(SOCK_DGRAM.rawValue))
        connectTo(udpClient, AF_INET, port: udpPort)
        let udpClientPort = localPort(udpClient)

        let fs = ProcFS()
        let scan = fs.scan(now: 42)
        let me = UInt32(getpid())
        XCTAssertEqual(scan.malformedLines, 0)
        XCTAssertNotNil(scan.namespaces[ownNetns])
        XCTAssertGreaterThan(scan.durationMs, 0)

        let wanted: [(ConnectionTuple, UInt8)] = [
            (tuple(.tcp, "127.0.0.1", p4.port, "127.0.0.1", l4.port), 1),
            (tuple(.tcp, "127.0.0.1", l4.port, "127.0.0.1", p4.port), 1),
            (tuple(.tcp, "::1", p6.port, "::1", l6.port), 1),
            (tuple(.tcp, "::1", l6.port, "::1", p6.port), 1),
            (tuple(.udp, "127.0.0.1", udpClientPort, "127.0.0.1", udpPort), 0),
        ]
        for (t, state) in wanted {
            let s = scan.seeds.first { $0.tuple == t }
            XCTAssertNotNil(s, "\(t) not found")
            XCTAssertEqual(s?.pid, me)
            XCTAssertEqual(s?.comm, ownComm)
            XCTAssertEqual(s?.tuple.netns, ownNetns)
            XCTAssertEqual(s?.tcpState, state)
            XCTAssertEqual(s?.firstSeen, 42)
            XCTAssertEqual(s?.lastActivity, 42)
            XCTAssertEqual(s?.sentBytes, 0)
            XCTAssertNil(s?.kernelKey)
        }
        func listens(_ type: ConnectionType, _ port: UInt16) -> Bool {
            scan.listening.contains { $0.type == type && $0.netns == ownNetns && $0.port == port }
        }
        XCTAssertTrue(listens(.tcp, l4.port))
        XCTAssertTrue(listens(.tcp, l6.port))
        XCTAssertTrue(listens(.udp, udpPort))
        XCTAssertFalse(listens(.tcp, p4.port))
        XCTAssertFalse(listens(.udp, udpClientPort))

        // The same through the tuple-returning entry point, with options.
        let noV6 = fs.initialState(now: 7, collectTCP: true, collectUDP: false, collectIPv6: false)
        XCTAssertTrue(noV6.seeds.contains { $0.tuple == wanted[0].0 && $0.pid == me })
        XCTAssertFalse(noV6.seeds.contains { $0.tuple == wanted[2].0 })
        XCTAssertFalse(noV6.seeds.contains { $0.tuple.type == .udp })
        XCTAssertFalse(noV6.listening.contains { $0.type == .udp })

        // Socket owners: every fd of ours, found by its inode.
        let owners = fs.socketOwners()
        for fd in [l4.fd, p4.client, p4.server, l6.fd, udpServer, udpClient] {
            XCTAssertEqual(owners[inode(fd)]?.pid, me)
            XCTAssertEqual(owners[inode(fd)]?.comm, ownComm)
        }
        let only = fs.socketOwners(only: [inode(p4.client)])
        XCTAssertEqual(only.count, 1)
        XCTAssertEqual(only[inode(p4.client)]?.pid, me)
    }

    func testTimeWaitIsNotASeed() {
        let l = listener(AF_INET)
        let p = pair(AF_INET, to: l.port, listener: l.fd)
        // Active close from the client, then the server: the client end goes to TIME_WAIT.
        close(p.client)
        close(p.server)
        fds.removeAll { $0 == p.client || $0 == p.server }
        usleep(100_000)
        let fs = ProcFS()
        let rows = fs.netTables(pid: getpid()).entries
        let row = rows.first { $0.type == .tcp && $0.localPort == p.port && $0.remotePort == l.port }
        XCTAssertEqual(row?.state, TCPStateNumber.timeWait)
        XCTAssertEqual(row?.inode, 0)
        let scan = fs.scan(now: 1)
        XCTAssertFalse(scan.seeds.contains { $0.tuple.sport == p.port && $0.tuple.dport == l.port })
        XCTAssertTrue(scan.listening.contains { $0.type == .tcp && $0.port == l.port && $0.netns == ownNetns })
    }

    /// A named namespace (`ip netns add`) that no process is in, holding a listener this process made from
    /// a thread that entered it: found by name, read by entering it.
    func testNamedNamespaceWithoutProcesses() throws {
        let name = "nettop-procfs-\(getpid())"
        XCTAssertEqual(run("ip", "netns", "add", name), 0)
        defer { _ = run("ip", "netns", "del", name) }
        var st = stat()
        XCTAssertEqual(stat("/run/netns/\(name)", &st), 0)
        let nsInode = UInt32(st.st_ino)
        XCTAssertNotEqual(nsInode, ownNetns)

        let made = try XCTUnwrap(socketsInside(namespaceFile: "/run/netns/\(name)"))
        fds += [made.tcp, made.udp]
        let tcpPort = localPort(made.tcp), udpPort = localPort(made.udp)

        let fs = ProcFS()
        XCTAssertEqual(fs.netnsNames()[nsInode], name)
        XCTAssertNil(fs.namespaces()[nsInode])  // no process is in it
        let scan = fs.scan(now: 5)
        XCTAssertEqual(scan.namespaces[nsInode], 0)
        XCTAssertTrue(scan.listening.contains { $0.type == .tcp && $0.netns == nsInode && $0.port == tcpPort })
        XCTAssertTrue(scan.listening.contains { $0.type == .udp && $0.netns == nsInode && $0.port == udpPort })
        XCTAssertFalse(scan.listening.contains { $0.netns == ownNetns && $0.port == tcpPort && $0.type == .tcp })
    }

    // MARK: - Helpers

    @discardableResult
    private func run(_ args: String...) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    private final class Made {
        let path: String
        var tcp: Int32 = -1
        var udp: Int32 = -1
        init(path: String) { self.path = path }
    }

    /// Makes a TCP listener and a bound UDP socket on 0.0.0.0 in the namespace, from a helper thread.
    private func socketsInside(namespaceFile: String) -> (tcp: Int32, udp: Int32)? {
        let made = Made(path: namespaceFile)
        let context = Unmanaged.passRetained(made).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let made = Unmanaged<Made>.fromOpaque(raw!).takeRetainedValue()
            typealias Setns = @convention(c) (Int32, Int32) -> Int32
            guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { return nil }
            let setns = unsafeBitCast(sym, to: Setns.self)
            let nsfd = open(made.path, O_RDONLY)
            guard nsfd >= 0, setns(nsfd, 0x4000_0000) == 0 else { return nil }
            close(nsfd)
            var any = sockaddr_in()
            any.sin_family = sa_family_t(AF_INET)
            for type in [Int32(SOCK_STREAM.rawValue), Int32(SOCK_DGRAM.rawValue)] {
                let fd = socket(AF_INET, type, 0)
                let ok = withUnsafePointer(to: &any) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                guard fd >= 0, ok == 0 else { return nil }
                if type == Int32(SOCK_STREAM.rawValue) {
                    guard listen(fd, 4) == 0 else { return nil }
                    made.tcp = fd
                } else {
                    made.udp = fd
                }
            }
            return nil
        }, context)
        guard rc == 0 else { Unmanaged<Made>.fromOpaque(context).release(); return nil }
        pthread_join(thread, nil)
        return made.tcp >= 0 && made.udp >= 0 ? (made.tcp, made.udp) : nil
    }
}
