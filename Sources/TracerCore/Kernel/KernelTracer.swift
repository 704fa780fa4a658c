import CBPF
import Foundation
import Glibc

/// The real tracer: the BPF programs loaded and attached, the connection map polled every tick, the ring
/// buffer drained, and the pure ConnectionTable fed with what they say. Owns every kernel resource.
final class KernelTracer: KernelTracing {
    let backendName: String
    private let config: TracerConfig
    private let bpf: BPFObject
    private let map: ConnectionMap
    private let ring: BPFRing<nt_event>
    private let dirty: DirtyKeys
    private var readPolicy = MapReadPolicy()
    /// The piece-by-piece walk through the whole map that ticks reading only changes also make.
    private var sweep = MapScan()
    private let counters: CounterArray
    private let procFS: ProcFS
    private var table: ConnectionTable
    private var stats = TracerStats()
    private var netnsNames: [UInt32: String] = [:]
    private var netnsNamesRefreshed: UInt64 = 0
    /// A snapshot's rows handed back by its consumer, refilled by the next tick. Kept only up to 50,000 rows
    /// (9 MB): at 10k connections a fresh array each tick faulted in 900 pages (a twentieth of the tick),
    /// while at 100k keeping 37 MB of rows through the next tick's sort would raise its peak.
    private var spareRows: [ConnectionStats] = []
    private static let keptRowsCapacity = 50_000

    /// Taken out for the length of a tick (so the rows do not each check exclusive access to it).
    private var commNames: CommNames? = CommNames()
    private let releaseHook: Bool
    /// What the offset guesser found (no-BTF backends), for `debug offsets`.
    private let guessedOffsets: GuessedOffsets?
    private var closed = false
    /// NAT translations from conntrack (a no-op resolver with --no-conntrack).
    private let nat: any NATResolving

    init(config: TracerConfig, backend: Backend) throws(NetTopError) {
        self.config = config
        backendName = backend.name
        HeapPolicy.returnLargeBlocks()
        procFS = ProcFS(root: config.procRoot)
        try Mounts.ensureTracefs()
        let cgroupPath = Mounts.cgroup2Path()
        releaseHook = cgroupPath != nil

        guard let bytes = Data(base64Encoded: backend.objectBase64) else {
            throw NetTopError(.software, "the embedded BPF object is damaged; rebuild nettop with `make nettop`.")
        }
        guessedOffsets = backend.offsets
        let releaseHook = self.releaseHook
        bpf = try BPFObject(bytes: [UInt8](bytes), name: backend.objectName, btfPath: nil, debug: config.bpfDebug) { object throws(NetTopError) in
            try KernelTracer.configure(object, config: config, backend: backend, releaseHook: releaseHook)
        }
        map = ConnectionMap(fd: try bpf.mapFD("conns"), capacity: config.maxConnections)
        counters = CounterArray(fd: try bpf.mapFD("counters"), cpus: Int(libbpf_num_possible_cpus()))
        ring = try BPFRing(fd: try bpf.mapFD("events"), name: "events")
        dirty = try DirtyKeys(epochFD: try bpf.mapFD("epoch"), ringFD: try bpf.mapFD("dirty"))
        try bpf.attachAll(cgroupPath: cgroupPath)

        var tableConfig = TableConfig()
        tableConfig.tcpTimeout = UInt64(config.tcpTimeoutSeconds * 1e9)
        tableConfig.udpTimeout = UInt64(config.udpTimeoutSeconds * 1e9)
        tableConfig.maxConnections = config.maxConnections
        table = ConnectionTable(config: tableConfig)

        // Attached first, then /proc: a connection opened in between is seen by both, and the kernel's
        // row replaces the seed.
        let now = monotonicNow()
        let scan = procFS.scan(now: now, options: .init(collectTCP: config.collectTCP, collectUDP: config.collectUDP,
                                                         collectIPv6: config.collectIPv6))
        table.ports = PortMapping(listening: scan.listening)
        table.seed(scan.seeds, now: now)
        netnsNames = procFS.netnsNames()
        netnsNamesRefreshed = now
        stats.maxConnections = config.maxConnections
        nat = config.enableConntrack
            ? ConntrackResolver(options: .init(config: config, environment: ProcessInfo.processInfo.environment), now: now)
            : NoNATResolver()
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        ring.close()
        dirty.close()
        bpf.close()
        nat.close()
    }

