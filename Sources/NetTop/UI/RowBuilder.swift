import TracerCore

/// The table's rows from the traffic and the view: filtered, grouped, sorted. Pure.
///
/// Connections are ordered by `ViewOptions.precedes`, the order `--batch` and `--json` use, so rows the
/// sort key finds equal keep their places from tick to tick. Groups are ordered by the same keys over
/// their summed counters, then by what they group.
enum RowBuilder {
    /// `searchTexts`, when given, are `RowText.searchText` of each of `history.rows`, made beforehand.
    static func rows(_ history: TrafficHistory, _ state: ViewState, searchTexts: [String] = []) -> [DisplayRow] {
        let kept = filtered(history, state, searchTexts: searchTexts)
        guard state.group != .none else {
            // Indices, not rows, are moved around while sorting: a row is a large value.
            let view = state.view
            return kept.indices.sorted { view.precedes(kept[$0].stats, kept[$1].stats) }
                .map { DisplayRow.connection(kept[$0]) }
        }
        var groups: [GroupKey: ConnectionGroup] = [:]
        for row in kept {
            guard let key = state.group.key(of: row.stats) else { continue }
            groups[key, default: ConnectionGroup(key: key)].add(row)
        }
        let key = state.view.sort, reverse = state.view.reverse
        return groups.values.sorted { a, b in
            if let order = groupOrder(a, b, key) { return order != reverse }
            return keyOrder(a.key, b.key)
        }.map(DisplayRow.group)
    }

    /// The rows the filters let through, in the history's order.
    static func filtered(_ history: TrafficHistory, _ state: ViewState, searchTexts: [String] = []) -> [TrafficHistory.Row] {
        let needle = state.findText.lowercased()
        let names = history.netnsNames
        let cached = searchTexts.count == history.rows.count
        return history.rows.indices.compactMap { i in
            let row = history.rows[i]
            guard state.view.matches(row.stats) else { return nil }
            if let host = state.host, row.stats.tuple.dest != host { return nil }
            if needle.isEmpty { return row }
            let text = cached ? searchTexts[i] : RowText.searchText(row, names: names)
            return text.contains(needle) ? row : nil
        }
    }

    private static func groupOrder(_ a: ConnectionGroup, _ b: ConnectionGroup, _ key: SortKey) -> Bool? {
        switch key {
        case .rate: return descending(a.lastSent &+ a.lastRecv, b.lastSent &+ b.lastRecv)
        case .txrate: return descending(a.lastSent, b.lastSent)
        case .rxrate: return descending(a.lastRecv, b.lastRecv)
        case .bytes: return descending(a.sent &+ a.recv, b.sent &+ b.recv)
        case .sent: return descending(a.sent, b.sent)
        case .recv: return descending(a.recv, b.recv)
        case .retrans: return descending(a.retransmits, b.retransmits)
        case .age: return descending(a.oldestAge, b.oldestAge)
        case .comm:
            if case .process(_, let x) = a.key, case .process(_, let y) = b.key { return ascending(x, y) }
            return nil
        // The other keys order groups by what they group (pid, netns, remote host), flipped by reverse too.
        case .pid, .netns, .remote, .proto, .port, .dir, .local: return a.key == b.key ? nil : keyOrder(a.key, b.key)
        }
    }

    private static func keyOrder(_ a: GroupKey, _ b: GroupKey) -> Bool {
        switch (a, b) {
        case (.process(let p, let c), .process(let q, let d)): return p != q ? p < q : c < d
        case (.netns(let x), .netns(let y)): return x < y
        case (.remoteHost(let x), .remoteHost(let y)): return x < y
        default: return false
        }
    }

    private static func ascending<T: Comparable>(_ a: T, _ b: T) -> Bool? { a == b ? nil : a < b }
    private static func descending<T: Comparable>(_ a: T, _ b: T) -> Bool? { a == b ? nil : a > b }
}
