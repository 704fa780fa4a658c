import XCTest
import TracerCore

/// The pure conntrack table: which socket ends a flow answers for, in which namespace, and for how long.
final class ConntrackTableTests: XCTestCase {
    private let router: UInt32 = 4026532001
    private let client: UInt32 = 4026532002
    private let server: UInt32 = 4026532003

    private func ip(_ s: String) -> IPAddress { ModelFixtures.ip(s) }

    private func ends(_ src: String, _ sport: UInt16, _ dst: String, _ dport: UInt16) -> FlowEndpoints {
        FlowEndpoints(src: ip(src), sport: sport, dst: ip(dst), dport: dport)
    }

    /// Client 10.0.1.1:40000 → VIP 198.18.0.1:80, DNATed to the server 10.0.2.2:8080.
    private func dnat(_ type: ConnectionType = .tcp, sport: UInt16 = 40000) -> ConntrackFlow {
        ConntrackFlow(type: type, original: ends("10.0.1.1", sport, "198.18.0.1", 80),
                      reply: ends("10.0.2.2", 8080, "10.0.1.1", sport))
    }

    /// Client 10.0.1.1:40000 → server 10.0.2.2:8080, masqueraded to the router's 10.0.2.1:50000.
    private func snat() -> ConntrackFlow {
        ConntrackFlow(type: .tcp, original: ends("10.0.1.1", 40000, "10.0.2.2", 8080),
                      reply: ends("10.0.2.2", 8080, "10.0.2.1", 50000))
    }

    private func clientEnd(_ type: ConnectionType = .tcp, netns: UInt32, sport: UInt16 = 40000) -> ConnectionTuple {
        ModelFixtures.tuple(type, netns: netns, "10.0.1.1", sport, "198.18.0.1", 80)
    }

    func testDNATResolvesTheClientEndToTheRealServer() {
        var table = ConntrackTable()
        table.apply([ConntrackEvent(.new, dnat())], netns: router)
        let t = table.translation(for: clientEnd(netns: client))
        XCTAssertEqual(t, IPTranslation(replSrcIP: ip("10.0.2.2"), replSport: 8080, replDstIP: ip("10.0.1.1"), replDport: 40000))
    }

    func testDNATResolvesTheServerEndThroughTheReplyTuple() {
        var table = ConntrackTable()
        table.apply([ConntrackEvent(.new, dnat())], netns: router)
        let serverEnd = ModelFixtures.tuple(.tcp, netns: server, "10.0.2.2", 8080, "10.0.1.1", 40000)
        XCTAssertEqual(table.translation(for: serverEnd),
                       IPTranslation(replSrcIP: ip("10.0.1.1"), replSport: 40000, replDstIP: ip("198.18.0.1"), replDport: 80))
    }

    func testSNATSeenFromTheServerShowsTheRealClient() {
        var table = ConntrackTable()
        table.apply([ConntrackEvent(.new, snat())], netns: router)
        let serverEnd = ModelFixtures.tuple(.tcp, netns: server, "10.0.2.2", 8080, "10.0.2.1", 50000)
        XCTAssertEqual(table.translation(for: serverEnd),
                       IPTranslation(replSrcIP: ip("10.0.1.1"), replSport: 40000, replDstIP: ip("10.0.2.2"), replDport: 8080))
        // The client end matches the original tuple: its reply shows where the server's answers go.
        let clientEnd = ModelFixtures.tuple(.tcp, netns: client, "10.0.1.1", 40000, "10.0.2.2", 8080)
        XCTAssertEqual(table.translation(for: clientEnd)?.replDstIP, ip("10.0.2.1"))
    }

