import CBPF
import Glibc

/// How the programs hook the kernel, and how they read sockets: with CO-RE (bpf/nettop.bpf.c) or at
/// guessed offsets (bpf/nettop_nobtf.bpf.c). Chosen by probing what this kernel offers
/// (KernelFeatures.choose), never by version number.
struct Backend: Sendable {
    enum Kind: String, Sendable {
        case tracepoint, fentry, kprobe
    }

    let kind: Kind
    /// The kernel has no BTF (or --no-btf): sockets are read at offsets the offset guesser found.
    let guessesOffsets: Bool
    /// Why this backend, for `nettop check`.
    var reason: String
    /// Set by Tracers.open once the guesser ran (guessesOffsets only).
    var offsets: GuessedOffsets?

    init(kind: Kind, guessesOffsets: Bool = false, reason: String = "") {
        self.kind = kind
        self.guessesOffsets = guessesOffsets
        self.reason = reason
    }

    var name: String { kind.rawValue }

    /// The embedded BPF object this backend's programs are in.
    var objectName: String { guessesOffsets ? "nettop_nobtf" : "nettop" }
    var objectBase64: String { guessesOffsets ? BPFObjects.nettop_nobtf : BPFObjects.nettop }

    /// Whether a program in ELF section `section` belongs to this backend (see the header comments of
    /// bpf/nettop.bpf.c and bpf/nettop_nobtf.bpf.c). `cgroup`: a cgroup v2 hierarchy is there to attach
    /// the cgroup hooks to; without one none of them loads.
    func loads(section: String, cgroup: Bool) -> Bool {
        if section.hasPrefix("cgroup/") && !cgroup { return false }
        // Retransmits and releases: the same tracepoint and hook everywhere. Destroyed sockets: the raw
        // tracepoint where the object has BTF and the backend already uses tp_btf, else the classic one.
        if section == "tracepoint/tcp/tcp_destroy_sock" { return !keysAreCookies }
        if section == "tp_btf/tcp_destroy_sock" { return keysAreCookies }
        if section.hasPrefix("tracepoint/tcp/") || section == "cgroup/sock_release" { return true }
        // Hooks that cannot call bpf_get_socket_cookie read the cookie: have it generated at creation.
        if section == "cgroup/sock_create" { return kind == .kprobe || guessesOffsets }
        switch kind {
        case .tracepoint:
            // A UDP datagram's peer: from the cgroup sendmsg/recvmsg hooks, or without cgroup v2 from
            // the socket system calls (which also put every system call on its slow path). No accept
            // hook: an accepted connection's owner is its listener's until its first byte (PortMapping).
            if Backend.peerHookSections.contains(section) { return true }
            if section.hasPrefix("tracepoint/syscalls/") { return !cgroup }
            return guessesOffsets ? section.hasPrefix("tracepoint/sock/") : section.hasPrefix("tp_btf/")
        case .fentry:
            return section.hasPrefix("fentry/") || section.hasPrefix("fexit/") || section == "tp_btf/inet_sock_set_state"
        case .kprobe:
            return section.hasPrefix("kprobe/") || section.hasPrefix("kretprobe/")
                || section == "tracepoint/sock/inet_sock_set_state"
        }
    }

    static let peerHookSections: Set<String> = ["cgroup/sendmsg4", "cgroup/sendmsg6", "cgroup/recvmsg4", "cgroup/recvmsg6"]

    /// With CO-RE, the tracepoint and fentry programs all get socket cookies, so no entry is keyed by a
    /// sock's address (settings.cookie_keys); kprobes and classic tracepoints can only read the cookie.
    var keysAreCookies: Bool { !guessesOffsets && kind != .kprobe }

    /// The tracepoint backend's UDP peers come from the cgroup hooks (settings.peer_hooks).
    func usesPeerHooks(cgroup: Bool) -> Bool { kind == .tracepoint && cgroup }

    /// Before load: turns off every program this backend does not use (and the cgroup ones without a
    /// cgroup v2 hierarchy), and writes what the programs must know about this kernel into .rodata.
    func prepare(_ object: OpaquePointer, cgroup: Bool, features: KernelFeatures) throws(NetTopError) {
        var prog = bpf_object__next_program(object, nil)
        while let p = prog {
            let section = String(cString: bpf_program__section_name(p))
            // kprobe/tcp_sendpage, fexit/tcp_sendpage: only where the kernel has the function.
            let target = section.split(separator: "/").last.map(String.init) ?? ""
            let present = !KernelFeatures.optionalFunctions.contains(target) || features.functions.contains(target)
            bpf_program__set_autoload(p, loads(section: section, cgroup: cgroup) && present)
            prog = bpf_object__next_program(object, p)
        }
        var size = 0
        guard let raw = nt_rodata_var(object, "facts", &size), size == MemoryLayout<nt_kernel_facts>.size else {
            throw NetTopError(.software, "the embedded BPF object has no kernel facts block; rebuild nettop.")
        }
        let facts = raw.assumingMemoryBound(to: nt_kernel_facts.self)
        facts.pointee.retransmit_err_off = UInt16(features.retransmitErrOffset ?? 0)
        facts.pointee.recvmsg_flags_arg5 = features.recvmsgHasNonblock ? 1 : 0
        if guessesOffsets {
            guard let offsets else {
                throw NetTopError(.software, "the no-BTF programs were loaded without guessed offsets.")
            }
            facts.pointee.offsets = Backend.rodata(offsets)
        }
    }

