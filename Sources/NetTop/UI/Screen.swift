/// What the terminal should show: a grid of cells, each a character with a style. The renderer fills
/// one from the model; `CursesTerminal` copies it to the terminal; tests compare it as text.
struct Screen: Equatable, Sendable {
    struct Cell: Equatable, Sendable {
        var character: Character = " "
        var style: Style = .normal
        /// The right half of a two-column character (drawn by the cell before it).
        var isContinuation = false
    }

    let width: Int
    let height: Int
    /// Only ASCII reaches the terminal (the locale cannot show anything else): other characters read "?".
    let asciiOnly: Bool
    private(set) var cells: [Cell]

    init(width: Int, height: Int, asciiOnly: Bool = false) {
        self.width = max(0, width)
        self.height = max(0, height)
        self.asciiOnly = asciiOnly
        cells = Array(repeating: Cell(), count: self.width * self.height)
    }

    subscript(row: Int, column: Int) -> Cell {
        cells[row * width + column]
    }

    /// Writes `text` from (`row`, `column`), at most `maxWidth` columns and never past the edge;
    /// returns the columns used. Characters that do not fit whole are left out.
    @discardableResult
    mutating func put(_ text: String, row: Int, column: Int, maxWidth: Int? = nil, style: Style) -> Int {
        guard row >= 0, row < height, column >= 0, column < width else { return 0 }
        let limit = min(width, column + (maxWidth ?? width))
        var x = column
        for original in text {
            var character = original
            var w = TextWidth.of(character)
            if asciiOnly && !character.isASCII { character = "?"; w = 1 }
            if w == 0 { continue }
            if x + w > limit { break }
            set(row, x, Cell(character: character, style: style))
            if w == 2 { set(row, x + 1, Cell(character: " ", style: style, isContinuation: true)) }
            x += w
        }
        return x - column
    }

    /// Paints `count` blank cells with `style` (a highlighted bar, a panel's background).
    mutating func fill(row: Int, column: Int = 0, count: Int? = nil, style: Style) {
        guard row >= 0, row < height else { return }
        let end = min(width, column + (count ?? width))
        var x = max(0, column)
        while x < end {
            set(row, x, Cell(character: " ", style: style))
            x += 1
        }
    }

    /// Re-styles cells without changing their text (the selection bar over a rendered row).
    mutating func restyle(row: Int, column: Int = 0, count: Int? = nil, _ transform: (Style) -> Style) {
        guard row >= 0, row < height else { return }
        let end = min(width, column + (count ?? width))
        for x in max(0, column)..<max(max(0, column), end) {
            cells[row * width + x].style = transform(cells[row * width + x].style)
        }
    }

    private mutating func set(_ row: Int, _ x: Int, _ cell: Cell) {
        let i = row * width + x
        // Overwriting half of a wide character blanks its other half.
        if cells[i].isContinuation && !cell.isContinuation && x > 0 {
            cells[i - 1] = Cell(character: " ", style: cells[i - 1].style)
        }
        if !cell.isContinuation && x + 1 < width && cells[i + 1].isContinuation {
            cells[i + 1] = Cell(character: " ", style: cells[i + 1].style)
        }
        cells[i] = cell
    }

    /// Row `row` as text, trailing blanks removed.
    func line(_ row: Int) -> String {
        var text = ""
        for x in 0..<width where !self[row, x].isContinuation {
            text.append(self[row, x].character)
        }
        while text.last == " " { text.removeLast() }
        return text
    }

    var lines: [String] { (0..<height).map(line) }

    /// The whole screen as text, one line per row (for golden files).
    var text: String { lines.joined(separator: "\n") }

    /// Row `row`'s styles, one code per column (see `Style`), trailing plain cells removed.
    func styleLine(_ row: Int) -> String {
        var codes = String((0..<width).map { self[row, $0].style.rawValue })
        while codes.last == Style.normal.rawValue { codes.removeLast() }
        return codes
    }
}
