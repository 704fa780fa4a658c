import XCTest
import TracerCore

final class IPAddressTests: XCTestCase {
    func testParsesAndFormatsIPv4() throws {
        let a = try XCTUnwrap(IPAddress("192.168.1.20"))
        XCTAssertEqual(a.family, .v4)
        XCTAssertEqual(Array(a.bytes[0..<4]), [192, 168, 1, 20])
        XCTAssertEqual(Array(a.bytes[4...]), [UInt8](repeating: 0, count: 12))
        XCTAssertEqual(a.description, "192.168.1.20")
        XCTAssertEqual(IPAddress(v4: 10, 0, 0, 1), IPAddress("10.0.0.1"))
        XCTAssertEqual(IPAddress("0.0.0.0"), IPAddress.anyV4)
        XCTAssertEqual(IPAddress("255.255.255.255")?.description, "255.255.255.255")
    }

    func testRejectsMalformedIPv4() {
        for text in ["256.1.1.1", "1.2.3", "1.2.3.4.5", "1..2.3", "+1.2.3.4", "1.2.3.-4", "a.b.c.d", "", " 1.2.3.4",
                     "1.2.3.4 ", "1234.1.1.1"] {
            XCTAssertNil(IPAddress(text), "accepted \(text.debugDescription)")
        }
    }

