import XCTest
@testable import TracerCore

final class InitialStateTests: XCTestCase {
    private let hostNS: UInt32 = 4_026_531_840
    private let otherNS: UInt32 = 4_026_532_999
    private let now: UInt64 = 123_456_789_000

    private func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    private func fixtureTables() -> [UInt32: [ProcNetEntry]] {
        let host = ProcNetParser.parse(ProcFixtures.tcp, type: .tcp, littleEndian: true).entries
            + ProcNetParser.parse(ProcFixtures.tcp6, type: .tcp, littleEndian: true).entries
            + ProcNetParser.parse(ProcFixtures.udp, type: .udp, littleEndian: true).entries
            + ProcNetParser.parse(ProcFixtures.udp6, type: .udp, littleEndian: true).entries
        return [hostNS: host]
    }

    private let owners: [UInt64: InitialState.Owner] = [12945: (pid: 100, comm: "server"),
                                                        12944: (pid: 200, comm: "client"),
                                                        12954: (pid: 300, comm: "resolver")]

    private func tuple(_ type: ConnectionType, _ ns: UInt32, _ src: String, _ sport: UInt16,
                       _ dst: String, _ dport: UInt16) -> ConnectionTuple {
        ConnectionTuple(type: type, netns: ns, source: ip(src), sport: sport, dest: ip(dst), dport: dport)
    }

    private func listening(_ r: (seeds: [ConnectionSample], listening: [ListeningPort])) -> [String] {
        r.listening.map { "\($0.type.rawValue)/\($0.netns)/\($0.port)" }
    }

    func testSeedsFromRealTables() {
        let r = InitialState.build(tables: fixtureTables(), owners: owners, now: now)
        let expected: [ConnectionTuple] = [
            tuple(.tcp, hostNS, "127.0.0.1", 8080, "127.0.0.1", 60290),   // server end
            tuple(.tcp, hostNS, "127.0.0.1", 40422, "127.0.0.1", 8443),   // IPv4 client of the dual-stack listener
            tuple(.tcp, hostNS, "127.0.0.1", 60290, "127.0.0.1", 8080),   // client end
            tuple(.tcp, hostNS, "127.0.0.1", 8443, "127.0.0.1", 40422),   // v4-mapped accepted end (tcp6 table)
            tuple(.tcp, hostNS, "10.0.0.10", 50000, "203.216.184.93", 443), // SYN_SENT
            tuple(.tcp, hostNS, "::1", 8443, "::1", 53188),
            tuple(.tcp, hostNS, "::1", 53188, "::1", 8443),
            tuple(.tcp, hostNS, "2001:db8::1", 54321, "2001:db8::5", 80), // CLOSE_WAIT
            tuple(.udp, hostNS, "192.0.2.2", 39065, "10.1.2.3", 53),
            tuple(.udp, hostNS, "2001:db8::1", 47300, "2001:db8::53", 5355),
        ].sorted()
        XCTAssertEqual(r.seeds.map(\.tuple), expected)
        // Not seeds: LISTEN, TIME_WAIT (127.0.0.1:60304), the request socket (SYN_RECV, inode 0), bound UDP.
        XCTAssertFalse(r.seeds.contains { $0.tuple.sport == 60304 || $0.tuple.dport == 60304 })
        XCTAssertFalse(r.seeds.contains { $0.tuple.dport == 60314 })
        XCTAssertFalse(r.seeds.contains { $0.tuple.dest.isUnspecified })

        for s in r.seeds {
            XCTAssertNil(s.kernelKey)
            XCTAssertEqual(s.sentBytes, 0)
            XCTAssertEqual(s.recvBytes, 0)
            XCTAssertEqual(s.retransmits, 0)
            XCTAssertEqual(s.firstSeen, now)
            XCTAssertEqual(s.lastActivity, now)
            XCTAssertEqual(s.origin, .unknown)
        }
        func seed(_ t: ConnectionTuple) -> ConnectionSample? { r.seeds.first { $0.tuple == t } }
        let server = seed(tuple(.tcp, hostNS, "127.0.0.1", 8080, "127.0.0.1", 60290))
        XCTAssertEqual(server?.pid, 100)
        XCTAssertEqual(server?.comm, "server")
        XCTAssertEqual(server?.tcpState, TCPStateNumber.established)
        let client = seed(tuple(.tcp, hostNS, "127.0.0.1", 60290, "127.0.0.1", 8080))
        XCTAssertEqual(client?.pid, 200)
        XCTAssertEqual(client?.comm, "client")
        let synSent = seed(tuple(.tcp, hostNS, "10.0.0.10", 50000, "203.216.184.93", 443))
        XCTAssertEqual(synSent?.tcpState, TCPStateNumber.synSent)
        XCTAssertEqual(synSent?.pid, 0)     // no owner known
        XCTAssertEqual(synSent?.comm, "")
        XCTAssertEqual(seed(tuple(.tcp, hostNS, "2001:db8::1", 54321, "2001:db8::5", 80))?.tcpState,
                       TCPStateNumber.closeWait)
        let mapped = seed(tuple(.tcp, hostNS, "127.0.0.1", 8443, "127.0.0.1", 40422))
        XCTAssertEqual(mapped?.tuple.family, .v4)
        let udp = seed(tuple(.udp, hostNS, "192.0.2.2", 39065, "10.1.2.3", 53))
        XCTAssertEqual(udp?.tcpState, 0)
        XCTAssertEqual(udp?.pid, 300)
        XCTAssertEqual(udp?.comm, "resolver")
        XCTAssertEqual(seed(tuple(.udp, hostNS, "2001:db8::1", 47300, "2001:db8::53", 5355))?.tuple.family, .v6)
    }

