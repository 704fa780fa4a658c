import XCTest

/// Idle UDP flows expire after --udp-timeout; --max-connections bounds the rows, and every connection
/// beyond it is counted in stats.map_full_drops, never silently lost.
final class ExpiryAndLimitTests: KernelTestCase {
    func testIdleUDPFlowDisappearsAfterUDPTimeout() throws {
        let nettop = try startNetTop(["--udp-timeout", "1"])
        // Both sockets stay open (idle) for 8 s after their 3 datagrams each way: only expiry can remove the rows.
        let server = try startPeer(["udp-server", "--bind", "127.0.0.1", "--port", "0", "--expect-datagrams", "3", "--echo",
                                    "--hold-ms", "8000"])
        let port = try server.listeningPort()
        let client = try startPeer(["udp-client", "--connect", "127.0.0.1", "--port", "\(port)", "--datagrams", "3", "--size", "100",
                                    "--connected", "--echo", "--hold-ms", "8000"])
        let c = try client.waitFor("udp")[0]
        let root = Namespace.root.inode
        let clientRow: (ObservedTable) -> [ObservedRow] = { $0.find(type: "udp", sport: c.lport, dport: port, netNs: root) }
        let serverRow: (ObservedTable) -> [ObservedRow] = { $0.find(type: "udp", sport: port, dport: c.lport, netNs: root) }
        let exact: (ObservedRow) -> Bool = { $0.latest.sent == 300 && $0.latest.recv == 300 }
        guard waitForRow(nettop, "idle client flow", match: clientRow, done: exact) != nil,
              waitForRow(nettop, "idle server flow", match: serverRow, done: exact) != nil else { return }
        let seenAt = Date()
        // Gone: absent from at least 5 consecutive ticks (1 s at 0.2 s a tick), while the sockets are still open.
        let gone = nettop.waitFor(timeout: 5) { t in
            [clientRow, serverRow].allSatisfy { match in
                guard let row = match(t).first else { return false }
                return t.tickCount - row.lastTick >= 5
            }
        }
        let t = nettop.table
        XCTAssertTrue(gone, "idle UDP flow still listed \(Date().timeIntervalSince(seenAt)) s after it went idle:\n  "
                      + (clientRow(t) + serverRow(t)).map(\.description).joined(separator: "\n  "))
        XCTAssertTrue(client.isRunning && server.isRunning, "the sockets were still open when the rows went away")
        for row in clientRow(t) + serverRow(t) {
            XCTAssertFalse(row.seenClosed, "an expired flow is not a closed one: \(row)")
        }
        XCTAssertGreaterThanOrEqual(nettop.table.maxStats["expired_udp"] ?? 0, 1, "stats.expired_udp")
    }

    /// A flow that keeps moving datagrams is active, however long it lives past --udp-timeout: each datagram
    /// moves its last activity on (the kernel side keeps that time to the jiffy). Expired midway, its row
    /// would come back counting from zero.
    func testActiveUDPFlowOutlivesTheTimeout() throws {
        let nettop = try startNetTop(["--udp-timeout", "1"])
        let server = try startPeer(["udp-server", "--bind", "127.0.0.1", "--port", "0", "--expect-datagrams", "14", "--echo",
                                    "--timeout-ms", "20000"])
        let port = try server.listeningPort()
        // 14 datagrams 250 ms apart: 3.25 s, over three times the timeout.
        let client = try startPeer(["udp-client", "--connect", "127.0.0.1", "--port", "\(port)", "--datagrams", "14",
                                    "--size", "100", "--connected", "--echo", "--interval-ms", "250", "--hold-ms", "1000",
                                    "--timeout-ms", "20000"])
        let c = try client.waitFor("udp", timeout: 20)[0]
        let root = Namespace.root.inode
        waitForRow(nettop, "client flow", match: { $0.find(type: "udp", sport: c.lport, dport: port, netNs: root) },
                   done: { $0.latest.sent == 1400 && $0.latest.recv == 1400 })
        waitForRow(nettop, "server flow", match: { $0.find(type: "udp", sport: port, dport: c.lport, netNs: root) },
                   done: { $0.latest.sent == 1400 && $0.latest.recv == 1400 })
        try client.finish()
        try server.finish()
    }

    func testMaxConnectionsTracksOnlyTheLimitAndCountsTheRest() throws {
        let nettop = try startNetTop(["--max-connections", "100"])
        let n = 300
        let server = try startPeer(["many-server", "--bind", "127.0.0.1", "--port", "0", "--connections", "\(n)", "--timeout-ms", "60000"])
        let port = try server.listeningPort()
        let client = try startPeer(["many", "--connect", "127.0.0.1", "--port", "\(port)", "--connections", "\(n)", "--timeout-ms", "60000"])
        try client.waitFor("connected")
        try server.waitFor("accepted")
        // 300 connections with both ends on loopback: 600 rows wanted, 100 allowed.
        let ok = nettop.waitFor(timeout: rowTimeout) { t in
            guard let tracked = t.lastStats["tracked"], let drops = t.lastStats["map_full_drops"] else { return false }
            return tracked == 100 && tracked + drops >= 2 * n
        }
        let t = nettop.table
        XCTAssertTrue(ok, "stats after 300 live loopback connections with --max-connections 100: \(t.lastStats.values)")
        XCTAssertEqual(t.lastStats["tracked"], 100, "stats.tracked")
        XCTAssertGreaterThanOrEqual((t.lastStats["tracked"] ?? 0) + (t.lastStats["map_full_drops"] ?? 0), 2 * n,
                                    "tracked + map_full_drops covers all 600 socket ends")
        // Closed rows of other host connections may come on top; live rows are bounded by the limit.
        XCTAssertLessThanOrEqual(t.lastTickLiveRowCount, 100, "live rows listed in a tick")
        client.closeStdin()
        try client.finish()
        try server.finish()
    }
}
