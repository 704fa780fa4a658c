import XCTest
@testable import TracerCore

/// UDP: exact datagram payload bytes both ways, on connected sockets and per peer on an unconnected server.
final class UDPTests: KernelTestCase {
    // MARK: connected UDP

    func testConnectedUDPv4() throws { try connectedUDP("127.0.0.1", family: "v4") }
    func testConnectedUDPv6() throws { try connectedUDP("::1", family: "v6") }

    private func connectedUDP(_ address: String, family: String) throws {
        let nettop = try startNetTop()
        let server = try startPeer(["udp-server", "--bind", address, "--port", "0", "--expect-datagrams", "10", "--echo",
                                    "--hold-ms", "500"])
        let port = try server.listeningPort()
        let client = try runPeer(["udp-client", "--connect", address, "--port", "\(port)", "--datagrams", "10", "--size", "1000",
                                  "--connected", "--echo", "--hold-ms", "300"])
        try server.finish()
        let c = try XCTUnwrap(client.first { $0.event == "udp" })
        let s = try XCTUnwrap(server.events("udp-peer").first)
        XCTAssertEqual(c.int("sent"), 10_000); XCTAssertEqual(c.int("recv"), 10_000)
        let root = Namespace.root
        assertRow(nettop, ExpectedRow(what: "connected client", type: "udp", family: family, netNs: root, source: c.local,
                                      sport: c.lport, dest: canonicalAddress(address), dport: port, direction: "local",
                                      pid: c.pid, sent: 10_000, recv: 10_000, closed: true))
        assertRow(nettop, ExpectedRow(what: "server, peer \(c.lport)", type: "udp", family: family, netNs: root,
                                      source: canonicalAddress(address), sport: port, dest: s.remote, dport: c.lport,
                                      direction: "local", pid: s.pid, sent: 10_000, recv: 10_000, closed: true))
    }

    // MARK: unconnected server, 3 clients: 3 rows

    func testUnconnectedServerThreeClientsSendtoRecvfromV4() throws {
        try threeClients("127.0.0.1", family: "v4", serverAPI: "recvfrom", clientAPI: "sendto")
    }

    func testUnconnectedServerThreeClientsSendmmsgRecvmmsgV6() throws {
        try threeClients("::1", family: "v6", serverAPI: "recvmmsg", clientAPI: "sendmmsg")
    }

    func testUnconnectedServerThreeClientsSendmmsgRecvmmsgV4() throws {
        try threeClients("127.0.0.1", family: "v4", serverAPI: "recvmmsg", clientAPI: "sendmmsg")
    }

    func testUnconnectedServerThreeClientsSendmsgRecvmsgV6() throws {
        try threeClients("::1", family: "v6", serverAPI: "recvmsg", clientAPI: "sendmsg")
    }

    /// Without a cgroup v2 hierarchy the tracepoint backend reads peers from the socket system calls instead
    /// (and a UDP socket's rows end by idle expiry, not when it is released: no sock_release hook).
    func testUnconnectedServerThreeClientsWithoutCgroup2V4() throws {
        try threeClients("127.0.0.1", family: "v4", serverAPI: "recvmmsg", clientAPI: "sendto", withoutCgroup2: true)
    }

    func testUnconnectedServerThreeClientsWithoutCgroup2V6() throws {
        try threeClients("::1", family: "v6", serverAPI: "recvmsg", clientAPI: "sendmmsg", withoutCgroup2: true)
    }