    func testListeningPorts() {
        let r = InitialState.build(tables: fixtureTables(), owners: [:], now: now)
        // 8080 (v4), 2024 (v4), 8443 (dual-stack, tcp6); UDP 5353 and 5354 bound; the UDP socket with
        // local port 0 is not a listening port.
        XCTAssertEqual(listening(r), ["tcp/\(hostNS)/2024", "tcp/\(hostNS)/8080", "tcp/\(hostNS)/8443",
                                      "udp/\(hostNS)/5353", "udp/\(hostNS)/5354"])
    }

    func testTCPListenersCarryTheirOwners() {
        let withListeners = owners.merging([12943: (pid: 100, comm: "server"), 12946: (pid: 400, comm: "dual")]) { a, _ in a }
        let r = InitialState.build(tables: fixtureTables(), owners: withListeners, now: now)
        let byPort = Dictionary(uniqueKeysWithValues: r.listening.map { ("\($0.type.rawValue)/\($0.port)", $0.owner) })
        XCTAssertEqual(byPort["tcp/8080"], PortMapping.Owner(pid: 100, comm: "server"))
        XCTAssertEqual(byPort["tcp/8443"], PortMapping.Owner(pid: 400, comm: "dual"))
        XCTAssertEqual(byPort["tcp/2024"], .some(nil), "no fd found for it")
        XCTAssertEqual(byPort["udp/5353"], .some(nil), "UDP ports need no owner")
    }

    func testListenersOfOnePortMergeToOneOwnerOrNone() {
        func listener(_ address: IPAddress, _ port: UInt16, inode: UInt64) -> ProcNetEntry {
            ProcNetEntry(type: .tcp, localAddress: address, localPort: port, remoteAddress: address, remotePort: 0,
                         state: TCPStateNumber.listen, inode: inode)
        }
        // 80 on IPv4 and IPv6 by one process; 443 by two (SO_REUSEPORT workers).
        let tables: [UInt32: [ProcNetEntry]] = [hostNS: [listener(ip("0.0.0.0"), 80, inode: 1), listener(.anyV6, 80, inode: 2),
                                                         listener(ip("0.0.0.0"), 443, inode: 3), listener(ip("0.0.0.0"), 443, inode: 4)]]
        let r = InitialState.build(tables: tables, owners: [1: (pid: 7, comm: "web"), 2: (pid: 7, comm: "web"),
                                                            3: (pid: 8, comm: "w1"), 4: (pid: 9, comm: "w2")], now: now)
        XCTAssertEqual(r.listening.map(\.port), [80, 443])
        XCTAssertEqual(r.listening.map(\.owner), [PortMapping.Owner(pid: 7, comm: "web"), nil])
        XCTAssertEqual(r.listening.map(\.sockets), [2, 2])
        var ports = PortMapping(listening: r.listening)
        XCTAssertEqual(ports.owner(type: .tcp, netns: hostNS, port: 80)?.pid, 7)
        XCTAssertNil(ports.owner(type: .tcp, netns: hostNS, port: 443))
        // Each socket closes with an UNLISTEN event of its own: the port is open until the last one goes.
        ports.remove(type: .tcp, netns: hostNS, port: 80)
        XCTAssertTrue(ports.isListening(type: .tcp, netns: hostNS, port: 80), "the IPv6 socket still listens")
        ports.remove(type: .tcp, netns: hostNS, port: 80)
        XCTAssertFalse(ports.isListening(type: .tcp, netns: hostNS, port: 80))
    }

