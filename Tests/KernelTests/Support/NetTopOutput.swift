import Foundation
import Glibc

/// The NDJSON contract of `nettop --json`, decoded into small test structs (MISSION.md, "The command-line
/// contract"). Decoding is deliberately independent of TracerCore: these tests check the contract itself.

/// Canonical text of an address, so "::1" and "0:0:0:0:0:0:0:1" compare equal.
func canonicalAddress(_ s: String) -> String {
    // Dotted quads are printed canonically already; only IPv6 text has several spellings.
    // (utf8.contains: Foundation's String.contains goes through NSString, far slower.)
    if !s.utf8.contains(0x3a) { return s }
    var buf = [CChar](repeating: 0, count: 64)
    var v6 = in6_addr(), v4 = in_addr()
    if s.contains(":"), inet_pton(AF_INET6, s, &v6) == 1 {
        inet_ntop(AF_INET6, &v6, &buf, 64)
    } else if inet_pton(AF_INET, s, &v4) == 1 {
        inet_ntop(AF_INET, &v4, &buf, 64)
    } else {
        return s
    }
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func int(_ any: Any?) -> Int? {
    if let i = any as? Int { return i }
    if let n = any as? NSNumber { return n.intValue }
    if let d = any as? Double { return Int(d) }
    if let s = any as? String { return Int(s) }
    return nil
}

private func double(_ any: Any?) -> Double? {
    if let d = any as? Double { return d }
    if let n = any as? NSNumber { return n.doubleValue }
    if let i = any as? Int { return Double(i) }
    return nil
}

/// One element of a tick's `connections`.
struct ObservedConnection: Sendable, CustomStringConvertible {
    var type = "", family = "", source = "", dest = "", direction = "", comm = ""
    var sport = 0, dport = 0, pid = 0
    var netNs: UInt64 = 0
    var sent = 0, lastSent = 0, recv = 0, lastRecv = 0
    var retransmits = 0, lastRetransmits = 0
    var closed = false
    var conntrack: [String: String]?   // repl_src_ip, repl_sport, ... as text; nil for null

    init() {}

    init?(_ d: [String: Any]) {
        guard let type = d["type"] as? String, let sport = int(d["sport"]), let dport = int(d["dport"]) else { return nil }
        self.type = type
        family = d["family"] as? String ?? ""
        source = canonicalAddress(d["source"] as? String ?? "")
        dest = canonicalAddress(d["dest"] as? String ?? "")
        self.sport = sport
        self.dport = dport
        direction = d["direction"] as? String ?? ""
        pid = int(d["pid"]) ?? -1
        comm = d["comm"] as? String ?? ""
        netNs = UInt64(int(d["net_ns"]) ?? 0)
        sent = int(d["monotonic_sent_bytes"]) ?? -1
        lastSent = int(d["last_sent_bytes"]) ?? -1
        recv = int(d["monotonic_recv_bytes"]) ?? -1
        lastRecv = int(d["last_recv_bytes"]) ?? -1
        retransmits = int(d["monotonic_retransmits"]) ?? -1
        lastRetransmits = int(d["last_retransmits"]) ?? -1
        closed = d["closed"] as? Bool ?? false
        if let ct = d["conntrack"] as? [String: Any] {
            conntrack = ct.mapValues { v in
                if let n = v as? NSNumber { return n.stringValue }
                return v as? String ?? "\(v)"
            }
        }
    }

    var key: ObservedKey { ObservedKey(type: type, netNs: netNs, source: source, sport: sport, dest: dest, dport: dport) }

    var description: String {
        "\(type)/\(family) \(source):\(sport) -> \(dest):\(dport) \(direction) pid=\(pid) comm=\(comm) netns=\(netNs) "
            + "sent=\(sent) (+\(lastSent)) recv=\(recv) (+\(lastRecv)) retrans=\(retransmits) closed=\(closed)"
            + (conntrack.map { ct in " conntrack={" + ct.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}" } ?? "")
    }
}

/// A tick's `stats`: every numeric field by name.
struct ObservedStats: Sendable {
    var values: [String: Double] = [:]
    subscript(_ key: String) -> Int? { values[key].map { Int($0) } }
}

/// One NDJSON line.
struct ObservedTick: Sendable {
    var timestamp: Double
    var backend: String
    var connections: [ObservedConnection]
    var stats: ObservedStats

    init(timestamp: Double, backend: String, connections: [ObservedConnection], stats: ObservedStats) {
        self.timestamp = timestamp
        self.backend = backend
        self.connections = connections
        self.stats = stats
    }

    /// Decodes one line: the fast scanner, or JSONSerialization should the line surprise it.
    init?(line: String) {
        if let tick = TickScanner.tick(line) {
            self = tick
            return
        }
        guard let data = line.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let conns = obj["connections"] as? [Any] else { return nil }
        timestamp = double(obj["timestamp"]) ?? 0
        backend = obj["backend"] as? String ?? ""
        connections = conns.compactMap { ($0 as? [String: Any]).flatMap(ObservedConnection.init) }
        var stats = ObservedStats()
        for (k, v) in obj["stats"] as? [String: Any] ?? [:] {
            // No `is Bool` test: on Linux an NSNumber 0 or 1 passes it, which would drop counters of 0 or 1.
            if let d = double(v) { stats.values[k] = d }
        }
        self.stats = stats
    }
}

/// A row's identity across ticks: (type, net_ns, source, sport, dest, dport).
struct ObservedKey: Hashable, Sendable {
    let type: String
    let netNs: UInt64
    let source: String
    let sport: Int
    let dest: String
    let dport: Int
}

/// What the test saw of one row over all ticks.
struct ObservedRow: Sendable, CustomStringConvertible {
    var latest: ObservedConnection
    var seenClosed = false
    var firstTick: Int
    var lastTick: Int
    var ticksSeen = 1
    /// Highest monotonic values seen (the latest, unless nettop ever went backwards — checked separately).
    var maxSent: Int, maxRecv: Int, maxRetransmits: Int
    var wentBackwards = false

    var description: String { "\(latest) [ticks \(firstTick)...\(lastTick), seen \(ticksSeen)x\(seenClosed ? ", seen closed" : "")\(wentBackwards ? ", COUNTERS WENT BACKWARDS" : "")]" }
}

/// Everything nettop printed, accumulated: each row's latest monotonic values and whether it was seen closed.
struct ObservedTable: Sendable {
    private(set) var rows: [ObservedKey: ObservedRow] = [:]
    private(set) var tickCount = 0
    /// How many rows the latest tick listed, and how many of them were live (not `closed`).
    private(set) var lastTickRowCount = 0
    private(set) var lastTickLiveRowCount = 0
    private(set) var lastStats = ObservedStats()
    private(set) var backends: Set<String> = []
    private(set) var undecodable: [String] = []
    /// Highest value each stat reached.
    private(set) var maxStats: [String: Double] = [:]

    mutating func ingest(_ line: String) { ingest(ObservedTick(line: line), line: line) }

    /// Adds one decoded line (decoding is done outside the lock that guards the table).
    mutating func ingest(_ decoded: ObservedTick?, line: String) {
        guard let tick = decoded else {
            if undecodable.count < 5 { undecodable.append(String(line.prefix(300))) }
            return
        }
        tickCount += 1
        lastTickRowCount = tick.connections.count
        lastTickLiveRowCount = tick.connections.filter { !$0.closed }.count
        lastStats = tick.stats
        backends.insert(tick.backend)
        for (k, v) in tick.stats.values { maxStats[k] = max(maxStats[k] ?? v, v) }
        for c in tick.connections {
            let key = c.key
            if var row = rows[key] {
                if c.sent < row.latest.sent || c.recv < row.latest.recv { row.wentBackwards = true }
                row.latest = c
                row.lastTick = tickCount
                row.ticksSeen += 1
                row.seenClosed = row.seenClosed || c.closed
                row.maxSent = max(row.maxSent, c.sent)
                row.maxRecv = max(row.maxRecv, c.recv)
                row.maxRetransmits = max(row.maxRetransmits, c.retransmits)
                rows[key] = row
            } else {
                rows[key] = ObservedRow(latest: c, seenClosed: c.closed, firstTick: tickCount, lastTick: tickCount,
                                maxSent: c.sent, maxRecv: c.recv, maxRetransmits: c.retransmits)
            }
        }
    }

    /// Rows matching every given part of the tuple.
    func find(type: String? = nil, sport: Int? = nil, dport: Int? = nil, source: String? = nil, dest: String? = nil,
              netNs: UInt64? = nil) -> [ObservedRow] {
        let src = source.map(canonicalAddress), dst = dest.map(canonicalAddress)
        return rows.values.filter { r in
            (type == nil || r.latest.type == type) && (sport == nil || r.latest.sport == sport)
                && (dport == nil || r.latest.dport == dport) && (src == nil || r.latest.source == src)
                && (dst == nil || r.latest.dest == dst) && (netNs == nil || r.latest.netNs == netNs)
        }
    }

    /// Rows that involve `port` at either end (for failure messages).
    func involving(port: Int) -> [ObservedRow] { rows.values.filter { $0.latest.sport == port || $0.latest.dport == port } }
}
