import Glibc

/// The real `NATResolving`: follows the conntrack table of every network namespace nettop sees, through
/// libnetfilter_conntrack (netlink). Per namespace: a dump when it is first seen, then the event stream
/// (NEW, UPDATE, DESTROY), read without waiting at each tick; when the kernel drops events (ENOBUFS, a
/// burst larger than the socket's receive buffer) the namespace is reloaded from a fresh dump, counted
/// as a resync. Namespaces that appear later are found by a rescan every few seconds; those that are gone
/// are closed (their flows answer one more tick).
///
/// Without CAP_NET_ADMIN, or without conntrack in the kernel, it is unavailable with one reason, and
/// resolves nothing.
public final class ConntrackResolver: NATResolving {
    public struct Options: Sendable {
        public var procRoot = "/proc"
        public var netnsDir = "/run/netns"
        /// Destroyed flows kept for their last tick (`--conntrack-buffer`).
        public var destroyedBufferSize = 4096
        /// Receive buffer of each namespace's event socket, bytes. Larger bursts overflow it (ENOBUFS),
        /// which costs a dump of that namespace.
        public var receiveBufferBytes = 4 << 20
        /// How often to look for namespaces that appeared or went away, nanoseconds.
        public var rescanIntervalNs: UInt64 = 3_000_000_000
        /// Upper bound on the events read from one namespace in one poll (the rest waits a tick).
        public var maxEventsPerPoll = 500_000
        /// Follow the other namespaces too, not only nettop's own.
        public var allNamespaces = true

        public init() {}

        /// The options a tracer configuration asks for. NETTOP_CONNTRACK_RCVBUF (bytes) overrides the
        /// event socket's receive buffer: the kernel tests make it small to force ENOBUFS.
        public init(config: TracerConfig, environment: [String: String] = [:]) {
            procRoot = config.procRoot
            destroyedBufferSize = config.conntrackBufferSize
            if let text = environment["NETTOP_CONNTRACK_RCVBUF"], let bytes = Int(text), bytes > 0 {
                receiveBufferBytes = bytes
            }
        }
    }

    public let options: Options
    public private(set) var available = false
    public private(set) var unavailableReason: String?

    private let procFS: ProcFS
    private var table: ConntrackTable
    private var namespaces: [UInt32: ConntrackNamespace] = [:]
    /// Namespaces that could not be opened: not tried again while they exist.
    private var refused: Set<UInt32> = []
    private var lastScan: UInt64 = 0
    private var resyncs: UInt64 = 0
    private var errors: UInt64 = 0
    private var rejected: UInt64 = 0
    private var closed = false

    /// Opens nettop's own namespace (which decides availability), then every other one it can see.
    public init(options: Options = Options(), now: UInt64) {
        self.options = options
        procFS = ProcFS(root: options.procRoot, netnsDir: options.netnsDir)
        table = ConntrackTable(destroyedCapacity: options.destroyedBufferSize)
        guard let own = procFS.ownNetns() else {
            unavailableReason = "conntrack cannot be read (no \(options.procRoot)/self/ns/net); NAT translations are not shown."
            return
        }
        switch open(path: "\(options.procRoot)/self/ns/net", inode: own) {
        case .success:
            available = true
        case .failure(let error):
            unavailableReason = error.reason
            return
        }
        if options.allNamespaces { rescan() }
        lastScan = now
    }

    deinit { close() }

    public var counters: ConntrackCounters {
        var c = ConntrackCounters()
        c.resyncs = resyncs
        c.events = table.eventsApplied
        c.namespaces = namespaces.count
        c.flows = table.liveCount
        c.destroyedBuffered = table.destroyedCount
        c.destroyedDrops = table.destroyedDrops
        c.errors = errors
        c.rejected = rejected
        return c
    }

    /// The inodes of the namespaces being followed.
    public var followedNamespaces: [UInt32] { namespaces.keys.sorted() }

    /// The live NAT flows known in one namespace (tests, diagnosis).
    public func flows(netns: UInt32) -> [ConntrackFlow] { table.flows(netns: netns) }

    public func poll(now: UInt64) {
        guard available, !closed else { return }
        table.beginTick()
        if options.allNamespaces, now &- lastScan >= options.rescanIntervalNs {
            rescan()
            lastScan = now
        }
        for ns in namespaces.values { read(ns) }
    }

