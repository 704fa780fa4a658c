import TracerCore

/// The text of each table cell. Untrusted names go through `ConnectionText` (and so `TerminalSafeText`);
/// numbers through `UnitText`. Cells come out whole; the renderer fits them to their column.
enum RowText {
    static func cell(_ column: TableLayout.ColumnID, of row: DisplayRow, names: [UInt32: String],
                     unit: UnitText.RateUnit) -> String {
        switch row {
        case .connection(let r): return connectionCell(column, r, names: names, unit: unit)
        case .group(let g): return groupCell(column, g, names: names, unit: unit)
        }
    }

    static func connectionCell(_ column: TableLayout.ColumnID, _ row: TrafficHistory.Row, names: [UInt32: String],
                               unit: UnitText.RateUnit) -> String {
        let s = row.stats
        switch column {
        case .pid: return String(s.pid)
        case .command: return ConnectionText.command(s.comm)
        case .proto: return s.tuple.type.rawValue
        case .dir: return ConnectionText.direction(s.direction)
        case .local: return ConnectionText.endpoint(s.tuple.source, s.tuple.sport)
        case .remote: return remote(s)
        case .netns: return ConnectionText.netns(s.tuple.netns, names: names)
        case .txRate: return UnitText.rate(row.txRate, unit)
        case .rxRate: return UnitText.rate(row.rxRate, unit)
        case .sent: return HumanUnits.bytes(s.monotonicSentBytes)
        case .recv: return HumanUnits.bytes(s.monotonicRecvBytes)
        case .retrans: return String(s.monotonicRetransmits)
        case .ageState, .age: return ageState(row)
        case .connections: return "1"
        case .processes: return "1"
        case .host: return host(s.tuple.dest)
        }
    }

    /// The real remote end: behind NAT, conntrack's (the reply's source). A mark says which NAT: `D>` this
    /// end connected to an address a destination NAT sent elsewhere, `S<` the peer that connected here came
    /// through a source NAT; where only this end's own address was translated, `S>` (it leaves through
    /// SNAT/masquerade) or `D<` (it was reached through a port forward). The detail view shows both tuples.
    static func remote(_ s: ConnectionStats) -> String {
        guard let t = s.conntrack else { return ConnectionText.endpoint(s.tuple.dest, s.tuple.dport) }
        let remoteTranslated = t.replSrcIP != s.tuple.dest || t.replSport != s.tuple.dport
        let incoming = s.direction == .incoming
        let mark = remoteTranslated ? (incoming ? "S<" : "D>") : (incoming ? "D<" : "S>")
        return mark + ConnectionText.endpoint(t.replSrcIP, t.replSport)
    }

    static func groupCell(_ column: TableLayout.ColumnID, _ group: ConnectionGroup, names: [UInt32: String],
                          unit: UnitText.RateUnit) -> String {
        switch column {
        case .pid:
            if case .process(let pid, _) = group.key { return String(pid) }
            return "-"
        case .command:
            if case .process(_, let comm) = group.key { return ConnectionText.command(comm) }
            return "-"
        case .netns:
            if case .netns(let inode) = group.key { return ConnectionText.netns(inode, names: names) }
            if group.namespaces.count == 1, let inode = group.namespaces.first {
                return ConnectionText.netns(inode, names: names)
            }
            return "\(group.namespaces.count) netns"
        case .host:
            if case .remoteHost(let address) = group.key { return host(address) }
            return "-"
        case .connections: return String(group.connections)
        case .processes: return String(group.processes.count)
        case .txRate: return UnitText.rate(group.txRate, unit)
        case .rxRate: return UnitText.rate(group.rxRate, unit)
        case .sent: return HumanUnits.bytes(group.sent)
        case .recv: return HumanUnits.bytes(group.recv)
        case .retrans: return String(group.retransmits)
        case .age, .ageState: return UnitText.age(group.oldestAge)
        case .proto, .dir, .local, .remote: return "-"
        }
    }

    /// "12s ESTAB", "3m07s closed", "5s" (UDP has no state).
    static func ageState(_ row: TrafficHistory.Row) -> String {
        let state = ConnectionText.state(of: row.stats)
        let age = UnitText.age(row.ageSeconds)
        return state == "-" ? age : age + " " + state
    }

    /// A remote host without a port; "*" for an unconnected UDP socket's missing peer.
    static func host(_ address: IPAddress) -> String {
        address.isUnspecified ? "*" : address.description
    }

    /// An endpoint made to fit: the address is cut in the middle and the port is kept
    /// ("[2001:db8:…:7348]:443"), because the port is what tells connections of one host apart.
    static func fitEndpoint(_ text: String, width: Int, ellipsis: String) -> String {
        guard TextWidth.of(text) > width else { return text }
        guard let colon = text.lastIndex(of: ":") else {
            return TextWidth.truncate(text, to: width, ellipsis: ellipsis)
        }
        var keep = text.distance(from: colon, to: text.endIndex)
        if text.first == "[" { keep += 1 }
        return TextWidth.truncateMiddle(text, to: width, keepingEnd: keep, ellipsis: ellipsis)
    }

    /// Everything the find text (`/`) is matched against, lower-cased: the texts of every column.
    static func searchText(_ row: TrafficHistory.Row, names: [UInt32: String]) -> String {
        let s = row.stats
        return [
            String(s.pid), ConnectionText.command(s.comm), s.tuple.type.rawValue,
            ConnectionText.direction(s.direction),
            ConnectionText.endpoint(s.tuple.source, s.tuple.sport),
            ConnectionText.endpoint(s.tuple.dest, s.tuple.dport),
            ConnectionText.netns(s.tuple.netns, names: names), String(s.tuple.netns),
            ConnectionText.state(of: s),
        ].joined(separator: "\u{1F}").lowercased()
    }
}