    static func rodata(_ g: GuessedOffsets) -> nt_offsets {
        func at(_ f: GuessField) -> UInt16 { UInt16(clamping: g[f] ?? 0) }
        var o = nt_offsets()
        o.skc_daddr = at(.daddr)
        o.skc_rcv_saddr = at(.saddr)
        o.skc_dport = at(.dport)
        o.skc_num = at(.sport)
        o.skc_family = at(.family)
        o.skc_net = at(.netns)
        o.net_ns_inum = UInt16(clamping: g.netnsInode ?? 0)
        o.skc_v6_daddr = at(.v6daddr)
        o.skc_v6_rcv_saddr = at(.v6saddr)
        o.skc_cookie = at(.cookie)
        o.sk_userlocks = at(.userlocks)
        o.sk_userlocks_shift = UInt8(g.userlocksShift)
        o.has_v6 = g.hasIPv6 ? 1 : 0
        return o
    }
}

extension KernelFeatures {
    /// The backend to use for `requested`, or why there is none. With `useBTF` false, or without BTF,
    /// the no-BTF programs are used and struct offsets are guessed.
    func choose(_ requested: TracerConfig.Backend, useBTF: Bool) -> Result<Backend, NetTopError> {
        let core = useBTF && btf
        let guessed = !core
        let noBTF = useBTF ? "this kernel has no BTF (/sys/kernel/btf/vmlinux)" : "--no-btf"
        let offsets = guessed ? "; struct sock offsets guessed (\(noBTF))" : ""
        func tracepoint(_ why: String) -> Backend { Backend(kind: .tracepoint, guessesOffsets: guessed, reason: why + offsets) }
        func kprobe(_ why: String) -> Backend { Backend(kind: .kprobe, guessesOffsets: guessed, reason: why + offsets) }
        let noSocketTracepoints = "this kernel has no sock:sock_send_length tracepoint (Linux 6.3 and later have it)"

        switch requested {
        case .auto:
            if socketTracepoints {
                return .success(tracepoint(core ? "BTF and the sock:sock_send_length tracepoints are present (tp_btf)"
                                                : "the sock:sock_send_length tracepoints are present (classic tracepoints)"))
            }
            if core && fentry.available {
                return .success(Backend(kind: .fentry, reason: "\(noSocketTracepoints); fentry programs load and attach here"))
            }
            if kprobes.available {
                return .success(kprobe("\(noSocketTracepoints)\(core ? " and fentry is unavailable (\(fentry.detail))" : ""); kprobes are available"))
            }
            return .failure(NetTopError(.unavailable,
                "\(noSocketTracepoints), \(core ? "fentry is unavailable (\(fentry.detail)), " : "")and kprobes are unavailable (\(kprobes.detail)): nettop has no way to trace this kernel."))
        case .tracepoint:
            guard socketTracepoints else {
                return .failure(NetTopError(.unavailable, "\(noSocketTracepoints); use --backend auto."))
            }
            return .success(tracepoint("requested with --backend tracepoint"))
        case .fentry:
            guard core else {
                return .failure(NetTopError(.unavailable, "fentry programs need the kernel's BTF, and \(noBTF); use --backend kprobe or auto."))
            }
            guard fentry.available else {
                return .failure(NetTopError(.unavailable, "fentry programs cannot be used on this kernel (\(fentry.detail)); use --backend auto."))
            }
            return .success(Backend(kind: .fentry, reason: "requested with --backend fentry"))
        case .kprobe:
            guard kprobes.available else {
                return .failure(NetTopError(.unavailable, "kprobes are unavailable on this kernel (\(kprobes.detail)); use --backend auto."))
            }
            return .success(kprobe("requested with --backend kprobe"))
        }
    }

    /// How the offset guesser reaches struct sock on this kernel.
    var guessHook: OffsetGuesser.Hook { stateTracepoint || !kprobes.available ? .tracepoint : .kprobe }
}
