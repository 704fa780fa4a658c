import TracerCore

/// The `--batch` text for one tick, in the manner of `top -b`: a header line with the tick's time,
/// backend and self-telemetry, then one table row per connection. Pure: the caller applies the view,
/// measures the interval and chooses the time zone; blank lines between ticks are the caller's too.
struct BatchRenderer {
    /// Added to UTC for the header's clock (the run loop passes the local offset).
    var utcOffsetSeconds = 0

    static let columns: [TextTable.Column] = [
        .init(title: "PID", alignment: .right),
        .init(title: "COMMAND", alignment: .left),
        .init(title: "PROTO", alignment: .left),
        .init(title: "DIR", alignment: .left),
        .init(title: "LOCAL", alignment: .left),
        .init(title: "REMOTE", alignment: .left),
        .init(title: "NETNS", alignment: .left),
        .init(title: "TX/s", alignment: .right),
        .init(title: "RX/s", alignment: .right),
        .init(title: "SENT", alignment: .right),
        .init(title: "RECV", alignment: .right),
        .init(title: "RETRANS", alignment: .right),
        .init(title: "AGE", alignment: .right),
        .init(title: "STATE", alignment: .left),
    ]

    /// `elapsed` is the time in seconds the rows' `last*` counters cover (the tick interval);
    /// `monotonicNs` the tick's CLOCK_MONOTONIC time, against which the rows' ages are told.
    func render(_ snapshot: Snapshot, elapsed: Double, monotonicNs: UInt64) -> String {
        var table = TextTable(columns: Self.columns)
        for row in snapshot.connections {
            table.append(cells(row, elapsed: elapsed, monotonicNs: monotonicNs, names: snapshot.netnsNames))
        }
        var text = header(snapshot) + "\n"
        for line in table.renderLines() {
            text += line
            text += "\n"
        }
        return text
    }

    func header(_ snapshot: Snapshot) -> String {
        let rows = snapshot.connections
        let tcp = rows.lazy.filter { $0.tuple.type == .tcp }.count
        let closed = rows.lazy.filter(\.closed).count
        let stats = snapshot.stats
        return "nettop \(CivilTime.format(unixSeconds: snapshot.timestamp, utcOffsetSeconds: utcOffsetSeconds))"
            + "  backend \(TerminalSafeText.sanitize(snapshot.backend))"
            + "  rows \(rows.count) (tcp \(tcp), udp \(rows.count - tcp), closed \(closed))"
            + "  tracked \(stats.tracked)"
            + "  lost events \(stats.closedLost)"
            + "  map-full drops \(stats.mapFullDrops)"
    }

    func cells(_ row: ConnectionStats, elapsed: Double, monotonicNs: UInt64, names: [UInt32: String]) -> [String] {
        let tuple = row.tuple
        return [
            String(row.pid),
            ConnectionText.command(row.comm),
            tuple.type.rawValue,
            ConnectionText.direction(row.direction),
            ConnectionText.endpoint(tuple.source, tuple.sport),
            ConnectionText.endpoint(tuple.dest, tuple.dport),
            ConnectionText.netns(tuple.netns, names: names),
            HumanUnits.bytes(rate(row.lastSentBytes, elapsed)),
            HumanUnits.bytes(rate(row.lastRecvBytes, elapsed)),
            HumanUnits.bytes(row.monotonicSentBytes),
            HumanUnits.bytes(row.monotonicRecvBytes),
            String(row.monotonicRetransmits),
            UnitText.age(ConnectionText.ageSeconds(row, monotonicNs: monotonicNs)),
            ConnectionText.state(of: row),
        ]
    }

    private func rate(_ bytes: UInt64, _ elapsed: Double) -> Double {
        elapsed > 0 ? Double(bytes) / elapsed : 0
    }
}
