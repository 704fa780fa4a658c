import XCTest
@testable import TracerCore

/// The /proc/net parser against hostile input, with an oracle. ProcNetParserTests already throws 3,000
/// mutated lines of one fixture at it and checks only that it does not trap; here every accepted row must
/// carry exactly the values a straightforward reading of the line gives, whole files must account for every
/// line, and both layouts (little- and big-endian), both families and both protocols are covered.
/// Fixed seeds, bounded counts: the same inputs on every run.
final class ProcNetParserFuzzTests: XCTestCase {
    // MARK: Generated rows with known values

    func testGeneratedRowsParseToTheirValues() {
        var rng = SplitMix(seed: 0xF022_0001)
        for n in 0..<4000 {
            let row = RandomRow(&rng)
            let littleEndian = n % 3 != 0
            let line = row.line(littleEndian: littleEndian, rng: &rng)
            let type: ConnectionType = n % 2 == 0 ? .tcp : .udp
            guard let entry = ProcNetParser.parseLine(String(decoding: line, as: UTF8.self), type: type,
                                                      littleEndian: littleEndian) else {
                XCTFail("valid row rejected: \(String(decoding: line, as: UTF8.self).debugDescription)")
                continue
            }
            XCTAssertEqual(entry, row.entry(type: type), String(decoding: line, as: UTF8.self).debugDescription)
        }
    }

    // MARK: Mutated rows against a reference reading

    /// Every mutated line is read by the parser and by `ReferenceRow` (a slow, obvious reading of the
    /// format the parser documents). They must agree on accept or reject, and on every value.
    func testMutatedRowsAgreeWithAReferenceReading() {
        var rng = SplitMix(seed: 0xF022_0002)
        var accepted = 0, rejected = 0
        let deadline = Date().addingTimeInterval(60)
        for n in 0..<20_000 {
            if Date() > deadline { break }  // a bound on time as well as on count, on a loaded machine
            let littleEndian = n % 2 == 0
            var line = RandomRow(&rng).line(littleEndian: littleEndian, rng: &rng)
            Mutator.mutate(&line, rounds: 1 + Int(rng.next() % 4), rng: &rng)
            line.removeAll { $0 == 0x0a }  // one line; whole files are the next test's
            let type: ConnectionType = n % 3 == 0 ? .udp : .tcp
            let text = String(decoding: line, as: UTF8.self)
            // parseLine takes a String: compare on the bytes that String holds (invalid UTF-8 became U+FFFD).
            let bytes = Array(text.utf8)
            let expected = ReferenceRow.parse(bytes, type: type, littleEndian: littleEndian)
            let got = ProcNetParser.parseLine(text, type: type, littleEndian: littleEndian)
            if case .entry(let e) = expected {
                XCTAssertEqual(got, e, "mutated row \(text.debugDescription)")
                accepted += 1
            } else {
                XCTAssertNil(got, "parser accepted what the reference rejects: \(text.debugDescription)")
                rejected += 1
            }
        }
        // The mutations must exercise both sides, or the oracle proves nothing.
        XCTAssertGreaterThan(accepted, 500)
        XCTAssertGreaterThan(rejected, 500)
    }

    // MARK: Whole files

    /// Files of generated rows, mutated rows, header lines, blank lines and raw noise (NUL, 0xFF, CR, lone
    /// separators), with and without a final newline: no trap, and every line is either an entry, a
    /// malformed line or skipped (blank or header) — exactly as the reference counts them.
    func testWholeFilesAccountForEveryLine() {
        var rng = SplitMix(seed: 0xF022_0003)
        let header = Array("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode".utf8)
        for n in 0..<400 {
            let littleEndian = n % 4 != 1
            var file: [UInt8] = []
            for _ in 0..<Int(rng.next() % 60) {
                switch rng.next() % 8 {
                case 0: file += header
                case 1: break  // blank line
                case 2: file += (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                case 3, 4:
                    var line = RandomRow(&rng).line(littleEndian: littleEndian, rng: &rng)
                    Mutator.mutate(&line, rounds: 1 + Int(rng.next() % 6), rng: &rng)
                    file += line
                default: file += RandomRow(&rng).line(littleEndian: littleEndian, rng: &rng)
                }
                file.append(0x0a)
            }
            if rng.next() % 2 == 0, file.last == 0x0a { file.removeLast() }
            let type: ConnectionType = n % 2 == 0 ? .tcp : .udp
            let result = ProcNetParser.parse(bytes: file, type: type, littleEndian: littleEndian)
            var entries: [ProcNetEntry] = [], malformed = 0
            for line in file.split(separator: 0x0a, omittingEmptySubsequences: false) {
                switch ReferenceRow.parse(Array(line), type: type, littleEndian: littleEndian) {
                case .entry(let e): entries.append(e)
                case .malformed: malformed += 1
                case .skip: break
                }
            }
            XCTAssertEqual(result.entries, entries, "file \(n)")
            XCTAssertEqual(result.malformedLines, malformed, "file \(n)")
        }
    }

    /// Pathological sizes: a multi-megabyte line without a newline, a file of separators only, a
    /// field too long for any number. Bounded, and still accounted for.
    func testPathologicalInputs() {
        let longLine = [UInt8](repeating: 0x41, count: 4 << 20)
        XCTAssertEqual(ProcNetParser.parse(bytes: longLine, type: .tcp), ProcNetParseResult(entries: [], malformedLines: 1))
        let separators = [UInt8]((0...0x20).map { UInt8($0) }).filter { $0 != 0x0a }
        let blank = [UInt8](repeating: 0, count: 100_000) + separators + [0x0a] + separators
        XCTAssertEqual(ProcNetParser.parse(bytes: blank, type: .udp), ProcNetParseResult(entries: [], malformedLines: 0))
        let digits = String(repeating: "9", count: 5000)
        let huge = "\(digits): 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 \(digits) 1"
        XCTAssertNil(ProcNetParser.parseLine(huge, type: .tcp))
        // An inode of exactly UInt64.max is a number; one more is not.
        let max = "0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 18446744073709551615"
        XCTAssertEqual(ProcNetParser.parseLine(max, type: .tcp)?.inode, UInt64.max)
        XCTAssertNil(ProcNetParser.parseLine(String(max.dropLast()) + "6", type: .tcp))
    }
}

// MARK: - Generation

/// A row with random values: what the kernel would print for it (`line`) and what it must parse to.
private struct RandomRow {
    var v6: Bool
    var local: [UInt8], remote: [UInt8]   // 4 or 16 bytes, network order
    var lport: UInt16, rport: UInt16
    var state: UInt8
    var inode: UInt64
    var slot: UInt32

