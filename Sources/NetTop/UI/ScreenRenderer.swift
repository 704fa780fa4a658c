import TracerCore

/// Draws the model: a pure function of the traffic, the view state and the terminal size (all in
/// `UIModel`) to a `Screen`. Header, column titles, rows and key bar here; the panels drawn over the
/// table (help, detail, netns picker, sort menu) in `PanelRenderer`.
struct ScreenRenderer {
    /// False when the terminal's locale cannot show more than ASCII: no bars, no ellipsis, "?" for the rest.
    var unicode = true

    var ellipsis: String { unicode ? "…" : "~" }

    func render(_ model: UIModel) -> Screen {
        let layout = model.layout
        var screen = Screen(width: model.size.columns, height: model.size.rows, asciiOnly: !unicode)
        if layout.isTooSmall {
            screen.put("Terminal too small for nettop", row: 0, column: 0, style: .alert)
            screen.put("(\(model.size.columns)x\(model.size.rows); needs \(ScreenLayout.minimumColumns)x"
                       + "\(ScreenLayout.minimumRows)). q quits.", row: 1, column: 0, style: .normal)
            return screen
        }
        header(model, into: &screen)
        table(model, into: &screen)
        let panels = PanelRenderer(renderer: self)
        switch model.state.mode {
        case .help: panels.help(model, into: &screen)
        case .detail(let id): panels.detail(model, id, into: &screen)
        case .netnsPicker(let index): panels.netnsPicker(model, index, into: &screen)
        case .sortMenu(let index): panels.sortMenu(model, index, into: &screen)
        case .table, .find, .filterExpression: break
        }
        footer(model, into: &screen)
        return screen
    }

    // MARK: Header

    private func header(_ model: UIModel, into screen: inout Screen) {
        let history = model.shown
        let state = model.state
        let width = screen.width

        var right: [(String, Style)] = []
        if state.paused {
            right.append(("PAUSED", .paused))
            let behind = model.ticksSincePause
            if behind > 0 { right.append((" \(behind) tick\(behind == 1 ? "" : "s") since", .label)) }
            right.append(("  ", .normal))
        }
        if history.ticks > 0 {
            let clock = CivilTime.format(unixSeconds: history.timestamp, utcOffsetSeconds: model.utcOffsetSeconds)
            right.append((String(clock.suffix(8)), .value))
        }
        let rightWidth = right.reduce(0) { $0 + TextWidth.of($1.0) }
        var left: [(String, Style)] = [("nettop", .title), ("  ", .normal),
                                       (TerminalSafeText.sanitize(model.hostname), .value)]
        if history.ticks > 0 {
            left += [("  backend ", .label), (TerminalSafeText.sanitize(history.backend), .value)]
        } else {
            left += [("  starting: waiting for the first tick", .label)]
        }
        left += [("  every ", .label), (UnitText.interval(state.interval), .value)]
        screen.write(left, row: 0, maxWidth: max(0, width - rightWidth - 1))
        screen.write(right, row: 0, column: max(0, width - rightWidth))

        // Totals are the host's: every connection, whatever the filters.
        var live = 0, tcp = 0, incoming = 0, outgoing = 0, local = 0
        for row in history.rows where !row.isClosed {
            live += 1
            if row.stats.tuple.type == .tcp { tcp += 1 }
            switch row.stats.direction {
            case .incoming: incoming += 1
            case .outgoing: outgoing += 1
            case .local: local += 1
            case .none: break
            }
        }
        let unit = state.rateUnit
        screen.write([
            ("TX ", .label), (UnitText.rate(history.totalTxRate, unit) + "/s", .txRate),
            ("  RX ", .label), (UnitText.rate(history.totalRxRate, unit) + "/s", .rxRate),
            ("  conns ", .label), (String(live), .value),
            ("  tcp ", .label), (String(tcp), .value), (" udp ", .label), (String(live - tcp), .value),
            ("  in ", .label), (String(incoming), .value), (" out ", .label), (String(outgoing), .value),
            (" local ", .label), (String(local), .value),
            ("  closed ", .label), (String(history.rows.count - live), .value),
        ], row: 1)

        let stats = history.stats
        let lost = stats.closedLost &+ stats.closedBufferDrops
        let fill = stats.maxConnections > 0 ? Double(stats.tracked) / Double(stats.maxConnections) : 0
        let percent = (fill * 1000).rounded() / 10
        screen.write([
            ("lost events ", .label), (String(lost), lost > 0 ? .alert : .value),
            ("  map-full drops ", .label), (String(stats.mapFullDrops), stats.mapFullDrops > 0 ? .alert : .value),
            ("  map ", .label),
            ("\(stats.tracked)/\(stats.maxConnections) (\(percent)%)", fill >= 0.9 ? .alert : .value),
            ("  conntrack ", .label), (stats.conntrackAvailable ? "on" : "off", .value),
            ("  poll ", .label), ("\((stats.pollMs * 10).rounded() / 10) ms", .value),
        ], row: 2)

        let shownCount = model.rows.count
        let total = state.group == .none
            ? "\(shownCount) of \(history.rows.count) rows"
            : "\(shownCount) groups, \(history.rows.count) rows"
        var view: [(String, Style)] = [
            ("sort ", .label), (sortDescription(state.view), .value),
            ("  group ", .label), (state.group.rawValue, .value),
            ("  filter ", .label),
        ]
        var filter = FilterExpression.text(of: state, netnsNames: history.netnsNames)
        if !state.findText.isEmpty {
            filter += (filter.isEmpty ? "" : " ") + "find \"" + TerminalSafeText.sanitize(state.findText) + "\""
        }
        view.append((filter.isEmpty ? "none" : filter, filter.isEmpty ? .value : .alert))
        let totalWidth = TextWidth.of(total)
        screen.write(view, row: 3, maxWidth: max(0, width - totalWidth - 2))
        screen.put(total, row: 3, column: max(0, width - totalWidth), style: .label)
    }

