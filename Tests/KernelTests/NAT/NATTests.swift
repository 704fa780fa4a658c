import Foundation
import Glibc
import XCTest

/// Acceptance of issue 4, through the real `nettop --json`: NAT rules in a router namespace between a client
/// and a server namespace, and the `conntrack` field of the rows of both ends (MISSION.md: the translation
/// is found in another namespace's table than the socket's own).
final class NATTests: KernelTestCase {
    // MARK: - DNAT, seen from the client

    func testDNATTCPv4ClientShowsTheServersRealEndpoint() throws { try dnatTCP(v6: false) }
    func testDNATTCPv6ClientShowsTheServersRealEndpoint() throws { try dnatTCP(v6: true) }
    func testDNATUDPv4ClientShowsTheServersRealEndpoint() throws { try dnatUDP(v6: false) }
    func testDNATUDPv6ClientShowsTheServersRealEndpoint() throws { try dnatUDP(v6: true) }
    /// sendto() on an unconnected socket: the row's local address may be unknown; ports and remote suffice.
    func testDNATUnconnectedUDPClientShowsTheServersRealEndpoint() throws { try dnatUDP(v6: false, connected: false) }

    private func dnatTCP(v6: Bool) throws {
        let sandbox = makeSandbox()
        let topo = try NATTopology(sandbox: sandbox)
        let nettop = try startNetTop()
        let (vip, serverIP, clientIP) = addresses(topo, v6: v6)
        let server = try startPeer(["tcp-server", "--bind", serverIP, "--port", "0", "--send", "777", "--timeout-ms", "20000"],
                                   in: topo.server)
        let port = try server.listeningPort()
        try topo.dnat(proto: "tcp", v6: v6, vport: 8080, serverPort: port)
        let events = try runPeer(["tcp-client", "--connect", vip, "--port", "8080", "--send", "4321", "--recv-expect", "777",
                                  "--hold-ms", "300", "--timeout-ms", "20000"], in: topo.client)
        try server.finish()
        let client = try XCTUnwrap(events.first { $0.event == "tcp" })
        XCTAssertEqual(client.local, canonicalAddress(clientIP))
        let expected = NATFields(srcIP: serverIP, sport: port, dstIP: clientIP, dport: client.lport)
        let row = waitForNAT(nettop, "client end \(v6 ? "v6" : "v4") tcp → VIP", expected, type: "tcp", ns: topo.client,
                             source: clientIP, sport: client.lport, dest: vip, dport: 8080, closed: true)
        XCTAssertEqual(row?.latest.sent, 4321, "the NATed connection's bytes are counted as usual")
        XCTAssertEqual(row?.latest.recv, 777)
        XCTAssertEqual(row?.latest.family, v6 ? "v6" : "v4")
    }

    private func dnatUDP(v6: Bool, connected: Bool = true) throws {
        let sandbox = makeSandbox()
        let topo = try NATTopology(sandbox: sandbox)
        let nettop = try startNetTop()
        let (vip, serverIP, clientIP) = addresses(topo, v6: v6)
        let server = try startPeer(["udp-server", "--bind", serverIP, "--port", "0", "--expect-datagrams", "3", "--echo",
                                    "--timeout-ms", "20000"], in: topo.server)
        let port = try server.listeningPort()
        try topo.dnat(proto: "udp", v6: v6, vport: 5353, serverPort: port)
        let events = try runPeer(["udp-client", "--connect", vip, "--port", "5353", "--datagrams", "3", "--size", "200",
                                  "--echo", "--hold-ms", "300", "--timeout-ms", "20000"] + (connected ? ["--connected"] : []),
                                 in: topo.client)
        try server.finish()
        let client = try XCTUnwrap(events.first { $0.event == "udp" })
        let expected = NATFields(srcIP: serverIP, sport: port, dstIP: clientIP, dport: client.lport)
        waitForNAT(nettop, "client end \(v6 ? "v6" : "v4") \(connected ? "connected" : "unconnected") udp → VIP", expected,
                   type: "udp", ns: topo.client, source: connected ? clientIP : nil, sport: client.lport, dest: vip, dport: 5353)
    }

    // MARK: - SNAT / masquerade, seen from the server

