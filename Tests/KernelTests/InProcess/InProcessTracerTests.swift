import Glibc
import XCTest
@testable import TracerCore

/// The tracer loaded in this process, against traffic this process makes on loopback: the kernel layer
/// (load, attach, map dump, ring buffer, close) without the command line in between.
final class InProcessTracerTests: XCTestCase {
    func testLoopbackTCPExactBytesAndCloseEvent() throws {
        let tracer = try Tracers.open(config: TracerConfig())
        defer { tracer.close() }
        _ = try tracer.tick(client: "t")

        let (lfd, port) = LoopbackSockets.listener()
        defer { close(lfd) }
        let client = LoopbackSockets.connect(port: port)
        let server = accept(lfd, nil, nil)
        XCTAssertGreaterThanOrEqual(server, 0)
        let clientPort = LoopbackSockets.localPort(client)

        let writer = Thread { LoopbackSockets.writeAll(client, count: 300_000); shutdown(client, Int32(SHUT_WR)) }
        writer.start()
        XCTAssertEqual(LoopbackSockets.readAll(server), 300_000)
        LoopbackSockets.writeAll(server, count: 4_321)
        close(server)
        XCTAssertEqual(LoopbackSockets.readAll(client), 4_321)
        close(client)

        var rows: [ConnectionStats] = []
        for _ in 0..<20 {
            usleep(100_000)
            rows += try tracer.tick(client: "t").connections.filter { $0.tuple.type == .tcp && ($0.tuple.sport == clientPort || $0.tuple.dport == clientPort) }
            if rows.filter(\.closed).count == 2 { break }
        }
        let closedRows = rows.filter(\.closed)
        XCTAssertEqual(closedRows.count, 2, "both ends reported closed once: \(rows)")
        let clientRow = try XCTUnwrap(closedRows.first { $0.tuple.sport == clientPort })
        let serverRow = try XCTUnwrap(closedRows.first { $0.tuple.dport == clientPort })
        XCTAssertEqual(clientRow.monotonicSentBytes, 300_000)
        XCTAssertEqual(clientRow.monotonicRecvBytes, 4_321)
        XCTAssertEqual(serverRow.monotonicSentBytes, 4_321)
        XCTAssertEqual(serverRow.monotonicRecvBytes, 300_000)
        XCTAssertEqual(clientRow.direction, .local)
        XCTAssertEqual(clientRow.pid, UInt32(getpid()))
        XCTAssertEqual(serverRow.pid, UInt32(getpid()))
    }

    /// After the first tick only the entries the kernel marked as changed are read: a connection that
    /// moves bytes is seen with its exact counts every tick, an idle one keeps its counts, and no tick
    /// after the first reads the whole map.
    func testTicksAfterTheFirstReadOnlyChangedEntriesAndMissNothing() throws {
        let tracer = try Tracers.open(config: TracerConfig())
        defer { tracer.close() }
        _ = try tracer.tick(client: "t")

        let (lfd, port) = LoopbackSockets.listener()
        defer { close(lfd) }
        let busy = LoopbackSockets.connect(port: port), busyPeer = accept(lfd, nil, nil)
        let idle = LoopbackSockets.connect(port: port), idlePeer = accept(lfd, nil, nil)
        defer { [busy, busyPeer, idle, idlePeer].forEach { close($0) } }
        let busyPort = LoopbackSockets.localPort(busy), idlePort = LoopbackSockets.localPort(idle)
        LoopbackSockets.writeAll(idle, count: 777)
        XCTAssertEqual(LoopbackSockets.readAll(idlePeer, limit: 777), 777)

        var sent = 0
        var last: Snapshot?
        for step in 1...6 {
            LoopbackSockets.writeAll(busy, count: step * 1000)
            XCTAssertEqual(LoopbackSockets.readAll(busyPeer, limit: step * 1000), step * 1000)
            sent += step * 1000
            let snapshot = try tracer.tick(client: "t")
            let busyRow = try XCTUnwrap(snapshot.connections.first { $0.tuple.type == .tcp && $0.tuple.sport == busyPort },
                                        "tick \(step)")
            let idleRow = try XCTUnwrap(snapshot.connections.first { $0.tuple.type == .tcp && $0.tuple.sport == idlePort })
            XCTAssertEqual(busyRow.monotonicSentBytes, UInt64(sent), "tick \(step)")
            XCTAssertEqual(busyRow.lastSentBytes, step == 1 ? UInt64(sent) : UInt64(step * 1000), "tick \(step)")
            XCTAssertEqual(idleRow.monotonicSentBytes, 777, "tick \(step)")
            XCTAssertEqual(idleRow.lastSentBytes, step == 1 ? 777 : 0, "tick \(step)")
            last = snapshot
        }
        XCTAssertEqual(last?.stats.wholeMapReads, 1, "only the first tick read the whole map")
    }

    /// With a ring of changed keys too small for a tick's changes (4 KB: about a hundred keys), the kernel
    /// counts the keys it could not queue and the next tick reads the whole map: every connection is
    /// still shown with its exact counts.
    func testAnOverflowOfChangedKeysFallsBackToReadingTheWholeMap() throws {
        var config = TracerConfig()
        config.dirtyRingBytes = 4096
        let tracer = try Tracers.open(config: config)
        defer { tracer.close() }
        _ = try tracer.tick(client: "t")
        _ = try tracer.tick(client: "t")
        let before = try tracer.tick(client: "t").stats.wholeMapReads

        let (lfd, port) = LoopbackSockets.listener()
        defer { close(lfd) }
        var pairs: [(client: Int32, server: Int32, port: UInt16)] = []
        defer { pairs.forEach { close($0.client); close($0.server) } }
        for _ in 0..<300 {
            let client = LoopbackSockets.connect(port: port)
            let server = accept(lfd, nil, nil)
            XCTAssertGreaterThanOrEqual(server, 0)
            pairs.append((client, server, LoopbackSockets.localPort(client)))
        }
        for (n, pair) in pairs.enumerated() {
            LoopbackSockets.writeAll(pair.client, count: 100 + n)
            XCTAssertEqual(LoopbackSockets.readAll(pair.server, limit: 100 + n), 100 + n)
        }
        let snapshot = try tracer.tick(client: "t")
        XCTAssertGreaterThan(snapshot.stats.wholeMapReads, before, "the lost keys made the tick read the whole map")
        let sentByPort = Dictionary(snapshot.connections.filter { $0.tuple.type == .tcp }.map { ($0.tuple.sport, $0.monotonicSentBytes) },
                                    uniquingKeysWith: { a, _ in a })
        for (n, pair) in pairs.enumerated() {
            XCTAssertEqual(sentByPort[pair.port], UInt64(100 + n), "connection \(n)")
        }
    }
}