    init(_ rng: inout SplitMix) {
        let v6 = rng.next() % 3 == 0
        self.v6 = v6
        func address() -> [UInt8] {
            let count = v6 ? 16 : 4
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if v6, rng.next() % 4 == 0 {  // v4-mapped ::ffff:a.b.c.d, which the model shows as IPv4
                for i in 0..<10 { bytes[i] = 0 }
                bytes[10] = 0xff; bytes[11] = 0xff
            }
            if rng.next() % 5 == 0 { bytes = [UInt8](repeating: 0, count: count) }
            return bytes
        }
        local = address()
        remote = address()
        lport = UInt16(truncatingIfNeeded: rng.next())
        rport = UInt16(truncatingIfNeeded: rng.next())
        state = UInt8(truncatingIfNeeded: rng.next() % 13)
        inode = rng.next() % 4 == 0 ? rng.next() : rng.next() % 10_000_000
        slot = UInt32(truncatingIfNeeded: rng.next() % 100_000)
    }

    func entry(type: ConnectionType) -> ProcNetEntry {
        ProcNetEntry(type: type, localAddress: IPAddress(family: v6 ? .v6 : .v4, raw: local), localPort: lport,
                     remoteAddress: IPAddress(family: v6 ? .v6 : .v4, raw: remote), remotePort: rport,
                     state: state, inode: inode)
    }

    /// The kernel's layout: each 32-bit word of the address printed as a host-order number; upper- or
    /// lowercase hex, and separators of varying width (spaces or tabs), all of which the format allows.
    func line(littleEndian: Bool, rng: inout SplitMix) -> [UInt8] {
        let lower = rng.next() % 5 == 0
        func hex<T: BinaryInteger>(_ v: T, _ width: Int) -> String {
            let s = String(v, radix: 16, uppercase: !lower)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        func address(_ bytes: [UInt8]) -> String {
            stride(from: 0, to: bytes.count, by: 4).map { i -> String in
                let w = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
                return hex(littleEndian ? w : w.byteSwapped, 8)
            }.joined()
        }
        func gap() -> String { rng.next() % 6 == 0 ? "\t" : String(repeating: " ", count: 1 + Int(rng.next() % 3)) }
        var fields = [
            "\(slot):", "\(address(local)):\(hex(lport, 4))", "\(address(remote)):\(hex(rport, 4))", hex(state, 2),
            "\(hex(rng.next() % 4096, 8)):\(hex(rng.next() % 4096, 8))", "00:\(hex(rng.next() % 99999, 8))",
            hex(rng.next() % 16, 8), "\(rng.next() % 70000)", "\(rng.next() % 10)", "\(inode)",
        ]
        // The columns after the inode vary by protocol and kernel: a random tail.
        for _ in 0..<Int(rng.next() % 7) {
            fields.append(rng.next() % 2 == 0 ? "\(rng.next() % 100)" : hex(rng.next(), 16))
        }
        if rng.next() % 3 == 0 { fields.append("-1") }
        var text = String(repeating: " ", count: Int(rng.next() % 6))
        for (i, f) in fields.enumerated() { text += (i == 0 ? "" : gap()) + f }
        return Array(text.utf8) + Array(repeating: 0x20, count: Int(rng.next() % 3))
    }
}

/// Byte-level damage: replace, delete, insert, duplicate or swap a field, cut the line, or change a
/// length-bearing part (an address digit count, a colon).
private enum Mutator {
    static let alphabet = Array("0123456789ABCDEFabcdefgGxX:-+ \t\r\u{0}\u{b}sl".utf8) + [0xff, 0xc3, 0x80, 0x7f, 0x21]

