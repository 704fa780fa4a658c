import XCTest
import TracerCore

/// The resolvers behind `NATResolving` that need no kernel: the no-op one and the fake.
final class ConntrackResolverTests: XCTestCase {
    private let router: UInt32 = 4026532001
    private let client: UInt32 = 4026532002

    private func flow(sport: UInt16) -> ConntrackFlow {
        ConntrackFlow(type: .tcp,
                      original: FlowEndpoints(src: ModelFixtures.ip("10.0.1.1"), sport: sport, dst: ModelFixtures.ip("198.18.0.1"), dport: 80),
                      reply: FlowEndpoints(src: ModelFixtures.ip("10.0.2.2"), sport: 8080, dst: ModelFixtures.ip("10.0.1.1"), dport: sport))
    }

    private func clientEnd(sport: UInt16) -> ConnectionTuple {
        ModelFixtures.tuple(.tcp, netns: client, "10.0.1.1", sport, "198.18.0.1", 80)
    }

    func testNoNATResolverSaysWhyAndResolvesNothing() {
        let off = NoNATResolver()
        off.poll(now: 1)
        XCTAssertFalse(off.available)
        XCTAssertEqual(off.unavailableReason, "conntrack is turned off (--no-conntrack)")
        XCTAssertNil(off.translation(for: clientEnd(sport: 1)))
        XCTAssertEqual(off.counters, ConntrackCounters())
        off.close()
        off.close()
    }

    func testFakeAppliesDeliveriesAtTheNextPoll() {
        let fake = FakeNATResolver()
        fake.deliver([ConntrackEvent(.new, flow(sport: 40000))], netns: router)
        XCTAssertNil(fake.translation(for: clientEnd(sport: 40000)), "nothing before the poll")
        fake.poll(now: 1)
        XCTAssertEqual(fake.translation(for: clientEnd(sport: 40000))?.replSport, 8080)
        XCTAssertEqual(fake.counters.flows, 1)
        XCTAssertEqual(fake.counters.namespaces, 1)
    }

    func testFakeShortLivedFlowResolvesForTheTickItClosedIn() {
        let fake = FakeNATResolver(bufferSize: 16)
        fake.poll(now: 1)
        fake.deliver([ConntrackEvent(.new, flow(sport: 40001)), ConntrackEvent(.destroy, flow(sport: 40001))], netns: router)
        fake.poll(now: 2)
        XCTAssertNotNil(fake.translation(for: clientEnd(sport: 40001)))
        XCTAssertEqual(fake.counters.destroyedBuffered, 1)
        fake.poll(now: 3)
        XCTAssertNil(fake.translation(for: clientEnd(sport: 40001)))
        XCTAssertEqual(fake.counters.destroyedBuffered, 0)
    }

    func testFakeResyncIsCounted() {
        let fake = FakeNATResolver()
        fake.deliver([ConntrackEvent(.new, flow(sport: 40002))], netns: router)
        fake.poll(now: 1)
        fake.resync(netns: router, flows: [flow(sport: 40003)])
        fake.poll(now: 2)
        XCTAssertEqual(fake.counters.resyncs, 1)
        XCTAssertNotNil(fake.translation(for: clientEnd(sport: 40003)))
        XCTAssertNotNil(fake.translation(for: clientEnd(sport: 40002)), "gone from the dump: kept for this tick")
        fake.poll(now: 3)
        XCTAssertNil(fake.translation(for: clientEnd(sport: 40002)))
    }

    func testUnavailableFakeResolvesNothing() {
        let fake = FakeNATResolver(available: false, unavailableReason: "no CAP_NET_ADMIN")
        fake.deliver([ConntrackEvent(.new, flow(sport: 40004))], netns: router)
        fake.poll(now: 1)
        XCTAssertNil(fake.translation(for: clientEnd(sport: 40004)))
        XCTAssertEqual(fake.unavailableReason, "no CAP_NET_ADMIN")
    }
}
