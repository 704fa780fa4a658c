/// A plain-text table whose columns are as wide as their widest cell, separated by two spaces, with
/// numbers right-aligned and text left-aligned, and no trailing blanks (so `diff` and `grep` stay quiet).
struct TextTable {
    enum Alignment { case left, right }

    struct Column {
        var title: String
        var alignment: Alignment
    }

    let columns: [Column]
    private(set) var rows: [[String]] = []

    init(columns: [Column]) {
        self.columns = columns
    }

    /// `cells` must have one entry per column; cells are expected to be terminal-safe already.
    mutating func append(_ cells: [String]) {
        precondition(cells.count == columns.count, "one cell per column")
        rows.append(cells)
    }

    func renderLines() -> [String] {
        var widths = columns.map { $0.title.count }
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        var lines = [line(columns.map(\.title), widths: widths)]
        lines.reserveCapacity(rows.count + 1)
        for row in rows { lines.append(line(row, widths: widths)) }
        return lines
    }

    private func line(_ cells: [String], widths: [Int]) -> String {
        var text = ""
        for (i, cell) in cells.enumerated() {
            if i > 0 { text += "  " }
            let pad = String(repeating: " ", count: widths[i] - cell.count)
            text += columns[i].alignment == .left ? cell + pad : pad + cell
        }
        while text.last == " " { text.removeLast() }
        return text
    }
}
