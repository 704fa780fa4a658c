@testable import TracerCore
import XCTest

/// The tuple keeps its addresses as words and a byte of families: what goes in comes out, each end keeps
/// its own family, and equality and order are those of the addresses.
final class ConnectionTupleTests: XCTestCase {
    func testEndsKeepTheirOwnAddressAndFamily() {
        let v4 = IPAddress("10.1.2.3")!, v6 = IPAddress("fd00::7")!, any6 = IPAddress.anyV6
        var t = ConnectionTuple(type: .udp, netns: 5, source: v4, sport: 53, dest: any6, dport: 0)
        XCTAssertEqual(t.source, v4)
        XCTAssertEqual(t.dest, any6)
        XCTAssertEqual(t.dest.family, .v6)

        t.source = v6
        t.dest = v4
        XCTAssertEqual(t.source, v6)
        XCTAssertEqual(t.dest, v4)
        let same = ConnectionTuple(type: .udp, netns: 5, source: v6, sport: 53, dest: v4, dport: 0)
        XCTAssertEqual(t, same)
        XCTAssertEqual(Set([t, same]).count, 1)
        XCTAssertEqual(t.family, .v4, "the family shown is the remote end's when it has one")
    }

    func testOrderFollowsTheAddresses() {
        let a = ConnectionTuple(type: .tcp, netns: 1, source: IPAddress("10.0.0.1")!, sport: 9, dest: IPAddress("10.0.0.2")!, dport: 80)
        var b = a
        b.source = IPAddress("10.0.0.2")!
        XCTAssertLessThan(a, b)
        b.source = IPAddress("::1")!
        XCTAssertLessThan(a, b, "IPv4 before IPv6, as IPAddress orders them")
        XCTAssertFalse(b < b)
    }
}
