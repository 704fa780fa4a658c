/// One row of /proc/net/{tcp,tcp6,udp,udp6}: a socket as the kernel lists it for one network namespace.
public struct ProcNetEntry: Sendable, Hashable {
    public var type: ConnectionType
    /// Local address (IPv4-mapped IPv6 addresses already read as IPv4).
    public var localAddress: IPAddress
    public var localPort: UInt16
    public var remoteAddress: IPAddress
    public var remotePort: UInt16
    /// The `st` column: the TCP state number (1 = ESTABLISHED ... 6 = TIME_WAIT, 7 = CLOSE, 10 = LISTEN).
    /// For UDP the kernel prints 1 for a connected socket and 7 for an unconnected one.
    public var state: UInt8
    /// Socket inode (the number in an fd's "socket:[INODE]" link); 0 for TIME_WAIT and request sockets.
    public var inode: UInt64

    public init(type: ConnectionType, localAddress: IPAddress, localPort: UInt16,
                remoteAddress: IPAddress, remotePort: UInt16, state: UInt8, inode: UInt64) {
        self.type = type
        self.localAddress = localAddress
        self.localPort = localPort
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.state = state
        self.inode = inode
    }
}

/// TCP state numbers as the kernel numbers them (include/net/tcp_states.h).
public enum TCPStateNumber {
    public static let established: UInt8 = 1
    public static let synSent: UInt8 = 2
    public static let synRecv: UInt8 = 3
    public static let finWait1: UInt8 = 4
    public static let finWait2: UInt8 = 5
    public static let timeWait: UInt8 = 6
    public static let close: UInt8 = 7
    public static let closeWait: UInt8 = 8
    public static let lastAck: UInt8 = 9
    public static let listen: UInt8 = 10
    public static let closing: UInt8 = 11
    public static let newSynRecv: UInt8 = 12
}

/// The outcome of parsing one /proc/net table: the rows that parsed, and how many lines did not.
public struct ProcNetParseResult: Sendable, Hashable {
    public var entries: [ProcNetEntry]
    /// Non-empty lines that are neither the header nor a well-formed row.
    public var malformedLines: Int

    public init(entries: [ProcNetEntry] = [], malformedLines: Int = 0) {
        self.entries = entries
        self.malformedLines = malformedLines
    }
}

/// Parser for the text of /proc/net/tcp, tcp6, udp and udp6. Pure: it never touches the file system.
///
/// Row layout (whitespace-separated columns):
/// `sl: local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...`
/// Addresses are hex: 8 digits for IPv4, 32 for IPv6, each group of 8 digits being one 32-bit word of the
/// network-order address printed as a host-order number (so on little-endian machines `0100007F` is
/// 127.0.0.1). Ports are 4 hex digits in host order. Any line that does not fit is counted and skipped;
/// the parser never traps, whatever the input.
public enum ProcNetParser {
    /// True on little-endian hosts (x86_64, aarch64): how the kernel's words must be unpacked.
    public static let hostIsLittleEndian: Bool = UInt16(1).littleEndian == 1

    public static func parse(_ text: String, type: ConnectionType,
                             littleEndian: Bool = hostIsLittleEndian) -> ProcNetParseResult {
        var text = text
        return text.withUTF8 { parse(bytes: $0, type: type, littleEndian: littleEndian) }
    }

    public static func parse(bytes: [UInt8], type: ConnectionType,
                             littleEndian: Bool = hostIsLittleEndian) -> ProcNetParseResult {
        bytes.withUnsafeBufferPointer { parse(bytes: $0, type: type, littleEndian: littleEndian) }
    }

    public static func parse(bytes: UnsafeBufferPointer<UInt8>, type: ConnectionType,
                             littleEndian: Bool = hostIsLittleEndian) -> ProcNetParseResult {
        var result = ProcNetParseResult()
        result.entries.reserveCapacity(bytes.count / 150)
        var start = 0
        let end = bytes.count
        var scratch = [Int](repeating: 0, count: 20)
        var cache = AddressCache()
        while start < end {
            var stop = start
            while stop < end && bytes[stop] != 0x0a { stop += 1 }
            switch parseLine(bytes, start, stop, type: type, littleEndian: littleEndian,
                             fields: &scratch, cache: &cache) {
            case .entry(let entry): result.entries.append(entry)
            case .skip: break
            case .malformed: result.malformedLines += 1
            }
            start = stop + 1
        }
        return result
    }

    /// Parses one line (without its newline). `nil` when the line is blank or the header, or malformed:
    /// use `parse` to tell those apart.
    public static func parseLine(_ line: String, type: ConnectionType,
                                 littleEndian: Bool = hostIsLittleEndian) -> ProcNetEntry? {
        var line = line
        return line.withUTF8 { buf in
            if case .entry(let entry) = parseLine(buf, 0, buf.count, type: type, littleEndian: littleEndian) {
                return entry
            }
            return nil
        }
    }

    // MARK: - Implementation
    //
    // Written for speed without optimisation too (tests run debug builds): no per-byte calls, no
    // per-row allocation beyond the entry's addresses, and repeated addresses reused.

    private enum LineResult {
        case entry(ProcNetEntry)
        case skip
        case malformed
    }

    /// The last address seen in each column: rows of one table share a few local addresses.
    private struct AddressCache {
        var localKey: (UInt64, UInt64, Int) = (0, 0, 0)
        var local = IPAddress.anyV4
        var remoteKey: (UInt64, UInt64, Int) = (0, 0, 0)
        var remote = IPAddress.anyV4
    }

