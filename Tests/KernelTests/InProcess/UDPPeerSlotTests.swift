import Foundation
import Glibc
import XCTest
@testable import TracerCore

/// The cgroup hooks leave an unconnected UDP datagram's peer in the sending or receiving thread's slot
/// (tracepoint backend). With a single slot for every thread (a test setting) most concurrent datagrams
/// find the slot held by another thread and go to the spill map: every peer's row must still have its
/// exact counts, and no datagram may lose its peer. Other backends read the peer from the call itself and
/// must give the same rows.
final class UDPPeerSlotTests: XCTestCase {
    private static let sendersPerReceiver = 2
    private static let datagrams = 3_000

    func testThreadsSharingOnePeerSlotKeepEveryPeersExactCounts() throws {
        var config = TracerConfig()
        config.peerSlots = 1
        config.useBTF = !TestBackend.noBTF
        if let name = TestBackend.backend, let backend = TracerConfig.Backend(rawValue: name) {
            config.backend = backend
        }
        let tracer = try Tracers.open(config: config)
        defer { tracer.close() }
        _ = try tracer.tick(client: "t")

        let receivers = (0..<2).map { _ in UDPLoopback.bound() }
        defer { receivers.forEach { close($0) } }
        let senders = receivers.flatMap { _ in (0..<Self.sendersPerReceiver).map { _ in UDPLoopback.bound() } }
        defer { senders.forEach { close($0) } }
        // A size of its own for each sender: a datagram credited to the wrong peer changes a row's bytes.
        let size = Dictionary(uniqueKeysWithValues: senders.enumerated().map { (UDPLoopback.port($1), 100 + 37 * $0) })

        let received = Locked([UInt16: Int]())
        let group = DispatchGroup()
        for (r, rx) in receivers.enumerated() {
            let expected = Self.sendersPerReceiver * Self.datagrams
            group.enter()
            Thread.detachNewThread { [group] in
                var tally: [UInt16: Int] = [:]
                for _ in 0..<expected {
                    guard let (port, bytes) = UDPLoopback.receive(rx) else { break } // 1 s without a datagram
                    tally[port, default: 0] += bytes
                }
                received.update { $0.merge(tally, uniquingKeysWith: +) }
                group.leave()
            }
            for s in 0..<Self.sendersPerReceiver {
                let tx = senders[r * Self.sendersPerReceiver + s]
                let to = UDPLoopback.port(rx), bytes = size[UDPLoopback.port(tx)]!
                group.enter()
                Thread.detachNewThread { [group] in
                    for _ in 0..<Self.datagrams {
                        XCTAssertEqual(UDPLoopback.send(tx, bytes: bytes, to: to), bytes)
                    }
                    group.leave()
                }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success, "the UDP threads did not finish")

        let snapshot = try tracer.tick(client: "t")
        let rows = snapshot.connections.filter { $0.tuple.type == .udp }
        func row(_ sport: UInt16, _ dport: UInt16) -> ConnectionStats? {
            rows.first { $0.tuple.sport == sport && $0.tuple.dport == dport }
        }
        let got = received.value
        for (r, rx) in receivers.enumerated() {
            for s in 0..<Self.sendersPerReceiver {
                let tx = UDPLoopback.port(senders[r * Self.sendersPerReceiver + s]), rxPort = UDPLoopback.port(rx)
                XCTAssertEqual(row(tx, rxPort)?.monotonicSentBytes, UInt64(Self.datagrams * size[tx]!),
                               "sender \(tx) to receiver \(rxPort)")
                XCTAssertGreaterThan(got[tx] ?? 0, 0, "receiver \(rxPort) got nothing from \(tx)")
                XCTAssertEqual(row(rxPort, tx)?.monotonicRecvBytes, UInt64(got[tx] ?? 0),
                               "receiver \(rxPort) from sender \(tx)")
            }
        }
        XCTAssertEqual(snapshot.stats.udpPeerUnknown, 0, "datagrams whose peer was lost")
        let ours = Set((receivers + senders).map(UDPLoopback.port))
        XCTAssertEqual(rows.filter { ours.contains($0.tuple.sport) && $0.tuple.dport == 0 }.count, 0, "rows without a peer")
    }
}

/// A value shared by threads behind a lock.
private final class Locked<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}

/// Unconnected IPv4 UDP sockets on 127.0.0.1 for in-process tests.
private enum UDPLoopback {
    static func bound() -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = address(port: 0)
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var buffer: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func address(port: UInt16) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        return addr
    }

    static func port(_ fd: Int32) -> UInt16 { LoopbackSockets.localPort(fd) }

    static func send(_ fd: Int32, bytes: Int, to port: UInt16) -> Int {
        var addr = address(port: port)
        let payload = [UInt8](repeating: 0x42, count: bytes)
        return withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, bytes, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    /// The sender's port and the datagram's size; nil after a second without one.
    static func receive(_ fd: Int32) -> (UInt16, Int)? {
        var buffer = [UInt8](repeating: 0, count: 2048)
        var from = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = withUnsafeMutablePointer(to: &from) { f in
            f.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &length) }
        }
        return n > 0 ? (UInt16(bigEndian: from.sin_port), n) : nil
    }
}