    func testOptionsFilterProtocolsAndIPv6() {
        let tables = fixtureTables()
        let noV6 = InitialState.build(tables: tables, owners: owners, now: now,
                                      options: .init(collectIPv6: false))
        XCTAssertEqual(noV6.seeds.count, 6)
        XCTAssertTrue(noV6.seeds.allSatisfy { $0.tuple.family == .v4 })
        // The v4-mapped row of tcp6 is IPv4: kept.
        XCTAssertTrue(noV6.seeds.contains { $0.tuple.sport == 8443 && $0.tuple.dport == 40422 })
        // Listeners are not filtered by family (a dual-stack listener takes IPv4 peers).
        XCTAssertEqual(listening(noV6).count, 5)

        let noTCP = InitialState.build(tables: tables, owners: owners, now: now, options: .init(collectTCP: false))
        XCTAssertEqual(noTCP.seeds.map(\.tuple.type), [.udp, .udp])
        XCTAssertEqual(listening(noTCP), ["udp/\(hostNS)/5353", "udp/\(hostNS)/5354"])

        let noUDP = InitialState.build(tables: tables, owners: owners, now: now, options: .init(collectUDP: false))
        XCTAssertEqual(noUDP.seeds.count, 8)
        XCTAssertTrue(noUDP.seeds.allSatisfy { $0.tuple.type == .tcp })
        XCTAssertEqual(listening(noUDP), ["tcp/\(hostNS)/2024", "tcp/\(hostNS)/8080", "tcp/\(hostNS)/8443"])

        let nothing = InitialState.build(tables: tables, owners: owners, now: now,
                                         options: .init(collectTCP: false, collectUDP: false))
        XCTAssertEqual(nothing.seeds.count, 0)
        XCTAssertEqual(nothing.listening.count, 0)

        // Seeds, and the TCP listeners 8080, 2024 and 8443 (12943, 1589, 12946).
        XCTAssertEqual(InitialState.ownerInodes(tables: tables),
                       [12945, 12949, 12944, 54321, 12948, 12947, 12950, 777, 12954, 12956, 12943, 1589, 12946])
        XCTAssertEqual(InitialState.ownerInodes(tables: tables, options: .init(collectTCP: false)), [12954, 12956])
    }

    func testNamespacesAreKeptApartAndDuplicatesMerged() {
        let row = ProcNetEntry(type: .udp, localAddress: ip("10.0.0.1"), localPort: 4000,
                               remoteAddress: ip("10.0.0.2"), remotePort: 5000, state: 1, inode: 1)
        var twin = row
        twin.inode = 2  // SO_REUSEPORT twin: same tuple, another socket
        let listener = ProcNetEntry(type: .tcp, localAddress: .anyV6, localPort: 80,
                                    remoteAddress: .anyV6, remotePort: 0, state: 10, inode: 3)
        let tables: [UInt32: [ProcNetEntry]] = [hostNS: [row, twin, listener], otherNS: [row, listener]]
        let r = InitialState.build(tables: tables, owners: [1: (pid: 7, comm: "a"), 2: (pid: 8, comm: "b")], now: now)
        XCTAssertEqual(r.seeds.map(\.tuple.netns), [hostNS, otherNS])
        XCTAssertEqual(r.seeds.map(\.pid), [7, 7])
        XCTAssertEqual(listening(r), ["tcp/\(hostNS)/80", "tcp/\(otherNS)/80"])
        XCTAssertEqual(r.listening.map(\.netns), [hostNS, otherNS])
    }

