import CBPF
import Foundation
import Glibc

/// One probed capability: whether nettop can use it here, and what the probe saw.
struct FeatureProbe: Sendable {
    var available: Bool
    var detail: String
    /// The errno a failed program probe saw (nil when none ran or it succeeded).
    var errno: Int32? = nil
}

/// What this kernel offers nettop, found by probing (files, BTF, and loading trivial programs), never
/// from the version number. The program probes run once per process (`current` is cached).
struct KernelFeatures: Sendable {
    var btf: Bool
    var tracefs: Bool
    /// sock:sock_send_length, sock_recv_length and inet_sock_set_state exist (Linux 6.3+).
    var socketTracepoints: Bool
    /// sock:inet_sock_set_state exists (Linux 4.16+).
    var stateTracepoint: Bool
    var kprobes: FeatureProbe
    var fentry: FeatureProbe
    var cgroup2: Bool
    var root: Bool
    /// Offset of `err` in tcp:tcp_retransmit_skb's record (Linux 6.12+), from its tracefs format.
    var retransmitErrOffset: Int?
    /// tcp_recvmsg/udp_recvmsg still take `nonblock` before `flags` (before Linux 5.19), from BTF.
    var recvmsgHasNonblock: Bool
    /// Kernel functions some programs hook that not every kernel has (tcp_sendpage: before 6.5), from BTF
    /// or, without it, /proc/kallsyms.
    var functions: Set<String>

    /// Hook targets that come and go between kernel versions.
    static let optionalFunctions: Set<String> = ["tcp_sendpage"]

    /// The features, probed once per process (the fentry probe loads a program).
    static var current: KernelFeatures {
        if let cached = cache.value { return cached }
        let probed = probe()
        if probed.root && probed.tracefs { cache.value = probed }
        return probed
    }

    private static let cache = Cache()
    private final class Cache: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: KernelFeatures?
        var value: KernelFeatures? {
            get { lock.withLock { stored } }
            set { lock.withLock { stored = newValue } }
        }
    }

    static func probe() -> KernelFeatures {
        let tracing = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"].first {
            access("\($0)/events", F_OK) == 0
        }
        func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
        let root = geteuid() == 0
        let vmlinux = exists("/sys/kernel/btf/vmlinux") ? btf__load_vmlinux_btf() : nil
        defer { if let vmlinux { btf__free(vmlinux) } }

        // With tracefs, its events say; without (not mounted yet), BTF's btf_trace_<event> typedefs do.
        func event(_ system: String, _ name: String) -> Bool {
            if let tracing { return exists("\(tracing)/events/\(system)/\(name)") }
            if let vmlinux { return nt_btf_has_typedef(vmlinux, "btf_trace_\(name)") != 0 }
            return false
        }

        return KernelFeatures(
            btf: vmlinux != nil,
            tracefs: tracing != nil,
            socketTracepoints: event("sock", "sock_send_length") && event("sock", "sock_recv_length")
                && event("sock", "inet_sock_set_state"),
            stateTracepoint: event("sock", "inet_sock_set_state"),
            kprobes: probeKprobes(tracing: tracing, root: root),
            fentry: vmlinux == nil ? FeatureProbe(available: false, detail: "no BTF") : probeFentry(root: root),
            cgroup2: Mounts.cgroup2Path() != nil,
            root: root,
            retransmitErrOffset: tracing.flatMap { errOffset(format: "\($0)/events/tcp/tcp_retransmit_skb/format") },
            recvmsgHasNonblock: vmlinux.map { nt_btf_func_param_count($0, "tcp_recvmsg") == 6 } ?? false,
            functions: present(optionalFunctions, btf: vmlinux))
    }

    /// Which of `names` this kernel has: BTF FUNC entries, else the symbols of /proc/kallsyms.
    private static func present(_ names: Set<String>, btf: OpaquePointer?) -> Set<String> {
        if let btf { return names.filter { nt_btf_func_param_count(btf, $0) >= 0 } }
        guard let text = try? readTextFile("/proc/kallsyms") else { return [] }
        var found = Set<String>()
        for line in text.split(separator: "\n") {
            guard let name = line.split(separator: " ").dropFirst(2).first.map(String.init), names.contains(name) else { continue }
            found.insert(name)
        }
        return found
    }

    /// kprobes attach through the perf kprobe PMU (or tracefs kprobe_events on older kernels); the
    /// program type must load too.
    private static func probeKprobes(tracing: String?, root: Bool) -> FeatureProbe {
        let pmu = access("/sys/bus/event_source/devices/kprobe/type", F_OK) == 0
        let events = tracing.map { access("\($0)/kprobe_events", F_OK) == 0 } ?? false
        guard pmu || events else {
            return FeatureProbe(available: false, detail: "no kprobe PMU and no kprobe_events (CONFIG_KPROBES off)")
        }
        guard root else {
            return FeatureProbe(available: true, detail: "kprobe PMU present; program load not tried without root")
        }
        let loads = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_KPROBE, nil)
        guard loads == 1 else {
            return FeatureProbe(available: false, detail: "kprobe programs do not load (\(loads < 0 ? errnoName(-loads) : "refused"))",
                                errno: loads < 0 ? -loads : nil)
        }
        return FeatureProbe(available: true, detail: pmu ? "kprobe PMU present, programs load" : "kprobe_events present, programs load")
    }

    /// The only honest fentry probe: load and attach a trivial one (on tcp_close, which nettop hooks).
    private static func probeFentry(root: Bool) -> FeatureProbe {
        // Loading needs root: without it, say what BTF promises (as for kprobes) and that it is unverified.
        guard root else { return FeatureProbe(available: true, detail: "BTF present; program load not tried without root") }
        var stage: Int32 = 0
        let ret = nt_probe_fentry("tcp_close", &stage)
        if ret == 0 { return FeatureProbe(available: true, detail: "a trivial fentry program loads and attaches") }
        let what: String
        switch stage {
        case 0: what = "BTF has no tcp_close"
        case 1: what = "loading a trivial fentry program fails with \(errnoName(-ret))"
        default: what = "attaching a trivial fentry program fails with \(errnoName(-ret))"
        }
        return FeatureProbe(available: false, detail: what, errno: stage == 0 ? nil : -ret)
    }

    /// "field:int err;\toffset:76;..." in a tracepoint's format file.
    static func errOffset(format path: String) -> Int? {
        guard let text = try? readTextFile(path) else { return nil }
        for line in text.split(separator: "\n") where line.contains("field:int err;") {
            guard let range = line.range(of: "offset:") else { continue }
            return Int(line[range.upperBound...].prefix(while: { $0.isNumber }))
        }
        return nil
    }
}

/// "EPERM (Operation not permitted)".
func errnoName(_ code: Int32) -> String {
    let names: [Int32: String] = [EPERM: "EPERM", EACCES: "EACCES", ENOENT: "ENOENT", EINVAL: "EINVAL",
                                  ENOTSUP: "ENOTSUP", E2BIG: "E2BIG", ESRCH: "ESRCH", EBUSY: "EBUSY", 524: "ENOTSUPP"]
    return "\(names[code] ?? "errno \(code)") (\(errnoText(code)))"
}
