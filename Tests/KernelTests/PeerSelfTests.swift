import XCTest

/// The traffic generator and the namespace support by themselves, without nettop: if these fail, the
/// acceptance tests' expectations are wrong, not nettop.
final class PeerSelfTests: KernelTestCase {
    func testTCPExchangeBetweenNamespaces() throws {
        let sandbox = makeSandbox()
        let client = try sandbox.makeNamespace(), server = try sandbox.makeNamespace()
        XCTAssertNotEqual(client.inode, server.inode)
        XCTAssertNotEqual(client.inode, Namespace.root.inode)
        let link = try sandbox.link(client, server)
        for (clientAddr, serverAddr) in [(link.v4A, link.v4B), (link.v6A, link.v6B)] {
            let srv = try startPeer(["tcp-server", "--bind", serverAddr, "--port", "0", "--send", "123457"], in: server)
            let port = try srv.listeningPort()
            let lines = try runPeer(["tcp-client", "--connect", serverAddr, "--port", "\(port)", "--send", "1000000",
                                     "--recv-expect", "123457"], in: client)
            try srv.finish()
            let c = try XCTUnwrap(lines.first { $0.event == "tcp" })
            let s = try XCTUnwrap(srv.events("tcp").first)
            XCTAssertEqual(c.int("sent"), 1_000_000); XCTAssertEqual(c.int("recv"), 123_457)
            XCTAssertEqual(s.int("recv"), 1_000_000); XCTAssertEqual(s.int("sent"), 123_457)
            XCTAssertEqual(c.local, canonicalAddress(clientAddr)); XCTAssertEqual(c.remote, canonicalAddress(serverAddr))
            XCTAssertEqual(s.remote, canonicalAddress(clientAddr)); XCTAssertEqual(s.rport, c.lport)
        }
    }

    func testUDPServerCountsEachPeerWithEveryCall() throws {
        for (server, client) in [("recvfrom", "sendto"), ("recvmsg", "sendmsg"), ("recvmmsg", "sendmmsg")] {
            for addr in ["127.0.0.1", "::1"] {
                let srv = try startPeer(["udp-server", "--bind", addr, "--port", "0", "--expect-datagrams", "12",
                                         "--echo", "--api", server])
                let port = try srv.listeningPort()
                var clientPorts: [Int] = []
                for i in 1...3 {
                    let lines = try runPeer(["udp-client", "--connect", addr, "--port", "\(port)", "--datagrams", "\(i * 2)",
                                             "--size", "\(100 * i + 7)", "--api", client, "--echo"])
                    let l = try XCTUnwrap(lines.first { $0.event == "udp" })
                    XCTAssertEqual(l.int("sent"), i * 2 * (100 * i + 7)); XCTAssertEqual(l.int("recv"), l.int("sent"))
                    clientPorts.append(l.lport)
                }
                try srv.finish()
                let peers = srv.events("udp-peer")
                XCTAssertEqual(peers.map(\.rport), clientPorts, "\(server)/\(addr)")
                for (i, p) in peers.enumerated() {
                    XCTAssertEqual(p.int("recv"), (i + 1) * 2 * (100 * (i + 1) + 7)); XCTAssertEqual(p.int("sent"), p.int("recv"))
                }
            }
        }
    }

    func testConnectedUDPAndTimeout() throws {
        let srv = try startPeer(["udp-server", "--bind", "::1", "--port", "0", "--expect-datagrams", "5", "--echo"])
        let port = try srv.listeningPort()
        let lines = try runPeer(["udp-client", "--connect", "::1", "--port", "\(port)", "--datagrams", "5", "--size", "1000",
                                 "--connected", "--echo"])
        try srv.finish()
        XCTAssertEqual(lines.first { $0.event == "udp" }?.int("recv"), 5000)
        // Nobody answers: the peer gives up at --timeout-ms with status 2, it does not hang.
        let lost = try startPeer(["udp-client", "--connect", "127.0.0.1", "--port", "9", "--datagrams", "1", "--size", "1",
                                  "--echo", "--timeout-ms", "300"])
        XCTAssertThrowsError(try lost.finish(timeout: 5))
    }

    func testHoldAndMany() throws {
        let srv = try startPeer(["hold-server", "--bind", "127.0.0.1", "--port", "0"])
        let port = try srv.listeningPort()
        let holder = try startPeer(["hold", "--connect", "127.0.0.1", "--port", "\(port)"])
        try holder.waitFor("connected")
        holder.send("send 3000")
        holder.send("send 5000")
        holder.closeStdin()
        try holder.finish()
        try srv.finish()
        XCTAssertEqual(holder.events("closed").first?.int("sent"), 8000)
        XCTAssertEqual(srv.events("closed").first?.int("recv"), 8000)

        let many = try startPeer(["many-server", "--bind", "127.0.0.1", "--port", "0", "--connections", "300"])
        let mport = try many.listeningPort()
        let client = try startPeer(["many", "--connect", "127.0.0.1", "--port", "\(mport)", "--connections", "300"])
        let connected = try client.waitFor("connected")[0]
        XCTAssertEqual(Set(connected.arrays["lports"] ?? []).count, 300)
        try many.waitFor("accepted")
        client.closeStdin()
        try client.finish()
        try many.finish()
    }
}
