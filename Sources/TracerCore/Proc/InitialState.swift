/// A port on which a socket waits for peers, in one network namespace: a TCP listener, or a UDP socket
/// bound to a local port and not connected. Used to tell incoming from outgoing connections, and (TCP)
/// to name the process of an accepted connection that has not moved a byte yet (`PortMapping`).
/// `sockets`: how many listen there at start (an IPv4 and an IPv6 one, an SO_REUSEPORT group); `owner`:
/// their one process, if they are all one known process's.
public typealias ListeningPort = (type: ConnectionType, netns: UInt32, port: UInt16, owner: PortMapping.Owner?,
                                  sockets: Int)

/// Builds what nettop knows at start from the /proc/net tables: connections that already exist (as
/// seeds with zero counters: they are counted from the moment nettop started) and the listening ports.
/// Pure: the tables and the socket owners are read elsewhere (`ProcFS`).
public enum InitialState {
    /// Which connections to collect (the tracer's collect TCP / UDP / IPv6 settings).
    public struct Options: Sendable, Hashable {
        public var collectTCP: Bool
        public var collectUDP: Bool
        public var collectIPv6: Bool

        public init(collectTCP: Bool = true, collectUDP: Bool = true, collectIPv6: Bool = true) {
            self.collectTCP = collectTCP
            self.collectUDP = collectUDP
            self.collectIPv6 = collectIPv6
        }
    }

    /// Owner of a socket inode: a process holding a file descriptor on it.
    public typealias Owner = (pid: UInt32, comm: String)

    /// True for a row that is a live connection owned by a socket (a seed): TCP in any state but LISTEN,
    /// TIME_WAIT (no socket owns it any more) and request sockets (SYN_RECV/NEW_SYN_RECV with no inode:
    /// the accepted socket is reported when it exists); UDP with a remote address (a connected socket).
    public static func isConnection(_ e: ProcNetEntry) -> Bool {
        if e.remotePort == 0 || e.remoteAddress.isUnspecified { return false }
        switch e.type {
        case .tcp:
            switch e.state {
            case TCPStateNumber.listen, TCPStateNumber.timeWait, TCPStateNumber.close: return false
            case TCPStateNumber.synRecv, TCPStateNumber.newSynRecv: return e.inode != 0
            default: return true
            }
        case .udp:
            return true
        }
    }

    /// True for a row that is a listening port: a TCP socket in LISTEN, or a UDP socket with a local port
    /// and no remote (0.0.0.0:0 or [::]:0).
    public static func isListening(_ e: ProcNetEntry) -> Bool {
        guard e.localPort != 0 else { return false }
        switch e.type {
        case .tcp: return e.state == TCPStateNumber.listen
        case .udp: return e.remotePort == 0 && e.remoteAddress.isUnspecified
        }
    }

    /// The seeds and listening ports for the parsed tables of each network namespace.
    ///
    /// - `tables`: netns inode → every row of its tcp, tcp6, udp and udp6 tables.
    /// - `owners`: socket inode → owning process; a seed whose inode is not in it gets pid 0 and comm "",
    ///   a TCP listening port whose sockets are not all one known process's gets no owner.
    /// - `now`: CLOCK_MONOTONIC nanoseconds, the seeds' `firstSeen` and `lastActivity`.
    ///
    /// Options filter seeds by protocol and by family (IPv4-mapped rows of the tcp6/udp6 tables count as
    /// IPv4); listening ports are filtered by protocol only, since an IPv6 listener also accepts IPv4
    /// peers. Seeds come out sorted by tuple, one per tuple (the first row wins); listening ports sorted,
    /// once each with the number of its sockets (a port open on IPv4 and IPv6 is listed once, 2 sockets).
    public static func build(tables: [UInt32: [ProcNetEntry]], owners: [UInt64: Owner], now: UInt64,
                             options: Options = Options())
        -> (seeds: [ConnectionSample], listening: [ListeningPort]) {
        // Sized for every row up front: at 100,000 connections growing in steps held the old and the new
        // copy of 27 MB at once, at the highest point of nettop's memory.
        let rows = tables.values.reduce(0) { $0 + $1.count }
        var seeds: [ConnectionSample] = []
        seeds.reserveCapacity(rows)
        var order: [(key: SeedKey, index: Int32)] = []
        order.reserveCapacity(rows)
        var listening: [ListeningKey: Listener] = [:]
        for (netns, entries) in tables {
            for e in entries {
                switch e.type {
                case .tcp: guard options.collectTCP else { continue }
                case .udp: guard options.collectUDP else { continue }
                }
                if isListening(e) {
                    let key = ListeningKey(type: e.type, netns: netns, port: e.localPort)
                    let owner = e.type == .tcp && e.inode != 0
                        ? owners[e.inode].map { PortMapping.Owner(pid: $0.pid, comm: $0.comm) } : nil
                    // The IPv4 and IPv6 sockets of a port, or an SO_REUSEPORT group: one owner or none, and
                    // each counted, as the kernel's UNLISTEN events will count them down one by one.
                    let seen = listening[key]
                    listening[key] = Listener(owner: seen.map { PortMapping.Owner.shared($0.owner, owner) } ?? owner,
                                              sockets: (seen?.sockets ?? 0) + 1)
                    continue
                }
                guard isConnection(e) else { continue }
                let tuple = ConnectionTuple(type: e.type, netns: netns, source: e.localAddress, sport: e.localPort,
                                            dest: e.remoteAddress, dport: e.remotePort)
                if !options.collectIPv6 && tuple.family == .v6 { continue }
                let owner = e.inode == 0 ? nil : owners[e.inode]
                order.append((SeedKey(tuple), Int32(seeds.count)))
                seeds.append(ConnectionSample(
                    tuple: tuple, kernelKey: nil, pid: owner?.pid ?? 0, comm: owner?.comm ?? "",
                    sentBytes: 0, recvBytes: 0, retransmits: 0, firstSeen: now, lastActivity: now,
                    origin: .unknown, tcpState: e.type == .tcp ? e.state : 0))
            }
        }
        // Sorted by tuple, the first row of a tuple first: the rows of a tuple seen before are then next to
        // it, and go to the end to be dropped. Put in that order in place (no second array of rows).
        order.sort { $0.key != $1.key ? $0.key < $1.key : $0.index < $1.index }
        var permutation: [Int32] = []
        permutation.reserveCapacity(order.count)
        var repeated: [Int32] = []
        for (n, entry) in order.enumerated() {
            if n > 0 && order[n - 1].key == entry.key { repeated.append(entry.index) } else { permutation.append(entry.index) }
        }
        order = []
        let unique = permutation.count
        permutation.append(contentsOf: repeated)
        seeds.rearrange(by: permutation)
        seeds.removeLast(seeds.count - unique)
        let sortedListening = listening.sorted { $0.key < $1.key }
            .map { (type: $0.key.type, netns: $0.key.netns, port: $0.key.port, owner: $0.value.owner,
                    sockets: $0.value.sockets) }
        return (seeds, sortedListening)
    }

