import TracerCore

/// An append-only UTF-8 byte buffer with just the JSON pieces nettop writes.
///
/// Hand-written rather than `JSONEncoder` because a busy host yields 100k rows per tick: this writes
/// straight into one growing array with no intermediate strings for numbers, IPv4 addresses or
/// plain-ASCII names.
struct JSONOutputBuffer {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Appends literal JSON syntax (keys, punctuation) as is.
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func null() { raw("null") }

    mutating func bool(_ value: Bool) { value ? raw("true") : raw("false") }

    mutating func uint<T: UnsignedInteger & FixedWidthInteger>(_ value: T) {
        var v = UInt64(value)
        if v < 10 { return bytes.append(UInt8(ascii: "0") + UInt8(v)) }
        // Digits come out last first: fill a small stack buffer from its end, then copy once.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var i = 20
            while v > 0 {
                i -= 1
                digits[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[i...]))
        }
    }

    /// Shortest round-trip decimal; JSON has no NaN or infinity, so those become 0 rather than
    /// producing a line no parser accepts.
    mutating func double(_ value: Double) {
        guard value.isFinite else { return raw("0") }
        bytes.append(contentsOf: value.description.utf8)
    }

    /// A quoted string with every control character as \u00XX (newlines and escape sequences in process
    /// names included), and `"` and `\` escaped; everything else is copied as UTF-8.
    mutating func string(_ value: String) {
        var value = value
        bytes.append(UInt8(ascii: "\""))
        value.withUTF8 { utf8 in
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0..<0x20, 0x7f: controlEscape(byte)
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A quoted address, written byte by byte because two of them are in every row; the text is the
    /// same as `IPAddress.description` (RFC 5952 for IPv6).
    mutating func address(_ ip: IPAddress) {
        let raw = ip.bytes
        bytes.append(UInt8(ascii: "\""))
        switch ip.family {
        case .v4:
            for i in 0..<4 {
                if i > 0 { bytes.append(UInt8(ascii: ".")) }
                uint(raw[i])
            }
        case .v6:
            ipv6(raw)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func ipv6(_ raw: [UInt8]) {
        var groups: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &groups) { words in
            for i in 0..<8 {
                words.storeBytes(of: UInt16(raw[2 * i]) << 8 | UInt16(raw[2 * i + 1]), toByteOffset: 2 * i,
                                 as: UInt16.self)
            }
        }
        withUnsafeBytes(of: &groups) { words in
            let word = { (i: Int) in words.load(fromByteOffset: 2 * i, as: UInt16.self) }
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
                    bytes.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: ":")])
                    i += bestLength
                    continue
                }
                if i > 0 && i != bestStart + bestLength { bytes.append(UInt8(ascii: ":")) }
                hex(word(i))
                i += 1
            }
        }
    }

    /// Lower-case hex without leading zeros.
    private mutating func hex(_ value: UInt16) {
        var started = false
        for shift in stride(from: 12, through: 0, by: -4) {
            let nibble = UInt8((value >> UInt16(shift)) & 0xf)
            if nibble == 0 && !started && shift > 0 { continue }
            started = true
            bytes.append(Self.hexDigit(nibble))
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    private mutating func controlEscape(_ byte: UInt8) {
        raw("\\u00")
        bytes.append(Self.hexDigit(byte >> 4))
        bytes.append(Self.hexDigit(byte & 0xf))
    }
}
