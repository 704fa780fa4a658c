import XCTest

/// pid and comm belong to the process that owns the socket and did the I/O (not whatever ran the softirq);
/// connections that existed before nettop started are listed, and counted from the moment it started.
final class ProcessAttributionTests: KernelTestCase {
    func testPidAndCommAreThoseOfEachEndsProcess() throws {
        let sandbox = makeSandbox()
        let clientNs = try sandbox.makeNamespace(), serverNs = try sandbox.makeNamespace()
        let link = try sandbox.link(clientNs, serverNs)
        let nettop = try startNetTop()
        // Loopback: both ends on one host, two processes; each row must name its own.
        let local = try tcpExchange(serverAddress: "127.0.0.1", send: 50_000, reply: 70_000)
        XCTAssertNotEqual(local.client.pid, local.server.pid)
        let root = Namespace.root
        for row in expectedTCPRows(local, family: "v4", clientNs: root, serverNs: root, clientDirection: "local", serverDirection: "local") {
            assertRow(nettop, row)
        }
        // Across namespaces, started through `ip netns exec`: still the peer's own pid.
        let remote = try tcpExchange(serverAddress: link.v6B, serverNs: serverNs, clientNs: clientNs, send: 30_000, reply: 20_000)
        for row in expectedTCPRows(remote, family: "v6", clientNs: clientNs, serverNs: serverNs, clientDirection: "outgoing", serverDirection: "incoming") {
            assertRow(nettop, row)
        }
        // UDP: the server's per-peer row belongs to the server process, the client's to the client.
        let server = try startPeer(["udp-server", "--bind", "127.0.0.1", "--port", "0", "--expect-datagrams", "3", "--echo"])
        let port = try server.listeningPort()
        let c = try XCTUnwrap(try runPeer(["udp-client", "--connect", "127.0.0.1", "--port", "\(port)", "--datagrams", "3",
                                           "--size", "500", "--echo"]).first { $0.event == "udp" })
        try server.finish()
        let s = try XCTUnwrap(server.events("udp-peer").first)
        assertRow(nettop, ExpectedRow(what: "udp server", type: "udp", family: "v4", netNs: root, source: "127.0.0.1", sport: port,
                                      dest: s.remote, dport: c.lport, direction: nil, pid: s.pid, sent: 1500, recv: 1500, closed: false))
        assertRow(nettop, ExpectedRow(what: "udp client", type: "udp", family: "v4", netNs: root, source: nil, sport: c.lport,
                                      dest: "127.0.0.1", dport: port, direction: nil, pid: c.pid, sent: 1500, recv: 1500, closed: false))
    }

    /// A connection held open before nettop starts appears with its tuple (both ends), even before any I/O.
    func testConnectionOpenedBeforeNetTopStartedIsListed() throws {
        for address in ["127.0.0.1", "::1"] {
            let (server, holder, hold) = try heldConnection(address)
            let nettop = try startNetTop()
            let root = Namespace.root.inode
            let serverPort = hold.rport
            waitForRow(nettop, "pre-existing client end \(hold.local):\(hold.lport) -> \(serverPort)", match: {
                $0.find(type: "tcp", sport: hold.lport, dport: serverPort, source: hold.local, dest: hold.remote, netNs: root)
            })
            waitForRow(nettop, "pre-existing server end :\(serverPort) -> \(hold.lport)", match: {
                $0.find(type: "tcp", sport: serverPort, dport: hold.lport, source: hold.remote, dest: hold.local, netNs: root)
            })
            holder.closeStdin()
            try holder.finish()
            try server.finish()
            XCTAssertEqual(nettop.stop(), 0, "nettop exit status after SIGINT; stderr:\n\(nettop.stderr)")
        }
    }

