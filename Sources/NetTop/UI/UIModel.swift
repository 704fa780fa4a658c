import TracerCore

/// The interactive screen's state as one value: the traffic seen so far, what the user chose, the rows
/// that choice gives, and the terminal's size. Keys become actions (`KeyMap`), actions change the model
/// and return what must happen next (`Followup`); `ScreenRenderer` draws it. No terminal in here.
struct UIModel: Sendable {
    /// Shown in the header.
    let hostname: String
    /// Added to UTC for the clock and the detail view's times.
    var utcOffsetSeconds: Int
    /// What the tracer reported, tick after tick (also while paused).
    private(set) var live = TrafficHistory()
    /// The traffic as it was when the display was paused.
    private(set) var frozen: TrafficHistory?
    private(set) var state: ViewState
    /// The table's rows, filtered, grouped and sorted; rebuilt on `.resort`.
    private(set) var rows: [DisplayRow] = []
    private(set) var size: TerminalSize
    /// What the find text is matched against, one per row of `shown`, made when a find first needs them
    /// (typing a find re-filters on every key; the texts of a busy host's rows are worth keeping).
    private var searchTexts: [String] = []

    init(hostname: String, state: ViewState, size: TerminalSize, utcOffsetSeconds: Int = 0) {
        self.hostname = hostname
        self.state = state
        self.size = size
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// The traffic on screen: frozen while paused.
    var shown: TrafficHistory { frozen ?? live }
    var layout: ScreenLayout { ScreenLayout(size) }
    var tableLayout: TableLayout { TableLayout(group: state.group, width: size.columns) }
    /// The ticks recorded since the display was paused.
    var ticksSincePause: Int { frozen.map { live.ticks - $0.ticks } ?? 0 }

    /// The row under the cursor.
    var selectedRow: DisplayRow? { rows.indices.contains(state.cursor) ? rows[state.cursor] : nil }

    // MARK: Ticks and size

    /// Takes one tick of the tracer; while paused it is recorded but not shown.
    mutating func record(_ snapshot: Snapshot, elapsed: Double, monotonicNs: UInt64) -> Followup {
        live.record(snapshot, elapsed: elapsed, monotonicNs: monotonicNs)
        if !state.paused {
            searchTexts = []
            rebuildRows()
        }
        return .redraw
    }

    mutating func resize(to newSize: TerminalSize) {
        size = newSize
        reconcileSelection()
    }

    /// Filters, groups and sorts again, and puts the cursor back on the selected row.
    mutating func rebuildRows() {
        if !state.findText.isEmpty && searchTexts.count != shown.rows.count {
            searchTexts = shown.rows.map { RowText.searchText($0, names: shown.netnsNames) }
        }
        rows = RowBuilder.rows(shown, state, searchTexts: searchTexts)
        reconcileSelection()
    }

    /// Reads a key, performs its action and does the follow-up that needs no terminal (re-sorting).
    /// Returns what is left for the run loop (redraw, quit, reschedule, ...).
    mutating func press(_ key: Key) -> Followup {
        press([key])
    }

    /// Keys that arrived together (typing, a paste, key repeat): re-sorts once at the end, or before an
    /// action that needs the rows as they are now (moving the selection, opening it). Stops at quit.
    mutating func press(_ keys: [Key]) -> Followup {
        var next: Followup = []
        var resortPending = false
        for key in keys {
            guard let action = KeyMap.action(for: key, in: state.mode) else {
                // An unbound key still clears a notice.
                if state.message != nil { state.message = nil; next.insert(.redraw) }
                continue
            }
            if resortPending && Self.readsRows(action) {
                rebuildRows()
                resortPending = false
            }
            let followup = perform(action)
            if followup.contains(.quit) { return .quit }
            if followup.contains(.resort) { resortPending = true }
            next.formUnion(followup)
        }
        if resortPending { rebuildRows() }
        return next
    }

    private static func readsRows(_ action: Action) -> Bool {
        switch action {
        case .move, .page, .moveToFirst, .moveToLast, .confirm, .togglePidFilter, .sortNextColumn,
             .sortPreviousColumn:
            return true
        default:
            return false
        }
    }

    // MARK: Actions

    mutating func perform(_ action: Action) -> Followup {
        let hadMessage = state.message != nil
        state.message = nil
        var next: Followup
        switch action {
        case .quit: return .quit
        case .resize: return [.resize, .resort, .redraw]
        case .repaint: return [.repaint, .redraw]
        default:
            switch state.mode {
            case .table: next = tableAction(action)
            case .find: next = findAction(action)
            case .filterExpression(let text): next = expressionAction(action, text)
            case .netnsPicker(let index): next = netnsPickerAction(action, index)
            case .sortMenu(let index): next = sortMenuAction(action, index)
            case .help: next = action == .cancel ? modeChange(.table) : []
            case .detail: next = action == .cancel ? modeChange(.table) : tableAction(action)
            }
        }
        if hadMessage { next.insert(.redraw) }
        return next
    }

    private mutating func tableAction(_ action: Action) -> Followup {
        switch action {
        case .move(let n): return moveCursor(to: state.cursor + n)
        case .page(let n): return moveCursor(to: state.cursor + n * layout.tableRows)
        case .moveToFirst: return moveCursor(to: 0)
        case .moveToLast: return moveCursor(to: rows.count - 1)
        case .sortNextColumn: return sort(by: neighbourSortKey(step: 1))
        case .sortPreviousColumn: return sort(by: neighbourSortKey(step: -1))
        case .sortBy(let key): return sort(by: key)
        case .invertSort:
            state.view.reverse.toggle()
            return [.resort, .redraw]
        case .openSortMenu:
            return modeChange(.sortMenu(Self.sortMenuKeys.firstIndex(of: state.view.sort) ?? 0))
        case .startFind: return modeChange(.find)
        case .startFilterExpression:
            return modeChange(.filterExpression(FilterExpression.text(of: state, netnsNames: shown.netnsNames)))
        case .confirm: return openSelected()
        case .cancel:
            guard state.hasFilter else { return [] }
            state.clearFilters()
            return [.resort, .redraw]
        case .openNetnsPicker:
            let entries = netnsEntries
            return modeChange(.netnsPicker(entries.firstIndex { $0.inode == state.view.netns } ?? 0))
        case .togglePidFilter: return togglePidFilter()
        case .cycleProtocol:
            switch state.view.proto {
            case nil: state.view.proto = .tcp
            case .tcp: state.view.proto = .udp
            case .udp: state.view.proto = nil
            }
            return [.resort, .redraw]
        case .cycleGroup:
            state.group = state.group.next
            state.selection = nil
            state.scrollTop = 0
            return [.resort, .redraw]
        case .togglePause:
            state.paused.toggle()
            frozen = state.paused ? live : nil
            searchTexts = []
            return [.resort, .redraw]
        case .longerInterval, .shorterInterval:
            let interval = Self.nextInterval(from: state.interval, longer: action == .longerInterval)
            guard interval != state.interval else { return [] }
            state.interval = interval
            return [.reschedule, .redraw]
        case .toggleRateUnit:
            state.rateUnit = state.rateUnit == .bytes ? .bits : .bytes
            return .redraw
        case .showHelp: return modeChange(.help)
        case .type, .deleteBackward, .quit, .resize, .repaint: return []
        }
    }

    private mutating func findAction(_ action: Action) -> Followup {
        switch action {
        case .type(let c):
            state.findText.append(c)
            return [.resort, .redraw]
        case .deleteBackward:
            guard !state.findText.isEmpty else { return [] }
            state.findText.removeLast()
            return [.resort, .redraw]
        case .confirm: return modeChange(.table)
        case .cancel:
            state.findText = ""
            state.mode = .table
            return [.resort, .redraw]
        case .move, .page: return tableAction(action)
        default: return []
        }
    }

    private mutating func expressionAction(_ action: Action, _ text: String) -> Followup {
        switch action {
        case .type(let c): return modeChange(.filterExpression(text + String(c)))
        case .deleteBackward: return modeChange(.filterExpression(String(text.dropLast())))
        case .cancel: return modeChange(.table)
        case .confirm:
            switch FilterExpression.parse(text, netnsNames: shown.netnsNames) {
            case .success(let filter):
                state.view.netns = filter.netns
                state.view.pid = filter.pid
                state.view.proto = filter.proto
                state.view.port = filter.port
                state.host = filter.host
                state.mode = .table
                return [.resort, .redraw]
            case .failure(let error):
                state.message = error.message
                return .redraw
            }
        case .move, .page: return tableAction(action)
        default: return []
        }
    }

    private mutating func netnsPickerAction(_ action: Action, _ index: Int) -> Followup {
        let entries = netnsEntries
        switch action {
        case .confirm:
            state.view.netns = entries.indices.contains(index) ? entries[index].inode : nil
            state.mode = .table
            return [.resort, .redraw]
        case .cancel: return modeChange(.table)
        default:
            return modeChange(.netnsPicker(Self.menuIndex(index, action, count: entries.count, page: layout.tableRows)))
        }
    }

    private mutating func sortMenuAction(_ action: Action, _ index: Int) -> Followup {
        switch action {
        case .confirm:
            state.mode = .table
            return sort(by: Self.sortMenuKeys[index]).union(.redraw)
        case .cancel: return modeChange(.table)
        default:
            return modeChange(.sortMenu(Self.menuIndex(index, action, count: Self.sortMenuKeys.count,
                                                       page: layout.tableRows)))
        }
    }

    private mutating func modeChange(_ mode: ViewState.Mode) -> Followup {
        guard state.mode != mode else { return [] }
        state.mode = mode
        return .redraw
    }

    private mutating func sort(by key: SortKey) -> Followup {
        if state.view.sort == key && state.mode == .table { return [] }
        state.view.sort = key
        state.view.reverse = false
        state.mode = .table
        return [.resort, .redraw]
    }

    /// The sort column next to the current one among the columns on screen. A key with no column of its
    /// own (total rate, total bytes) counts as sitting on TX/s and SENT.
    private func neighbourSortKey(step: Int) -> SortKey {
        let keys = tableLayout.sortKeys
        guard !keys.isEmpty else { return state.view.sort }
        let anchor: SortKey
        switch state.view.sort {
        case .rate: anchor = .txrate
        case .bytes: anchor = .sent
        case .port: anchor = .local
        default: anchor = state.view.sort
        }
        guard let i = keys.firstIndex(of: anchor) else { return keys[step > 0 ? 0 : keys.count - 1] }
        // From a key without a column, the first step lands on its anchor.
        if anchor != state.view.sort && step > 0 { return keys[i] }
        return keys[(i + step + keys.count) % keys.count]
    }

    private mutating func moveCursor(to index: Int) -> Followup {
        guard !rows.isEmpty else { return [] }
        let i = min(max(0, index), rows.count - 1)
        let before = state
        state.cursor = i
        state.selection = rows[i].key
        scrollToCursor()
        return state == before ? [] : .redraw
    }

    /// Enter: a connection opens its details; a group shows its connections (filtered to the group).
    private mutating func openSelected() -> Followup {
        guard let row = selectedRow else { return [] }
        switch row {
        case .connection(let r): return modeChange(.detail(r.id))
        case .group(let g):
            switch g.key {
            case .process(let pid, _): state.view.pid = pid
            case .netns(let inode): state.view.netns = inode
            case .remoteHost(let address): state.host = address
            }
            state.group = .none
            state.selection = nil
            state.scrollTop = 0
            return [.resort, .redraw]
        }
    }

    private mutating func togglePidFilter() -> Followup {
        if state.view.pid != nil {
            state.view.pid = nil
            return [.resort, .redraw]
        }
        switch selectedRow {
        case .connection(let r)?: state.view.pid = r.stats.pid
        case .group(let g)?:
            guard case .process(let pid, _) = g.key else {
                state.message = "p filters by the selected row's process; this group has several"
                return .redraw
            }
            state.view.pid = pid
        case nil: return []
        }
        return [.resort, .redraw]
    }

    // MARK: Selection

    /// The cursor goes where the selected row now is; if it left the table, the cursor stays at its
    /// index and selects the row that took its place.
    private mutating func reconcileSelection() {
        if rows.isEmpty {
            state.cursor = 0
        } else if let selection = state.selection {
            if let i = rows.firstIndex(where: { $0.key == selection }) {
                state.cursor = i
            } else {
                state.cursor = min(state.cursor, rows.count - 1)
                state.selection = rows[state.cursor].key
            }
        } else {
            state.cursor = 0
        }
        scrollToCursor()
    }

    private mutating func scrollToCursor() {
        let page = layout.tableRows
        if state.cursor < state.scrollTop { state.scrollTop = state.cursor }
        if state.cursor >= state.scrollTop + page { state.scrollTop = state.cursor - page + 1 }
        state.scrollTop = max(0, min(state.scrollTop, rows.count - page))
    }

    // MARK: Menus

    struct NetnsEntry: Equatable, Sendable {
        /// nil: every namespace.
        var inode: UInt32?
        var label: String
        var connections: Int
    }

    /// The netns picker's entries: "all", then each namespace with rows, named ones first by name.
    var netnsEntries: [NetnsEntry] {
        let history = shown
        var counts: [UInt32: Int] = [:]
        for row in history.rows { counts[row.stats.tuple.netns, default: 0] += 1 }
        if let chosen = state.view.netns, counts[chosen] == nil { counts[chosen] = 0 }
        let names = history.netnsNames
        let namespaces = counts.keys.sorted { a, b in
            switch (names[a], names[b]) {
            case let (x?, y?): return x != y ? x < y : a < b
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a < b
            }
        }
        return [NetnsEntry(inode: nil, label: "all namespaces", connections: history.rows.count)]
            + namespaces.map { NetnsEntry(inode: $0, label: ConnectionText.netns($0, names: names), connections: counts[$0]!) }
    }

    /// The sort menu's keys, quantities first.
    static let sortMenuKeys: [SortKey] = [
        .rate, .txrate, .rxrate, .bytes, .sent, .recv, .retrans, .age,
        .pid, .comm, .proto, .dir, .local, .remote, .port, .netns,
    ]

    private static func menuIndex(_ index: Int, _ action: Action, count: Int, page: Int) -> Int {
        guard count > 0 else { return 0 }
        let target: Int
        switch action {
        case .move(let n): target = index + n
        case .page(let n): target = index + n * max(1, page - 2)
        case .moveToFirst: target = 0
        case .moveToLast: target = count - 1
        default: target = index
        }
        return min(max(0, target), count - 1)
    }

    /// `+` and `-` step through these; an interval from the command line between two steps moves to the
    /// nearest in that direction.
    static let intervalSteps: [Double] = [0.1, 0.2, 0.5, 1, 2, 3, 5, 10, 30, 60]

    static func nextInterval(from current: Double, longer: Bool) -> Double {
        if longer { return intervalSteps.first { $0 > current } ?? current }
        return intervalSteps.last { $0 < current } ?? current
    }
}