    /// The socket inodes whose owners are worth looking up: the rows that would become seeds, and the
    /// TCP listeners (the owner an accepted connection shows until its first byte).
    public static func ownerInodes(tables: [UInt32: [ProcNetEntry]], options: Options = Options()) -> Set<UInt64> {
        var inodes = Set<UInt64>()
        for entries in tables.values {
            for e in entries where e.inode != 0 && (isConnection(e) || (e.type == .tcp && isListening(e))) {
                switch e.type {
                case .tcp: if options.collectTCP { inodes.insert(e.inode) }
                case .udp: if options.collectUDP { inodes.insert(e.inode) }
                }
            }
        }
        return inodes
    }

    /// A tuple packed into integers: cheap to hash and compare for 100k rows, and ordered exactly as
    /// `ConnectionTuple`'s `<` (type, netns, source, sport, dest, dport; IPv4 before IPv6, then bytes).
    private struct SeedKey: Hashable, Comparable {
        var head: UInt64   // type (1 bit) | netns (32) | source family (1) | dest family (1)
        var source: (UInt64, UInt64)
        var dest: (UInt64, UInt64)
        var ports: UInt32  // sport | dport

        init(_ t: ConnectionTuple) {
            head = UInt64(t.type == .tcp ? 0 : 1) << 34 | UInt64(t.netns) << 2
                | UInt64(t.source.family == .v4 ? 0 : 1) << 1 | UInt64(t.dest.family == .v4 ? 0 : 1)
            source = SeedKey.pack(t.source)
            dest = SeedKey.pack(t.dest)
            ports = UInt32(t.sport) << 16 | UInt32(t.dport)
        }

        private static func pack(_ a: IPAddress) -> (UInt64, UInt64) {
            let bytes = a.bytes  // read once: it may be computed on each access
            var hi: UInt64 = 0, lo: UInt64 = 0
            for i in 0..<8 { hi = hi << 8 | UInt64(bytes[i]) }
            for i in 8..<16 { lo = lo << 8 | UInt64(bytes[i]) }
            return (hi, lo)
        }

        static func == (a: SeedKey, b: SeedKey) -> Bool {
            a.head == b.head && a.source == b.source && a.dest == b.dest && a.ports == b.ports
        }

        func hash(into h: inout Hasher) {
            h.combine(head); h.combine(source.0); h.combine(source.1)
            h.combine(dest.0); h.combine(dest.1); h.combine(ports)
        }

        static func < (a: SeedKey, b: SeedKey) -> Bool {
            // head orders type and netns; the family bits only matter once the addresses are compared,
            // so compare type+netns first, then source (family, bytes), sport, dest (family, bytes), dport.
            let an = a.head >> 2, bn = b.head >> 2
            if an != bn { return an < bn }
            let asf = (a.head >> 1) & 1, bsf = (b.head >> 1) & 1
            if asf != bsf { return asf < bsf }
            if a.source != b.source { return a.source < b.source }
            let asp = a.ports >> 16, bsp = b.ports >> 16
            if asp != bsp { return asp < bsp }
            let adf = a.head & 1, bdf = b.head & 1
            if adf != bdf { return adf < bdf }
            if a.dest != b.dest { return a.dest < b.dest }
            return (a.ports & 0xffff) < (b.ports & 0xffff)
        }
    }

    private struct Listener {
        var owner: PortMapping.Owner?
        var sockets: Int
    }

    private struct ListeningKey: Hashable, Comparable {
        var type: ConnectionType
        var netns: UInt32
        var port: UInt16

        static func < (a: ListeningKey, b: ListeningKey) -> Bool {
            (a.type.rawValue, a.netns, a.port) < (b.type.rawValue, b.netns, b.port)
        }
    }
}
