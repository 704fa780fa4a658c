/// What makes a row the same row from one poll to the next. The kernel entry when there is one: a
/// socket end keeps its key while its tuple may change (bound, then connected), and two socket ends may
/// share a tuple (SO_REUSEPORT, or a closed one and its successor). Rows seeded from /proc have only
/// their tuple.
///
/// Kept as a 64-bit fingerprint of those fields rather than the fields themselves: each client keeps one
/// per row shown (200,000 at 100k connections, where the 41 bytes of fields were 8 MB twice over) and
/// compares it for every row of every poll. Two rows with the same fingerprint would also need the same
/// first-seen nanosecond before one's counters were taken for the other's (`ClientState.Seen.since`).
struct RowID: Hashable, Comparable, Sendable {
    private var fingerprint: UInt64

    init(key: KernelKey) {
        fingerprint = Self.fingerprint(key)
    }

    init(key kernelKey: KernelKey?, tuple: ConnectionTuple) {
        if let key = kernelKey {
            fingerprint = Self.fingerprint(key)
            return
        }
        // Kinds 3 and up, so that the words of a seeded row never read as a kernel row's.
        let kind: UInt64 = 3 | (tuple.type == .tcp ? 0 : 4) | (tuple.source.family == .v4 ? 0 : 8)
            | (tuple.dest.family == .v4 ? 0 : 16)
        fingerprint = Self.mix(kind, UInt64(tuple.netns) << 32 | UInt64(tuple.sport) << 16 | UInt64(tuple.dport),
                               tuple.source.high, tuple.source.low, tuple.dest.high, tuple.dest.low)
    }

    /// An arbitrary but fixed order, for finding identities in a sorted list.
    static func < (a: RowID, b: RowID) -> Bool { a.fingerprint < b.fingerprint }

    /// The same identity with only the bits of `mask` kept: for tests that need fingerprints to collide.
    func masked(_ mask: UInt64) -> RowID {
        var id = self
        id.fingerprint &= mask
        return id
    }

    private static func fingerprint(_ key: KernelKey) -> UInt64 {
        let kind: UInt64 = key.peer == nil ? 0 : (key.peer?.family == .v4 ? 1 : 2)
        return mix(kind, key.cookie, key.peer?.high ?? 0, key.peer?.low ?? 0, UInt64(key.peerPort), 0)
    }

    /// Each word stirred in with a multiply and shifts (the finalizer of MurmurHash3's 64-bit variant), so
    /// that every input bit reaches every output bit.
    /// Six words, not a variadic list: that would allocate an array for every row.
    private static func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64, _ f: UInt64) -> UInt64 {
        var h: UInt64 = 0x9e37_79b9_7f4a_7c15
        func stir(_ word: UInt64) {
            h = (h ^ word) &* 0xff51_afd7_ed55_8ccd
            h ^= h >> 33
            h = h &* 0xc4ce_b9fe_1a85_ec53
            h ^= h >> 29
        }
        stir(a); stir(b); stir(c); stir(d); stir(e); stir(f)
        return h
    }
}