    /// Hex number of the bytes in range: 1...8 digits. nil for anything else.
    private static func hex(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> UInt32? {
        guard to > from, to - from <= 8 else { return nil }
        var value: UInt32 = 0
        var i = from
        while i < to {
            let c = b[i]
            var d = c &- 0x30              // '0'...'9'
            if d > 9 {
                d = (c | 0x20) &- 0x61     // 'a'...'f', 'A'...'F'
                guard d < 6 else { return nil }
                d += 10
            }
            value = value << 4 | UInt32(d)
            i += 1
        }
        return value
    }

    private static func decimal(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> UInt64? {
        guard to > from, to - from <= 20 else { return nil }
        var value: UInt64 = 0
        var i = from
        while i < to {
            let d = b[i] &- 0x30
            guard d <= 9 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            guard !o1 && !o2 else { return nil }
            value = s
            i += 1
        }
        return value
    }

    /// "HEXADDR:PORT" → address and port. The address is 8 or 32 hex digits, the port 4.
    private static func endpoint(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int, littleEndian: Bool,
                                 cacheKey: inout (UInt64, UInt64, Int), cached: inout IPAddress) -> (IPAddress, UInt16)? {
        let digits = to - from - 5
        guard digits == 8 || digits == 32, b[to - 5] == 0x3a, let port = hex(b, to - 4, to) else { return nil }
        var words: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        guard let w0 = hex(b, from, from + 8) else { return nil }
        words.0 = w0
        if digits == 32 {
            guard let w1 = hex(b, from + 8, from + 16), let w2 = hex(b, from + 16, from + 24),
                  let w3 = hex(b, from + 24, from + 32) else { return nil }
            words = (w0, w1, w2, w3)
        }
        let key = (UInt64(words.0) << 32 | UInt64(words.1), UInt64(words.2) << 32 | UInt64(words.3), digits)
        if key != cacheKey && digits == 8 {
            let w = littleEndian ? words.0 : words.0.byteSwapped
            cached = IPAddress(v4: UInt8(truncatingIfNeeded: w), UInt8(truncatingIfNeeded: w >> 8),
                               UInt8(truncatingIfNeeded: w >> 16), UInt8(truncatingIfNeeded: w >> 24))
            cacheKey = key
        } else if key != cacheKey {
            var raw = [UInt8](repeating: 0, count: 16)
            for (n, word) in [words.0, words.1, words.2, words.3].enumerated() {
                let w = littleEndian ? word : word.byteSwapped
                raw[4 * n] = UInt8(truncatingIfNeeded: w)
                raw[4 * n + 1] = UInt8(truncatingIfNeeded: w >> 8)
                raw[4 * n + 2] = UInt8(truncatingIfNeeded: w >> 16)
                raw[4 * n + 3] = UInt8(truncatingIfNeeded: w >> 24)
            }
            cached = IPAddress(family: .v6, raw: raw)  // IPv4-mapped addresses come out as IPv4
            cacheKey = key
        }
        return (cached, UInt16(port))
    }

    private static func parseLine(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int,
                                  type: ConnectionType, littleEndian: Bool) -> LineResult {
        var scratch = [Int](repeating: 0, count: 20)
        var cache = AddressCache()
        return parseLine(b, from, to, type: type, littleEndian: littleEndian, fields: &scratch, cache: &cache)
    }

    /// `f` is scratch space for 10 (start, end) pairs, reused across lines. Any byte up to 0x20 (space,
    /// tab, CR, NUL and other controls) separates fields.
    private static func parseLine(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int,
                                  type: ConnectionType, littleEndian: Bool, fields f: inout [Int],
                                  cache: inout AddressCache) -> LineResult {
        // Split into at most 10 fields; the columns after `inode` are not needed.
        var count = 0
        var i = from
        while i < to && count < 10 {
            while i < to && b[i] <= 0x20 { i += 1 }
            if i >= to { break }
            f[2 * count] = i
            while i < to && b[i] > 0x20 { i += 1 }
            f[2 * count + 1] = i
            count += 1
        }
        if count == 0 { return .skip }

        // Header: first column is "sl".
        let s0 = f[0], e0 = f[1]
        if e0 - s0 == 2 && b[s0] == 0x73 && b[s0 + 1] == 0x6c { return .skip }
        guard count == 10 else { return .malformed }

        // "N:" slot number.
        guard e0 - s0 >= 2, b[e0 - 1] == 0x3a, decimal(b, s0, e0 - 1) != nil else { return .malformed }
        let s1 = f[2], e1 = f[3], s2 = f[4], e2 = f[5], s3 = f[6], e3 = f[7], s9 = f[18], e9 = f[19]
        guard e1 - s1 == e2 - s2,  // both endpoints of one family
              let local = endpoint(b, s1, e1, littleEndian: littleEndian,
                                   cacheKey: &cache.localKey, cached: &cache.local),
              let remote = endpoint(b, s2, e2, littleEndian: littleEndian,
                                    cacheKey: &cache.remoteKey, cached: &cache.remote),
              e3 - s3 == 2, let state = hex(b, s3, e3),
              let inode = decimal(b, s9, e9)
        else { return .malformed }
        // Columns 4...8 are numbers the kernel always prints (hex, ':' and '-'): check their shape so
        // garbage is not taken for a row.
        var k = f[8]
        let last = f[17]
        while k < last {
            let c = b[k]
            if c > 0x20 && c != 0x3a && c != 0x2d && (c &- 0x30) > 9 && ((c | 0x20) &- 0x61) > 5 {
                return .malformed
            }
            k += 1
        }
        return .entry(ProcNetEntry(type: type, localAddress: local.0, localPort: local.1,
                                   remoteAddress: remote.0, remotePort: remote.1,
                                   state: UInt8(state), inode: inode))
    }
}
