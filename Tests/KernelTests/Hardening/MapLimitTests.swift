import Foundation
import Glibc
import XCTest

/// --max-connections reached: what does not fit is counted (JSON stats and the batch header), nothing
/// crashes, and once tracked entries expire (--tcp-timeout) new connections are tracked again, exactly.
/// (ExpiryAndLimitTests checks the count at the limit; this is the rest of the story.)
final class MapLimitTests: KernelTestCase {
    func testFullMapCountsTheRestShowsItInTheHeaderAndResumesAfterExpiry() throws {
        let sandbox = makeSandbox()
        let ns = try sandbox.makeNamespace()
        let limit = 100, held = 300
        // The held entries must outlive the steps until the count while full is checked: 3 s is plenty on
        // real hardware, but under emulation (6.1, fentry) they once expired before the connection made
        // "while full" came, which was then tracked instead of counted.
        let tcpTimeout = Self.underEmulation ? 30 : 3
        let nettop = try startNetTop(["--max-connections", "\(limit)", "--tcp-timeout", "\(tcpTimeout)"])

        // 300 idle connections (600 socket ends) fill the map.
        let server = try startPeer(["many-server", "--bind", "127.0.0.1", "--port", "0", "--connections", "\(held)",
                                    "--timeout-ms", workBoundMs(120)], in: ns)
        let heldPort = try server.listeningPort()
        let client = try startPeer(["many", "--connect", "127.0.0.1", "--port", "\(heldPort)", "--connections", "\(held)",
                                    "--timeout-ms", workBoundMs(120)], in: ns)
        try client.waitFor("connected")
        try server.waitFor("accepted")
        let full = nettop.waitFor(timeout: rowTimeout) { t in
            (t.lastStats["tracked"] ?? 0) >= limit - 5 && (t.lastStats["map_full_drops"] ?? 0) > 0
        }
        XCTAssertTrue(full, "map never reported full: \(nettop.table.lastStats.values)")
        let dropsWhenFull = nettop.table.lastStats["map_full_drops"] ?? 0
        print("map limit: \(2 * held) held socket ends, limit \(limit): \(nettop.table.lastStats.values)")

        // While full: a new connection is not tracked, and it is counted.
        let whileFull = try tcpExchange(serverAddress: "127.0.0.1", serverNs: ns, clientNs: ns, send: 1111, reply: 222)
        nettop.waitTicks(5)
        let t1 = nettop.table
        XCTAssertGreaterThan(t1.lastStats["map_full_drops"] ?? 0, dropsWhenFull,
                             "a connection made while the map was full was not counted: \(t1.lastStats.values)")
        XCTAssertLessThanOrEqual(t1.lastStats["tracked"] ?? Int.max, limit)

        // The batch header of a second nettop started now says so: its start scan finds 600+ held ends.
        let batch = try startRawNetTop(["--batch", "--iterations", "2", "--interval", "0.3", "--max-connections", "\(limit)",
                                        "--port", "\(heldPort)"])
        XCTAssertEqual(batch.waitForExit(timeout: 90), 0, "batch: \(batch.stderr)")
        let headers = batch.lines.map { String(decoding: $0, as: UTF8.self) }.filter { $0.hasPrefix("nettop ") }
        XCTAssertEqual(headers.count, 2, "batch output:\n\(String(decoding: batch.output, as: UTF8.self).prefix(2000))")
        func number(after label: String, in line: String) -> Int? {
            line.range(of: label + " ").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) }
        }
        for header in headers {
            XCTAssertTrue((1...limit).contains(number(after: "tracked", in: header) ?? -1), "batch header: \(header)")
            XCTAssertGreaterThanOrEqual(number(after: "map-full drops", in: header) ?? 0, 2 * held - limit, "batch header: \(header)")
        }

        // Idle for the timeout, the tracked entries expire; a new exchange is then tracked with exact bytes.
        let expired = nettop.waitFor(timeout: workBound(30)) { ($0.lastStats["expired_tcp"] ?? 0) >= limit / 2 }
        XCTAssertTrue(expired, "tracked entries did not expire: \(nettop.table.lastStats.values)")
        let after = try tcpExchange(serverAddress: "127.0.0.1", serverNs: ns, clientNs: ns, send: 54_321, reply: 4_321)
        for row in expectedTCPRows(after, family: "v4", clientNs: ns, serverNs: ns, clientDirection: "local", serverDirection: "local") {
            assertRow(nettop, row)
        }
        // The one made while full was never shown with bytes it did not have.
        for r in nettop.table.find(type: "tcp", sport: whileFull.client.lport, dport: whileFull.serverPort, netNs: ns.inode) {
            XCTAssertTrue(r.latest.sent == 0 || r.latest.sent == 1111, "\(r)")
        }
        client.closeStdin()
        try client.finish(timeout: workBound(60))
        try server.finish(timeout: workBound(60))
        XCTAssertTrue(nettop.isRunning, "nettop: \(nettop.stderr)")
    }

    /// Each connection the full map leaves out is counted once, however many there are: 40,000 untracked
    /// socket ends (more than twice the 16,384 that the set remembering them used to hold, which then
    /// forgot every one before it came back), each doing I/O
    /// twice after it was first counted, add 40,000 drops less the few tracked, not one per event. The
    /// connections are spread over two client/server pairs of 10,000 (no process may hold more than
    /// RLIMIT_NOFILE's 20,000 descriptors here). Under emulation 9,000 a pair: 36,000 ends are still more than
    /// twice 16,384, and a tenth fewer closes to wait for.
    func testEachUntrackedConnectionIsCountedOnceBeyondSixteenThousand() throws {
        let limit = 16, pairs = 2, perPair = Self.underEmulation ? 9_000 : 10_000, ends = 2 * pairs * perPair
        let sandbox = makeSandbox()
        let ns = try sandbox.makeNamespace()
        // Namespace-local, gone with it: room for 10,000 connects at once (see LoadTests).
        try sandbox.run(in: ns, ["/usr/sbin/sysctl", "-q", "-w", "net.core.somaxconn=65535", "net.ipv4.tcp_max_syn_backlog=65535",
                                 "net.ipv4.ip_local_port_range=1024 65535"])
        let nettop = try startNetTop(["--max-connections", "\(limit)", "--port", "1"])
        nettop.waitTicks(1)
        let before = nettop.table.lastStats["map_full_drops"] ?? 0

        var servers: [PeerProcess] = [], clients: [PeerProcess] = []
        for _ in 0..<pairs {
            let server = try startPeer(["many-server", "--bind", "127.0.0.1", "--port", "0", "--connections", "\(perPair)",
                                        "--until-stdin-eof", "--timeout-ms", workBoundMs(180)], in: ns)
            servers.append(server)
            clients.append(try startPeer(["many", "--connect", "127.0.0.1", "--port", "\(try server.listeningPort())",
                                          "--connections", "\(perPair)", "--timeout-ms", workBoundMs(180)], in: ns))
        }
        for client in clients { try client.waitFor("connected", timeout: workBound(120)) }
        for server in servers { try server.waitFor("accepted", timeout: workBound(120)) }
        for round in 1...2 {
            for client in clients { client.send("send 1") }
            for client in clients { try client.waitFor("sent", count: round, timeout: workBound(60)) }
            nettop.waitTicks(2, timeout: workBound(30))
        }
        nettop.waitTicks(2, timeout: workBound(30))
        let stats = nettop.table.lastStats
        let added = (stats["map_full_drops"] ?? 0) - before
        print("map limit: \(ends) socket ends with --max-connections \(limit), each sending or receiving twice: "
              + "map_full_drops +\(added), tracked \(stats["tracked"] ?? -1)")
        XCTAssertGreaterThanOrEqual(added, ends - limit, "untracked socket ends not counted")
        // A little room for the host's own sockets that came and went meanwhile; counting again what was
        // forgotten would add tens of thousands.
        XCTAssertLessThanOrEqual(added, ends + 200, "untracked socket ends counted more than once")
        XCTAssertLessThanOrEqual(stats["tracked"] ?? Int.max, limit)

        // The servers stop waiting for their peers' closes when their stdin closes: under emulation, with
        // 18,000 client ends orphaned at once in a 2 GB guest, some hundreds of those closes never reached
        // the server (6.1, fentry backend), which then waited out its time limit. What was counted above is
        // all this test is about; how many closes were missing is printed.
        for client in clients { client.closeStdin() }
        for client in clients { try client.finish(timeout: workBound(200)) }
        for server in servers { server.closeStdin() }
        for server in servers { try server.finish(timeout: workBound(200)) }
        print("map limit: server ends whose peer's close never arrived: "
              + servers.map { "\($0.events("closed").first?.int("still_open") ?? -1)" }.joined(separator: ", "))
        XCTAssertTrue(nettop.isRunning, "nettop: \(nettop.stderr)")
    }
}
