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

    func testOwnerIsKnownWhileEverySocketOnThePortIsOneProcesses() {
        let nginx = PortMapping.Owner(pid: 700, comm: "nginx")
        var ports = PortMapping()
        ports.add(type: .tcp, netns: ns, port: 80, owner: nginx)
        XCTAssertEqual(ports.owner(type: .tcp, netns: ns, port: 80), nginx)
        XCTAssertNil(ports.owner(type: .tcp, netns: otherNs, port: 80))
        XCTAssertNil(ports.owner(type: .udp, netns: ns, port: 80))
        // Its IPv6 listener on the same port: still one process.
        ports.add(type: .tcp, netns: ns, port: 80, owner: PortMapping.Owner(pid: 700, comm: "nginx"))
        XCTAssertEqual(ports.owner(type: .tcp, netns: ns, port: 80), nginx)
        ports.remove(type: .tcp, netns: ns, port: 80)
        XCTAssertEqual(ports.owner(type: .tcp, netns: ns, port: 80), nginx)
        ports.remove(type: .tcp, netns: ns, port: 80)
        XCTAssertNil(ports.owner(type: .tcp, netns: ns, port: 80))
    }

    func testPortSharedByTwoProcessesNamesNobodyUntilAllItsSocketsClose() {
        var ports = PortMapping()
        ports.add(type: .tcp, netns: ns, port: 8080, owner: PortMapping.Owner(pid: 10, comm: "worker"))
        ports.add(type: .tcp, netns: ns, port: 8080, owner: PortMapping.Owner(pid: 11, comm: "worker"))
        XCTAssertNil(ports.owner(type: .tcp, netns: ns, port: 8080))
        // Which of the two closed is not known: the port stays unattributed while any socket is left.
        ports.remove(type: .tcp, netns: ns, port: 8080)
        XCTAssertNil(ports.owner(type: .tcp, netns: ns, port: 8080))
        ports.remove(type: .tcp, netns: ns, port: 8080)
        let java = PortMapping.Owner(pid: 12, comm: "java")
        ports.add(type: .tcp, netns: ns, port: 8080, owner: java)
        XCTAssertEqual(ports.owner(type: .tcp, netns: ns, port: 8080), java)
    }

    func testListenerReadFromProcHasNoOwnerAndHidesALaterOne() {
        var ports = PortMapping([(type: .tcp, netns: ns, port: 22)])
        XCTAssertNil(ports.owner(type: .tcp, netns: ns, port: 22))
        ports.add(type: .tcp, netns: ns, port: 22, owner: PortMapping.Owner(pid: 99, comm: "sshd"))
        XCTAssertNil(ports.owner(type: .tcp, netns: ns, port: 22))
    }
}
