import Foundation
import XCTest

/// The test side's reading of `nettop --json` (no kernel involved): the fast scanner must agree with
/// JSONSerialization on every field of the contract, and keep up with thousands of rows a tick.
final class NDJSONDecodingTests: XCTestCase {
    private func row(_ i: Int, conntrack: String = "null", comm: String = "nettop-peer") -> String {
        """
        {"type":"\(i % 2 == 0 ? "tcp" : "udp")","family":"v6","source":"0:0:0:0:0:0:0:1","sport":\(i),"dest":"::1","dport":443,\
        "direction":"outgoing","pid":\(1000 + i),"comm":"\(comm)","net_ns":4026531833,"monotonic_sent_bytes":\(i * 1000),\
        "last_sent_bytes":\(i),"monotonic_recv_bytes":123457,"last_recv_bytes":0,"monotonic_retransmits":3,\
        "last_retransmits":1,"last_update_epoch":1795330044.5,"closed":\(i % 3 == 0),"conntrack":\(conntrack)}
        """
    }

    private func tick(_ rows: [String]) -> String {
        #"{"timestamp":1795330044.784112,"backend":"tracepoint","connections":["# + rows.joined(separator: ",")
            + #"],"stats":{"tracked":7,"closed_received":2,"poll_ms":0.66,"conntrack_available":true,"extra":{"a":1}}}"#
    }

    func testScannerAgreesWithJSONSerialization() throws {
        let line = tick([
            row(1), row(2, conntrack: #"{"repl_src_ip":"10.0.0.1","repl_sport":80,"repl_dst_ip":"10.0.0.2","repl_dport":4000}"#),
            row(3, comm: #"we\"ird\\ \u00e9"#),
        ])
        let fast = try XCTUnwrap(TickScanner.tick(line), "the scanner read the line")
        let data = try XCTUnwrap(line.data(using: .utf8))
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let slow = try XCTUnwrap((obj["connections"] as? [[String: Any]])?.compactMap(ObservedConnection.init))
        XCTAssertEqual(fast.connections.count, 3)
        XCTAssertEqual(fast.timestamp, 1795330044.784112, accuracy: 1e-6)
        XCTAssertEqual(fast.backend, "tracepoint")
        XCTAssertEqual(fast.stats["tracked"], 7)
        XCTAssertEqual(fast.stats["closed_received"], 2)
        XCTAssertNil(fast.stats.values["conntrack_available"], "booleans are not counters")
        for (a, b) in zip(fast.connections, slow) {
            XCTAssertEqual(a.description, b.description)
            XCTAssertEqual(a.key, b.key)
        }
        XCTAssertEqual(fast.connections[0].source, "::1", "addresses are canonical")
        XCTAssertEqual(fast.connections[2].comm, "we\"ird\\ é")
        XCTAssertEqual(fast.connections[1].conntrack, ["repl_src_ip": "10.0.0.1", "repl_sport": "80", "repl_dst_ip": "10.0.0.2", "repl_dport": "4000"])
        XCTAssertNil(fast.connections[0].conntrack)
        XCTAssertEqual(fast.connections[2].closed, true)
        XCTAssertEqual(fast.connections[0].sent, 1000)
    }

    func testMalformedLineIsNotATick() {
        XCTAssertNil(ObservedTick(line: #"{"timestamp":1,"connections":[{"type":"tcp""#))
        XCTAssertNil(ObservedTick(line: "nettop: something on stdout that is not JSON"))
    }

    func testThousandsOfRowsAreRead() throws {
        let t = try XCTUnwrap(ObservedTick(line: tick((0..<3000).map { row($0) })))
        XCTAssertEqual(t.connections.count, 3000)
        XCTAssertEqual(t.connections.map(\.sport), Array(0..<3000))
    }
}