    func testMasqueradeSeenFromTheServerShowsTheRealClient() throws {
        let sandbox = makeSandbox()
        let topo = try NATTopology(sandbox: sandbox)
        try topo.masqueradeTowardsServer()
        let nettop = try startNetTop()
        let x = try tcpExchange(serverAddress: topo.serverV4, serverNs: topo.server, clientNs: topo.client,
                                send: 2000, reply: 3000, clientExtra: ["--hold-ms", "300"])
        XCTAssertEqual(x.server.remote, canonicalAddress(topo.routerServerSideV4), "the server sees the router's address")
        let expected = NATFields(srcIP: topo.clientV4, sport: x.client.lport, dstIP: topo.serverV4, dport: x.serverPort)
        waitForNAT(nettop, "server end behind masquerade", expected, type: "tcp", ns: topo.server, source: topo.serverV4,
                   sport: x.serverPort, dest: topo.routerServerSideV4, dport: x.server.rport)
    }

    // MARK: - Short-lived

    /// Opens, talks and closes well within one tick (0.2 s); the router's table is then flushed at once, so the
    /// flow is destroyed before nettop's next tick and the translation must come from the destroyed-flow buffer.
    func testShortLivedNATedConnectionStillCarriesItsTranslation() throws {
        let sandbox = makeSandbox()
        let topo = try NATTopology(sandbox: sandbox)
        let nettop = try startNetTop()
        let server = try startPeer(["tcp-server", "--bind", topo.serverV4, "--port", "0", "--send", "10", "--timeout-ms", "20000"],
                                   in: topo.server)
        let port = try server.listeningPort()
        try topo.dnat(proto: "tcp", v6: false, vport: 8080, serverPort: port)
        let events = try runPeer(["tcp-client", "--connect", NATTopology.vip4, "--port", "8080", "--send", "10",
                                  "--recv-expect", "10", "--timeout-ms", "20000"], in: topo.client)
        try ConntrackFlush.flush(topo.router)
        try server.finish()
        let client = try XCTUnwrap(events.first { $0.event == "tcp" })
        XCTAssertLessThan(client.int("duration_us"), 200_000, "the connection lived less than one tick")
        let expected = NATFields(srcIP: topo.serverV4, sport: port, dstIP: topo.clientV4, dport: client.lport)
        let row = waitForNAT(nettop, "short-lived client end", expected, type: "tcp", ns: topo.client, source: topo.clientV4,
                             sport: client.lport, dest: NATTopology.vip4, dport: 8080, closed: true)
        XCTAssertEqual(row?.seenClosed, true)
    }

    // MARK: - Burst, ENOBUFS, resync

