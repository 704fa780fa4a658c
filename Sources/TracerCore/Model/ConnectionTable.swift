/// The connection state between the kernel and its consumers (the seed's NetworkState): the live rows of
/// the last poll, rows seeded from /proc, closed rows waiting to be seen, and what each client saw last.
///
/// Pure: the kernel layer hands it samples, each call is given the time, and it answers with values.
public struct ConnectionTable: Sendable {
    public let config: TableConfig
    /// Listening ports, for the direction of rows whose origin the kernel did not see.
    public var ports = PortMapping()

    private let expiry: ExpiryPolicy
    /// The kernel's rows as of the last `update` or `apply`, minus the expired ones.
    private var live = LiveRows()
    /// Connections that existed at start and that the kernel has not reported yet.
    private var seeds = SeedRows()
    private var closed: ClosedBuffer
    private var clients: [String: ClientState] = [:]
    private var totals = TableCounters()
    /// The last poll's rows in output order, as indices into its input (live rows, then the extras):
    /// a permutation of `0..<count`, used only as a hint for laying out the next poll before its sort.
    private var lastOrder: [Int32] = []
    /// The sort keys of a poll, kept between polls only so that their memory is reused.
    private var orderScratch: [RowOrder] = []

    public init(config: TableConfig = TableConfig()) {
        self.config = config
        expiry = ExpiryPolicy(config)
        closed = ClosedBuffer(capacity: config.maxClosed)
    }

    public var counters: TableCounters {
        var c = totals
        c.trackedCount = live.count + seeds.count
        c.closedPending = closed.count
        c.clients = clients.count
        return c
    }

    /// Adds connections that existed before start. They count from `now` (zero counters, no kernel entry)
    /// and take room under `maxConnections`; those that do not fit are counted in `mapFullDrops`.
    public mutating func seed(_ samples: [ConnectionSample], now: UInt64) {
        let kernelTuples = Set(live.rows.map(\.tuple))
        seeds.reserveCapacity(min(seeds.count + samples.count, config.maxConnections))
        for var row in samples where !seeds.contains(row.tuple) && !kernelTuples.contains(row.tuple) {
            guard live.count + seeds.count < config.maxConnections else {
                totals.mapFullDrops += 1
                continue
            }
            row.kernelKey = nil
            row.sentBytes = 0
            row.recvBytes = 0
            row.retransmits = 0
            row.firstSeen = now
            row.lastActivity = now
            seeds.insert(row)
        }
    }

    /// Hands the last poll's live rows over, leaving none: the caller refills that array's memory with the
    /// next poll and gives it back through `update`. Rows asked for in between (there should be no such
    /// call) are only the seeds and closed rows.
    public mutating func takeLiveRows() -> [ConnectionSample] {
        live.take()
    }

    /// Takes one poll of the kernel: `live` is the whole map now, `ended` the connections that closed since
    /// the last call (each exactly once). Returns the kernel keys of rows idle past their timeout, which the
    /// caller deletes from the kernel map.
    public mutating func update(live samples: [ConnectionSample], closed ended: [ConnectionSample],
                                now: UInt64) -> [KernelKey] {
        forgetIdleClients(now: now)
        let endedKeys = receive(ended: ended)

        // Usually nothing is dropped, and then the kernel's array is kept as it is, without a copy.
        var dropped: [Int] = []
        var expiredKeys: [KernelKey] = []
        for i in samples.indices {
            // The map may be read just before a close deletes the entry; the close is the final word.
            if !endedKeys.isEmpty, let key = samples[i].kernelKey, endedKeys.contains(key) {
                dropped.append(i)
                continue
            }
            if !seeds.isEmpty { seeds.remove(samples[i].tuple) }
            if expiry.isExpired(samples[i], now: now) {
                countExpired(type: samples[i].tuple.type)
                if let key = samples[i].kernelKey { expiredKeys.append(key) }
                dropped.append(i)
            }
        }
        if dropped.isEmpty {
            if samples.capacity > samples.count + samples.count / 4 + 4096 {
                // Room reserved for rows that did not come (seeds the kernel has not reported yet): given
                // back now rather than held beside the seeds through the rest of the tick, 27 MB at 100k
                // connections when half of them came alive in this tick.
                var fitted: [ConnectionSample] = []
                fitted.reserveCapacity(samples.count)
                fitted.append(contentsOf: samples)
                live.replace(with: fitted)
            } else {
                live.replace(with: samples)
            }
        } else {
            var kept: [ConnectionSample] = []
            kept.reserveCapacity(samples.count - dropped.count)
            var next = 0
            for i in samples.indices {
                if next < dropped.count && dropped[next] == i { next += 1 } else { kept.append(samples[i]) }
            }
            live.replace(with: kept)
        }
        finishUpdate(now: now)
        return expiredKeys
    }

