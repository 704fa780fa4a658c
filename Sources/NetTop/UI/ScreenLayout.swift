/// A terminal's size in character cells.
struct TerminalSize: Equatable, Sendable {
    var rows: Int
    var columns: Int
}

/// Where each part of the screen goes: four header lines, the column titles, the rows, the key bar.
struct ScreenLayout: Equatable, Sendable {
    static let headerLines = 4
    /// Below this the screen says it is too small instead of drawing a table nobody can read.
    static let minimumColumns = 40
    static let minimumRows = 8

    let size: TerminalSize

    init(_ size: TerminalSize) {
        self.size = size
    }

    var isTooSmall: Bool { size.columns < Self.minimumColumns || size.rows < Self.minimumRows }
    var titleRow: Int { Self.headerLines }
    var firstTableRow: Int { Self.headerLines + 1 }
    var footerRow: Int { size.rows - 1 }
    /// How many table rows fit (a page).
    var tableRows: Int { max(1, size.rows - Self.headerLines - 2) }
}