    /// "rate, largest first", "pid, descending".
    func sortDescription(_ view: ViewOptions) -> String {
        let descending = view.sort.isDescendingByDefault != view.reverse
        switch view.sort {
        case .age: return "age, " + (view.reverse ? "newest first" : "oldest first")
        default:
            if view.sort.isDescendingByDefault {
                return view.sort.rawValue + (descending ? ", largest first" : ", smallest first")
            }
            return view.sort.rawValue + (descending ? ", descending" : ", ascending")
        }
    }

    // MARK: Table

    private func table(_ model: UIModel, into screen: inout Screen) {
        let layout = model.layout
        let columns = model.tableLayout
        let state = model.state
        let titleRow = layout.titleRow
        screen.fill(row: titleRow, style: .tableHeader)
        for placed in columns.columns {
            let isSort = placed.column.sortKey == state.view.sort
                || (state.view.sort == .rate && (placed.column.id == .txRate || placed.column.id == .rxRate))
                || (state.view.sort == .bytes && (placed.column.id == .sent || placed.column.id == .recv))
                || (state.view.sort == .port && placed.column.id == .local)
            if isSort { screen.fill(row: titleRow, column: placed.x, count: placed.width, style: .sortHeader) }
            cell(placed.column.title, placed, row: titleRow, style: isSort ? .sortHeader : .tableHeader, into: &screen)
        }

        let history = model.shown
        if model.rows.isEmpty {
            let note = history.ticks == 0 ? "waiting for the first tick..."
                : state.hasFilter ? "no connection matches the filter (Esc clears it)" : "no connections"
            screen.put(note, row: layout.firstTableRow, column: 1, style: .dim)
            return
        }
        let showCursor: Bool
        switch state.mode {
        case .table, .find, .filterExpression: showCursor = true
        default: showCursor = false
        }
        for line in 0..<layout.tableRows {
            let index = state.scrollTop + line
            guard model.rows.indices.contains(index) else { break }
            let row = model.rows[index]
            let y = layout.firstTableRow + line
            let style: Style = row.isClosed ? .dim : .normal
            screen.fill(row: y, style: style)
            for placed in columns.columns {
                let text = RowText.cell(placed.column.id, of: row, names: history.netnsNames, unit: state.rateUnit)
                cell(text, placed, row: y, style: style, into: &screen)
            }
            if showCursor && index == state.cursor {
                screen.restyle(row: y) { $0.selected }
            }
        }
    }

