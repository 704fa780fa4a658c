#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch

/// Hands a buffer whose elements each job writes at its own index to `concurrentPerform`.
private struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// What one scan of /proc found at start (see `ProcFS.scan`).
public struct ProcScan: Sendable {
    /// Connections that existed before nettop started, with zero counters.
    public var seeds: [ConnectionSample]
    /// Listening TCP ports and bound, unconnected UDP ports, per network namespace.
    public var listening: [ListeningPort]
    /// Network namespace inode → the pid whose /proc/<pid>/net tables were read for it (0 for a named
    /// namespace with no process in it, read by entering it).
    public var namespaces: [UInt32: Int32]
    /// Lines of the /proc/net tables that did not parse (skipped).
    public var malformedLines: Int
    /// Wall time of the scan, milliseconds.
    public var durationMs: Double
}

/// The /proc side of nettop's start: network namespaces, their /proc/net tables, socket owners and
/// namespace names. The only place in TracerCore's /proc code that does file I/O. Processes and files
/// that vanish while it looks (ENOENT, ESRCH) are skipped quietly: that is a normal race, not an error.
///
/// The work is bounded by what the host has: one `stat` per process (and per thread of a process),
/// four table reads per namespace, and one `readlinkat` per open file descriptor; no per-fd string
/// building, so a host with 100k sockets scans in a fraction of a second.
public struct ProcFS: Sendable {
    public let root: String
    /// Where `ip netns` keeps its names (bind mounts of namespace files).
    public let netnsDir: String

    public init(root: String = "/proc", netnsDir: String = "/run/netns") {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        self.netnsDir = netnsDir
    }

    // MARK: - Namespaces

    /// Every network namespace some process or thread is in: netns inode → one pid in it (the lowest
    /// process id; a thread id when only a thread is in that namespace — /proc/<tid>/net reads that
    /// thread's namespace).
    public func namespaces() -> [UInt32: Int32] {
        var result: [UInt32: Int32] = [:]
        let pids = self.pids()
        for pid in pids {
            if let ino = nsInode("\(root)/\(pid)/ns/net"), result[ino] == nil { result[ino] = pid }
        }
        // Threads may have entered other namespaces (setns in one thread): look at those too.
        for pid in pids {
            for tid in numericEntries("\(root)/\(pid)/task") where tid != pid {
                if let ino = nsInode("\(root)/\(pid)/task/\(tid)/ns/net"), result[ino] == nil { result[ino] = tid }
            }
        }
        return result
    }

    /// The inode of this process's network namespace (stat of <root>/self/ns/net).
    public func ownNetns() -> UInt32? {
        nsInode("\(root)/self/ns/net")
    }

    /// Names given by `ip netns`: netns inode → name, for every file in `netnsDir` that is a namespace
    /// (its inode on the namespace file system, the same device as <root>/self/ns/net).
    public func netnsNames() -> [UInt32: String] {
        var result: [UInt32: String] = [:]
        var own = stat()
        guard stat("\(root)/self/ns/net", &own) == 0 else { return result }
        for name in entries(netnsDir).sorted() {
            var st = stat()
            guard stat("\(netnsDir)/\(name)", &st) == 0, st.st_dev == own.st_dev,
                  let ino = UInt32(exactly: st.st_ino) else { continue }
            if result[ino] == nil { result[ino] = name }
        }
        return result
    }

    // MARK: - Processes

