import TracerCore

/// The panels drawn over the table: help, a connection's details, the netns picker and the sort menu.
struct PanelRenderer {
    let renderer: ScreenRenderer

    private var unicode: Bool { renderer.unicode }

    // MARK: Help

    func help(_ model: UIModel, into screen: inout Screen) {
        let region = clear(model, into: &screen)
        var y = region.lowerBound
        screen.put(" nettop keys", row: y, column: 0, style: .panelTitle)
        y += 1
        let longest = KeyMap.help.map { TextWidth.of($0.keys) }.max() ?? 0
        let keysWidth = min(longest + 2, max(12, screen.width / 3))
        for (keys, does) in KeyMap.help where y < region.upperBound {
            screen.put(" " + keys, row: y, column: 0, maxWidth: keysWidth, style: .panelTitle)
            screen.put(does, row: y, column: keysWidth + 1, style: .panel)
            y += 1
        }
        if y + 1 < region.upperBound {
            screen.put(" Rows dimmed closed within the last \(TrafficHistory.closedLingerTicks) ticks; rates are per "
                       + "second over the last interval.", row: y + 1, column: 0, style: .panel)
        }
    }

    // MARK: Detail

    func detail(_ model: UIModel, _ id: ConnectionID, into screen: inout Screen) {
        let region = clear(model, into: &screen)
        let history = model.shown
        var y = region.lowerBound
        guard let row = history.row(id) else {
            screen.put(" This connection has left the table (closed more than "
                       + "\(TrafficHistory.closedLingerTicks) ticks ago, or expired). Esc returns.",
                       row: y, column: 0, style: .panelTitle)
            return
        }
        let s = row.stats
        let unit = model.state.rateUnit
        let interval = UnitText.interval(history.elapsed)
        var title = " Connection: \(s.tuple.type.rawValue) \(s.tuple.family.rawValue), \(s.direction.rawValue)"
        if let ago = row.closedTicksAgo {
            title += ago == 0 ? ", closed during the last interval" : ", closed \(ago + 1) ticks ago"
        }
        screen.put(title, row: y, column: 0, style: .panelTitle)
        y += 1

        func time(_ monotonic: UInt64) -> String {
            let wall = history.wallClock(ofMonotonic: monotonic)
            let ago = max(0, history.timestamp - wall)
            return CivilTime.format(unixSeconds: wall, utcOffsetSeconds: model.utcOffsetSeconds)
                + " (\(UnitText.age(ago)) ago)"
        }
        func counter(_ total: UInt64, _ last: UInt64, _ rate: Double) -> String {
            "\(UnitText.grouped(total)) bytes (\(HumanUnits.bytes(total)));"
                + " \(UnitText.grouped(last)) in the last \(interval): \(UnitText.rate(rate, unit))/s"
        }
        var nat = "none"
        if let t = s.conntrack {
            nat = "replies from \(ConnectionText.endpoint(t.replSrcIP, t.replSport))"
                + " to \(ConnectionText.endpoint(t.replDstIP, t.replDport))"
        }
        let netns = history.netnsNames[s.tuple.netns].map { TerminalSafeText.sanitize($0) + " (inode \(s.tuple.netns))" }
            ?? "inode \(s.tuple.netns) (no ip netns name)"
        let fields: [(String, String)] = [
            ("Process", "\(s.pid) \(ConnectionText.command(s.comm))"),
            ("Local", ConnectionText.endpoint(s.tuple.source, s.tuple.sport)),
            ("Remote", ConnectionText.endpoint(s.tuple.dest, s.tuple.dport)),
            ("NAT", nat),
            ("Netns", netns),
            ("State", ConnectionText.state(of: s)),
            ("First seen", time(s.firstSeen)),
            ("Last active", time(s.lastActivity)),
            ("Sent", counter(s.monotonicSentBytes, s.lastSentBytes, row.txRate)),
            ("Received", counter(s.monotonicRecvBytes, s.lastRecvBytes, row.rxRate)),
            ("Retransmits", "\(s.monotonicRetransmits) (\(s.lastRetransmits) in the last \(interval))"),
        ]
        for (label, value) in fields where y < region.upperBound {
            screen.put(" " + label, row: y, column: 0, style: .label)
            screen.put(value, row: y, column: 14, style: .panel)
            y += 1
        }
        y += 1
        let rates = history.histories[id] ?? RateHistory()
        for (label, values, style) in [("TX/s", rates.tx, Style.txRate), ("RX/s", rates.rx, Style.rxRate)]
        where y < region.upperBound {
            let peak = Double(values.max() ?? 0)
            let suffix = " peak \(UnitText.rate(peak, unit))/s"
            let barWidth = max(0, screen.width - 14 - TextWidth.of(suffix) - 2)
            screen.put(" " + label, row: y, column: 0, style: .label)
            screen.put(Sparkline.render(values, width: barWidth, unicode: unicode), row: y, column: 14, style: style)
            screen.put(suffix, row: y, column: 14 + barWidth, style: .panel)
            y += 1
        }
        if y < region.upperBound {
            screen.put(" Rates of the last \(rates.count) tick\(rates.count == 1 ? "" : "s") (up to \(RateHistory.capacity)),"
                       + " newest on the right", row: y, column: 0, style: .label)
        }
    }