    /// Bytes a pre-existing connection moved before nettop started are not counted; those after are, exactly,
    /// and the rows then carry the owning processes' pids.
    func testConnectionOpenedBeforeNetTopStartedIsCountedFromStart() throws {
        let (server, holder, hold) = try heldConnection("127.0.0.1")
        holder.send("send 3000")          // before nettop: not counted
        usleep(300_000)
        let nettop = try startNetTop()
        holder.send("send 5000")          // after: counted
        holder.closeStdin()
        try holder.finish()
        try server.finish()
        XCTAssertEqual(server.events("closed").first?.int("recv"), 8000)
        let root = Namespace.root
        assertRow(nettop, ExpectedRow(what: "pre-existing client end", type: "tcp", family: "v4", netNs: root, source: hold.local,
                                      sport: hold.lport, dest: hold.remote, dport: hold.rport, direction: "local",
                                      pid: holder.events("closed").first?.pid ?? -1, sent: 5000, recv: 0, closed: true))
        let accepted = try XCTUnwrap(server.events("accepted").first)
        assertRow(nettop, ExpectedRow(what: "pre-existing server end", type: "tcp", family: "v4", netNs: root, source: accepted.local,
                                      sport: accepted.lport, dest: accepted.remote, dport: accepted.rport, direction: "local",
                                      pid: accepted.pid, sent: 0, recv: 5000, closed: true))
    }

    /// Before either end moved a byte: the accepted end names the server's process (the kernel made it in
    /// softirq, with no process to name; fentry and kprobe see accept() return, the tracepoint backend
    /// shows the listener's owner until the first byte), the connecting end the one that connected.
    func testEndsThatMovedNoBytesBelongToTheProcessesThatAcceptedAndConnected() throws {
        let nettop = try startNetTop()
        let (server, holder, hold) = try heldConnection("127.0.0.1")
        let accepted = try XCTUnwrap(server.events("accepted").first)
        let root = Namespace.root.inode
        waitForRow(nettop, "accepted end, pid \(accepted.pid)", match: {
            $0.find(type: "tcp", sport: accepted.lport, dport: accepted.rport, netNs: root)
        }, done: { $0.latest.pid == accepted.pid && $0.latest.comm == "nettop-peer" && $0.latest.sent == 0 && $0.latest.recv == 0 })
        waitForRow(nettop, "connecting end, pid \(hold.pid)", match: {
            $0.find(type: "tcp", sport: hold.lport, dport: hold.rport, netNs: root)
        }, done: { $0.latest.pid == hold.pid && $0.latest.sent == 0 && $0.latest.recv == 0 })
        holder.closeStdin()
        try holder.finish()
        try server.finish()
    }

    /// The same for a server that was listening before nettop started: its owner comes from /proc.
    func testEndThatMovedNoBytesOfAListenerOpenedBeforeNetTopNamesTheServer() throws {
        let server = try startPeer(["hold-server", "--bind", "127.0.0.1", "--port", "0", "--timeout-ms", "120000"])
        let port = try server.listeningPort()
        let nettop = try startNetTop()
        let holder = try startPeer(["hold", "--connect", "127.0.0.1", "--port", "\(port)", "--timeout-ms", "120000"])
        try holder.waitFor("connected")
        let accepted = try XCTUnwrap(try server.waitFor("accepted").first)
        waitForRow(nettop, "accepted end, pid \(accepted.pid)", match: {
            $0.find(type: "tcp", sport: accepted.lport, dport: accepted.rport, netNs: Namespace.root.inode)
        }, done: { $0.latest.pid == accepted.pid && $0.latest.comm == "nettop-peer" && $0.latest.recv == 0 })
        holder.closeStdin()
        try holder.finish()
        try server.finish()
    }

    /// hold-server and hold connected to it; returns them and the holder's "connected" line.
    private func heldConnection(_ address: String) throws -> (PeerProcess, PeerProcess, PeerEvent) {
        let server = try startPeer(["hold-server", "--bind", address, "--port", "0", "--timeout-ms", "120000"])
        let port = try server.listeningPort()
        let holder = try startPeer(["hold", "--connect", address, "--port", "\(port)", "--timeout-ms", "120000"])
        let hold = try holder.waitFor("connected")[0]
        try server.waitFor("accepted")
        return (server, holder, hold)
    }
}
