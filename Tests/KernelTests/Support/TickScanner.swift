import Foundation
import Glibc

/// A fast reader for nettop's NDJSON ticks. On a busy host a tick holds thousands of rows, five times a second;
/// JSONSerialization (and JSONDecoder) need ~0.3 s for 3,000 rows in this debug-built test bundle, slower
/// than the ticks arrive, so the test would fall behind and, through the pipe, stall nettop itself.
/// This scanner knows the contract's shapes (flat rows, a flat `stats`, a nested `conntrack` kept as text)
/// and walks the bytes with raw pointers and C number parsing. Anything it does not expect makes it give up,
/// and the caller falls back to JSONSerialization.
struct TickScanner {
    struct Malformed: Error {}

    private var p: UnsafePointer<UInt8>
    private let end: UnsafePointer<UInt8>

    /// `start` must be NUL-terminated at `end` (strtod/strtoll stop there at the latest).
    private init(_ start: UnsafePointer<UInt8>, count: Int) {
        p = start
        end = start + count
    }

    static func tick(_ line: String) -> ObservedTick? {
        line.withCString { cs -> ObservedTick? in
            let count = strlen(cs)
            return cs.withMemoryRebound(to: UInt8.self, capacity: count + 1) { start in
                var s = TickScanner(start, count: count)
                return try? s.parseTick()
            }
        }
    }

    // MARK: the contract's shapes

    private mutating func parseTick() throws -> ObservedTick {
        var tick = ObservedTick(timestamp: 0, backend: "", connections: [], stats: ObservedStats())
        var sawConnections = false
        try object { s, key in
            if s.keyIs(key, "connections") {
                sawConnections = true
                try s.array { s in tick.connections.append(try s.parseConnection()) }
            } else if s.keyIs(key, "stats") {
                try s.object { s, k in
                    if let n = try s.numberOrSkip() { tick.stats.values[s.text(k)] = n }
                }
            } else if s.keyIs(key, "timestamp") {
                tick.timestamp = try s.numberOrSkip() ?? 0
            } else if s.keyIs(key, "backend") {
                tick.backend = try s.stringOrSkip() ?? ""
            } else {
                try s.skipValue()
            }
        }
        guard sawConnections else { throw Malformed() }
        return tick
    }

    private mutating func parseConnection() throws -> ObservedConnection {
        var c = ObservedConnection()
        var haveType = false, haveSport = false, haveDport = false
        try object { s, k in
            if s.keyIs(k, "type") { c.type = try s.stringOrSkip() ?? ""; haveType = true }
            else if s.keyIs(k, "family") { c.family = try s.stringOrSkip() ?? "" }
            else if s.keyIs(k, "source") { c.source = s.canonical(try s.stringOrSkip() ?? "") }
            else if s.keyIs(k, "dest") { c.dest = s.canonical(try s.stringOrSkip() ?? "") }
            else if s.keyIs(k, "sport") { c.sport = try s.int(); haveSport = true }
            else if s.keyIs(k, "dport") { c.dport = try s.int(); haveDport = true }
            else if s.keyIs(k, "direction") { c.direction = try s.stringOrSkip() ?? "" }
            else if s.keyIs(k, "pid") { c.pid = try s.int() }
            else if s.keyIs(k, "comm") { c.comm = try s.stringOrSkip() ?? "" }
            else if s.keyIs(k, "net_ns") { c.netNs = UInt64(max(0, try s.int())) }
            else if s.keyIs(k, "monotonic_sent_bytes") { c.sent = try s.int() }
            else if s.keyIs(k, "last_sent_bytes") { c.lastSent = try s.int() }
            else if s.keyIs(k, "monotonic_recv_bytes") { c.recv = try s.int() }
            else if s.keyIs(k, "last_recv_bytes") { c.lastRecv = try s.int() }
            else if s.keyIs(k, "monotonic_retransmits") { c.retransmits = try s.int() }
            else if s.keyIs(k, "last_retransmits") { c.lastRetransmits = try s.int() }
            else if s.keyIs(k, "closed") { c.closed = try s.bool() }
            else if s.keyIs(k, "conntrack") { c.conntrack = try s.stringMap() }
            else { try s.skipValue() }
        }
        guard haveType, haveSport, haveDport else { throw Malformed() }
        return c
    }

    /// Addresses repeat across rows: canonicalise each spelling once per tick.
    private var canonicalCache: [String: String] = [:]

    private mutating func canonical(_ address: String) -> String {
        if let c = canonicalCache[address] { return c }
        let c = canonicalAddress(address)
        canonicalCache[address] = c
        return c
    }

