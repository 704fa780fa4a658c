import Foundation
import Glibc

let ipTool = FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") ? "/usr/sbin/ip" : "/sbin/ip"
let nftTool = FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft") ? "/usr/sbin/nft" : "/sbin/nft"

/// A network namespace a test made (or the root one), with the inode nettop reports as `net_ns`.
struct Namespace: Sendable, CustomStringConvertible {
    let name: String      // "" for the root namespace
    let inode: UInt64
    var isRoot: Bool { name.isEmpty }
    var description: String { isRoot ? "root netns (\(inode))" : "\(name) (\(inode))" }

    static var root: Namespace {
        var st = stat()
        stat("/proc/self/ns/net", &st)
        return Namespace(name: "", inode: UInt64(st.st_ino))
    }
}

/// A veth pair: end `a` in one namespace, end `b` in another, each with an IPv4 and an IPv6 address.
struct VethLink: Sendable {
    let a: Namespace, b: Namespace
    let ifA: String, ifB: String
    let v4A: String, v4B: String   // 10.231.X.1 / 10.231.X.2
    let v6A: String, v6B: String   // fd00:231:0:X::1 / ::2
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { value += 1; return value } }
}
private let namespaceCounter = Counter()

/// Owns the namespaces and links a test made, and removes them all in `teardown()` (also from deinit),
/// whatever happened in the test. Names carry the test process's pid (`ntt-PID-N`), so leftovers of a
/// crashed run are recognised, and removed, when the next sandbox is made.
final class NetnsSandbox: @unchecked Sendable {
    static let prefix = "ntt-"
    private let lock = NSLock()
    private var namespaces: [String] = []
    private var rootLinks: [String] = []

    init() {
        NetnsSandbox.removeLeftovers()
    }

    deinit { teardown() }

    /// Deletes `ntt-*` namespaces and `ntt*` links whose creating process is gone.
    static func removeLeftovers() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        for name in names where name.hasPrefix(prefix) {
            let parts = name.split(separator: "-")
            if parts.count >= 2, let pid = Int32(parts[1]), pid != getpid(), kill(pid, 0) != 0 && errno == ESRCH {
                _ = try? runCommand(ipTool, ["netns", "del", name])
            }
        }
        let links = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? []
        for link in links where link.hasPrefix("ntt") {
            let digits = link.dropFirst(3).prefix { $0.isNumber }
            if let pid = Int32(digits), pid != getpid(), kill(pid, 0) != 0 && errno == ESRCH {
                _ = try? runCommand(ipTool, ["link", "del", link])
            }
        }
    }

    /// A fresh namespace with lo up.
    func makeNamespace() throws -> Namespace {
        let name = "\(NetnsSandbox.prefix)\(getpid())-\(namespaceCounter.next())"
        try mustRun(ipTool, ["netns", "add", name])
        lock.withLock { namespaces.append(name) }
        try mustRun(ipTool, ["-n", name, "link", "set", "lo", "up"])
        var st = stat()
        guard stat("/run/netns/\(name)", &st) == 0 else {
            throw KernelTestError("stat /run/netns/\(name): \(String(cString: strerror(errno)))")
        }
        return Namespace(name: name, inode: UInt64(st.st_ino))
    }

    /// A veth pair between `a` and `b` (either may be the root namespace), addressed and up.
    func link(_ a: Namespace, _ b: Namespace) throws -> VethLink {
        let n = namespaceCounter.next()
        let pid = getpid()
        let subnet = (Int(pid) + n) % 250 + 1
        let ifA = "ntt\(pid)v\(n % 1000)a", ifB = "ntt\(pid)v\(n % 1000)b"
        try mustRun(ipTool, ["link", "add", ifA, "type", "veth", "peer", "name", ifB])
        lock.withLock { rootLinks.append(contentsOf: [ifA, ifB]) }
        let link = VethLink(a: a, b: b, ifA: ifA, ifB: ifB,
                            v4A: "10.231.\(subnet).1", v4B: "10.231.\(subnet).2",
                            v6A: "fd00:231:0:\(subnet)::1", v6B: "fd00:231:0:\(subnet)::2")
        for (ns, ifname, v4, v6) in [(a, ifA, link.v4A, link.v6A), (b, ifB, link.v4B, link.v6B)] {
            let inNs = ns.isRoot ? [] : ["-n", ns.name]
            if !ns.isRoot { try mustRun(ipTool, ["link", "set", ifname, "netns", ns.name]) }
            try mustRun(ipTool, inNs + ["addr", "add", "\(v4)/24", "dev", ifname])
            try mustRun(ipTool, inNs + ["-6", "addr", "add", "\(v6)/64", "dev", ifname, "nodad"])
            try mustRun(ipTool, inNs + ["link", "set", ifname, "up"])
        }
        return link
    }

    /// Runs a command inside `ns` (`ip netns exec`), to completion.
    @discardableResult
    func run(in ns: Namespace, _ command: [String], timeout: TimeInterval = 30) throws -> CommandResult {
        if ns.isRoot { return try runCommand(command[0], Array(command.dropFirst()), timeout: timeout) }
        return try runCommand(ipTool, ["netns", "exec", ns.name] + command, timeout: timeout)
    }

    /// Loads an nftables ruleset (text) into `ns`.
    func nft(in ns: Namespace, _ ruleset: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ntt-\(getpid())-\(namespaceCounter.next()).nft")
        try ruleset.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try run(in: ns, [nftTool, "-f", file.path])
        guard r.status == 0 else { throw KernelTestError("nft in \(ns): \(r.stderr)") }
    }

    /// Removes every namespace and root-namespace link this sandbox made. Idempotent.
    func teardown() {
        let (nss, links) = lock.withLock { () -> ([String], [String]) in
            defer { namespaces = []; rootLinks = [] }
            return (namespaces, rootLinks)
        }
        for name in nss.reversed() { _ = try? runCommand(ipTool, ["netns", "del", name]) }
        // A veth end left in the root namespace outlives the namespaces; deleting either end removes both.
        for link in links where FileManager.default.fileExists(atPath: "/sys/class/net/\(link)") {
            _ = try? runCommand(ipTool, ["link", "del", link])
        }
    }
}