    /// Settings into .rodata, map sizes, and which programs load.
    private static func configure(_ object: OpaquePointer, config: TracerConfig, backend: Backend,
                                  releaseHook: Bool) throws(NetTopError) {
        var size = 0
        guard let raw = nt_rodata_var(object, "settings", &size), size == MemoryLayout<nt_settings>.size else {
            throw NetTopError(.software, "the embedded BPF object has no settings block; rebuild nettop.")
        }
        let settings = raw.assumingMemoryBound(to: nt_settings.self)
        settings.pointee.collect_tcp = config.collectTCP ? 1 : 0
        settings.pointee.collect_udp = config.collectUDP ? 1 : 0
        settings.pointee.collect_ipv6 = config.collectIPv6 ? 1 : 0
        settings.pointee.release_hook = releaseHook ? 1 : 0
        let peerHooks = backend.usesPeerHooks(cgroup: releaseHook)
        settings.pointee.peer_hooks = peerHooks ? 1 : 0
        let peerSlots = config.peerSlots ?? Int(NT_PEER_SLOTS)
        settings.pointee.peer_slot_mask = UInt16(peerSlots - 1)
        settings.pointee.cookie_keys = backend.keysAreCookies ? 1 : 0

        // The connection map holds --max-connections rows. The set of connections left out when it is full
        // counts each of them once while it remembers them: at least 65,536 entries (6 MB of kernel memory),
        // more with a larger --max-connections, so the count stays exact up to that many alive at once.
        // The per-thread maps (a UDP peer from the cgroup hooks or the syscalls, a kprobe's arguments): only
        // those this backend's programs use keep their size (peer_spill only holds the threads whose slot
        // another thread held).
        func perThread(_ used: Bool, _ size: Int = 16_384) -> Int { used ? size : 1 }
        for (name, size) in [("conns", config.maxConnections), ("untracked", max(65_536, config.maxConnections)),
                             ("dirty", config.dirtyRingBytes), ("peer_slots", perThread(peerHooks, peerSlots)),
                             ("peer_spill", perThread(peerHooks, 4_096)),
                             ("sysctx", perThread(backend.kind == .tracepoint && !peerHooks)),
                             ("calls", perThread(backend.kind == .kprobe))] {
            guard let map = bpf_object__find_map_by_name(object, name) else {
                throw NetTopError(.software, "the embedded BPF object has no '\(name)' map; rebuild nettop.")
            }
            let ret = bpf_map__set_max_entries(map, UInt32(clamping: size))
            if ret != 0 {
                throw NetTopError(.usage, "--max-connections \(config.maxConnections) cannot be used: \(errnoText(-ret)).")
            }
        }
        try backend.prepare(object, cgroup: releaseHook, features: KernelFeatures.current)
    }

    func tick(client: String) throws(NetTopError) -> Snapshot {
        let started = monotonicNow()
        nat.poll(now: started)
        var names = commNames.take() ?? CommNames()
        defer { commNames = names }

        var closedRows: [ConnectionSample] = []
        var releasedUDP = Set<UInt64>()
        ring.drain { event in
            switch UInt32(event.kind) {
            case NT_EV_CLOSE.rawValue:
                if let row = KernelRecord.sample(key: event.key, info: event.info, names: &names) { closedRows.append(row) }
                stats.closedReceived += 1
            case NT_EV_LISTEN.rawValue, NT_EV_UNLISTEN.rawValue:
                let port = event.info.sport
                if event.kind == NT_EV_LISTEN.rawValue {
                    let owner = event.info.pid == 0 ? nil
                        : PortMapping.Owner(pid: event.info.pid, comm: names.name(pid: event.info.pid, comm: event.info.comm))
                    table.ports.add(type: .tcp, netns: event.info.netns, port: port, owner: owner)
                } else {
                    table.ports.remove(type: .tcp, netns: event.info.netns, port: port)
                }
            case NT_EV_SOCK_RELEASE.rawValue:
                releasedUDP.insert(event.key.cookie)
            default:
                break
            }
        }

        // Changes from here on are queued for the next tick; the keys queued before are this tick's.
        let lost = counters.read(NT_CNT_DIRTY_LOST)
        dirty.advance()
        let changedKeys = dirty.drain()
        let now: UInt64
        if readPolicy.readWholeMap(changed: changedKeys.count, lost: lost, tracked: table.counters.trackedCount) {
            now = try readWholeMap(closed: &closedRows, releasedUDP: releasedUDP, names: &names)
        } else {
            now = try readChanged(changedKeys, closed: &closedRows, releasedUDP: releasedUDP, names: &names)
        }
        stats.pollMs = Double(monotonicNow() &- started) / 1e6
        stats.wholeMapReads = readPolicy.wholeReads

        if now &- netnsNamesRefreshed > 5_000_000_000 {
            netnsNames = procFS.netnsNames()
            netnsNamesRefreshed = now
        }
        var rows = table.connections(client: client, now: now, wallClockOffsetNs: wallClockOffsetNs(), reusing: &spareRows)
        if nat.available {
            for i in rows.indices { rows[i].conntrack = nat.translation(for: rows[i].tuple) }
        }
        refreshStats()
        stats.tickMs = Double(monotonicNow() &- started) / 1e6
        return Snapshot(timestamp: unixNow(), backend: backendName, connections: rows, stats: stats,
                        netnsNames: netnsNames)
    }