    static func mutate(_ line: inout [UInt8], rounds: Int, rng: inout SplitMix) {
        for _ in 0..<rounds {
            guard !line.isEmpty else { line = [alphabet[Int(rng.next() % UInt64(alphabet.count))]]; continue }
            let at = Int(rng.next() % UInt64(line.count))
            let byte = alphabet[Int(rng.next() % UInt64(alphabet.count))]
            switch rng.next() % 9 {
            case 0, 1: line[at] = byte
            case 2: line.remove(at: at)
            case 3: line.insert(byte, at: at)
            case 4: line = Array(line[..<at])
            case 5:  // duplicate a run (a doubled digit, field or separator)
                let length = min(line.count - at, 1 + Int(rng.next() % 12))
                line.insert(contentsOf: line[at..<(at + length)], at: at)
            case 6:  // swap two whitespace-separated fields
                var fields = line.split(whereSeparator: { $0 <= 0x20 }).map(Array.init)
                guard fields.count > 2 else { continue }
                let a = Int(rng.next() % UInt64(fields.count)), b = Int(rng.next() % UInt64(fields.count))
                fields.swapAt(a, b)
                line = Array(fields.joined(separator: [0x20]))
            case 7:  // drop a field
                var fields = line.split(whereSeparator: { $0 <= 0x20 }).map(Array.init)
                guard !fields.isEmpty else { continue }
                fields.remove(at: Int(rng.next() % UInt64(fields.count)))
                line = Array(fields.joined(separator: [0x20]))
            default: line[at] = UInt8(truncatingIfNeeded: rng.next())
            }
        }
    }
}

// MARK: - Reference reading

/// The /proc/net row format as ProcNetParser documents it, read the slow and obvious way: fields split on
/// any byte up to 0x20; a header starts with the field "sl"; a row has at least 10 fields: "N:" (decimal),
/// local and remote "ADDR:PORT" (8 or 32 hex digits of one family for both, 4 for the port), a 2-digit hex
/// state, five columns of hex digits, ':' and '-', and a decimal inode that fits in 64 bits.
private enum ReferenceRow {
    enum Result { case entry(ProcNetEntry), malformed, skip }

    static func parse(_ line: [UInt8], type: ConnectionType, littleEndian: Bool) -> Result {
        let fields = line.split(whereSeparator: { $0 <= 0x20 }).map { String(decoding: $0, as: UTF8.self) }
        guard let first = fields.first else { return .skip }
        if first == "sl" { return .skip }
        guard fields.count >= 10 else { return .malformed }
        guard first.count >= 2, first.hasSuffix(":"), decimal(first.dropLast()) != nil else { return .malformed }
        guard fields[1].utf8.count == fields[2].utf8.count,
              let local = endpoint(fields[1], littleEndian), let remote = endpoint(fields[2], littleEndian),
              fields[3].utf8.count == 2, let state = UInt8(fields[3], radix: 16), isHex(fields[3]),
              let inode = decimal(Substring(fields[9])) else { return .malformed }
        for column in fields[4...8] where !column.utf8.allSatisfy({ isHexDigit($0) || $0 == 0x3a || $0 == 0x2d }) {
            return .malformed
        }
        return .entry(ProcNetEntry(type: type, localAddress: local.0, localPort: local.1,
                                   remoteAddress: remote.0, remotePort: remote.1, state: state, inode: inode))
    }

    static func isHexDigit(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x46).contains(c) || (0x61...0x66).contains(c)
    }

    static func isHex(_ s: String) -> Bool { !s.isEmpty && s.utf8.allSatisfy(isHexDigit) }

    static func decimal(_ s: Substring) -> UInt64? {
        guard !s.isEmpty, s.utf8.count <= 20, s.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return UInt64(s)
    }

    static func endpoint(_ field: String, _ littleEndian: Bool) -> (IPAddress, UInt16)? {
        let bytes = Array(field.utf8)
        let digits = bytes.count - 5
        guard digits == 8 || digits == 32, bytes[digits] == 0x3a else { return nil }
        let portText = String(decoding: bytes[(digits + 1)...], as: UTF8.self)
        guard isHex(portText), let port = UInt16(portText, radix: 16) else { return nil }
        var raw: [UInt8] = []
        for w in stride(from: 0, to: digits, by: 8) {
            let text = String(decoding: bytes[w..<(w + 8)], as: UTF8.self)
            guard isHex(text), var word = UInt32(text, radix: 16) else { return nil }
            if !littleEndian { word = word.byteSwapped }
            raw += [UInt8(truncatingIfNeeded: word), UInt8(truncatingIfNeeded: word >> 8),
                    UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 24)]
        }
        return (IPAddress(family: digits == 8 ? .v4 : .v6, raw: raw), port)
    }
}
