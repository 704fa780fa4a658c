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
}
