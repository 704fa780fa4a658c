/// The kernel keys of the connections that ended in one poll, each with the start of the connection that
/// ended under it, so that the same entry read twice ends once while two connections that closed under one
/// reused key (sockets keyed by their address) both end.
///
/// One hash insert per ended row: a tick of connection churn ends about 50,000, and a second set of
/// (key, start) pairs beside the keys was a tenth of nettop's time there. The rare key that ends again
/// with another start goes to `more`.
struct EndedKeys {
    private struct Ended: Hashable {
        var key: KernelKey
        var firstSeen: UInt64
    }

    private var first: [KernelKey: UInt64]
    private var more: Set<Ended> = []

    init(capacity: Int) {
        first = Dictionary(minimumCapacity: capacity)
    }

    var isEmpty: Bool { first.isEmpty }

    func contains(_ key: KernelKey) -> Bool { first[key] != nil }

    /// Records that the connection under `key` that began at `firstSeen` ended; false if it already had.
    mutating func insert(_ key: KernelKey, firstSeen: UInt64) -> Bool {
        var earlier: UInt64?
        // One hash of the key, through the dictionary's in-place accessor, for the usual new key.
        Self.claim(&first[key, default: Self.unclaimed], start: firstSeen, earlier: &earlier)
        guard let earlier else { return true }
        if earlier == firstSeen { return false }
        return more.insert(Ended(key: key, firstSeen: firstSeen)).inserted
    }

    /// No connection starts at the end of the monotonic clock.
    private static let unclaimed = UInt64.max

    private static func claim(_ slot: inout UInt64, start: UInt64, earlier: inout UInt64?) {
        if slot == unclaimed { slot = start } else { earlier = slot }
    }
}
