import TracerCore

/// One line of the table: a connection, or a group of them.
enum DisplayRow: Sendable, Equatable {
    case connection(TrafficHistory.Row)
    case group(ConnectionGroup)

    var key: RowKey {
        switch self {
        case .connection(let row): return .connection(row.id)
        case .group(let group): return .group(group.key)
        }
    }

    /// Shown dimmed: a recently closed connection, or a group whose connections all closed.
    var isClosed: Bool {
        switch self {
        case .connection(let row): return row.isClosed
        case .group(let group): return group.allClosed
        }
    }
}
