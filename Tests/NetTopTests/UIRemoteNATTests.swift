import XCTest
@testable import NetTop
import TracerCore

/// The REMOTE column shows the real endpoint of a NATed connection, marked D> (this end connected through
/// a destination NAT) or S< (a source NAT hid the peer that connected here).
final class UIRemoteNATTests: XCTestCase {
    private func row(direction: Direction, dest: String, dport: UInt16, nat: IPTranslation?) -> ConnectionStats {
        ConnectionStats(
            tuple: ConnectionTuple(type: .tcp, netns: 1, source: IPAddress("10.0.1.2")!, sport: 40000,
                                   dest: IPAddress(dest)!, dport: dport),
            direction: direction, pid: 1, comm: "c",
            monotonicSentBytes: 0, lastSentBytes: 0, monotonicRecvBytes: 0, lastRecvBytes: 0,
            monotonicRetransmits: 0, lastRetransmits: 0, lastUpdateEpoch: 0, firstSeen: 0, lastActivity: 0,
            closed: false, tcpState: 1, conntrack: nat)
    }

    func testPlainConnectionShowsItsOwnRemote() {
        XCTAssertEqual(RowText.remote(row(direction: .outgoing, dest: "10.0.9.9", dport: 80, nat: nil)), "10.0.9.9:80")
    }

    func testDNATShowsTheRealServer() {
        let nat = IPTranslation(replSrcIP: IPAddress("10.0.2.2")!, replSport: 8080,
                                replDstIP: IPAddress("10.0.1.2")!, replDport: 40000)
        XCTAssertEqual(RowText.remote(row(direction: .outgoing, dest: "198.51.100.7", dport: 80, nat: nat)), "D>10.0.2.2:8080")
    }

    func testOwnAddressTranslatedKeepsTheRemoteAndMarksTheSide() {
        let masq = IPTranslation(replSrcIP: IPAddress("1.1.1.1")!, replSport: 443,
                                 replDstIP: IPAddress("192.168.1.10")!, replDport: 61000)
        XCTAssertEqual(RowText.remote(row(direction: .outgoing, dest: "1.1.1.1", dport: 443, nat: masq)), "S>1.1.1.1:443")
        let forward = IPTranslation(replSrcIP: IPAddress("10.0.9.9")!, replSport: 5000,
                                    replDstIP: IPAddress("203.0.113.1")!, replDport: 80)
        XCTAssertEqual(RowText.remote(row(direction: .incoming, dest: "10.0.9.9", dport: 5000, nat: forward)), "D<10.0.9.9:5000")
    }

    func testSNATSeenFromTheServerShowsTheRealClient() {
        let nat = IPTranslation(replSrcIP: IPAddress("fd00::1")!, replSport: 5555,
                                replDstIP: IPAddress("fd00:2::2")!, replDport: 40000)
        XCTAssertEqual(RowText.remote(row(direction: .incoming, dest: "fd00:2::1", dport: 61000, nat: nat)), "S<[fd00::1]:5555")
    }
}