    /// One cell, fitted to its column: numbers lose decimals, addresses are cut in the middle, names at
    /// the end.
    private func cell(_ text: String, _ placed: TableLayout.Placed, row: Int, style: Style, into screen: inout Screen) {
        var fitted = text
        if TextWidth.of(text) > placed.width {
            switch placed.column.id {
            case .local, .remote: fitted = RowText.fitEndpoint(text, width: placed.width, ellipsis: ellipsis)
            case .txRate, .rxRate, .sent, .recv: fitted = UnitText.fit(text, width: placed.width)
            default: break
            }
            fitted = TextWidth.truncate(fitted, to: placed.width, ellipsis: ellipsis)
        }
        let x = placed.column.rightAligned ? placed.x + placed.width - TextWidth.of(fitted) : placed.x
        screen.put(fitted, row: row, column: x, maxWidth: placed.width, style: style)
    }

    // MARK: Key bar

    private func footer(_ model: UIModel, into screen: inout Screen) {
        let row = model.layout.footerRow
        let state = model.state
        switch state.mode {
        case .find:
            var used = screen.put("Find: ", row: row, column: 0, style: .keyHint)
            used += screen.put(TerminalSafeText.sanitize(state.findText) + "_", row: row, column: used, style: .prompt)
            screen.write([("  Enter", .keyHint), (" keep  ", .label), ("Esc", .keyHint), (" clear", .label)],
                         row: row, column: used)
            return
        case .filterExpression(let text):
            var used = screen.put("Filter: ", row: row, column: 0, style: .keyHint)
            used += screen.put(TerminalSafeText.sanitize(text) + "_", row: row, column: used, style: .prompt)
            if let message = state.message {
                screen.put("  " + message, row: row, column: used, style: .alert)
            } else {
                screen.put("  pid N  port N  tcp|udp  netns NAME  host ADDR", row: row, column: used, style: .label)
            }
            return
        default:
            break
        }
        if let message = state.message {
            screen.put(message, row: row, column: 0, style: .alert)
            return
        }
        // (key, what it does, priority): the most needed stay when the bar is too narrow for all.
        let items: [(String, String, Int)]
        switch state.mode {
        case .detail:
            items = [("Esc", "Back", 0), ("Space", state.paused ? "Resume" : "Pause", 2), ("+-", "Interval", 3),
                     ("b", state.rateUnit == .bytes ? "Bits" : "Bytes", 4), ("q", "Quit", 1)]
        case .netnsPicker, .sortMenu: items = [("Enter", "Pick", 0), ("Esc", "Cancel", 1), ("q", "Quit", 2)]
        case .help: items = [("Any key", "Back", 0), ("q", "Quit", 1)]
        default:
            items = [("h", "Help", 0), ("/", "Find", 2), ("f", "Filter", 3), ("n", "Netns", 4), ("g", "Group", 5),
                     ("<>", "Sort", 6), ("I", "Invert", 9), ("Spc", state.paused ? "Resume" : "Pause", 7),
                     ("Ent", "Detail", 8), ("b", state.rateUnit == .bytes ? "Bits" : "Bytes", 10), ("q", "Quit", 1)]
        }
        func need(_ item: (String, String, Int)) -> Int { TextWidth.of(item.0) + TextWidth.of(item.1) + 2 }
        var budget = screen.width
        var shown = Set<Int>()
        for item in items.sorted(by: { $0.2 < $1.2 }) where need(item) <= budget {
            shown.insert(item.2)
            budget -= need(item)
        }
        var x = 0
        for item in items where shown.contains(item.2) {
            x += screen.put(item.0, row: row, column: x, style: .keyHint)
            x += screen.put(" " + item.1 + " ", row: row, column: x, style: .keyLabel)
        }
    }
}

extension Screen {
    /// Writes styled pieces one after another from `column`, within `maxWidth`; returns columns used.
    @discardableResult
    mutating func write(_ pieces: [(String, Style)], row: Int, column: Int = 0, maxWidth: Int? = nil) -> Int {
        let limit = min(width, column + (maxWidth ?? width))
        var x = column
        for (text, style) in pieces where x < limit {
            x += put(text, row: row, column: x, maxWidth: limit - x, style: style)
        }
        return x - column
    }
}
