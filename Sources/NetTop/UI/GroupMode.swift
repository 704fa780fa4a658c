import TracerCore

/// How the table folds connections together (`g` cycles through them in this order).
enum GroupMode: String, CaseIterable, Sendable {
    case none
    case process
    case netns
    case remoteHost = "remote host"

    var next: GroupMode {
        let all = Self.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]
    }

    /// The group a row belongs to; nil when not grouping.
    func key(of row: ConnectionStats) -> GroupKey? {
        switch self {
        case .none: return nil
        case .process: return .process(pid: row.pid, comm: row.comm)
        case .netns: return .netns(row.tuple.netns)
        case .remoteHost: return .remoteHost(row.tuple.dest)
        }
    }
}