    func testFormatsIPv6PerRFC5952() {
        let cases: [(String, String)] = [
            ("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"),  // leading zeros dropped, longest run
            ("2001:DB8::1", "2001:db8::1"),                                // lower case
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),              // a single zero group stays
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),                       // the longest run is compressed
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),                 // equal runs: the first
            ("0:0:0:0:0:0:0:0", "::"),
            ("0:0:0:0:0:0:0:1", "::1"),
            ("fe80:0:0:0:0:0:0:0", "fe80::"),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
            ("fd00::2", "fd00::2"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(IPAddress(input)?.description, expected, "formatting \(input)")
            XCTAssertEqual(IPAddress(input)?.family, .v6, input)
        }
    }

    func testParsesIPv6Bytes() throws {
        let a = try XCTUnwrap(IPAddress("2001:db8::ff00:42"))
        XCTAssertEqual(a.bytes, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x00, 0x00, 0x42])
        XCTAssertEqual(IPAddress("::"), IPAddress.anyV6)
        XCTAssertTrue(IPAddress.anyV6.isUnspecified)
        XCTAssertTrue(IPAddress.anyV4.isUnspecified)
        XCTAssertFalse(a.isUnspecified)
    }

    func testOctetsMatchBytes() throws {
        let v6 = try XCTUnwrap(IPAddress("2001:db8::ff00:42"))
        XCTAssertEqual((0..<16).map(v6.octet), v6.bytes)
        XCTAssertEqual(v6.octet(0), 0x20)
        XCTAssertEqual(v6.octet(15), 0x42)
        let v4 = IPAddress(v4: 192, 0, 2, 33)
        XCTAssertEqual((0..<4).map(v4.octet), [192, 0, 2, 33])
        XCTAssertEqual(v4.bytes.count, 16)
        XCTAssertEqual(IPAddress(family: .v6, raw: v6.bytes), v6, "bytes round-trip")
        XCTAssertEqual(IPAddress(family: .v4, raw: v4.bytes), v4)
    }

    func testEqualityAndHashingFollowTheAddress() {
        let a = IPAddress("10.0.0.1")!, b = IPAddress(family: .v4, raw: [10, 0, 0, 1]), c = IPAddress("::ffff:10.0.0.1")!
        XCTAssertEqual(Set([a, b, c]).count, 1)
        // The same bytes in another family are another address.
        XCTAssertNotEqual(IPAddress(family: .v6, raw: [10, 0, 0, 1] + [UInt8](repeating: 0, count: 12)), a)
    }

    func testIPv4MappedBecomesIPv4() throws {
        let text = try XCTUnwrap(IPAddress("::ffff:10.1.2.3"))
        XCTAssertEqual(text.family, .v4)
        XCTAssertEqual(text, IPAddress(v4: 10, 1, 2, 3))
        XCTAssertEqual(text.description, "10.1.2.3")

        let hex = try XCTUnwrap(IPAddress("::ffff:7f00:1"))
        XCTAssertEqual(hex, IPAddress(v4: 127, 0, 0, 1))
        XCTAssertTrue(hex.isLoopback)

        let raw = IPAddress(family: .v6, raw: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7])
        XCTAssertEqual(raw.family, .v4)
        XCTAssertEqual(raw.description, "192.0.2.7")

        // Only ::ffff:0:0/96 is mapped; ::a.b.c.d (deprecated compatible form) stays IPv6.
        XCTAssertEqual(IPAddress("::10.1.2.3")?.family, .v6)
        XCTAssertEqual(IPAddress("::10.1.2.3")?.description, "::a01:203")
    }

    func testRejectsMalformedIPv6() {
        for text in ["1::2::3", ":::1", "1:::2", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::1", "+f::1",
                     "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1.2.3.4::", "::ffff:1.2.3", ":1::", "1::2:"] {
            XCTAssertNil(IPAddress(text), "accepted \(text.debugDescription)")
        }
    }

    func testLoopback() {
        XCTAssertTrue(IPAddress(v4: 127, 0, 0, 1).isLoopback)
        XCTAssertTrue(IPAddress(v4: 127, 200, 3, 4).isLoopback)
        XCTAssertFalse(IPAddress(v4: 128, 0, 0, 1).isLoopback)
        XCTAssertTrue(IPAddress("::1")!.isLoopback)
        XCTAssertFalse(IPAddress("::2")!.isLoopback)
        XCTAssertFalse(IPAddress("::")!.isLoopback)
        XCTAssertFalse(IPAddress("1::1")!.isLoopback)
    }

    func testOrdering() {
        XCTAssertLessThan(IPAddress("10.0.0.1")!, IPAddress("10.0.0.2")!)
        XCTAssertLessThan(IPAddress("9.255.255.255")!, IPAddress("10.0.0.0")!)
        XCTAssertLessThan(IPAddress("255.255.255.255")!, IPAddress("::")!)  // every IPv4 before IPv6
        XCTAssertLessThan(IPAddress("::1")!, IPAddress("fe80::1")!)
        XCTAssertFalse(IPAddress("10.0.0.1")! < IPAddress("10.0.0.1")!)
    }

    /// The word initializer the kernel layer uses agrees with the byte one, v4-mapped rule included.
    func testWordInitializerMatchesBytes() {
        func words(_ b: [UInt8]) -> (UInt64, UInt64) {
            (b[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, b[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
        }
        let cases: [(Family, [UInt8])] = [
            (.v4, [127, 0, 0, 1] + [UInt8](repeating: 0, count: 12)),
            (.v4, [10, 231, 4, 2] + [UInt8](repeating: 0xee, count: 12)),  // junk after the IPv4 bytes is ignored
            (.v6, [UInt8](repeating: 0, count: 15) + [1]),
            (.v6, [0xfd, 0, 0, 0xe7] + [UInt8](repeating: 0, count: 11) + [2]),
            (.v6, [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 192, 0, 2, 7]),
        ]
        for (family, raw) in cases {
            let (h, l) = words(raw)
            let a = IPAddress(family: family, networkHigh: h, networkLow: l)
            XCTAssertEqual(a, IPAddress(family: family, raw: raw), "\(raw)")
        }
        let (h, l) = words([UInt8](repeating: 0, count: 10) + [0xff, 0xff, 192, 0, 2, 7])
        XCTAssertEqual(IPAddress(family: .v6, networkHigh: h, networkLow: l).description, "192.0.2.7")
    }
}