    /// An object of strings and numbers (conntrack), values as text; nil for null.
    private mutating func stringMap() throws -> [String: String]? {
        if peek() == 0x6e { try literal("null"); return nil }
        var map: [String: String] = [:]
        try object { s, k in
            if s.peek() == 0x22 {
                map[s.text(k)] = try s.stringOrSkip()
            } else if let n = try s.numberOrSkip() {
                map[s.text(k)] = n == n.rounded() && abs(n) < 1e15 ? String(Int(n)) : String(n)
            }
        }
        return map
    }

    // MARK: bytes

    private mutating func skipSpace() {
        while p < end, p.pointee == 0x20 || p.pointee == 0x0a || p.pointee == 0x0d || p.pointee == 0x09 { p += 1 }
    }

    private mutating func peek() -> UInt8? {
        skipSpace()
        return p < end ? p.pointee : nil
    }

    private mutating func expect(_ c: UInt8) throws {
        guard peek() == c else { throw Malformed() }
        p += 1
    }

    /// The bytes of a string without its quotes; `escaped` if it held a backslash.
    private mutating func rawString() throws -> (UnsafeBufferPointer<UInt8>, escaped: Bool) {
        try expect(0x22)
        let start = p
        var escaped = false
        while p < end, p.pointee != 0x22 {
            if p.pointee == 0x5c { escaped = true; p += 1 }
            p += 1
        }
        guard p < end else { throw Malformed() }
        let s = UnsafeBufferPointer(start: start, count: p - start)
        p += 1
        return (s, escaped)
    }

    private func text(_ b: UnsafeBufferPointer<UInt8>) -> String { String(decoding: b, as: UTF8.self) }

    private func keyIs(_ key: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        key.count == literal.utf8CodeUnitCount && memcmp(key.baseAddress!, literal.utf8Start, key.count) == 0
    }

    private mutating func stringOrSkip() throws -> String? {
        guard peek() == 0x22 else { try skipValue(); return nil }
        let (raw, escaped) = try rawString()
        let s = text(raw)
        if !escaped { return s }
        return (try? JSONSerialization.jsonObject(with: Data(("\"" + s + "\"").utf8), options: .fragmentsAllowed)) as? String ?? s
    }

    private mutating func numberOrSkip() throws -> Double? {
        guard let c = peek(), c == 0x2d || (c >= 0x30 && c <= 0x39) else { try skipValue(); return nil }
        var after: UnsafeMutablePointer<CChar>?
        let v = p.withMemoryRebound(to: CChar.self, capacity: 1) { strtod($0, &after) }
        guard let after else { throw Malformed() }
        let next = UnsafeRawPointer(after).assumingMemoryBound(to: UInt8.self)
        guard next > p, next <= end else { throw Malformed() }
        p = next
        return v
    }

    private mutating func int() throws -> Int {
        guard let v = try numberOrSkip() else { return -1 }
        return Int(exactly: v.rounded()) ?? -1
    }

    private mutating func bool() throws -> Bool {
        switch peek() {
        case 0x74: try literal("true"); return true
        case 0x66: try literal("false"); return false
        default: try skipValue(); return false
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard end - p >= n, memcmp(p, word.utf8Start, n) == 0 else { throw Malformed() }
        p += n
    }

    private mutating func skipValue() throws {
        switch peek() {
        case 0x22: _ = try rawString()
        case 0x7b: try object { s, _ in try s.skipValue() }
        case 0x5b: try array { s in try s.skipValue() }
        case 0x74: try literal("true")
        case 0x66: try literal("false")
        case 0x6e: try literal("null")
        case .some: _ = try numberOrSkipNumber()
        case nil: throw Malformed()
        }
    }

    private mutating func numberOrSkipNumber() throws -> Double {
        guard let v = try numberOrSkip() else { throw Malformed() }
        return v
    }

    /// Calls `body` with each key, the cursor on its value; `body` consumes the value.
    private mutating func object(_ body: (inout TickScanner, UnsafeBufferPointer<UInt8>) throws -> Void) throws {
        try expect(0x7b)
        if peek() == 0x7d { p += 1; return }
        while true {
            let (key, _) = try rawString()
            try expect(0x3a)
            try body(&self, key)
            switch peek() {
            case 0x2c: p += 1
            case 0x7d: p += 1; return
            default: throw Malformed()
            }
        }
    }

    private mutating func array(_ body: (inout TickScanner) throws -> Void) throws {
        try expect(0x5b)
        if peek() == 0x5d { p += 1; return }
        while true {
            try body(&self)
            switch peek() {
            case 0x2c: p += 1
            case 0x5d: p += 1; return
            default: throw Malformed()
            }
        }
    }
}
