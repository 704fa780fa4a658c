import XCTest
import TracerCore

final class PortMappingTests: XCTestCase {
    private let ns: UInt32 = 4026531840
    private let otherNs: UInt32 = 4026532200

    func testListeningIsPerTypeNetnsAndPort() {
        var ports = PortMapping()
        XCTAssertFalse(ports.isListening(type: .tcp, netns: ns, port: 80))
        ports.add(type: .tcp, netns: ns, port: 80)
        XCTAssertTrue(ports.isListening(type: .tcp, netns: ns, port: 80))
        XCTAssertFalse(ports.isListening(type: .udp, netns: ns, port: 80))
        XCTAssertFalse(ports.isListening(type: .tcp, netns: otherNs, port: 80))
        XCTAssertFalse(ports.isListening(type: .tcp, netns: ns, port: 81))
        XCTAssertEqual(ports.count, 1)
        ports.remove(type: .tcp, netns: ns, port: 80)
        XCTAssertFalse(ports.isListening(type: .tcp, netns: ns, port: 80))
        XCTAssertEqual(ports.count, 0)
    }

    func testInitFromList() {
        let ports = PortMapping([(type: .tcp, netns: ns, port: 22), (type: .udp, netns: otherNs, port: 53)])
        XCTAssertTrue(ports.isListening(type: .tcp, netns: ns, port: 22))
        XCTAssertTrue(ports.isListening(type: .udp, netns: otherNs, port: 53))
        XCTAssertFalse(ports.isListening(type: .udp, netns: ns, port: 53))
        XCTAssertEqual(ports.count, 2)
    }

    func testPortStaysListeningUntilItsLastSocketGoes() {
        // An IPv4 and an IPv6 listener on the same port: closing one leaves the port listening.
        var ports = PortMapping([(type: .tcp, netns: ns, port: 443), (type: .tcp, netns: ns, port: 443)])
        ports.remove(type: .tcp, netns: ns, port: 443)
        XCTAssertTrue(ports.isListening(type: .tcp, netns: ns, port: 443))
        ports.remove(type: .tcp, netns: ns, port: 443)
        XCTAssertFalse(ports.isListening(type: .tcp, netns: ns, port: 443))
    }

    func testUnmatchedRemoveDoesNotGoNegative() {
        var ports = PortMapping()
        ports.remove(type: .udp, netns: ns, port: 5353)
        ports.add(type: .udp, netns: ns, port: 5353)
        XCTAssertTrue(ports.isListening(type: .udp, netns: ns, port: 5353))
        ports.remove(type: .udp, netns: ns, port: 5353)
        XCTAssertFalse(ports.isListening(type: .udp, netns: ns, port: 5353))
    }
}