    /// Takes a partial poll of the kernel: `changed` holds the entries that changed since the last poll (the
    /// rest are as they were), `ended` the connections that closed since (each exactly once), and `released`
    /// the cookies of UDP sockets their application let go of, whose rows all end now. Returns the kernel keys
    /// to delete from the map: rows idle past their timeout, and the released ones.
    ///
    /// Costs a pass over the rows for expiry, and an index lookup per changed row: at 100,000 idle
    /// connections a tick no longer reads, converts and hands over 200,000 rows.
    public mutating func apply(changed: [ConnectionSample], closed ended: [ConnectionSample], released: Set<UInt64>,
                               now: UInt64) -> [KernelKey] {
        forgetIdleClients(now: now)
        let endedKeys = receive(ended: ended)
        for sample in changed {
            guard let key = sample.kernelKey, !endedKeys.contains(key) else { continue }
            if !seeds.isEmpty { seeds.remove(sample.tuple) }
            live.upsert(sample)
        }

        var gone: [Int] = []
        var deleted: [KernelKey] = []
        var releasedRows: [ConnectionSample] = []
        let expiry = self.expiry
        live.rows.withUnsafeBufferPointer { rows in
            for i in rows.indices {
                if let key = rows[i].kernelKey {
                    // A close may come for a row that did not change this poll (it was read just before).
                    if !endedKeys.isEmpty, endedKeys.contains(key) {
                        gone.append(i)
                        continue
                    }
                    if !released.isEmpty, released.contains(key.cookie) {
                        releasedRows.append(rows[i])
                        deleted.append(key)
                        gone.append(i)
                        continue
                    }
                }
                if expiry.isExpired(rows[i], now: now) {
                    countExpired(type: rows[i].tuple.type)
                    if let key = rows[i].kernelKey { deleted.append(key) }
                    gone.append(i)
                }
            }
        }
        live.remove(at: gone)
        _ = receive(ended: releasedRows)
        finishUpdate(now: now)
        return deleted
    }

    /// Closed rows into the buffer (and out of the seeds); their kernel keys. A kernel entry read twice in
    /// one poll (its key queued by two processors at once, or queued and also met by the sweep) ends once:
    /// the same key and the same start. A key alone is not enough: sockets keyed by their address (where
    /// the hook cannot read a cookie) reuse it, and 1,000 short connections in a row can close under one
    /// key within a tick.
    private mutating func receive(ended: [ConnectionSample]) -> EndedKeys {
        var endedKeys = EndedKeys(capacity: ended.count)
        for row in ended {
            if let key = row.kernelKey, !endedKeys.insert(key, firstSeen: row.firstSeen) { continue }
            totals.closedReceived += 1
            // A seeded connection the kernel never counted still reports its close.
            if !seeds.isEmpty { seeds.remove(row.tuple) }
            totals.closedBufferDrops += UInt64(closed.append(row))
        }
        return endedKeys
    }

    private mutating func finishUpdate(now: UInt64) {
        if !seeds.isEmpty {
            expireSeeds(now: now)
            evictSeedsOverCapacity()
        }
        releaseSeenClosedRows()
    }

    /// `client`'s view now: every live row, plus the closed rows it has not been shown yet (flagged `closed`;
    /// shown once). `last*` count since this client's previous call, or since tracking began on its first.
    /// `wallClockOffsetNs` turns the monotonic clock into unix time (wall minus monotonic, in ns).
    public mutating func connections(client name: String, now: UInt64, wallClockOffsetNs: Int64) -> [ConnectionStats] {
        var storage: [ConnectionStats] = []
        return connections(client: name, now: now, wallClockOffsetNs: wallClockOffsetNs, reusing: &storage)
    }

