import XCTest
import TracerCore

final class DirectionResolverTests: XCTestCase {
    private typealias F = ModelFixtures

    private func direction(_ tuple: ConnectionTuple, _ origin: Origin, ports: PortMapping = PortMapping()) -> Direction {
        DirectionResolver.direction(for: F.sample(tuple, cookie: 1, origin: origin), ports: ports)
    }

    func testOriginDecides() {
        let t = F.tuple(.tcp, "10.0.0.1", 40000, "93.184.216.34", 443)
        let u = F.tuple(.udp, "10.0.0.1", 53, "10.0.0.9", 41000)
        XCTAssertEqual(direction(t, .connect), .outgoing)
        XCTAssertEqual(direction(t, .accept), .incoming)
        XCTAssertEqual(direction(u, .udpBound), .incoming)
        XCTAssertEqual(direction(u, .udpClient), .outgoing)
    }

    func testLoopbackPeerIsLocalWhateverTheOrigin() {
        for origin in [Origin.connect, .accept, .udpBound, .udpClient, .unknown] {
            XCTAssertEqual(direction(F.tuple(.tcp, "127.0.0.1", 40000, "127.0.0.1", 8080), origin), .local)
            XCTAssertEqual(direction(F.tuple(.tcp, "127.0.0.1", 8080, "127.5.6.7", 40000), origin), .local)
            XCTAssertEqual(direction(F.tuple(.udp, "::1", 53, "::1", 41000), origin), .local)
            XCTAssertEqual(direction(F.tuple(.tcp, "::1", 8080, "::ffff:127.0.0.1", 40000), origin), .local)
        }
        // A loopback source with a non-loopback peer is not local by the rule (dest decides).
        XCTAssertEqual(direction(F.tuple(.tcp, "127.0.0.1", 40000, "10.0.0.2", 80), .connect), .outgoing)
    }

    func testUnknownOriginUsesListeningPorts() {
        let ports = PortMapping([(type: .tcp, netns: F.hostNetns, port: 22), (type: .udp, netns: 7, port: 53)])
        XCTAssertEqual(direction(F.tuple(.tcp, "10.0.0.1", 22, "10.0.0.50", 51000), .unknown, ports: ports), .incoming)
        XCTAssertEqual(direction(F.tuple(.tcp, "10.0.0.1", 51000, "10.0.0.50", 22), .unknown, ports: ports), .outgoing)
        // The listener is per type and per netns.
        XCTAssertEqual(direction(F.tuple(.udp, "10.0.0.1", 22, "10.0.0.50", 51000), .unknown, ports: ports), .outgoing)
        XCTAssertEqual(direction(F.tuple(.udp, netns: 7, "10.0.0.1", 53, "10.0.0.50", 51000), .unknown, ports: ports),
                       .incoming)
        XCTAssertEqual(direction(F.tuple(.udp, "10.0.0.1", 53, "10.0.0.50", 51000), .unknown, ports: ports), .outgoing)
        // Known origins do not consult the ports.
        XCTAssertEqual(direction(F.tuple(.tcp, "10.0.0.1", 22, "10.0.0.50", 51000), .connect, ports: ports), .outgoing)
    }

    func testNoPeerIsNone() {
        XCTAssertEqual(direction(F.tuple(.udp, "10.0.0.1", 53, "0.0.0.0", 0), .udpBound), .none)
        XCTAssertEqual(direction(F.tuple(.udp, "::", 53, "::", 0), .unknown), .none)
        // An unspecified address with a port, or an address with port 0, still names a peer.
        XCTAssertEqual(direction(F.tuple(.udp, "10.0.0.1", 53, "0.0.0.0", 41000), .udpBound), .incoming)
        XCTAssertEqual(direction(F.tuple(.udp, "10.0.0.1", 53, "10.0.0.7", 0), .udpClient), .outgoing)
    }

    func testTupleOverloadAgrees() {
        let t = F.tuple(.tcp, "10.0.0.1", 40000, "10.0.0.2", 80)
        XCTAssertEqual(DirectionResolver.direction(tuple: t, origin: .accept, ports: PortMapping()), .incoming)
    }
}
