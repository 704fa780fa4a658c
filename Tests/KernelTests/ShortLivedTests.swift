import Foundation
import XCTest

/// Connections that open, move bytes and close between two ticks must still be reported, once, with
/// `closed: true` and exact bytes.
final class ShortLivedTests: KernelTestCase {
    /// 50 ms; under software emulation (make vmtest), where everything is about twenty times slower, 250.
    private let shortLifeUs = underEmulation ? 250_000 : 50_000

    func testConnectionUnder50msIsReportedClosedWithExactBytes() throws {
        let nettop = try startNetTop()
        for (address, family) in [("127.0.0.1", "v4"), ("::1", "v6")] {
            let x = try tcpExchange(serverAddress: address, send: 10_000, reply: 10_000)
            XCTAssertLessThan(x.client.int("duration_us"), shortLifeUs, "the connection must live under 50 ms for this test to mean anything")
            let root = Namespace.root
            for row in expectedTCPRows(x, family: family, clientNs: root, serverNs: root, clientDirection: "local", serverDirection: "local") {
                if let r = assertRow(nettop, row) {
                    XCTAssertLessThanOrEqual(r.ticksSeen, 2, "\(row.what): a closed connection is listed once (seen \(r.ticksSeen) ticks)")
                }
            }
        }
    }

    func testThousandSequentialShortConnectionsAllReportedExactly() throws {
        let n = 1000
        // In a namespace of its own, where the client may not reuse a port of a connection in TIME_WAIT (on
        // loopback Linux does by default, tcp_tw_reuse=2, and 6.1 does it often): each connection is known by
        // its client port.
        let sandbox = makeSandbox()
        let ns = try sandbox.makeNamespace()
        try sandbox.run(in: ns, ["/usr/sbin/sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=0"])
        let nettop = try startNetTop()
        let server = try startPeer(["tcp-server", "--bind", "127.0.0.1", "--port", "0", "--count", "\(n)", "--send", "1000",
                                    "--timeout-ms", "60000"], in: ns)
        let port = try server.listeningPort()
        let client = try startPeer(["tcp-client", "--connect", "127.0.0.1", "--port", "\(port)", "--count", "\(n)",
                                    "--send", "2000", "--recv-expect", "1000", "--timeout-ms", "60000"], in: ns)
        try client.finish(timeout: 65)
        try server.finish(timeout: 65)
        let clientPorts = Set(client.events("tcp").map(\.lport))
        XCTAssertEqual(clientPorts.count, n)
        XCTAssertEqual(server.events("tcp").count, n)

        let root = ns.inode
        // Every connection: a client row (sent 2000, recv 1000) and a server row (the reverse), both seen closed.
        func missing(_ t: ObservedTable) -> (clients: [Int], servers: [Int]) {
            var exactClients = Set<Int>(), exactServers = Set<Int>()
            for r in t.find(type: "tcp", dport: port, netNs: root) where r.latest.sent == 2000 && r.latest.recv == 1000 && r.seenClosed {
                exactClients.insert(r.latest.sport)
            }
            for r in t.find(type: "tcp", sport: port, netNs: root) where r.latest.sent == 1000 && r.latest.recv == 2000 && r.seenClosed {
                exactServers.insert(r.latest.dport)
            }
            return (clientPorts.subtracting(exactClients).sorted(), clientPorts.subtracting(exactServers).sorted())
        }
        nettop.waitFor(timeout: 20) { let m = missing($0); return m.clients.isEmpty && m.servers.isEmpty }
        let m = missing(nettop.table)
        let t = nettop.table
        func sample(_ ports: [Int], server: Bool) -> String {
            ports.prefix(3).map { p in
                let rows = server ? t.find(type: "tcp", sport: port, dport: p, netNs: root) : t.find(type: "tcp", sport: p, dport: port, netNs: root)
                return "port \(p): " + (rows.isEmpty ? "no row" : rows.map(\.description).joined(separator: "; "))
            }.joined(separator: "\n  ")
        }
        XCTAssertTrue(m.clients.isEmpty, "\(m.clients.count) of \(n) client rows missing or inexact, e.g.\n  \(sample(m.clients, server: false))\nstats: \(t.lastStats.values)")
        XCTAssertTrue(m.servers.isEmpty, "\(m.servers.count) of \(n) server rows missing or inexact, e.g.\n  \(sample(m.servers, server: true))\nstats: \(t.lastStats.values)")
        // Host-wide: another program opening thousands of connections at the same time can make this fail too,
        // which is still nettop losing closed connections (the contract says it never does).
        XCTAssertEqual(t.maxStats["closed_lost"] ?? 0, 0, "stats.closed_lost: closed connections nettop lost during the test")
    }
}
