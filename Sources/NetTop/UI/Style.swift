/// What a cell means; the terminal turns it into colours, or attributes on a monochrome terminal.
/// The raw values are one-letter codes for tests.
enum Style: Character, CaseIterable, Sendable {
    case normal = " "
    /// A recently closed connection.
    case dim = "d"
    /// The selection bar, and the selection bar over a closed row.
    case selected = "S"
    case selectedDim = "D"
    /// Column titles, and the title of the sort column.
    case tableHeader = "H"
    case sortHeader = "O"
    /// The header's program name, labels and values.
    case title = "T"
    case label = "l"
    case value = "v"
    /// A counter that should be zero and is not (lost events, map-full drops), an error message.
    case alert = "!"
    /// Sent and received rates (header totals, sparklines).
    case txRate = "t"
    case rxRate = "r"
    /// The key bar: the key, then what it does.
    case keyHint = "K"
    case keyLabel = "k"
    /// Panels over the table (help, detail, pickers).
    case panel = "p"
    case panelTitle = "P"
    case panelSelected = "s"
    /// The filter prompt being typed.
    case prompt = "?"
    case paused = "Z"

    /// This style under the selection bar.
    var selected: Style {
        switch self {
        case .dim, .selectedDim: return .selectedDim
        case .panel, .panelTitle, .panelSelected: return .panelSelected
        default: return .selected
        }
    }
}