    /// 5,000 NATed connections at once against an event socket with a 4 KiB receive buffer
    /// (NETTOP_CONNTRACK_RCVBUF): the kernel drops events (ENOBUFS), nettop counts a resync, and every
    /// connection still open shows the right translation.
    func testBurstOf5000NATedConnectionsResyncsAndResolvesEveryOne() throws {
        let n = 5000
        let sandbox = makeSandbox()
        let topo = try NATTopology(sandbox: sandbox)
        let server = try startPeer(["many-server", "--bind", topo.serverV4, "--port", "0", "--connections", "\(n)",
                                    "--timeout-ms", workBoundMs(180)], in: topo.server)
        let port = try server.listeningPort()
        try topo.dnat(proto: "tcp", v6: false, vport: 8443, serverPort: port)
        // Only the client ends (port 8443): 5,000 rows a tick, into a file (see NetTopFileRunner). Room in the
        // connection map for whatever else the host has open, so none of the 5,000 is left out.
        setenv("NETTOP_CONNTRACK_RCVBUF", "4096", 1)
        let nettop = try NetTopFileRunner(arguments: ["--json", "--interval", "0.5", "--port", "8443", "--max-connections", "262144"])
        unsetenv("NETTOP_CONNTRACK_RCVBUF")
        addTeardownBlock {
            let stderr = nettop.stderr
            XCTAssertTrue(nettop.isRunning, "nettop exited during the test; stderr:\n\(stderr)")
            XCTAssertEqual(nettop.stop(), 0, "nettop exit status after SIGINT; stderr:\n\(stderr)")
        }
        try nettop.waitUntilReady()

        let burst = try startPeer(["many", "--connect", NATTopology.vip4, "--port", "8443", "--connections", "\(n)",
                                   "--timeout-ms", workBoundMs(180)], in: topo.client)
        let lports = try XCTUnwrap(burst.waitFor("connected", timeout: workBound(30))[0].arrays["lports"])
        XCTAssertEqual(lports.count, n)

        let server4 = canonicalAddress(topo.serverV4), client4 = canonicalAddress(topo.clientV4)
        let vip = canonicalAddress(NATTopology.vip4)
        /// The client ends whose row is not one row with the right translation, by what is wrong with it.
        func wrong(_ tick: ObservedTick?) -> [String: [Int]] {
            var bySport: [Int: [ObservedConnection]] = [:]
            for c in tick?.connections ?? [] where c.netNs == topo.client.inode && c.type == "tcp" && c.dport == 8443
                && c.dest == vip && c.source == client4 {
                bySport[c.sport, default: []].append(c)
            }
            var out: [String: [Int]] = [:]
            for lport in lports {
                let rows = bySport[lport] ?? []
                let problem: String
                if rows.isEmpty {
                    problem = "no row"
                } else if rows.count > 1 {
                    problem = "\(rows.count) rows"
                } else if rows[0].conntrack == nil {
                    problem = "no translation"
                } else if NATFields(rows[0]) != NATFields(srcIP: server4, sport: port, dstIP: client4, dport: lport) {
                    problem = "another translation"
                } else {
                    continue
                }
                out[problem, default: []].append(lport)
            }
            return out
        }
        // Ticks are half a second apart and each is decoded whole: look once a second, for at most 60 s.
        var missing: [String: [Int]] = ["no tick": lports]
        var stats: [String: Any] = [:]
        let end = Date().addingTimeInterval(workBound(60))
        while Date() < end {
            sleep(1)
            stats = nettop.newestStats()
            missing = wrong(nettop.newestTick())
            if (stats["conntrack_resyncs"] as? NSNumber)?.intValue ?? 0 > 0 && missing.isEmpty { break }
        }
        let resyncs = (stats["conntrack_resyncs"] as? NSNumber)?.intValue ?? 0
        XCTAssertGreaterThan(resyncs, 0, "stats.conntrack_resyncs after a \(n)-connection burst into a 4 KiB buffer")
        let count = missing.values.reduce(0) { $0 + $1.count }
        XCTAssertTrue(missing.isEmpty, "\(count) of \(n) open connections without the right translation in the newest tick: "
                      + missing.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.count) (e.g. lports \($0.value.prefix(3)))" }
                          .joined(separator: ", ") + "; stats \(stats)")
        print("NAT burst: \(n) connections, conntrack_resyncs \(resyncs), ticks \(nettop.linesRead)")
        burst.closeStdin()
        try burst.finish(timeout: workBound(30))
        try server.finish(timeout: workBound(30))
    }

    // MARK: - No NAT

    /// Connection tracking on in the router but no translation: every row of the test's namespaces has
    /// `conntrack: null`, though conntrack holds their flows.
    func testWithoutNATRulesConntrackIsNullForEveryRow() throws {
        let sandbox = makeSandbox()
        let topo = try NATTopology(sandbox: sandbox)
        try topo.trackWithoutNAT()
        let nettop = try startNetTop()
        let x = try tcpExchange(serverAddress: topo.serverV4, serverNs: topo.server, clientNs: topo.client,
                                send: 1000, reply: 1000, clientExtra: ["--hold-ms", "300"])
        let udpServer = try startPeer(["udp-server", "--bind", topo.serverV6, "--port", "0", "--expect-datagrams", "2", "--echo",
                                       "--timeout-ms", "20000"], in: topo.server)
        let udpPort = try udpServer.listeningPort()
        try runPeer(["udp-client", "--connect", topo.serverV6, "--port", "\(udpPort)", "--datagrams", "2", "--size", "50",
                     "--connected", "--echo", "--timeout-ms", "20000"], in: topo.client)
        try udpServer.finish()
        for row in expectedTCPRows(x, family: "v4", clientNs: topo.client, serverNs: topo.server,
                                   clientDirection: "outgoing", serverDirection: "incoming") {
            assertRow(nettop, row)
        }
        waitForRow(nettop, "udp server end", match: { $0.find(type: "udp", sport: udpPort, netNs: topo.server.inode) })
        nettop.waitTicks(2)
        let ours = nettop.table.find().filter { [topo.client.inode, topo.router.inode, topo.server.inode].contains($0.latest.netNs) }
        XCTAssertGreaterThanOrEqual(ours.count, 3)
        for row in ours { XCTAssertNil(row.latest.conntrack, "\(row)") }
    }

    // MARK: - Unavailable

    func testNoConntrackFlagLeavesTranslationsOut() throws {
        let sandbox = makeSandbox()
        let topo = try NATTopology(sandbox: sandbox)
        let nettop = try startNetTop(["--no-conntrack"])
        let server = try startPeer(["tcp-server", "--bind", topo.serverV4, "--port", "0", "--timeout-ms", "20000"], in: topo.server)
        let port = try server.listeningPort()
        try topo.dnat(proto: "tcp", v6: false, vport: 8080, serverPort: port)
        let events = try runPeer(["tcp-client", "--connect", NATTopology.vip4, "--port", "8080", "--send", "10",
                                  "--hold-ms", "300", "--timeout-ms", "20000"], in: topo.client)
        let client = try XCTUnwrap(events.first { $0.event == "tcp" })
        let row = waitForRow(nettop, "client end", match: {
            $0.find(type: "tcp", sport: client.lport, dport: 8080, netNs: topo.client.inode)
        }, done: { $0.seenClosed })
        XCTAssertNil(row?.latest.conntrack)
        for tick in try rawTicks([Binaries.nettop, "--json", "--iterations", "2", "--interval", "0.2", "--no-conntrack"]) {
            XCTAssertEqual((tick["stats"] as? [String: Any])?["conntrack_available"] as? Bool, false)
        }
    }

    /// Without CAP_NET_ADMIN (dropped with setpriv; BPF still loads with CAP_SYS_ADMIN), nettop runs on:
    /// ticks say `conntrack_available: false`, rows have `conntrack: null`, exit 0, and `nettop check` says why.
    func testWithoutCapNetAdminRunsOnWithoutNAT() throws {
        let drop = ["--inh-caps=-net_admin", "--bounding-set=-net_admin"]
        let ticks = try rawTicks(["/usr/bin/setpriv"] + drop + [Binaries.nettop, "--json", "--iterations", "3", "--interval", "0.2"])
        XCTAssertEqual(ticks.count, 3)
        for obj in ticks {
            let stats = try XCTUnwrap(obj["stats"] as? [String: Any])
            XCTAssertEqual(stats["conntrack_available"] as? Bool, false)
            for c in obj["connections"] as? [[String: Any]] ?? [] { XCTAssertTrue(c["conntrack"] is NSNull, "\(c)") }
        }
        let check = try runCommand("/usr/bin/setpriv", drop + [Binaries.nettop, "check"], timeout: 60)
        let line = check.stdout.split(separator: "\n").first { $0.hasPrefix("conntrack:") }
        XCTAssertNotNil(line, check.stdout)
        XCTAssertTrue(line?.contains("CAP_NET_ADMIN") == true, String(line ?? ""))
    }

    // MARK: - Helpers

    /// Runs a short `nettop --json --iterations N` to completion (exit 0 required); its ticks, as JSON objects.
    private func rawTicks(_ command: [String]) throws -> [[String: Any]] {
        let r = try runCommand(command[0], Array(command.dropFirst()), timeout: 60)
        XCTAssertEqual(r.status, 0, "\(command.joined(separator: " ")): stderr: \(r.stderr)")
        return try r.stdout.split(separator: "\n").map { line in
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line.prefix(300)))
        }
    }

    private func addresses(_ topo: NATTopology, v6: Bool) -> (vip: String, server: String, client: String) {
        v6 ? (NATTopology.vip6, topo.serverV6, topo.clientV6) : (NATTopology.vip4, topo.serverV4, topo.clientV4)
    }

    /// Waits for exactly one row with this tuple whose `conntrack` is `expected` (and seen closed, if asked).
    @discardableResult
    private func waitForNAT(_ nettop: NetTopRunner, _ what: String, _ expected: NATFields, type: String, ns: Namespace,
                            source: String?, sport: Int, dest: String, dport: Int, closed: Bool = false,
                            file: StaticString = #filePath, line: UInt = #line) -> ObservedRow? {
        let row = waitForRow(nettop, what, match: {
            $0.find(type: type, sport: sport, dport: dport, source: source, dest: dest, netNs: ns.inode)
        }, done: { NATFields($0.latest) == expected && (!closed || $0.seenClosed) }, file: file, line: line)
        XCTAssertEqual(row.flatMap { NATFields($0.latest) }, expected, "\(what): conntrack", file: file, line: line)
        return row
    }
}

/// The `conntrack` object of a row, addresses canonical.
struct NATFields: Equatable, CustomStringConvertible {
    var srcIP: String, sport: Int, dstIP: String, dport: Int

    init(srcIP: String, sport: Int, dstIP: String, dport: Int) {
        self.srcIP = canonicalAddress(srcIP); self.sport = sport
        self.dstIP = canonicalAddress(dstIP); self.dport = dport
    }

    init?(_ c: ObservedConnection) {
        guard let ct = c.conntrack, let src = ct["repl_src_ip"], let dst = ct["repl_dst_ip"],
              let sport = ct["repl_sport"].flatMap({ Int($0) }), let dport = ct["repl_dport"].flatMap({ Int($0) }) else { return nil }
        self.init(srcIP: src, sport: sport, dstIP: dst, dport: dport)
    }

    var description: String { "repl \(srcIP):\(sport) → \(dstIP):\(dport)" }
}