    func testNoTranslationWhenTheReplyIsThePlainInverse() {
        var table = ConntrackTable()
        let plain = ConntrackFlow(type: .tcp, original: ends("10.0.1.1", 40000, "10.0.2.2", 8080),
                                  reply: ends("10.0.2.2", 8080, "10.0.1.1", 40000))
        XCTAssertFalse(plain.isNAT)
        table.apply([ConntrackEvent(.new, plain)], netns: router)
        XCTAssertNil(table.translation(for: ModelFixtures.tuple(.tcp, netns: router, "10.0.1.1", 40000, "10.0.2.2", 8080)))
        XCTAssertNil(table.translation(for: ModelFixtures.tuple(.tcp, netns: router, "10.0.2.2", 8080, "10.0.1.1", 40000)))
        XCTAssertEqual(table.liveCount, 0)
        XCTAssertTrue(table.isEmpty)
    }

    func testProtocolIsPartOfTheMatch() {
        var table = ConntrackTable()
        table.apply([ConntrackEvent(.new, dnat(.udp))], netns: router)
        XCTAssertNil(table.translation(for: clientEnd(.tcp, netns: client)))
        XCTAssertEqual(table.translation(for: clientEnd(.udp, netns: client))?.replSport, 8080)
    }

    func testIPv6DNAT() {
        var table = ConntrackTable()
        let flow = ConntrackFlow(type: .udp, original: ends("fd00:1::1", 5353, "fd00:99::1", 53),
                                 reply: ends("fd00:2::2", 5300, "fd00:1::1", 5353))
        table.apply([ConntrackEvent(.new, flow)], netns: router)
        let t = table.translation(for: ModelFixtures.tuple(.udp, netns: client, "fd00:1::1", 5353, "fd00:99::1", 53))
        XCTAssertEqual(t, IPTranslation(replSrcIP: ip("fd00:2::2"), replSport: 5300, replDstIP: ip("fd00:1::1"), replDport: 5353))
        XCTAssertNil(table.translation(for: ModelFixtures.tuple(.udp, netns: client, "fd00:1::1", 5353, "fd00:99::2", 53)))
    }

    func testOwnNamespaceFirstThenOthers() {
        var table = ConntrackTable()
        // The same client tuple translated differently in the router and in the client's own namespace.
        let inRouter = dnat()
        let inOwn = ConntrackFlow(type: .tcp, original: inRouter.original, reply: ends("10.0.3.3", 9090, "10.0.1.1", 40000))
        table.apply([ConntrackEvent(.new, inRouter)], netns: router)
        table.apply([ConntrackEvent(.new, inOwn)], netns: client)
        XCTAssertEqual(table.translation(for: clientEnd(netns: client))?.replSrcIP, ip("10.0.3.3"))
        // A socket of a third namespace takes the lowest inode's (stable, whatever the insertion order).
        XCTAssertEqual(table.translation(for: clientEnd(netns: server))?.replSrcIP, ip("10.0.2.2"))
        table.apply([ConntrackEvent(.destroy, inOwn)], netns: client)
        table.beginTick()
        XCTAssertEqual(table.translation(for: clientEnd(netns: client))?.replSrcIP, ip("10.0.2.2"))
    }

    func testUpdateAndDestroyAreKeyedByTheOriginalTuple() {
        var table = ConntrackTable()
        table.apply([ConntrackEvent(.new, dnat()), ConntrackEvent(.update, dnat())], netns: router)
        XCTAssertEqual(table.liveCount, 1)
        table.apply([ConntrackEvent(.destroy, dnat())], netns: router)
        XCTAssertEqual(table.liveCount, 0)
        XCTAssertEqual(table.destroyedCount, 1)
        // A destroy for a flow never seen (or not NATed) changes nothing.
        table.apply([ConntrackEvent(.destroy, dnat(sport: 1))], netns: router)
        XCTAssertEqual(table.destroyedCount, 1)
    }

    func testDestroyedFlowAnswersForOneMoreTickThenIsGone() {
        var table = ConntrackTable()
        table.beginTick()
        table.apply([ConntrackEvent(.new, dnat()), ConntrackEvent(.destroy, dnat())], netns: router)
        // Opened and closed between two ticks: this tick still resolves it...
        XCTAssertEqual(table.translation(for: clientEnd(netns: client))?.replSport, 8080)
        table.beginTick()
        // ...the next one no longer does.
        XCTAssertNil(table.translation(for: clientEnd(netns: client)))
        XCTAssertEqual(table.destroyedCount, 0)
        XCTAssertTrue(table.isEmpty)
    }