    // MARK: Menus

    func netnsPicker(_ model: UIModel, _ index: Int, into screen: inout Screen) {
        let entries = model.netnsEntries
        let lines = entries.map { entry -> (String, String) in
            let inode = entry.inode.map { entry.label == String($0) ? "" : "  \($0)" } ?? ""
            return (entry.label + inode, "\(entry.connections) row" + (entry.connections == 1 ? "" : "s"))
        }
        menu(model, title: "Network namespace", lines: lines, selected: index,
             current: entries.firstIndex { $0.inode == model.state.view.netns }, into: &screen)
    }

    func sortMenu(_ model: UIModel, _ index: Int, into screen: inout Screen) {
        let lines = UIModel.sortMenuKeys.map { ($0.rawValue, $0.summary) }
        menu(model, title: "Sort by", lines: lines, selected: index,
             current: UIModel.sortMenuKeys.firstIndex(of: model.state.view.sort), into: &screen)
    }

    /// A bordered list in the middle of the table, scrolled to keep `selected` in view; `current`
    /// (what is in force now) is marked with "*".
    private func menu(_ model: UIModel, title: String, lines: [(String, String)], selected: Int, current: Int?,
                      into screen: inout Screen) {
        let layout = model.layout
        let top = layout.titleRow
        let maxHeight = layout.footerRow - top
        let width = min(screen.width - 2, 72)
        let height = min(lines.count + 2, maxHeight)
        let x0 = (screen.width - width) / 2
        let visible = max(1, height - 2)
        let first = min(max(0, selected - visible + 1), max(0, lines.count - visible))
        let (h, v, tl, tr, bl, br) = unicode ? ("─", "│", "┌", "┐", "└", "┘") : ("-", "|", "+", "+", "+", "+")

        let heading = TextWidth.truncate(" \(title) ", to: width - 4, ellipsis: renderer.ellipsis)
        let rule = String(repeating: h, count: max(0, width - 3 - TextWidth.of(heading)))
        screen.put(tl + h + heading + rule + tr, row: top, column: x0, style: .panelTitle)
        for line in 0..<visible {
            let y = top + 1 + line
            let i = first + line
            screen.fill(row: y, column: x0, count: width, style: .panel)
            screen.put(v, row: y, column: x0, style: .panelTitle)
            screen.put(v, row: y, column: x0 + width - 1, style: .panelTitle)
            guard lines.indices.contains(i) else { continue }
            let style: Style = i == selected ? .panelSelected : .panel
            if i == selected { screen.fill(row: y, column: x0 + 1, count: width - 2, style: style) }
            let mark = i == current ? "*" : " "
            let (label, note) = lines[i]
            let noteWidth = min(TextWidth.of(note), max(0, width - 4 - 12))
            let labelWidth = width - 4 - noteWidth - 1
            screen.put(mark + TextWidth.truncate(label, to: labelWidth, ellipsis: renderer.ellipsis),
                       row: y, column: x0 + 1, style: style)
            screen.put(TextWidth.truncate(note, to: noteWidth, ellipsis: renderer.ellipsis),
                       row: y, column: x0 + width - 2 - noteWidth, style: style)
        }
        let bottom = top + 1 + visible
        if bottom < layout.footerRow {
            screen.put(bl + String(repeating: h, count: max(0, width - 2)) + br, row: bottom, column: x0, style: .panelTitle)
        }
    }

    /// Blanks the table's area for a full panel; returns its rows.
    private func clear(_ model: UIModel, into screen: inout Screen) -> Range<Int> {
        let layout = model.layout
        for y in layout.titleRow..<layout.footerRow { screen.fill(row: y, style: .panel) }
        return layout.titleRow..<layout.footerRow
    }
}
