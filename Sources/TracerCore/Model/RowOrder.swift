/// The output order of a table's rows: by tuple (as `ConnectionTuple.<`), then the older socket end first
/// (a closed one and its successor may share a tuple), then closed before live, then input order.
/// Packed into plain words copied out of each row, so the sort moves and compares small values instead
/// of whole rows, which was most of the time of a 100k-row poll.
struct RowOrder: Comparable, Sendable {
    private var typeNetnsFamily: UInt64   // type, netns, source family
    private var sourceHigh: UInt64
    private var sourceLow: UInt64
    private var sportFamily: UInt64       // sport, dest family
    private var destHigh: UInt64
    private var destLow: UInt64
    private var dport: UInt64
    private var firstSeen: UInt64
    private var liveIndex: UInt64         // live after closed, then the input order
    var index: Int { Int(truncatingIfNeeded: liveIndex & 0xffff_ffff) }

    /// From the row in place: only its tuple and start are read, not the whole row copied out.
    init(_ row: UnsafePointer<ConnectionSample>, closed: Bool, index: Int) {
        let tuple = row.pointee.tuple
        let source = tuple.source, dest = tuple.dest
        // Types in the order of their raw values, as `ConnectionTuple.<` orders them.
        typeNetnsFamily = (tuple.type == .tcp ? 0 : 1) << 33 | UInt64(tuple.netns) << 1 | (source.family == .v4 ? 0 : 1)
        sourceHigh = source.high
        sourceLow = source.low
        sportFamily = UInt64(tuple.sport) << 1 | (dest.family == .v4 ? 0 : 1)
        destHigh = dest.high
        destLow = dest.low
        dport = UInt64(tuple.dport)
        firstSeen = row.pointee.firstSeen
        liveIndex = (closed ? 0 : 1) << 32 | UInt64(UInt32(index))
    }

    /// Word by word; the last word orders closed before live, then by input order, so no two rows tie.
    static func < (x: RowOrder, y: RowOrder) -> Bool {
        if x.typeNetnsFamily != y.typeNetnsFamily { return x.typeNetnsFamily < y.typeNetnsFamily }
        if x.sourceHigh != y.sourceHigh { return x.sourceHigh < y.sourceHigh }
        if x.sourceLow != y.sourceLow { return x.sourceLow < y.sourceLow }
        if x.sportFamily != y.sportFamily { return x.sportFamily < y.sportFamily }
        if x.destHigh != y.destHigh { return x.destHigh < y.destHigh }
        if x.destLow != y.destLow { return x.destLow < y.destLow }
        if x.dport != y.dport { return x.dport < y.dport }
        if x.firstSeen != y.firstSeen { return x.firstSeen < y.firstSeen }
        return x.liveIndex < y.liveIndex
    }
}
