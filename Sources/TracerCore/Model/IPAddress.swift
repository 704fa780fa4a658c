/// An IPv4 or IPv6 address as 16 bytes in network order (IPv4 in the first four).
/// A value type with no C in it, so the model and its tests never touch the kernel.
///
/// The bytes are kept as two big-endian words, not an array: every row of every tick holds two or three
/// addresses, and as arrays each was a heap object to allocate, retain, release and chase on every copy,
/// compare and hash, which made that most of the time of a 100k-row tick.
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Bytes 0-7 and 8-15, big-endian.
    @usableFromInline let high: UInt64
    @usableFromInline let low: UInt64
    /// Last, so that the address is 17 bytes and what follows it fits in its padding: first, it made every
    /// address 24 bytes, a kernel key 40 instead of 32 and a translation 64 instead of 48.
    public let family: Family

    /// Network-order bytes; for `.v4` only the first 4 are meaningful (the rest are zero).
    /// Made on each use: code on a hot path reads `octet(_:)` instead.
    public var bytes: [UInt8] { (0..<16).map(octet) }

    /// Byte `index` (0-15) in network order, without making an array.
    @inlinable
    public func octet(_ index: Int) -> UInt8 {
        precondition(index >= 0 && index < 16, "an address has 16 bytes")
        let word = index < 8 ? high : low
        return UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(index % 8)))
    }

    /// The first four bytes as one number, the first byte highest: an IPv4 address in host order.
    @inlinable
    public var v4Bits: UInt32 { UInt32(truncatingIfNeeded: high >> 32) }

    public init(v4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.init(family: .v4, high: UInt64(a) << 56 | UInt64(b) << 48 | UInt64(c) << 40 | UInt64(d) << 32, low: 0)
    }

    /// `raw` holds 16 bytes in network order; IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) become IPv4,
    /// so a dual-stack socket talking to an IPv4 peer reads the same as an IPv4 socket would.
    public init(family: Family, raw: [UInt8]) {
        precondition(raw.count >= (family == .v4 ? 4 : 16), "IPAddress needs 4 or 16 bytes")
        if family == .v6, raw[0..<10].allSatisfy({ $0 == 0 }), raw[10] == 0xff, raw[11] == 0xff {
            self.init(v4: raw[12], raw[13], raw[14], raw[15])
        } else if family == .v4 {
            self.init(v4: raw[0], raw[1], raw[2], raw[3])
        } else {
            self.init(family: .v6, high: raw[0..<8].reduce(0) { $0 << 8 | UInt64($1) },
                      low: raw[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
        }
    }

    /// The same from the two big-endian words of the 16 network-order bytes (no array on the way: the
    /// kernel layer decodes two or three addresses per row per tick this way).
    public init(family: Family, networkHigh high: UInt64, networkLow low: UInt64) {
        if family == .v6, high == 0, low >> 32 == 0xffff {
            self.init(family: .v4, high: (low & 0xffff_ffff) << 32, low: 0)
        } else if family == .v4 {
            self.init(family: .v4, high: high & 0xffff_ffff_0000_0000, low: 0)
        } else {
            self.init(family: .v6, high: high, low: low)
        }
    }

    /// The words as stored, not normalized (a tuple keeps its addresses as words).
    init(family: Family, high: UInt64, low: UInt64) {
        self.family = family
        self.high = high
        self.low = low
    }

    public static let anyV4 = IPAddress(v4: 0, 0, 0, 0)
    public static let anyV6 = IPAddress(family: .v6, raw: [UInt8](repeating: 0, count: 16))

    public var isUnspecified: Bool { high == 0 && low == 0 }

    public var isLoopback: Bool {
        switch family {
        case .v4: return high >> 56 == 127
        case .v6: return high == 0 && low == 1
        }
    }

    /// Parses dotted IPv4 or RFC 5952 / RFC 4291 text IPv6 ("::1", "fd00::2", "::ffff:10.0.0.1").
    public init?(_ text: String) {
        if let v4 = IPAddress.parseV4(Substring(text)) {
            self.init(family: .v4, raw: v4)
            return
        }
        guard let v6 = IPAddress.parseV6(text) else { return nil }
        self.init(family: .v6, raw: v6)
    }

    private static func parseV4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            // UInt8("+1") succeeds, so the digits are checked first.
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isWholeNumber }),
                  let n = UInt8(part) else { return nil }
            out.append(n)
        }
        return out
    }

    private static func parseV6(_ text: String) -> [UInt8]? {
        guard text.contains(":"), text.count <= 45 else { return nil }
        var head: [UInt16] = [], tail: [UInt16] = []
        // stdlib split, not Foundation's components(separatedBy:): the model imports nothing.
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return nil }
        func groups(_ s: Substring, allowV4Tail: Bool) -> [UInt16]? {
            if s.isEmpty { return [] }
            var result: [UInt16] = []
            let items = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, item) in items.enumerated() {
                if allowV4Tail, i == items.count - 1, item.contains("."), let v4 = parseV4(item) {
                    result.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    result.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                } else {
                    // As above: UInt16("+f", radix: 16) succeeds.
                    guard !item.isEmpty, item.count <= 4, item.allSatisfy({ $0.isASCII && $0.isHexDigit }),
                          let g = UInt16(item, radix: 16) else { return nil }
                    result.append(g)
                }
            }
            return result
        }
        if halves.count == 2 {
            guard let h = groups(halves[0], allowV4Tail: false), let t = groups(halves[1], allowV4Tail: true),
                  h.count + t.count <= 7 else { return nil }
            head = h; tail = t
        } else {
            guard let all = groups(halves[0], allowV4Tail: true), all.count == 8 else { return nil }
            head = all
        }
        let words = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    public var description: String {
        switch family {
        case .v4:
            return "\(octet(0)).\(octet(1)).\(octet(2)).\(octet(3))"
        case .v6:
            return formatV6()
        }
    }

    /// RFC 5952: lower-case hex, the longest run (2 or more) of zero groups compressed to "::".
    private func formatV6() -> String {
        let words = (0..<8).map { UInt16(octet(2 * $0)) << 8 | UInt16(octet(2 * $0 + 1)) }
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if words[i] == 0 {
                var j = i
                while j < 8 && words[j] == 0 { j += 1 }
                if j - i > bestLen { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        let hex = words.map { String($0, radix: 16) }
        if bestLen < 2 { return hex.joined(separator: ":") }
        let left = hex[0..<bestStart].joined(separator: ":")
        let right = hex[(bestStart + bestLen)...].joined(separator: ":")
        return left + "::" + right
    }

    /// Every IPv4 address before every IPv6 one, then by bytes.
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        if lhs.family != rhs.family { return lhs.family == .v4 }
        return (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}