    /// Every entry of the map, by batch lookups: the table is handed the whole of it. Returns the time read.
    private func readWholeMap(closed closedRows: inout [ConnectionSample], releasedUDP: Set<UInt64>,
                              names: inout CommNames) throws(NetTopError) -> UInt64 {
        // The last tick's rows are taken back from the table and their memory refilled: a fresh array of
        // 200k rows each tick was 35 MB more at the peak, and its pages faulted in anew every time.
        var live = table.takeLiveRows()
        live.removeAll(keepingCapacity: true)
        // Room for every row tracked so far: the first tick after 100,000 seeded connections come alive
        // otherwise grows the array in steps, the old and new copies both held at each.
        live.reserveCapacity(table.counters.trackedCount)
        var reaped: [nt_conn_key] = []
        try map.forEach { key, info in
            Self.file(key, info, released: releasedUDP, names: &names, live: &live, closed: &closedRows, reaped: &reaped)
        }
        let now = monotonicNow()
        map.delete(reaped)
        // An expired row's map key is made again from its KernelKey, which holds every byte of it: keeping
        // each live row's raw key for the rare expiry was 6 MB at 100k connections.
        map.delete(table.update(live: live, closed: closedRows, now: now).map(KernelRecord.key))
        return now
    }

    /// The entries the kernel queued as changed, one lookup each, and the next piece of the sweep through
    /// the whole map; the table keeps the other rows as they were. Returns the time read.
    private func readChanged(_ keys: [nt_conn_key], closed closedRows: inout [ConnectionSample], releasedUDP: Set<UInt64>,
                             names: inout CommNames) throws(NetTopError) -> UInt64 {
        var changed: [ConnectionSample] = []
        changed.reserveCapacity(keys.count)
        var reaped: [nt_conn_key] = []
        map.forEach(of: keys) { key, info in
            Self.file(key, info, released: [], names: &names, live: &changed, closed: &closedRows, reaped: &reaped)
        }
        _ = try sweep.next(in: map, entries: MapReadPolicy.sweepEntries(tracked: table.counters.trackedCount)) { key, info in
            Self.file(key, info, released: [], names: &names, live: &changed, closed: &closedRows, reaped: &reaped)
        }
        let now = monotonicNow()
        map.delete(reaped)
        // UDP sockets released this tick end with all their rows, which the table finds by cookie.
        map.delete(table.apply(changed: changed, closed: closedRows, released: releasedUDP, now: now)
            .map(KernelRecord.key))
        return now
    }

    /// One map entry into the rows read: one the kernel marked closed (its close event did not fit the
    /// ring), or of a UDP socket in `released`, ends here, and its key is reaped.
    private static func file(_ key: borrowing nt_conn_key, _ info: borrowing nt_conn_info, released: Set<UInt64>,
                             names: inout CommNames, live: inout [ConnectionSample], closed: inout [ConnectionSample],
                             reaped: inout [nt_conn_key]) {
        guard let row = KernelRecord.sample(key: key, info: info, names: &names), row.kernelKey != nil else { return }
        let cookie = key.cookie
        if info.closed != 0 || (!released.isEmpty && released.contains(cookie)) {
            closed.append(row)
            reaped.append(copy key)
        } else {
            live.append(row)
        }
    }

    func recycle(_ rows: consuming [ConnectionStats]) {
        guard rows.capacity <= Self.keptRowsCapacity else { return }
        spareRows = rows
    }

    private func refreshStats() {
        let kernel = counters.read()
        let model = table.counters
        stats.tracked = model.trackedCount
        stats.closedLost = kernel[Int(NT_CNT_EVENTS_LOST.rawValue)]
        stats.mapFullDrops = kernel[Int(NT_CNT_MAP_FULL.rawValue)] + model.mapFullDrops
        stats.syscallContextFull = kernel[Int(NT_CNT_CTX_FULL.rawValue)]
        stats.udpPeerUnknown = kernel[Int(NT_CNT_UDP_NO_PEER.rawValue)]
        stats.closedBufferDrops = model.closedBufferDrops
        stats.expiredTCP = model.expiredTCP
        stats.expiredUDP = model.expiredUDP
        stats.conntrackResyncs = nat.counters.resyncs
        stats.conntrackAvailable = nat.available
        stats.conntrackRejected = nat.counters.rejected
        stats.conntrackErrors = nat.counters.errors
    }

    func debugJSON(_ topic: DebugTopic) throws(NetTopError) -> String {
        switch topic {
        case .stats:
            _ = try tick(client: "debug")
            return DebugDump.stats(stats, backend: backendName)
        case .maps:
            return DebugDump.maps(bpf: bpf, counters: counters.read())
        case .state:
            let snapshot = try tick(client: "debug")
            return DebugDump.state(snapshot, ports: table.ports.count)
        case .offsets:
            return DebugDump.offsets(guessed: guessedOffsets)
        }
    }
}