    public func translation(for tuple: ConnectionTuple) -> IPTranslation? {
        table.isEmpty ? nil : table.translation(for: tuple)
    }

    public func close() {
        guard !closed else { return }
        closed = true
        for ns in namespaces.values { ns.close() }
        namespaces.removeAll()
    }

    /// `nettop check`'s line: whether this namespace's conntrack table can be followed, and if not why.
    public static func checkFinding(config: TracerConfig) -> String {
        guard config.enableConntrack else { return "conntrack: off (--no-conntrack) — NAT translations are not shown" }
        let path = "\(config.procRoot)/self/ns/net"
        switch ConntrackNamespace.open(path: path, expectedInode: nil, receiveBuffer: Options().receiveBufferBytes) {
        case .success(let ns):
            defer { ns.close() }
            switch ns.dumper.dump() {
            case .success(let flows):
                let nat = flows.filter(\.isNAT).count
                return "conntrack: yes — netlink dump and events (\(flows.count) flows here, \(nat) NATed)"
            case .failure(let e):
                return "conntrack: no — " + ConntrackNamespace.OpenError(step: e.step, code: e.code).reason
            }
        case .failure(let error):
            return "conntrack: no — " + error.reason
        }
    }

    // MARK: - Implementation

    /// Events since the last poll; a dump when some were lost.
    private func read(_ ns: ConntrackNamespace) {
        defer { collectRejected(ns) }
        let got = ns.events.readEvents(limit: options.maxEventsPerPoll)
        table.apply(got.events, netns: ns.inode)
        if got.error != nil { errors &+= 1 }
        if got.overflowed || ns.needsResync {
            if got.overflowed { resyncs &+= 1 }
            switch ns.dumper.dump() {
            case .success(let flows):
                table.replace(netns: ns.inode, with: flows)
                ns.needsResync = false
            case .failure:
                errors &+= 1
                ns.needsResync = true
            }
        }
    }

    /// Messages refused before parsing (malformed, or from a ctnetlink ABI nettop does not know).
    private func collectRejected(_ ns: ConntrackNamespace) {
        rejected &+= UInt64(ns.events.takeRejected() + ns.dumper.takeRejected())
    }

    /// Opens a namespace and loads its table.
    private func open(path: String, inode: UInt32) -> Result<Void, ConntrackNamespace.OpenError> {
        switch ConntrackNamespace.open(path: path, expectedInode: inode, receiveBuffer: options.receiveBufferBytes) {
        case .success(let ns):
            defer { collectRejected(ns) }
            switch ns.dumper.dump() {
            case .success(let flows):
                table.replace(netns: ns.inode, with: flows)
            case .failure(let e):
                ns.close()
                return .failure(ConntrackNamespace.OpenError(step: e.step, code: e.code))
            }
            namespaces[ns.inode] = ns
            return .success(())
        case .failure(let error):
            return .failure(error)
        }
    }

    /// Every namespace a process or thread is in, and every named one (`ip netns`): new ones are opened,
    /// vanished ones closed.
    private func rescan() {
        var seen: [UInt32: String] = [:]
        for (inode, pid) in procFS.namespaces() { seen[inode] = "\(options.procRoot)/\(pid)/ns/net" }
        for (inode, name) in procFS.netnsNames() where seen[inode] == nil { seen[inode] = "\(options.netnsDir)/\(name)" }
        let own = procFS.ownNetns()
        for (inode, ns) in namespaces where seen[inode] == nil && inode != own {
            ns.close()
            namespaces[inode] = nil
            table.removeNamespace(inode)
        }
        refused = refused.filter { seen[$0] != nil }
        for (inode, path) in seen.sorted(by: { $0.key < $1.key })
        where namespaces[inode] == nil && !refused.contains(inode) {
            if case .failure(let error) = open(path: path, inode: inode) {
                // A process that left, or a namespace deleted, while we looked is a normal race: the next
                // rescan tries again if it is still there. Anything else would fail again: leave it be.
                if ![ENOENT, ESRCH, ESTALE].contains(error.code) {
                    errors &+= 1
                    refused.insert(inode)
                }
            }
        }
    }
}