    /// Client i (1...3) sends 2i datagrams of 100i+7 bytes with `clientAPI` on an unconnected socket; the server
    /// echoes each with the call matching `serverAPI`. The server socket must show one row per client.
    private func threeClients(_ address: String, family: String, serverAPI: String, clientAPI: String,
                              withoutCgroup2: Bool = false) throws {
        if withoutCgroup2 && TestBackend.kind != .tracepoint {
            throw XCTSkip("the socket system calls' fallback is the tracepoint backend's; this kernel uses \(TestBackend.kind?.rawValue ?? "none")")
        }
        let nettop = try startNetTop(withoutCgroup2: withoutCgroup2)
        try assertPeerSource(nettop, withoutCgroup2: withoutCgroup2)
        let total = (1...3).reduce(0) { $0 + 2 * $1 }
        let server = try startPeer(["udp-server", "--bind", address, "--port", "0", "--expect-datagrams", "\(total)",
                                    "--echo", "--api", serverAPI, "--hold-ms", "500"])
        let port = try server.listeningPort()
        var clients: [PeerEvent] = []
        for i in 1...3 {
            let lines = try runPeer(["udp-client", "--connect", address, "--port", "\(port)", "--datagrams", "\(2 * i)",
                                     "--size", "\(100 * i + 7)", "--api", clientAPI, "--echo"])
            clients.append(try XCTUnwrap(lines.first { $0.event == "udp" }))
        }
        try server.finish()
        let serverPeers = server.events("udp-peer")
        XCTAssertEqual(serverPeers.count, 3)
        let root = Namespace.root
        for (i, c) in clients.enumerated() {
            let bytes = 2 * (i + 1) * (100 * (i + 1) + 7)
            XCTAssertEqual(c.int("sent"), bytes); XCTAssertEqual(c.int("recv"), bytes)
            let s = try XCTUnwrap(serverPeers.first { $0.rport == c.lport })
            assertRow(nettop, ExpectedRow(what: "server row for client \(i + 1)", type: "udp", family: family, netNs: root,
                                          source: canonicalAddress(address), sport: port, dest: s.remote, dport: c.lport,
                                          direction: "local", pid: s.pid, sent: bytes, recv: bytes, closed: !withoutCgroup2))
            assertRow(nettop, ExpectedRow(what: "client \(i + 1) (\(clientAPI))", type: "udp", family: family, netNs: root,
                                          source: nil, sport: c.lport, dest: canonicalAddress(address), dport: port,
                                          direction: "local", pid: c.pid, sent: bytes, recv: bytes, closed: !withoutCgroup2))
        }
        let serverRows = nettop.table.find(type: "udp", sport: port, netNs: root.inode)
        XCTAssertEqual(serverRows.count, 3, "one server row per client peer:\n  " + serverRows.map(\.description).joined(separator: "\n  "))
    }

    /// Which programs find the peers: with the tracepoint backend, the cgroup sendmsg/recvmsg hooks when a
    /// cgroup v2 hierarchy is mounted, else the socket system calls' tracepoints. Other backends read the
    /// peer in udp_sendmsg/udp_recvmsg themselves and load neither.
    private func assertPeerSource(_ nettop: NetTopRunner, withoutCgroup2: Bool) throws {
        let all = try BPFInspector.programs()
        let names = BPFFootprint.of(pid: nettop.pid).programs.compactMap { all[$0] }
        let hooks = names.filter { $0.hasPrefix("cg_udp") }, syscalls = names.filter { $0.hasPrefix("sys_enter_") }
        guard TestBackend.kind == .tracepoint else {
            XCTAssertEqual(hooks + syscalls, [], "programs: \(names.sorted())")
            return
        }
        if withoutCgroup2 {
            XCTAssertEqual(hooks, [], "programs: \(names.sorted())")
            XCTAssertEqual(syscalls.count, 6, "programs: \(names.sorted())")
        } else {
            XCTAssertEqual(hooks.count, 4, "programs: \(names.sorted())")
            XCTAssertEqual(syscalls, [], "programs: \(names.sorted())")
        }
    }

    // MARK: across namespaces

    func testConnectedUDPBetweenNamespacesV4AndV6() throws {
        let sandbox = makeSandbox()
        let clientNs = try sandbox.makeNamespace(), serverNs = try sandbox.makeNamespace()
        let link = try sandbox.link(clientNs, serverNs)
        let nettop = try startNetTop()
        for (family, address) in [("v4", link.v4B), ("v6", link.v6B)] {
            // An explicit port (the namespace is the test's own, so it is free): a server bound to a port of its
            // choosing is `incoming`; port 0 would leave the kernel's choice, like any client.
            let server = try startPeer(["udp-server", "--bind", address, "--port", "7777", "--expect-datagrams", "4", "--echo"],
                                       in: serverNs)
            let port = try server.listeningPort()
            let lines = try runPeer(["udp-client", "--connect", address, "--port", "\(port)", "--datagrams", "4", "--size", "1200",
                                     "--connected", "--echo"], in: clientNs)
            try server.finish()
            let c = try XCTUnwrap(lines.first { $0.event == "udp" })
            let s = try XCTUnwrap(server.events("udp-peer").first)
            assertRow(nettop, ExpectedRow(what: "client (\(family))", type: "udp", family: family, netNs: clientNs, source: c.local,
                                          sport: c.lport, dest: canonicalAddress(address), dport: port, direction: "outgoing",
                                          pid: c.pid, sent: 4800, recv: 4800, closed: true))
            assertRow(nettop, ExpectedRow(what: "server (\(family))", type: "udp", family: family, netNs: serverNs,
                                          source: canonicalAddress(address), sport: port, dest: s.remote, dport: c.lport,
                                          direction: "incoming", pid: s.pid, sent: 4800, recv: 4800, closed: true))
        }
    }
}