    /// The same, refilling `storage`: an array of an earlier poll's rows its caller is done with (left
    /// empty), whose memory is written over rather than a new array's pages faulted in.
    public mutating func connections(client name: String, now: UInt64, wallClockOffsetNs: Int64,
                                     reusing storage: inout [ConnectionStats]) -> [ConnectionStats] {
        forgetIdleClients(now: now)
        // A new client is shown every closed row still waiting, which is all of them before the first.
        // Taken out of `clients` while in use, so that what it holds is not copied on write.
        var client = clients.removeValue(forKey: name) ?? ClientState(lastPoll: now, nextClosedSeq: closed.oldestSeq)
        var rows: [ConnectionStats]
        do {
            // In a scope of its own, so that this second reference to the rows is gone before they are laid
            // out again below (which would otherwise copy them).
            let live = self.live.rows, ports = self.ports
            let closedRows = closed.rows(from: client.nextClosedSeq)
            client.beginPoll(now: now, rows: live.count + seeds.count + closedRows.count)
            rows = live.withUnsafeBufferPointer { live in
                seeds.rows.withUnsafeBufferPointer { seeded in
                    closedRows.withUnsafeBufferPointer { closed in
                        Self.rows(InputRows(live: live, seeded: seeded, closed: closed), into: &storage, hint: &lastOrder,
                                  order: &orderScratch, client: &client, ports: ports, wallClockOffsetNs: wallClockOffsetNs)
                    }
                }
            }
        }
        for (n, delta) in client.endPoll() {
            rows[n].lastSentBytes = delta.sent
            rows[n].lastRecvBytes = delta.recv
            rows[n].lastRetransmits = delta.retransmits
        }
        client.nextClosedSeq = closed.nextSeq
        clients[name] = client
        releaseSeenClosedRows()
        layOutLiveRowsInOutputOrder()
        return rows
    }

    /// Moves the kernel's rows into output order once they have drifted far from it (the first time, and
    /// after many rows came or went): each poll reads them in that order, and at 200,000 rows read out of
    /// order every one was a cache miss, most of a poll's time. The order is by tuple, which traffic does not
    /// change, so at rest this is one pass over the hint and no move.
    private mutating func layOutLiveRowsInOutputOrder() {
        let count = live.count
        guard count >= Self.layoutMinimumRows else { return }
        var order: [Int32] = []
        order.reserveCapacity(count)
        var breaks = 0
        var previous: Int32 = -2
        for i in lastOrder where Int(i) < count {
            order.append(i)
            if i != previous &+ 1 { breaks += 1 }
            previous = i
        }
        guard order.count == count, breaks > count / 32 else { return }
        live.reorder(order)
        // The hint names the live rows by their new places: their ranks in output order.
        var rank: Int32 = 0
        for k in lastOrder.indices where Int(lastOrder[k]) < count {
            lastOrder[k] = rank
            rank += 1
        }
    }

    /// Below this many rows they fit in the processor's caches in any order.
    private static let layoutMinimumRows = 4096

    /// Forgets a client now (a JSON stream that ended), so its unseen closed rows stop holding the buffer.
    public mutating func removeClient(_ name: String) {
        clients.removeValue(forKey: name)
        releaseSeenClosedRows()
    }

    /// A poll's input, read in place: the kernel's live rows, the seeds, then the closed rows this client
    /// has not seen. Input number `i` counts through the three in that order.
    private struct InputRows {
        let live: UnsafeBufferPointer<ConnectionSample>
        let seeded: UnsafeBufferPointer<ConnectionSample>
        let closed: UnsafeBufferPointer<ConnectionSample>

        var count: Int { live.count + seeded.count + closed.count }

        func sample(_ i: Int) -> (UnsafePointer<ConnectionSample>, closed: Bool) {
            if i < live.count { return (live.baseAddress! + i, false) }
            let j = i - live.count
            if j < seeded.count { return (seeded.baseAddress! + j, false) }
            return (closed.baseAddress! + (j - seeded.count), true)
        }
    }

    /// The rows of `input` in output order, each built once, in place. The samples are read field by field
    /// through pointers: an array's subscript copied each whole sample out (retaining its name), and that
    /// was a fifth of a tick.
    ///
    /// Sorted before the rows are made. Laid out first in the previous poll's output order (`hint`, which
    /// this replaces): rows mostly keep their places both in the kernel's map (the input order) and in the
    /// output, so the input is then nearly or wholly sorted, which the sort (a merge of the runs it finds)
    /// checks in one pass instead of sorting 200k rows anew every tick.
    private static func rows(_ input: InputRows, into storage: inout [ConnectionStats], hint: inout [Int32],
                             order: inout [RowOrder], client: inout ClientState,
                             ports: PortMapping, wallClockOffsetNs: Int64) -> [ConnectionStats] {
        let total = input.count
        order.removeAll(keepingCapacity: true)
        order.reserveCapacity(total)
        func sample(_ i: Int) -> (UnsafePointer<ConnectionSample>, closed: Bool) { input.sample(i) }
        func place(_ i: Int) {
            let (p, closed) = sample(i)
            order.append(RowOrder(p, closed: closed, index: i))
        }
        for i in hint where Int(i) < total { place(Int(i)) }
        for i in min(hint.count, total)..<total { place(i) }
        order.sort()
        hint.removeAll(keepingCapacity: true)
        hint.reserveCapacity(total)
        for entry in order { hint.append(Int32(truncatingIfNeeded: entry.index)) }
        // The sort keys are done with before the rows are made: a small array is kept for the next poll, a
        // large one (14 MB at 200k rows) given back rather than held beside the rows at the tick's peak.
        if order.capacity > Self.keptOrderCapacity { order = [] } else { order.removeAll(keepingCapacity: true) }

        var rows: [ConnectionStats] = []
        swap(&rows, &storage)
        rows.removeAll(keepingCapacity: true)
        rows.reserveCapacity(total)
        for (n, i) in hint.enumerated() {
            let (p, closed) = sample(Int(i))
            rows.append(stats(p, output: n, closed: closed, client: &client, ports: ports, wallClockOffsetNs: wallClockOffsetNs))
        }
        return rows
    }

