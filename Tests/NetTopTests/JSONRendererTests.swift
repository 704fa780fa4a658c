import Foundation
@testable import NetTop
import TracerCore
import XCTest

final class JSONRendererTests: XCTestCase {
    private func json(_ row: ConnectionStats) -> String {
        var out = JSONOutputBuffer()
        JSONRenderer.connection(row, into: &out)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    func testV4TCPRow() {
        XCTAssertEqual(json(Fixtures.tcpV4), #"""
            {"type":"tcp","family":"v4","source":"10.0.0.1","sport":43210,"dest":"93.184.216.34","dport":443,\#
            "direction":"outgoing","pid":1234,"comm":"curl","net_ns":4026531840,\#
            "monotonic_sent_bytes":1000000,"last_sent_bytes":250000,"monotonic_recv_bytes":2048,\#
            "last_recv_bytes":1024,"monotonic_retransmits":3,"last_retransmits":1,\#
            "last_update_epoch":1700000000,"closed":false,"conntrack":null}
            """#)
    }

    func testV6UDPRow() {
        XCTAssertEqual(json(Fixtures.udpV6), #"""
            {"type":"udp","family":"v6","source":"fd00::53","sport":53,"dest":"fd00::1:2","dport":40000,\#
            "direction":"incoming","pid":77,"comm":"dnsmasq","net_ns":4026532500,\#
            "monotonic_sent_bytes":512,"last_sent_bytes":512,"monotonic_recv_bytes":64,\#
            "last_recv_bytes":64,"monotonic_retransmits":0,"last_retransmits":0,\#
            "last_update_epoch":1700000001,"closed":false,"conntrack":null}
            """#)
    }

    func testClosedRow() {
        XCTAssertEqual(json(Fixtures.closedLocal), #"""
            {"type":"tcp","family":"v4","source":"127.0.0.1","sport":8080,"dest":"127.0.0.1","dport":50000,\#
            "direction":"local","pid":900,"comm":"server","net_ns":4026531840,\#
            "monotonic_sent_bytes":10,"last_sent_bytes":10,"monotonic_recv_bytes":20,\#
            "last_recv_bytes":20,"monotonic_retransmits":0,"last_retransmits":0,\#
            "last_update_epoch":1700000000,"closed":true,"conntrack":null}
            """#)
    }

    func testNATedRowCarriesConntrack() {
        XCTAssertEqual(json(Fixtures.nated), #"""
            {"type":"tcp","family":"v4","source":"172.17.0.2","sport":51000,"dest":"1.1.1.1","dport":443,\#
            "direction":"outgoing","pid":4321,"comm":"wget","net_ns":4026531840,\#
            "monotonic_sent_bytes":300,"last_sent_bytes":0,"monotonic_recv_bytes":5000,\#
            "last_recv_bytes":0,"monotonic_retransmits":0,"last_retransmits":0,\#
            "last_update_epoch":1700000000,"closed":false,\#
            "conntrack":{"repl_src_ip":"1.1.1.1","repl_sport":443,"repl_dst_ip":"192.168.1.10","repl_dport":61000}}
            """#)
    }

    func testHostileCommIsEscapedNeverRaw() {
        let line = JSONRenderer.render(Fixtures.snapshot([Fixtures.row(comm: Fixtures.hostileComm)]))
        XCTAssertTrue(line.contains(#""comm":"\u001b[2Jevil\u000aname\"\\""#), line)
        XCTAssertFalse(line.utf8.contains(0x1b))
        XCTAssertFalse(line.contains("\n"))
        let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        let rows = object?["connections"] as? [[String: Any]]
        XCTAssertEqual(rows?.first?["comm"] as? String, Fixtures.hostileComm)
    }

    func testEveryControlCharacterAndNonASCIIRoundTrips() {
        let name = String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }) + "\u{7f}é漢🙂"
        var out = JSONOutputBuffer()
        out.string(name)
        let text = String(decoding: out.bytes, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix(#""\u0000\u0001\u0002"#), text)
        XCTAssertTrue(text.hasSuffix(#"\u001f\u007fé漢🙂""#), text)
        let decoded = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) as? String
        XCTAssertEqual(decoded, name)
    }

    func testWholeLineShapeAndStatsKeys() {
        let line = JSONRenderer.render(Fixtures.snapshot([]))
        XCTAssertEqual(line, #"""
            {"timestamp":1700000000.5,"backend":"tracepoint","connections":[],"stats":{"tracked":42,\#
            "closed_received":7,"closed_lost":2,"map_full_drops":5,"expired_tcp":3,"expired_udp":4,\#
            "poll_ms":1.25,"tick_ms":2.5,"conntrack_resyncs":9,"conntrack_available":true,"closed_buffer_drops":1,\#
            "udp_peer_unknown":6,"syscall_context_full":8,"max_connections":65536,"conntrack_rejected":11,"conntrack_errors":12}}
            """#)
    }

    func testLineParsesBackWithFoundation() throws {
        let snapshot = Fixtures.snapshot([Fixtures.tcpV4, Fixtures.udpV6, Fixtures.closedLocal, Fixtures.nated])
        let line = JSONRenderer.render(snapshot)
        XCTAssertFalse(line.contains("\n"))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["timestamp", "backend", "connections", "stats"])
        XCTAssertEqual(object["timestamp"] as? Double, 1_700_000_000.5)
        XCTAssertEqual(object["backend"] as? String, "tracepoint")

        let stats = try XCTUnwrap(object["stats"] as? [String: Any])
        XCTAssertEqual(Set(stats.keys), [
            "tracked", "closed_received", "closed_lost", "map_full_drops", "expired_tcp", "expired_udp",
            "poll_ms", "tick_ms", "conntrack_resyncs", "conntrack_available", "closed_buffer_drops", "udp_peer_unknown",
            "syscall_context_full", "max_connections", "conntrack_rejected", "conntrack_errors",
        ])
        XCTAssertEqual(stats["tracked"] as? Int, 42)
        XCTAssertEqual(stats["closed_lost"] as? Int, 2)
        XCTAssertEqual(stats["map_full_drops"] as? Int, 5)
        XCTAssertEqual(stats["poll_ms"] as? Double, 1.25)
        XCTAssertEqual(stats["conntrack_available"] as? Bool, true)

        let rows = try XCTUnwrap(object["connections"] as? [[String: Any]])
        XCTAssertEqual(rows.count, 4)
        XCTAssertEqual(rows[0]["type"] as? String, "tcp")
        XCTAssertEqual(rows[0]["family"] as? String, "v4")
        XCTAssertEqual(rows[0]["sport"] as? Int, 43210)
        XCTAssertEqual(rows[0]["net_ns"] as? Int, 4_026_531_840)
        XCTAssertEqual(rows[0]["monotonic_sent_bytes"] as? Int, 1_000_000)
        XCTAssertEqual(rows[0]["last_sent_bytes"] as? Int, 250_000)
        XCTAssertEqual(rows[0]["monotonic_retransmits"] as? Int, 3)
        XCTAssertEqual(rows[0]["closed"] as? Bool, false)
        XCTAssertTrue(rows[0]["conntrack"] is NSNull)
        XCTAssertEqual(rows[1]["family"] as? String, "v6")
        XCTAssertEqual(rows[1]["dest"] as? String, "fd00::1:2")
        XCTAssertEqual(rows[1]["direction"] as? String, "incoming")
        XCTAssertEqual(rows[2]["closed"] as? Bool, true)
        XCTAssertEqual(rows[2]["direction"] as? String, "local")
        let nat = try XCTUnwrap(rows[3]["conntrack"] as? [String: Any])
        XCTAssertEqual(nat["repl_src_ip"] as? String, "1.1.1.1")
        XCTAssertEqual(nat["repl_sport"] as? Int, 443)
        XCTAssertEqual(nat["repl_dst_ip"] as? String, "192.168.1.10")
        XCTAssertEqual(nat["repl_dport"] as? Int, 61000)
    }

    /// Every number of up to six digits, and each power of ten and its neighbours up to 2^64 - 1, as Swift
    /// prints them; and literal pieces of every length from 0 to 40 bytes copied whole (the writer copies
    /// eight bytes at a time and the last eight overlapping).
    func testEveryDigitCountAndPieceLengthIsWrittenExactly() {
        var values = Array(UInt64(0)...999_999)
        var power: UInt64 = 1
        for _ in 0..<19 {
            power *= 10
            values += [power - 1, power, power + 1]
        }
        values.append(.max)
        var out = JSONOutputBuffer()
        for v in values {
            out.uint(v)
            out.raw(",")
        }
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), values.map { "\($0)," }.joined())

        let text = String((0..<40).map { Character(UnicodeScalar(UInt8(65 + $0 % 26))) })
        for n in 0...40 {
            var piece = JSONOutputBuffer()
            piece.string(String(text.prefix(n)))
            XCTAssertEqual(String(decoding: piece.bytes, as: UTF8.self), "\"\(text.prefix(n))\"", "length \(n)")
        }
    }

    func testNumbersAtTheirLimits() {
        var out = JSONOutputBuffer()
        out.uint(UInt64.max)
        out.raw(",")
        out.uint(UInt8(0))
        out.raw(",")
        out.double(.nan)
        out.raw(",")
        out.double(-0.5)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "18446744073709551615,0,0,-0.5")
    }

    /// The contract's busiest case. About 0.15 s in a release build; the bound is loose because tests run
    /// unoptimised on a shared machine, and is there to catch an accidentally quadratic encoder.
    func testHundredThousandRowsRenderQuickly() throws {
        var rows: [ConnectionStats] = []
        for i in 0..<100_000 {
            let port = UInt16(1024 + i % 60000), pid = UInt32(i), sent = UInt64(i)
            rows.append(Fixtures.row(sport: port, pid: pid, sent: sent, recv: sent * 2))
        }
        let bytes = JSONRenderer.renderBytes(Fixtures.snapshot(rows))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        XCTAssertEqual((object["connections"] as? [Any])?.count, 100_000)
    }

    /// `--json` hands a tick's line to stdout in pieces: put together they are the line and its newline,
    /// every piece but the last at least the chunk size, and a reader that went away stops the rest.
    func testLineWrittenInPiecesIsTheWholeLine() {
        let snapshot = Fixtures.snapshot((0..<50).map { Fixtures.row(sport: UInt16(1000 + $0)) })
        var pieces: [[UInt8]] = []
        JSONRenderer.write(snapshot, chunkBytes: 1000) { pieces.append(Array($0)); return true }
        XCTAssertGreaterThan(pieces.count, 5)
        XCTAssertTrue(pieces.dropLast().allSatisfy { $0.count >= 1000 }, pieces.map(\.count).description)
        XCTAssertEqual(Array(pieces.joined()), JSONRenderer.renderBytes(snapshot) + [UInt8(ascii: "\n")])

        var calls = 0
        JSONRenderer.write(snapshot, chunkBytes: 1000) { _ in calls += 1; return false }
        XCTAssertEqual(calls, 1, "nothing more after the reader went away")
    }
}

final class JSONAddressTests: XCTestCase {
    /// The hand-written IPv6 writer must print exactly what `IPAddress.description` prints.
    func testIPv6TextMatchesIPAddressDescription() {
        let samples = ["::", "::1", "fd00::53", "fd00::1:2", "2001:db8::", "2001:db8:0:0:1:0:0:1", "1:0:0:2:0:0:0:3",
                       "fe80::1:0:0:0", "1:2:3:4:5:6:7:8", "0:1:0:1:0:1:0:1", "ffff:ffff::ffff", "1::2:3:4:5:6:7",
                       "abcd:ef01:2345:6789:abcd:ef01:2345:6789", "64:ff9b::a00:1"]
        for text in samples {
            let ip = IPAddress(text)!
            var out = JSONOutputBuffer()
            out.address(ip)
            XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "\"\(ip.description)\"", text)
        }
        var out = JSONOutputBuffer()
        out.address(IPAddress("::ffff:10.1.2.3")!)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "\"10.1.2.3\"")
    }

    /// Every octet value in every place of an IPv4 address, and the widest address (15 characters).
    func testIPv4TextMatchesIPAddressDescription() {
        var out = JSONOutputBuffer(capacity: 0)
        var expected = ""
        for v in 0...255 {
            let o = UInt8(v), p = UInt8(255 - v)
            for ip in [IPAddress(v4: o, p, o, p), IPAddress(v4: p, o, p, o), IPAddress(v4: o, 0, 9, o)] {
                out.address(ip)
                expected += "\"\(ip.description)\""
            }
        }
        out.address(IPAddress(v4: 255, 255, 255, 255))
        expected += "\"255.255.255.255\""
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), expected)
        XCTAssertTrue(expected.contains("\"100.155.100.155\"") && expected.contains("\"9.0.9.9\""))
    }
}