    func testClassification() {
        func e(_ type: ConnectionType, _ state: UInt8, remotePort: UInt16 = 9, inode: UInt64 = 5,
               localPort: UInt16 = 1234) -> ProcNetEntry {
            ProcNetEntry(type: type, localAddress: ip("10.0.0.1"), localPort: localPort,
                         remoteAddress: remotePort == 0 ? .anyV4 : ip("10.0.0.2"), remotePort: remotePort,
                         state: state, inode: inode)
        }
        for state: UInt8 in [1, 2, 4, 5, 8, 9, 11] { XCTAssertTrue(InitialState.isConnection(e(.tcp, state)), "\(state)") }
        XCTAssertFalse(InitialState.isConnection(e(.tcp, TCPStateNumber.timeWait, inode: 0)))
        XCTAssertFalse(InitialState.isConnection(e(.tcp, TCPStateNumber.listen, remotePort: 0)))
        XCTAssertFalse(InitialState.isConnection(e(.tcp, TCPStateNumber.newSynRecv, inode: 0)))
        XCTAssertTrue(InitialState.isConnection(e(.tcp, TCPStateNumber.synRecv, inode: 5)))  // fast-open child
        XCTAssertTrue(InitialState.isConnection(e(.udp, 1)))
        XCTAssertFalse(InitialState.isConnection(e(.udp, 7, remotePort: 0)))
        XCTAssertTrue(InitialState.isListening(e(.tcp, TCPStateNumber.listen, remotePort: 0)))
        XCTAssertFalse(InitialState.isListening(e(.tcp, TCPStateNumber.established)))
        XCTAssertTrue(InitialState.isListening(e(.udp, 7, remotePort: 0)))
        XCTAssertFalse(InitialState.isListening(e(.udp, 7, remotePort: 0, localPort: 0)))
        XCTAssertFalse(InitialState.isListening(e(.udp, 1)))
    }

    func testSeedOrderIsConnectionTupleOrder() {
        // Mixed protocols, namespaces, families (with v4-mapped rows) and ports in random order.
        var rng = SplitMix(seed: 42)
        var tables: [UInt32: [ProcNetEntry]] = [:]
        let addresses = ["10.0.0.1", "10.0.0.2", "192.168.1.1", "::1", "fd00::1", "fd00::2", "::ffff:10.0.0.3",
                         "2001:db8::1", "127.0.0.1"].map { IPAddress($0)! }
        for i in 0..<2000 {
            let ns: UInt32 = [hostNS, otherNS, 1][Int(rng.next() % 3)]
            let type: ConnectionType = rng.next() % 2 == 0 ? .tcp : .udp
            let e = ProcNetEntry(type: type, localAddress: addresses[Int(rng.next() % 9)],
                                 localPort: UInt16(rng.next() % 5 + 1),
                                 remoteAddress: addresses[Int(rng.next() % 9)], remotePort: UInt16(rng.next() % 5 + 1),
                                 state: 1, inode: UInt64(i))
            tables[ns, default: []].append(e)
        }
        let r = InitialState.build(tables: tables, owners: [:], now: now)
        let tuples = r.seeds.map(\.tuple)
        XCTAssertEqual(tuples, tuples.sorted())
        XCTAssertEqual(Set(tuples).count, tuples.count)
        let distinct = Set(tables.flatMap { ns, rows in
            rows.map { ConnectionTuple(type: $0.type, netns: ns, source: $0.localAddress, sport: $0.localPort,
                                       dest: $0.remoteAddress, dport: $0.remotePort) }
        })
        XCTAssertEqual(tuples.count, distinct.count)
        XCTAssertGreaterThan(tuples.count, 1000)
    }
}

