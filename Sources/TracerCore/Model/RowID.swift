/// What makes a row the same row from one poll to the next. The kernel entry when there is one: a
/// socket end keeps its key while its tuple may change (bound, then connected), and two socket ends may
/// share a tuple (SO_REUSEPORT, or a closed one and its successor). Rows seeded from /proc have only
/// their tuple.
///
/// Packed into plain words rather than an enum over `KernelKey` and `ConnectionTuple`: each client keeps
/// one per row shown and compares it for every row of every poll, and the enum made a 100k-row poll
/// about a fifth slower.
struct RowID: Hashable, Sendable {
    private var kind: UInt8
    private var a: UInt64
    private var b: UInt64
    private var c: UInt64
    private var d: UInt64
    private var e: UInt64

    init(key kernelKey: KernelKey?, tuple: ConnectionTuple) {
        if let key = kernelKey {
            kind = key.peer == nil ? 0 : (key.peer?.family == .v4 ? 1 : 2)
            a = key.cookie
            b = key.peer?.high ?? 0
            c = key.peer?.low ?? 0
            d = UInt64(key.peerPort)
            e = 0
        } else {
            // Always has the low two bits set, so never equal to a kernel row's.
            kind = 3 | (tuple.type == .tcp ? 0 : 4) | (tuple.source.family == .v4 ? 0 : 8)
                | (tuple.dest.family == .v4 ? 0 : 16)
            a = UInt64(tuple.netns) << 32 | UInt64(tuple.sport) << 16 | UInt64(tuple.dport)
            b = tuple.source.high
            c = tuple.source.low
            d = tuple.dest.high
            e = tuple.dest.low
        }
    }
}
