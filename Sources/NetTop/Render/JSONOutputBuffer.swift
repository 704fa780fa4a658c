import TracerCore

/// An append-only UTF-8 byte buffer with just the JSON pieces nettop writes.
///
/// Hand-written rather than `JSONEncoder` because a busy host yields 100k rows per tick: this writes
/// straight into one growing block of memory with no intermediate strings for numbers, addresses or
/// plain-ASCII names. The block is its own (not an `Array`), so a byte costs a store and a bounds check
/// against the capacity, not a uniqueness check and a possible copy: appending to an array one piece at a
/// time was most of the time of rendering a tick.
struct JSONOutputBuffer: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int

    init(capacity: Int = 0) {
        self.capacity = max(capacity, 256)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The number of bytes written since the start or the last `take()`.
    private(set) var count = 0

    /// What was written.
    var bytes: [UInt8] { [UInt8](UnsafeBufferPointer(start: base, count: count)) }

    /// What was written, leaving the buffer empty (its memory kept for what comes next).
    mutating func take() -> [UInt8] {
        defer { count = 0 }
        return bytes
    }

    /// Appends literal JSON syntax (keys, punctuation) as is.
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { append($0) }
    }

    mutating func null() { raw("null") }

    mutating func bool(_ value: Bool) { value ? raw("true") : raw("false") }

    mutating func uint<T: UnsignedInteger & FixedWidthInteger>(_ value: T) {
        var v = UInt64(value)
        var digits = 1
        var limit: UInt64 = 10
        while digits < 20 && v >= limit {
            digits += 1
            limit &*= 10
        }
        reserve(digits)
        // Digits come out last first: written from the end of their place.
        var i = count + digits
        repeat {
            i -= 1
            base[i] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: v % 10)
            v /= 10
        } while v > 0
        count += digits
    }

    /// Shortest round-trip decimal; JSON has no NaN or infinity, so those become 0 rather than
    /// producing a line no parser accepts.
    mutating func double(_ value: Double) {
        guard value.isFinite else { return raw("0") }
        var text = value.description
        text.withUTF8 { append($0) }
    }

    /// A quoted string with every control character as \u00XX (newlines and escape sequences in process
    /// names included), and `"` and `\` escaped; everything else is copied as UTF-8.
    mutating func string(_ value: String) {
        var value = value
        byte(UInt8(ascii: "\""))
        value.withUTF8 { utf8 in
            // Process names are nearly always plain: copied at once when nothing needs an escape.
            guard utf8.contains(where: Self.needsEscape) else { return append(utf8) }
            for b in utf8 {
                switch b {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0..<0x20, 0x7f: controlEscape(b)
                default: byte(b)
                }
            }
        }
        byte(UInt8(ascii: "\""))
    }

    /// A quoted address, written byte by byte because two of them are in every row; the text is the
    /// same as `IPAddress.description` (RFC 5952 for IPv6).
    mutating func address(_ ip: IPAddress) {
        byte(UInt8(ascii: "\""))
        switch ip.family {
        case .v4:
            for i in 0..<4 {
                if i > 0 { byte(UInt8(ascii: ".")) }
                uint(ip.octet(i))
            }
        case .v6:
            ipv6(ip)
        }
        byte(UInt8(ascii: "\""))
    }

    private mutating func ipv6(_ ip: IPAddress) {
        let word = { (i: Int) in UInt16(ip.octet(2 * i)) << 8 | UInt16(ip.octet(2 * i + 1)) }
        // The first longest run of two or more zero groups becomes "::".
        var bestStart = -1, bestLength = 1, i = 0
        while i < 8 {
            guard word(i) == 0 else { i += 1; continue }
            var j = i
            while j < 8 && word(j) == 0 { j += 1 }
            if j - i > bestLength { bestStart = i; bestLength = j - i }
            i = j
        }
        i = 0
        while i < 8 {
            if i == bestStart {
                raw("::")
                i += bestLength
                continue
            }
            if i > 0 && i != bestStart + bestLength { byte(UInt8(ascii: ":")) }
            hex(word(i))
            i += 1
        }
    }

    /// Lower-case hex without leading zeros.
    private mutating func hex(_ value: UInt16) {
        var started = false
        for shift in stride(from: 12, through: 0, by: -4) {
            let nibble = UInt8((value >> UInt16(shift)) & 0xf)
            if nibble == 0 && !started && shift > 0 { continue }
            started = true
            byte(Self.hexDigit(nibble))
        }
    }

    private static func needsEscape(_ b: UInt8) -> Bool {
        b < 0x20 || b == 0x7f || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\")
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    private mutating func controlEscape(_ b: UInt8) {
        raw("\\u00")
        byte(Self.hexDigit(b >> 4))
        byte(Self.hexDigit(b & 0xf))
    }

    // MARK: - Storage

    private mutating func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    private mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let from = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        (base + count).initialize(from: from, count: bytes.count)
        count += bytes.count
    }

    private mutating func reserve(_ more: Int) {
        guard count + more > capacity else { return }
        let grown = max(count + more, capacity * 2)
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        bigger.initialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = grown
    }
}
