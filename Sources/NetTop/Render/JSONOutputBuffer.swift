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

    /// The number of bytes written since the start or the last `drain(_:)`.
    private(set) var count = 0

    /// What was written.
    var bytes: [UInt8] { [UInt8](UnsafeBufferPointer(start: base, count: count)) }

    /// Lends what was written to `body`, then empties the buffer (its memory kept for what comes next).
    mutating func drain<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        defer { count = 0 }
        return body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Appends literal JSON syntax (keys, punctuation) as is.
    @inline(__always)
    mutating func raw(_ text: StaticString) {
        // Keys and punctuation are a few to thirty bytes: copied a word at a time here, since a call to
        // memcpy for each was a third of rendering a row.
        copy(UnsafeRawPointer(text.utf8Start), count: text.utf8CodeUnitCount)
    }

    mutating func null() { raw("null") }

    mutating func bool(_ value: Bool) { value ? raw("true") : raw("false") }

    mutating func uint<T: UnsignedInteger & FixedWidthInteger>(_ value: T) {
        decimal(UInt64(value))
    }

    /// Two digits per division, from a table of the pairs "00" to "99".
    private mutating func decimal(_ value: UInt64) {
        var v = value
        if v < 10 { return byte(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v)) }
        let digits = Self.digitCount(v)
        reserve(digits)
        let pairs = Self.digitPairs.utf8Start
        var end = base + count + digits
        while v >= 100 {
            let r = Int(truncatingIfNeeded: v % 100)
            v /= 100
            end -= 2
            end[0] = pairs[2 * r]
            end[1] = pairs[2 * r + 1]
        }
        if v >= 10 {
            let r = Int(truncatingIfNeeded: v)
            end[-2] = pairs[2 * r]
            end[-1] = pairs[2 * r + 1]
        } else {
            end[-1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v)
        }
        count &+= digits
    }

    /// The number of decimal digits of `v` (10 or more), by a tree of comparisons: a loop multiplying a
    /// limit by ten took as many steps as the number has digits, a third of writing it.
    @inline(__always)
    static func digitCount(_ v: UInt64) -> Int {
        if v < 100_000_000 {
            if v < 10_000 { return v < 100 ? 2 : (v < 1_000 ? 3 : 4) }
            return v < 1_000_000 ? (v < 100_000 ? 5 : 6) : (v < 10_000_000 ? 7 : 8)
        }
        if v < 10_000_000_000_000_000 {
            if v < 1_000_000_000_000 {
                return v < 10_000_000_000 ? (v < 1_000_000_000 ? 9 : 10) : (v < 100_000_000_000 ? 11 : 12)
            }
            return v < 100_000_000_000_000 ? (v < 10_000_000_000_000 ? 13 : 14) : (v < 1_000_000_000_000_000 ? 15 : 16)
        }
        return v < 1_000_000_000_000_000_000 ? (v < 100_000_000_000_000_000 ? 17 : 18)
            : (v < 10_000_000_000_000_000_000 ? 19 : 20)
    }

    private static let digitPairs: StaticString = """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """

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
            ipv4(ip.v4Bits)
        case .v6:
            ipv6(ip)
        }
        byte(UInt8(ascii: "\""))
    }

    /// Dotted quad from the address's first word: one capacity check for all of it, and each octet four
    /// bytes stored at once from a table of their texts (its length in the fourth byte; the bytes past the
    /// text are written over by what follows, or left beyond the end). Through the two-digit writer each
    /// octet cost a call and a division or two: addresses were a tenth of a row.
    private mutating func ipv4(_ word: UInt32) {
        reserve(20)
        let table = UnsafeRawPointer(Self.octetTexts.utf8Start)
        var p = UnsafeMutableRawPointer(base + count)
        func octet(_ shift: UInt32, then separator: UInt8?) {
            let at = Int((word >> shift) & 0xff) * 4
            p.storeBytes(of: table.loadUnaligned(fromByteOffset: at, as: UInt32.self), as: UInt32.self)
            p += Int(table.load(fromByteOffset: at + 3, as: UInt8.self) &- UInt8(ascii: "0"))
            if let separator {
                p.storeBytes(of: separator, as: UInt8.self)
                p += 1
            }
        }
        octet(24, then: UInt8(ascii: "."))
        octet(16, then: UInt8(ascii: "."))
        octet(8, then: UInt8(ascii: "."))
        octet(0, then: nil)
        count = base.distance(to: p.assumingMemoryBound(to: UInt8.self))
    }

    /// "0  1", "1  1", ..., "255 3": each octet's text in three bytes, then its length as a digit.
    private static let octetTexts: StaticString = """
        0  11  12  13  14  15  16  17  18  19  110 211 212 213 214 215 216 217 218 219 220 221 222 223 2\
        24 225 226 227 228 229 230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 247 2\
        48 249 250 251 252 253 254 255 256 257 258 259 260 261 262 263 264 265 266 267 268 269 270 271 2\
        72 273 274 275 276 277 278 279 280 281 282 283 284 285 286 287 288 289 290 291 292 293 294 295 2\
        96 297 298 299 210031013102310331043105310631073108310931103111311231133114311531163117311831193\
        120312131223123312431253126312731283129313031313132313331343135313631373138313931403141314231433\
        144314531463147314831493150315131523153315431553156315731583159316031613162316331643165316631673\
        168316931703171317231733174317531763177317831793180318131823183318431853186318731883189319031913\
        192319331943195319631973198319932003201320232033204320532063207320832093210321132123213321432153\
        216321732183219322032213222322332243225322632273228322932303231323232333234323532363237323832393\
        2403241324232433244324532463247324832493250325132523253325432553
        """

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

    @inline(__always)
    private mutating func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count &+= 1
    }

    private mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let from = bytes.baseAddress, !bytes.isEmpty else { return }
        copy(UnsafeRawPointer(from), count: bytes.count)
    }

    /// `n` bytes from `source`: eight at a time, the last eight overlapping what came before, so that no
    /// byte past the source's end is read.
    @inline(__always)
    private mutating func copy(_ source: UnsafeRawPointer, count n: Int) {
        reserve(n)
        let to = UnsafeMutableRawPointer(base + count)
        if n >= 8 {
            var i = 0
            while i + 8 <= n {
                to.storeBytes(of: source.loadUnaligned(fromByteOffset: i, as: UInt64.self), toByteOffset: i, as: UInt64.self)
                i += 8
            }
            if i < n {
                to.storeBytes(of: source.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self), toByteOffset: n - 8,
                              as: UInt64.self)
            }
        } else {
            for i in 0..<n { to.storeBytes(of: source.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self) }
        }
        count &+= n
    }

    /// Room for `more` bytes. Every piece asks, so the usual case is one comparison, inlined.
    @inline(__always)
    private mutating func reserve(_ more: Int) {
        if count &+ more > capacity { grow(more) }
    }

    @inline(never)
    private mutating func grow(_ more: Int) {
        let grown = max(count + more, capacity * 2)
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        bigger.initialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = grown
    }
}
