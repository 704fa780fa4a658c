import Glibc

/// Where the front ends get a tracer, and `nettop check`'s verdict.
public enum Tracers {
    /// Probes the kernel, picks the backend, loads and attaches the programs, reads the initial state.
    public static func open(config: TracerConfig) throws(NetTopError) -> any KernelTracing {
        guard geteuid() == 0 else {
            throw NetTopError(.noPermission, "loading BPF programs needs root; run nettop with sudo.")
        }
        try Mounts.ensureTracefs() // before probing: tracefs says which tracepoints exist
        let features = KernelFeatures.current
        var backend = try features.choose(config.backend, useBTF: config.useBTF).get()
        if backend.guessesOffsets {
            backend.offsets = try OffsetGuesser.guess(hook: features.guessHook, debug: config.bpfDebug)
        }
        return try KernelTracer(config: config, backend: backend)
    }

    /// Says whether this kernel can run nettop, with which backend, and why.
    public static func check(config: TracerConfig) -> SupportReport {
        let f = KernelFeatures.current
        var findings = [
            "root: \(f.root ? "yes" : "no — BPF needs root (CAP_BPF + CAP_PERFMON); run with sudo")",
            "btf: \(f.btf ? "yes — /sys/kernel/btf/vmlinux (CO-RE)" : "no — no /sys/kernel/btf/vmlinux")",
            "tracefs: \(f.tracefs ? "yes" : "not mounted — nettop mounts it at /sys/kernel/tracing when run as root")",
            "socket tracepoints: \(f.socketTracepoints ? "yes — sock:sock_send_length, sock:inet_sock_set_state" : f.tracefs ? "no" : "unknown until tracefs is mounted")",
            "kprobes: \(f.kprobes.available ? "yes" : "no") — \(f.kprobes.detail)",
            "fentry: \(f.fentry.available ? "yes" : "no") — \(f.fentry.detail)",
            "cgroup v2: \(f.cgroup2 ? "yes — \(Mounts.cgroup2Path() ?? "")" : "no — closes of idle UDP sockets are noticed by timeout only")",
            ConntrackResolver.checkFinding(config: config),
        ]
        switch f.choose(config.backend, useBTF: config.useBTF) {
        case .success(let backend):
            findings.append("backend: \(backend.name) — \(backend.reason)")
            let ok = f.root
            return SupportReport(supported: ok, backend: backend.name, findings: findings, exitCode: ok ? 0 : 77)
        case .failure(let error):
            findings.append("backend: none — \(error.message)")
            return SupportReport(supported: false, backend: nil, findings: findings, exitCode: error.exitCode)
        }
    }
}
