@testable import NetTop
import TracerCore
import XCTest

final class BatchRendererTests: XCTestCase {
    func testGoldenTable() {
        let snapshot = Fixtures.snapshot([Fixtures.tcpV4, Fixtures.udpV6, Fixtures.closedLocal, Fixtures.nated])
        let text = BatchRenderer().render(snapshot, elapsed: 2, monotonicNs: 75_000_001_000)
        // Rates are last_* over the 2 s interval: 250000 B / 2 = 122.1 KiB/s, 1024 B / 2 = 512 B/s. Ages: the
        // rows were first seen at 1,000 ns, 75 s before the tick; the closed one stopped 10 ns after it began.
        let expected = [
            "nettop 2023-11-14 22:13:20  backend tracepoint  rows 4 (tcp 3, udp 1, closed 1)  tracked 42"
                + "  lost events 2  map-full drops 5",
            " PID  COMMAND  PROTO  DIR    LOCAL             REMOTE             NETNS            TX/s   RX/s       SENT     RECV  RETRANS    AGE  STATE",
            "1234  curl     tcp    out    10.0.0.1:43210    93.184.216.34:443  4026531840  122.1 KiB  512 B  976.6 KiB  2.0 KiB        3  1m15s  ESTAB",
            "  77  dnsmasq  udp    in     [fd00::53]:53     [fd00::1:2]:40000  blue            256 B   32 B      512 B     64 B        0  1m15s  -",
            " 900  server   tcp    local  127.0.0.1:8080    127.0.0.1:50000    4026531840        5 B   10 B       10 B     20 B        0     0s  closed",
            "4321  wget     tcp    out    172.17.0.2:51000  1.1.1.1:443        4026531840        0 B    0 B      300 B  4.9 KiB        0  1m15s  ESTAB",
            "",
        ].joined(separator: "\n")
        XCTAssertEqual(text, expected)
    }

    func testHeaderUsesTheGivenOffsetAndEmptyTableKeepsColumns() {
        let text = BatchRenderer(utcOffsetSeconds: 3600).render(Fixtures.snapshot([]), elapsed: 1, monotonicNs: 0)
        XCTAssertEqual(text, [
            "nettop 2023-11-14 23:13:20  backend tracepoint  rows 0 (tcp 0, udp 0, closed 0)  tracked 42"
                + "  lost events 2  map-full drops 5",
            "PID  COMMAND  PROTO  DIR  LOCAL  REMOTE  NETNS  TX/s  RX/s  SENT  RECV  RETRANS  AGE  STATE",
            "",
        ].joined(separator: "\n"))
    }

    func testHostileCommIsShownEscaped() {
        let row = Fixtures.row(comm: Fixtures.hostileComm)
        let text = BatchRenderer().render(Fixtures.snapshot([row]), elapsed: 1, monotonicNs: 0)
        XCTAssertTrue(text.contains(#"\x1b[2Jevil\x0aname"\\"#), text)
        XCTAssertFalse(text.unicodeScalars.contains("\u{1b}"))
        XCTAssertEqual(text.split(separator: "\n").count, 3)
    }

    func testNamespaceNamesAreSanitisedToo() {
        var snapshot = Fixtures.snapshot([Fixtures.udpV6])
        snapshot.netnsNames = [Fixtures.blueNetns: "bl\u{7}ue"]
        XCTAssertTrue(BatchRenderer().render(snapshot, elapsed: 1, monotonicNs: 0).contains(#"bl\x07ue"#))
    }

    func testHumanUnits() {
        XCTAssertEqual(HumanUnits.bytes(UInt64(0)), "0 B")
        XCTAssertEqual(HumanUnits.bytes(UInt64(1023)), "1023 B")
        XCTAssertEqual(HumanUnits.bytes(UInt64(1024)), "1.0 KiB")
        XCTAssertEqual(HumanUnits.bytes(UInt64(1536)), "1.5 KiB")
        XCTAssertEqual(HumanUnits.bytes(UInt64(1_048_575)), "1.0 MiB")
        XCTAssertEqual(HumanUnits.bytes(UInt64(5 * 1_048_576 + 104_858)), "5.1 MiB")
        XCTAssertEqual(HumanUnits.bytes(UInt64(3) << 30), "3.0 GiB")
        XCTAssertEqual(HumanUnits.bytes(UInt64(2) << 40), "2.0 TiB")
        XCTAssertEqual(HumanUnits.bytes(1023.7), "1.0 KiB")
        XCTAssertEqual(HumanUnits.bytes(0.4), "0 B")
        XCTAssertEqual(HumanUnits.bytes(UInt64.max), "16.0 EiB")
    }

    func testEndpointsAndStates() {
        XCTAssertEqual(ConnectionText.endpoint(IPAddress("::1")!, 80), "[::1]:80")
        XCTAssertEqual(ConnectionText.endpoint(IPAddress("::ffff:10.1.2.3")!, 80), "10.1.2.3:80")
        XCTAssertEqual(ConnectionText.endpoint(.anyV4, 0), "*:*")
        XCTAssertEqual(ConnectionText.endpoint(.anyV4, 68), "0.0.0.0:68")
        XCTAssertEqual(ConnectionText.tcpState(10), "LISTEN")
        XCTAssertEqual(ConnectionText.direction(.none), "-")
        XCTAssertEqual(ConnectionText.command(""), "-")
    }

    func testTerminalSafeText() {
        XCTAssertEqual(TerminalSafeText.sanitize("nginx: worker"), "nginx: worker")
        XCTAssertEqual(TerminalSafeText.sanitize("é漢"), "é漢")
        XCTAssertEqual(TerminalSafeText.sanitize("a\tb\u{7f}"), #"a\x09b\x7f"#)
        XCTAssertEqual(TerminalSafeText.sanitize("\u{9b}31m"), #"\x9b31m"#)
        XCTAssertEqual(TerminalSafeText.sanitize("evil\u{202e}txt"), #"evil\u{202e}txt"#)
        XCTAssertEqual(TerminalSafeText.sanitize(#"a\x1b"#), #"a\\x1b"#)
    }

    func testCivilTime() {
        XCTAssertEqual(CivilTime.format(unixSeconds: 0), "1970-01-01 00:00:00")
        XCTAssertEqual(CivilTime.format(unixSeconds: 951_782_400), "2000-02-29 00:00:00")
        XCTAssertEqual(CivilTime.format(unixSeconds: 1_700_000_000.99), "2023-11-14 22:13:20")
        XCTAssertEqual(CivilTime.format(unixSeconds: 1_700_000_000, utcOffsetSeconds: -5 * 3600),
                       "2023-11-14 17:13:20")
        XCTAssertEqual(CivilTime.format(unixSeconds: -1), "1969-12-31 23:59:59")
    }
}