    func testLiveFlowWinsOverADestroyedOneWithTheSameTuple() {
        var table = ConntrackTable()
        let old = dnat()
        let reused = ConntrackFlow(type: .tcp, original: old.original, reply: ends("10.0.2.9", 8080, "10.0.1.1", 40000))
        table.apply([ConntrackEvent(.new, old), ConntrackEvent(.destroy, old), ConntrackEvent(.new, reused)], netns: router)
        XCTAssertEqual(table.translation(for: clientEnd(netns: client))?.replSrcIP, ip("10.0.2.9"))
        table.beginTick()
        XCTAssertEqual(table.translation(for: clientEnd(netns: client))?.replSrcIP, ip("10.0.2.9"))
    }

    func testDestroyedBufferIsBounded() {
        var table = ConntrackTable(destroyedCapacity: 3)
        let flows = (0..<5).map { dnat(sport: 41000 + UInt16($0)) }
        table.apply(flows.map { ConntrackEvent(.new, $0) }, netns: router)
        table.apply(flows.map { ConntrackEvent(.destroy, $0) }, netns: router)
        XCTAssertEqual(table.destroyedCount, 3)
        XCTAssertEqual(table.destroyedDrops, 2)
        // The oldest two were dropped, the newest three still answer.
        XCTAssertNil(table.translation(for: clientEnd(netns: client, sport: 41000)))
        XCTAssertNil(table.translation(for: clientEnd(netns: client, sport: 41001)))
        for sport in UInt16(41002)...41004 {
            XCTAssertNotNil(table.translation(for: clientEnd(netns: client, sport: sport)), "sport \(sport)")
        }
    }

    func testZeroCapacityKeepsNoDestroyedFlows() {
        var table = ConntrackTable(destroyedCapacity: 0)
        table.apply([ConntrackEvent(.new, dnat()), ConntrackEvent(.destroy, dnat())], netns: router)
        XCTAssertNil(table.translation(for: clientEnd(netns: client)))
        XCTAssertEqual(table.destroyedDrops, 0)
    }

    func testResyncReplacesANamespacesFlows() {
        var table = ConntrackTable()
        let kept = dnat(sport: 42000), gone = dnat(sport: 42001), added = dnat(sport: 42002)
        let elsewhere = dnat(sport: 42003)
        table.apply([ConntrackEvent(.new, kept), ConntrackEvent(.new, gone)], netns: router)
        table.apply([ConntrackEvent(.new, elsewhere)], netns: server)
        table.beginTick()

        table.replace(netns: router, with: [kept, added])
        XCTAssertEqual(Set(table.flows(netns: router)), [kept, added])
        XCTAssertEqual(table.flows(netns: server), [elsewhere], "other namespaces are untouched")
        XCTAssertEqual(table.replacements, 1)
        // The flow missing from the dump was destroyed while events were lost: it answers this tick only.
        XCTAssertNotNil(table.translation(for: clientEnd(netns: client, sport: 42001)))
        table.beginTick()
        XCTAssertNil(table.translation(for: clientEnd(netns: client, sport: 42001)))
        XCTAssertNotNil(table.translation(for: clientEnd(netns: client, sport: 42000)))
        XCTAssertNotNil(table.translation(for: clientEnd(netns: client, sport: 42002)))
        XCTAssertEqual(table.liveCount, 3)
    }

    func testResyncWithAChangedReplyTupleTakesTheDumpsVersion() {
        var table = ConntrackTable()
        table.apply([ConntrackEvent(.new, dnat())], netns: router)
        let moved = ConntrackFlow(type: .tcp, original: dnat().original, reply: ends("10.0.2.7", 8080, "10.0.1.1", 40000))
        table.replace(netns: router, with: [moved])
        XCTAssertEqual(table.translation(for: clientEnd(netns: client))?.replSrcIP, ip("10.0.2.7"))
        XCTAssertNil(table.translation(for: ModelFixtures.tuple(.tcp, netns: server, "10.0.2.2", 8080, "10.0.1.1", 40000)))
    }