    /// The command name of a process (<root>/<pid>/comm without its newline); nil if it is gone.
    public func comm<P: BinaryInteger>(pid: P) -> String? {
        guard var bytes = readFile("\(root)/\(pid)/comm", limit: 4096) else { return nil }
        while let last = bytes.last, last == 0x0a || last == 0 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Socket inode → the process holding it: the lowest pid with an fd on it ("socket:[INODE]" links
    /// in <root>/<pid>/fd), and that process's comm. With `only`, other sockets are not recorded.
    /// The fd tables are read by one thread per CPU (up to 4): the work is almost all in the kernel.
    public func socketOwners(only: Set<UInt64>? = nil) -> [UInt64: (pid: UInt32, comm: String)] {
        if let only, only.isEmpty { return [:] }
        let pids = self.pids()
        let stripes = ProcFS.workers
        var partial = [[UInt64: UInt32]](repeating: [:], count: stripes)
        partial.withUnsafeMutableBufferPointer { out in
            let out = UnsafeSendable(out)
            DispatchQueue.concurrentPerform(iterations: stripes) { k in
                out.value[k] = fdSockets(pids: pids, stripe: k, of: stripes, only: only)
            }
        }
        return withComms(merge(partial))
    }

    /// Socket inode → lowest pid, from the fds of every `of`-th pid starting at `stripe`.
    private func fdSockets(pids: [Int32], stripe: Int, of stripes: Int, only: Set<UInt64>?) -> [UInt64: UInt32] {
        var pidOf: [UInt64: UInt32] = [:]
        let prefix = Array("socket:[".utf8)
        var link = [UInt8](repeating: 0, count: 128)
        var index = stripe
        while index < pids.count {
            let pid = pids[index]
            index += stripes
            guard let dir = opendir("\(root)/\(pid)/fd") else { continue }
            let fd = dirfd(dir)
            while let ent = readdir(dir) {
                let n = link.withUnsafeMutableBufferPointer { buf -> Int in
                    withUnsafePointer(to: &ent.pointee.d_name) { name in
                        name.withMemoryRebound(to: CChar.self, capacity: 256) { cname in
                            if cname[0] == 0x2e { return -1 }  // "." and ".."
                            return readlinkat(fd, cname, buf.baseAddress!, buf.count)
                        }
                    }
                }
                guard n > prefix.count + 1, n < link.count, link[n - 1] == UInt8(ascii: "]"),
                      link[0..<prefix.count].elementsEqual(prefix) else { continue }
                var inode: UInt64 = 0
                var ok = true
                for i in prefix.count..<(n - 1) {
                    let c = link[i]
                    guard c >= 0x30 && c <= 0x39, inode < UInt64.max / 10 else { ok = false; break }
                    inode = inode * 10 + UInt64(c - 0x30)
                }
                guard ok else { continue }
                if let only, !only.contains(inode) { continue }
                if pidOf[inode] == nil { pidOf[inode] = UInt32(pid) }
            }
            closedir(dir)
        }
        return pidOf
    }

    /// Merges per-stripe maps: the lowest pid wins.
    private func merge(_ parts: [[UInt64: UInt32]]) -> [UInt64: UInt32] {
        guard var merged = parts.first else { return [:] }
        for part in parts.dropFirst() {
            merged.merge(part) { a, b in min(a, b) }
        }
        return merged
    }

    private func withComms(_ pidOf: [UInt64: UInt32]) -> [UInt64: (pid: UInt32, comm: String)] {
        var comms: [UInt32: String] = [:]
        var result: [UInt64: (pid: UInt32, comm: String)] = [:]
        result.reserveCapacity(pidOf.count)
        for (inode, pid) in pidOf {
            let name: String
            if let known = comms[pid] {
                name = known
            } else {
                name = comm(pid: pid) ?? ""
                comms[pid] = name
            }
            result[inode] = (pid: pid, comm: name)
        }
        return result
    }

    /// Threads for the fd scan: one per online CPU, at most 4.
    static var workers: Int { max(1, min(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))) }

    // MARK: - Tables

    /// The parsed tcp, tcp6, udp and udp6 tables of the namespace `pid` is in (those the options ask
    /// for; the IPv6 tables are read even without IPv6, since they hold IPv4-mapped rows and dual-stack
    /// listeners). A missing table (no IPv6 in the kernel, process gone) reads as empty.
    public func netTables(pid: Int32, options: InitialState.Options = .init()) -> ProcNetParseResult {
        readTables(base: "\(root)/\(pid)/net", options: options)
    }

    /// Reads the start state: every namespace's tables, the owners of the sockets that become seeds and
    /// of the TCP listeners, and builds seeds and listening ports (see `InitialState.build`).
    public func scan(now: UInt64, options: InitialState.Options = .init()) -> ProcScan {
        let started = monotonicNow()
        var namespaces = self.namespaces()
        let pids = self.pids()
        // The tables and the fd links are both kernel-bound: read them at the same time, the tables in
        // job 0 and the fds of every process in the other jobs. Owners of sockets that turn out to be neither
        // seeds nor TCP listeners are dropped afterwards.
        let stripes = ProcFS.workers
        let readers = Array(namespaces)
        var tableParts = [ProcNetParseResult](repeating: .init(), count: readers.count)
        var ownerParts = [[UInt64: UInt32]](repeating: [:], count: stripes)
        tableParts.withUnsafeMutableBufferPointer { tablesOut in
            ownerParts.withUnsafeMutableBufferPointer { ownersOut in
                let tablesOut = UnsafeSendable(tablesOut), ownersOut = UnsafeSendable(ownersOut)
                DispatchQueue.concurrentPerform(iterations: stripes + 1) { job in
                    if job == 0 {
                        for (i, reader) in readers.enumerated() {
                            tablesOut.value[i] = netTables(pid: reader.value, options: options)
                        }
                    } else {
                        ownersOut.value[job - 1] = fdSockets(pids: pids, stripe: job - 1, of: stripes, only: nil)
                    }
                }
            }
        }
        var tables: [UInt32: [ProcNetEntry]] = [:]
        var malformed = 0
        for (i, reader) in readers.enumerated() {
            tables[reader.key] = tableParts[i].entries
            malformed += tableParts[i].malformedLines
        }
        // Named namespaces with no process in them can still hold sockets (made by a thread that
        // entered the namespace and left): read those from a thread that enters it.
        for (netns, name) in netnsNames() where namespaces[netns] == nil {
            guard let parsed = readTablesInside(namespaceFile: "\(netnsDir)/\(name)", options: options) else { continue }
            namespaces[netns] = 0
            tables[netns] = parsed.entries
            malformed += parsed.malformedLines
        }
        let wanted = InitialState.ownerInodes(tables: tables, options: options)
        let pidOf = merge(ownerParts).filter { wanted.contains($0.key) }
        let built = InitialState.build(tables: tables, owners: withComms(pidOf), now: now, options: options)
        let ms = Double(monotonicNow() &- started) / 1_000_000
        return ProcScan(seeds: built.seeds, listening: built.listening, namespaces: namespaces,
                        malformedLines: malformed, durationMs: ms)
    }

    /// The connections that existed at start (seeds) and the listening ports, for all namespaces.
    public func initialState(now: UInt64, options: InitialState.Options = .init())
        -> (seeds: [ConnectionSample], listening: [ListeningPort]) {
        let s = scan(now: now, options: options)
        return (s.seeds, s.listening)
    }

    /// Same, with the options spelled out.
    public func initialState(now: UInt64, collectTCP: Bool, collectUDP: Bool, collectIPv6: Bool)
        -> (seeds: [ConnectionSample], listening: [ListeningPort]) {
        initialState(now: now, options: .init(collectTCP: collectTCP, collectUDP: collectUDP, collectIPv6: collectIPv6))
    }

    // MARK: - Implementation

    private func readTables(base: String, options: InitialState.Options) -> ProcNetParseResult {
        var result = ProcNetParseResult()
        var files: [(String, ConnectionType)] = []
        if options.collectTCP { files += [("tcp", .tcp), ("tcp6", .tcp)] }
        if options.collectUDP { files += [("udp", .udp), ("udp6", .udp)] }
        for (file, type) in files {
            guard let bytes = readFile("\(base)/\(file)", limit: 1 << 30) else { continue }
            let parsed = ProcNetParser.parse(bytes: bytes, type: type)
            result.entries += parsed.entries
            result.malformedLines += parsed.malformedLines
        }
        return result
    }

    /// Enters the namespace in a helper thread (only that thread changes namespace) and reads
    /// <root>/thread-self/net/... there. nil if the namespace cannot be entered.
    private func readTablesInside(namespaceFile: String, options: InitialState.Options) -> ProcNetParseResult? {
        guard let setns = ProcFS.setnsFunction else { return nil }
        final class Job {
            let path: String
            let fs: ProcFS
            let options: InitialState.Options
            let setns: SetnsFunction
            var result: ProcNetParseResult?
            init(path: String, fs: ProcFS, options: InitialState.Options, setns: @escaping SetnsFunction) {
                self.path = path; self.fs = fs; self.options = options; self.setns = setns
            }
        }
        let job = Job(path: namespaceFile, fs: self, options: options, setns: setns)
        let context = Unmanaged.passRetained(job).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            let fd = open(job.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            guard job.setns(fd, ProcFS.cloneNewNet) == 0 else { return nil }
            job.result = job.fs.readTables(base: "\(job.fs.root)/thread-self/net", options: job.options)
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<Job>.fromOpaque(context).release()
            return nil
        }
        pthread_join(thread, nil)
        return job.result
    }

    typealias SetnsFunction = @convention(c) (Int32, Int32) -> Int32
    static let cloneNewNet: Int32 = 0x4000_0000
    /// glibc's setns(2) (declared only under _GNU_SOURCE, so not imported into Swift).
    static let setnsFunction: SetnsFunction? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { return nil }
        return unsafeBitCast(symbol, to: SetnsFunction.self)
    }()

    private func nsInode(_ path: String) -> UInt32? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt32(exactly: st.st_ino)
    }

    /// Numeric entries of a directory (pids, tids), ascending.
    private func numericEntries(_ path: String) -> [Int32] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var out: [Int32] = []
        while let ent = readdir(dir) {
            let value: Int32? = withUnsafePointer(to: &ent.pointee.d_name) { name in
                name.withMemoryRebound(to: UInt8.self, capacity: 256) { c in
                    var v: Int32 = 0
                    var i = 0
                    while c[i] != 0 {
                        guard c[i] >= 0x30 && c[i] <= 0x39, i < 9 else { return nil }
                        v = v * 10 + Int32(c[i] - 0x30)
                        i += 1
                    }
                    return i == 0 ? nil : v
                }
            }
            if let value, value > 0 { out.append(value) }
        }
        out.sort()
        return out
    }

    private func pids() -> [Int32] { numericEntries(root) }

    /// Names in a directory other than "." and "..".
    private func entries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var out: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: &ent.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    /// The whole file (proc files report size 0, so read until EOF), at most `limit` bytes.
    private func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return out.isEmpty ? nil : out  // ESRCH etc.: the process went away mid-read
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    private func monotonicNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
