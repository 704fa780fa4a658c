import XCTest

/// TCP between two test namespaces over a veth pair: the client's row is `outgoing` and carries the client
/// namespace's inode, the server's row `incoming` with the server namespace's inode; exact bytes both ways.
final class TCPNetnsTests: KernelTestCase {
    func testIPv4BetweenNamespaces() throws {
        try betweenNamespaces(v6: false)
    }

    func testIPv6BetweenNamespaces() throws {
        try betweenNamespaces(v6: true)
    }

    /// A connection accepted before nettop started: the kernel never showed nettop who connected, so its
    /// server end is `incoming` because its local port listens. Each later connection the listener
    /// accepts is born a copy of the listener and leaves LISTEN for SYN_RECV; that must not read as the
    /// listener closing (it did, and the old connection's server end then turned `outgoing`).
    func testServerEndOpenedBeforeNetTopStaysIncomingWhileTheListenerAcceptsMore() throws {
        let sandbox = makeSandbox()
        let clientNs = try sandbox.makeNamespace(), serverNs = try sandbox.makeNamespace()
        let link = try sandbox.link(clientNs, serverNs)
        let server = try startPeer(["many-server", "--bind", link.v4B, "--port", "0", "--connections", "3",
                                    "--timeout-ms", "60000"], in: serverNs)
        let port = try server.listeningPort()
        let holder = try startPeer(["hold", "--connect", link.v4B, "--port", "\(port)", "--timeout-ms", "60000"], in: clientNs)
        let hold = try holder.waitFor("connected")[0]
        let nettop = try startNetTop()
        let oldServerEnd = { (t: ObservedTable) in t.find(type: "tcp", sport: port, dport: hold.lport, netNs: serverNs.inode) }
        waitForRow(nettop, "server end opened before nettop", match: oldServerEnd, done: { $0.latest.direction == "incoming" })

        // Two more connections through the same listener, at once (the server reads only once it has
        // accepted all three), each sent to its end and closed.
        let clients = try (0..<2).map { _ in
            try startPeer(["tcp-client", "--connect", link.v4B, "--port", "\(port)", "--send", "100"], in: clientNs)
        }
        for client in clients { try client.finish() }
        let laterServerEnds = { (t: ObservedTable) in
            t.find(type: "tcp", sport: port, netNs: serverNs.inode).filter { $0.latest.dport != hold.lport && $0.seenClosed }
        }
        XCTAssertTrue(nettop.waitFor(timeout: rowTimeout) { laterServerEnds($0).count == 2 },
                      "the later connections' server ends, closed: \(laterServerEnds(nettop.table))")
        let ticks = nettop.table.tickCount
        XCTAssertTrue(nettop.waitFor(timeout: rowTimeout) { $0.tickCount >= ticks + 2 }, "nettop stopped ticking")
        let row = try XCTUnwrap(oldServerEnd(nettop.table).first)
        XCTAssertEqual(row.latest.direction, "incoming", "\(row)")
        holder.closeStdin()
        try holder.finish()
        try server.finish()
    }

    private func betweenNamespaces(v6: Bool) throws {
        let sandbox = makeSandbox()
        let clientNs = try sandbox.makeNamespace(), serverNs = try sandbox.makeNamespace()
        let link = try sandbox.link(clientNs, serverNs)
        let nettop = try startNetTop()
        let x = try tcpExchange(serverAddress: v6 ? link.v6B : link.v4B, serverNs: serverNs, clientNs: clientNs,
                                send: 1_000_000, reply: 123_457)
        XCTAssertEqual(x.client.local, canonicalAddress(v6 ? link.v6A : link.v4A))
        for row in expectedTCPRows(x, family: v6 ? "v6" : "v4", clientNs: clientNs, serverNs: serverNs,
                                   clientDirection: "outgoing", serverDirection: "incoming") {
            assertRow(nettop, row)
        }
    }
}