    func testRemovedNamespaceAnswersOneMoreTick() {
        var table = ConntrackTable()
        table.apply([ConntrackEvent(.new, dnat())], netns: router)
        table.beginTick()
        table.removeNamespace(router)
        XCTAssertEqual(table.namespaces, [])
        XCTAssertNotNil(table.translation(for: clientEnd(netns: client)))
        table.beginTick()
        XCTAssertNil(table.translation(for: clientEnd(netns: client)))
    }

    func testManyFlowsStayConsistentThroughChurn() {
        var table = ConntrackTable(destroyedCapacity: 100_000)
        let flows = (0..<5000).map { dnat(sport: UInt16(20000 + $0)) }
        table.apply(flows.map { ConntrackEvent(.new, $0) }, netns: router)
        table.apply(flows.prefix(2500).map { ConntrackEvent(.destroy, $0) }, netns: router)
        XCTAssertEqual(table.liveCount, 2500)
        XCTAssertEqual(table.destroyedCount, 2500)
        table.beginTick()
        for (i, flow) in flows.enumerated() {
            let t = table.translation(for: clientEnd(netns: client, sport: flow.original.sport))
            XCTAssertEqual(t != nil, i >= 2500, "sport \(flow.original.sport)")
        }
    }

    func testUnconnectedUDPSocketWithUnknownLocalAddressMatchesOnPortsAndRemote() {
        var table = ConntrackTable()
        table.apply([ConntrackEvent(.new, dnat(.udp, sport: 5000))], netns: router)
        // A sendto() client's row: local address unknown (0.0.0.0), or :: for a dual-stack socket.
        for local in ["0.0.0.0", "::"] {
            let t = ModelFixtures.tuple(.udp, netns: client, local, 5000, "198.18.0.1", 80)
            XCTAssertEqual(table.translation(for: t)?.replSrcIP, ip("10.0.2.2"), local)
        }
        XCTAssertNil(table.translation(for: ModelFixtures.tuple(.udp, netns: client, "0.0.0.0", 5001, "198.18.0.1", 80)))
        table.apply([ConntrackEvent(.destroy, dnat(.udp, sport: 5000))], netns: router)
        table.beginTick()
        XCTAssertNil(table.translation(for: ModelFixtures.tuple(.udp, netns: client, "0.0.0.0", 5000, "198.18.0.1", 80)))
        XCTAssertTrue(table.isEmpty, "the wildcard entries go with the flow")
    }

    /// Lookups skip ports no NAT flow has; a port stays known while any of its flows is, and comes back.
    func testAPortAnswersWhileAnyOfItsFlowsLivesAndAgainWhenOneReturns() {
        var table = ConntrackTable(destroyedCapacity: 0)
        let tcpEnd = clientEnd(netns: client, sport: 6000)
        let udpEnd = clientEnd(.udp, netns: client, sport: 6000)
        table.apply([ConntrackEvent(.new, dnat(sport: 6000)), ConntrackEvent(.new, dnat(.udp, sport: 6000))], netns: router)
        XCTAssertNotNil(table.translation(for: tcpEnd))
        XCTAssertNotNil(table.translation(for: udpEnd))
        XCTAssertNil(table.translation(for: clientEnd(netns: client, sport: 6001)))

        table.apply([ConntrackEvent(.destroy, dnat(sport: 6000))], netns: router)
        table.beginTick()
        XCTAssertNil(table.translation(for: tcpEnd))
        XCTAssertNotNil(table.translation(for: udpEnd), "the other flow on the port still answers")

        table.apply([ConntrackEvent(.destroy, dnat(.udp, sport: 6000))], netns: router)
        table.beginTick()
        XCTAssertNil(table.translation(for: udpEnd))
        XCTAssertTrue(table.isEmpty)

        table.apply([ConntrackEvent(.new, dnat(sport: 6000))], netns: router)
        XCTAssertNotNil(table.translation(for: tcpEnd), "a new flow on the port is found")
    }
}
