import Glibc

/// How the programs hook the kernel. Chosen by probing what this kernel offers, never by version number.
struct Backend: Sendable {
    enum Kind: String, Sendable {
        case tracepoint, fentry, kprobe
    }

    let kind: Kind
    var name: String { kind.rawValue }

    /// Whether a program in ELF section `section` belongs to this backend.
    func loads(section: String) -> Bool {
        let shared = section.hasPrefix("cgroup/") || section.hasPrefix("tracepoint/")
        switch kind {
        case .tracepoint:
            return shared || section.hasPrefix("tp_btf/")
        case .fentry:
            return shared || section.hasPrefix("fentry/") || section.hasPrefix("fexit/")
        case .kprobe:
            return shared || section.hasPrefix("kprobe/") || section.hasPrefix("kretprobe/")
        }
    }
}

/// What this kernel offers nettop, probed from the file system (cheap, no program loaded).
struct KernelFeatures: Sendable {
    var btf: Bool
    var tracefs: Bool
    var socketTracepoints: Bool
    var kprobes: Bool
    var cgroup2: Bool
    var root: Bool

    static func probe() -> KernelFeatures {
        let tracing = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"].first {
            access("\($0)/events", F_OK) == 0
        }
        func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
        return KernelFeatures(
            btf: exists("/sys/kernel/btf/vmlinux"),
            tracefs: tracing != nil,
            socketTracepoints: tracing.map {
                exists("\($0)/events/sock/sock_send_length") && exists("\($0)/events/sock/inet_sock_set_state")
            } ?? false,
            kprobes: tracing.map { exists("\($0)/kprobe_events") } ?? false,
            cgroup2: Mounts.cgroup2Path() != nil,
            root: geteuid() == 0)
    }

    /// The backend to use for `requested`, or why there is none.
    func choose(_ requested: TracerConfig.Backend, useBTF: Bool) -> Result<Backend, NetTopError> {
        switch requested {
        case .auto, .tracepoint:
            guard useBTF else {
                return .failure(NetTopError(.unavailable,
                    "--no-btf needs the kprobe backend with offset guessing, which this build does not have yet."))
            }
            guard btf else {
                return .failure(NetTopError(.unavailable,
                    "this kernel has no BTF (/sys/kernel/btf/vmlinux), which the tracepoint backend needs."))
            }
            if tracefs && !socketTracepoints {
                return .failure(NetTopError(.unavailable,
                    "this kernel has no sock:sock_send_length tracepoint (Linux 6.3 and later have it); the kprobe backend is needed here."))
            }
            // Without tracefs mounted yet the tracer mounts it, and attaching checks the tracepoints again.
            return .success(Backend(kind: .tracepoint))
        case .kprobe:
            return .failure(NetTopError(.unavailable, kprobes
                ? "the kprobe backend is not in this build yet; use --backend tracepoint."
                : "this kernel has no kprobes (CONFIG_KPROBES off); use --backend tracepoint or auto."))
        case .fentry:
            return .failure(NetTopError(.unavailable,
                "fentry programs cannot be loaded by this build on this kernel; use --backend tracepoint or auto."))
        }
    }
}
