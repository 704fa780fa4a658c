import TracerCore

/// Everything the user chose about the screen, as a value: which rows (the shared `ViewOptions` plus the
/// UI's own find text and host), how they are grouped and shown, and where the selection is.
struct ViewState: Sendable, Equatable {
    enum Mode: Sendable, Equatable {
        case table
        case help
        /// The detail view of one connection.
        case detail(ConnectionID)
        /// The netns picker and the sort menu, with the highlighted entry.
        case netnsPicker(Int)
        case sortMenu(Int)
        /// `/`: the find text is being typed, and applies as it is typed.
        case find
        /// `f`: a filter expression is being typed ("pid 42 port 443 tcp").
        case filterExpression(String)
    }

    /// Filters, sort key and direction, shared with `--batch` and `--json` (set from the command line).
    var view: ViewOptions
    /// Case-insensitive text every column of a row is searched for (`/`).
    var findText = ""
    /// Only connections with this remote address (set by opening a remote-host group, or `host ADDR`).
    var host: IPAddress?
    var group: GroupMode = .none
    var rateUnit: UnitText.RateUnit = .bytes
    /// The display is frozen; ticks go on being recorded.
    var paused = false
    /// Seconds between ticks.
    var interval: Double
    var mode: Mode = .table
    /// The row the selection follows across re-sorts; nil keeps the cursor on the first row.
    var selection: RowKey?
    /// The selection's index in the rows as last built, and the first row shown.
    var cursor = 0
    var scrollTop = 0
    /// A one-line notice in the key bar until the next key (a filter expression that did not parse).
    var message: String?

    init(view: ViewOptions = ViewOptions(), interval: Double = 1) {
        self.view = view
        self.interval = interval
    }

    var hasFilter: Bool {
        view.netns != nil || view.pid != nil || view.proto != nil || view.port != nil || host != nil
            || !findText.isEmpty
    }

    mutating func clearFilters() {
        view.netns = nil
        view.pid = nil
        view.proto = nil
        view.port = nil
        host = nil
        findText = ""
    }
}