    /// Sort keys for up to 50,000 rows (3.6 MB) stay allocated between polls.
    private static let keptOrderCapacity = 50_000

    /// A row from the sample in place: its fields are read one by one, not the whole sample copied out.
    private static func stats(_ sample: UnsafePointer<ConnectionSample>, output: Int, closed: Bool,
                              client: inout ClientState, ports: PortMapping,
                              wallClockOffsetNs: Int64) -> ConnectionStats {
        let delta = client.delta(sample, output: output, closed: closed)
        let tuple = sample.pointee.tuple
        var pid = sample.pointee.pid, comm = sample.pointee.comm
        if pid == 0, sample.pointee.origin == .accept,
           let owner = ports.owner(type: tuple.type, netns: tuple.netns, port: tuple.sport) {
            // Accepted and no byte moved yet: its listener's process (see PortMapping).
            pid = owner.pid
            comm = owner.comm
        }
        return ConnectionStats(
            tuple: tuple,
            direction: DirectionResolver.direction(tuple: tuple, origin: sample.pointee.origin, ports: ports),
            pid: pid, comm: comm,
            monotonicSentBytes: sample.pointee.sentBytes, lastSentBytes: delta.sent,
            monotonicRecvBytes: sample.pointee.recvBytes, lastRecvBytes: delta.recv,
            monotonicRetransmits: sample.pointee.retransmits, lastRetransmits: delta.retransmits,
            lastUpdateEpoch: Self.unixSeconds(sample.pointee.lastActivity, offset: wallClockOffsetNs),
            firstSeen: sample.pointee.firstSeen, lastActivity: sample.pointee.lastActivity,
            closed: closed, tcpState: sample.pointee.tcpState)
    }

    // MARK: - Bookkeeping

    private mutating func countExpired(type: ConnectionType) {
        switch type {
        case .tcp: totals.expiredTCP += 1
        case .udp: totals.expiredUDP += 1
        }
    }

    private mutating func expireSeeds(now: UInt64) {
        let expiry = self.expiry
        for row in seeds.removeAll(where: { expiry.isExpired($0, now: now) }) { countExpired(type: row.tuple.type) }
    }

    /// The kernel map is bounded by `maxConnections` itself; when its rows and the seeds together pass the
    /// bound, seeds give way, since they carry no counts. Largest tuples first, so runs are reproducible.
    private mutating func evictSeedsOverCapacity() {
        let excess = min(live.count + seeds.count - config.maxConnections, seeds.count)
        guard excess > 0 else { return }
        for tuple in seeds.tuplesDescending().prefix(excess) { seeds.remove(tuple) }
        totals.mapFullDrops += UInt64(excess)
    }

    private mutating func forgetIdleClients(now: UInt64) {
        let expiry = config.clientExpiry
        guard clients.values.contains(where: { $0.isIdle(now: now, expiry: expiry) }) else { return }
        clients = clients.filter { !$0.value.isIdle(now: now, expiry: expiry) }
        releaseSeenClosedRows()
    }

    /// With no client yet, closed rows wait (within `maxClosed`) for the first one.
    private mutating func releaseSeenClosedRows() {
        guard let seenByAll = clients.values.lazy.map(\.nextClosedSeq).min() else { return }
        closed.release(before: seenByAll)
    }

    private static func unixSeconds(_ monotonic: UInt64, offset: Int64) -> UInt64 {
        let (ns, overflow) = Int64(clamping: monotonic).addingReportingOverflow(offset)
        guard !overflow, ns > 0 else { return 0 }
        return UInt64(ns) / TableConfig.nanosecondsPerSecond
    }
}
