/// The table's columns for a width: which are shown and how wide each is.
///
/// Each column has a priority; columns are admitted in priority order while they fit at their minimum
/// width (the first that does not fit stops the rest, so columns come and go in a predictable order as
/// the terminal widens), then spare columns widen the flexible ones — first up to their preferred
/// width, in `growthOrder`, then the addresses up to a full IPv6 endpoint, remote first. Widths do not
/// depend on the rows, so columns stay put from tick to tick. Display order is fixed.
struct TableLayout: Equatable, Sendable {
    enum ColumnID: Sendable, Equatable {
        case pid, command, proto, dir, local, remote, netns, txRate, rxRate, sent, recv, retrans, ageState
        /// Group tables: members, processes, and the remote host.
        case connections, processes, host, age
    }

    struct Column: Equatable, Sendable {
        var id: ColumnID
        var title: String
        var rightAligned: Bool
        var minWidth: Int
        var preferredWidth: Int
        var maxWidth: Int
        var priority: Int
        var sortKey: SortKey?
    }

    struct Placed: Equatable, Sendable {
        var column: Column
        var x: Int
        var width: Int
    }

    let columns: [Placed]

    /// Longest IPv6 endpoint: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535".
    static let fullEndpointWidth = 47

    init(group: GroupMode, width: Int) {
        let all = Self.definitions(group)
        var admitted = Set<Int>()
        var used = 0
        for (index, column) in all.enumerated().sorted(by: { $0.element.priority < $1.element.priority }) {
            let need = column.minWidth + (admitted.isEmpty ? 0 : 1)
            if used + need > width { break }
            admitted.insert(index)
            used += need
        }
        var widths = all.map(\.minWidth)
        var spare = width - used
        for id in Self.growthOrder where spare > 0 {
            guard let i = all.indices.first(where: { all[$0].id == id && admitted.contains($0) }) else { continue }
            let grow = min(spare, all[i].preferredWidth - widths[i])
            widths[i] += max(0, grow)
            spare -= max(0, grow)
        }
        // Then the remote address up to a whole IPv6 endpoint (who is at the other end matters most),
        // the local one, and whatever else can still grow.
        for id in Self.secondGrowthOrder where spare > 0 {
            for i in all.indices where all[i].id == id && admitted.contains(i) {
                let grow = min(spare, max(0, all[i].maxWidth - widths[i]))
                widths[i] += grow
                spare -= grow
            }
        }
        var placed: [Placed] = []
        var x = 0
        for (i, column) in all.enumerated() where admitted.contains(i) {
            placed.append(Placed(column: column, x: x, width: widths[i]))
            x += widths[i] + 1
        }
        columns = placed
    }

    /// The columns with a sort key, in display order (what `<` and `>` move through).
    var sortKeys: [SortKey] { columns.compactMap(\.column.sortKey) }

    private static let growthOrder: [ColumnID] = [.remote, .host, .command, .local, .netns, .ageState]
    private static let secondGrowthOrder: [ColumnID] = [.remote, .host, .local, .netns]

    static func definitions(_ group: GroupMode) -> [Column] {
        let pid = Column(id: .pid, title: "PID", rightAligned: true, minWidth: 7, preferredWidth: 7, maxWidth: 7,
                         priority: 0, sortKey: .pid)
        let command = Column(id: .command, title: "COMMAND", rightAligned: false, minWidth: 12, preferredWidth: 15,
                             maxWidth: 15, priority: 1, sortKey: .comm)
        let tx = Column(id: .txRate, title: "TX/s", rightAligned: true, minWidth: 9, preferredWidth: 9, maxWidth: 9,
                        priority: 3, sortKey: .txrate)
        let rx = Column(id: .rxRate, title: "RX/s", rightAligned: true, minWidth: 9, preferredWidth: 9, maxWidth: 9,
                        priority: 4, sortKey: .rxrate)
        let sent = Column(id: .sent, title: "SENT", rightAligned: true, minWidth: 9, preferredWidth: 9, maxWidth: 9,
                          priority: 5, sortKey: .sent)
        let recv = Column(id: .recv, title: "RECV", rightAligned: true, minWidth: 9, preferredWidth: 9, maxWidth: 9,
                          priority: 6, sortKey: .recv)
        let retrans = Column(id: .retrans, title: "RETRANS", rightAligned: true, minWidth: 7, preferredWidth: 7,
                             maxWidth: 7, priority: 12, sortKey: .retrans)
        let netns = Column(id: .netns, title: "NETNS", rightAligned: false, minWidth: 10, preferredWidth: 16,
                           maxWidth: 24, priority: 7, sortKey: .netns)
        let conns = Column(id: .connections, title: "CONNS", rightAligned: true, minWidth: 5, preferredWidth: 5,
                           maxWidth: 5, priority: 2, sortKey: nil)
        let procs = Column(id: .processes, title: "PROCS", rightAligned: true, minWidth: 5, preferredWidth: 5,
                           maxWidth: 5, priority: 8, sortKey: nil)
        let age = Column(id: .age, title: "AGE", rightAligned: false, minWidth: 7, preferredWidth: 7, maxWidth: 7,
                         priority: 11, sortKey: .age)
        switch group {
        case .none:
            return [
                pid, command,
                Column(id: .proto, title: "PROTO", rightAligned: false, minWidth: 5, preferredWidth: 5, maxWidth: 5,
                       priority: 9, sortKey: .proto),
                Column(id: .dir, title: "DIR", rightAligned: false, minWidth: 5, preferredWidth: 5, maxWidth: 5,
                       priority: 10, sortKey: .dir),
                Column(id: .local, title: "LOCAL", rightAligned: false, minWidth: 16, preferredWidth: 21,
                       maxWidth: fullEndpointWidth, priority: 8, sortKey: .local),
                Column(id: .remote, title: "REMOTE", rightAligned: false, minWidth: 16, preferredWidth: 21,
                       maxWidth: fullEndpointWidth, priority: 2, sortKey: .remote),
                netns, tx, rx, sent, recv, retrans,
                Column(id: .ageState, title: "AGE/STATE", rightAligned: false, minWidth: 11, preferredWidth: 16,
                       maxWidth: 16, priority: 11, sortKey: .age),
            ]
        case .process:
            var groupNetns = netns
            groupNetns.priority = 9
            return [pid, command, conns, groupNetns, tx, rx, sent, recv, retrans, age]
        case .netns:
            var first = netns
            first.priority = 0
            first.preferredWidth = 24
            first.maxWidth = 40
            var count = procs
            count.priority = 7
            return [first, conns, count, tx, rx, sent, recv, retrans, age]
        case .remoteHost:
            let host = Column(id: .host, title: "REMOTE HOST", rightAligned: false, minWidth: 15, preferredWidth: 39,
                              maxWidth: 39, priority: 0, sortKey: .remote)
            var count = procs
            count.priority = 7
            return [host, conns, count, tx, rx, sent, recv, retrans, age]
        }
    }
}
