import CBPF
import Foundation
import Glibc

/// One loaded BPF object and the links that attach its programs. Owns every kernel resource it creates:
/// `close()` (or deinit) destroys the links and unloads the object, so nothing outlives the process.
final class BPFObject {
    private let object: OpaquePointer
    private var links: [OpaquePointer] = []
    private var cgroupFD: Int32 = -1
    private var closed = false

    /// Opens `bytes` (an ELF object), applies `configure` before load (settings, map sizes, autoload),
    /// then loads it into the kernel.
    init(bytes: [UInt8], name: String, btfPath: String?, debug: Bool,
         configure: (OpaquePointer) throws(NetTopError) -> Void) throws(NetTopError) {
        LibbpfLog.install()
        _ = LibbpfLog.take()
        let opened: OpaquePointer? = bytes.withUnsafeBytes { raw in
            nt_open_mem(raw.baseAddress, raw.count, name, btfPath)
        }
        guard let opened else {
            let e = errno
            throw NetTopError(.software, "the embedded BPF object could not be opened (\(errnoText(e))); the nettop binary may be damaged, rebuild it with `make nettop`.",
                              detail: LibbpfLog.take())
        }
        object = opened
        // Every stored property is set by now, so a throw below still runs deinit: `closed` must say the
        // object is gone, or deinit would close it a second time (a double free inside libbpf).
        do {
            try configure(object)
        } catch {
            closed = true
            bpf_object__close(object)
            throw error
        }
        let ret = bpf_object__load(object)
        if ret != 0 {
            let log = LibbpfLog.take()
            closed = true
            bpf_object__close(object)
            throw BPFObject.loadError(code: libbpfErrno(ret), log: log, debug: debug)
        }
        _ = LibbpfLog.take()
    }

    deinit { close() }

    /// Detaches every program and unloads the object. Safe to call twice.
    func close() {
        guard !closed else { return }
        closed = true
        for link in links { bpf_link__destroy(link) }
        links.removeAll()
        bpf_object__close(object)
        if cgroupFD >= 0 { Glibc.close(cgroupFD) }
    }

    func program(_ name: String) -> OpaquePointer? {
        bpf_object__find_program_by_name(object, name)
    }

    var programs: [OpaquePointer] {
        var result: [OpaquePointer] = []
        var prog = bpf_object__next_program(object, nil)
        while let p = prog {
            result.append(p)
            prog = bpf_object__next_program(object, p)
        }
        return result
    }

    func mapFD(_ name: String) throws(NetTopError) -> Int32 {
        guard let map = bpf_object__find_map_by_name(object, name) else {
            throw NetTopError(.software, "the BPF object has no map named \(name); rebuild nettop.")
        }
        return bpf_map__fd(map)
    }

    /// Attaches every loaded program by its section (tracepoints, tp_btf); `cgroup/*` programs to the
    /// cgroup v2 root at `cgroupPath`.
    func attachAll(cgroupPath: String?) throws(NetTopError) {
        for prog in programs where bpf_program__autoload(prog) {
            let name = String(cString: bpf_program__name(prog))
            let section = String(cString: bpf_program__section_name(prog))
            let link: OpaquePointer?
            if section.hasPrefix("cgroup/") {
                guard let cgroupPath else { continue }
                if cgroupFD < 0 { cgroupFD = open(cgroupPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
                guard cgroupFD >= 0 else {
                    throw NetTopError(.unavailable, "the cgroup v2 hierarchy at \(cgroupPath) cannot be opened (\(errnoText(errno))).")
                }
                link = bpf_program__attach_cgroup(prog, cgroupFD)
            } else {
                link = bpf_program__attach(prog)
            }
            guard let link else {
                let e = errno
                let log = LibbpfLog.take()
                throw NetTopError(.unavailable, "attaching BPF program \(name) (\(section)) failed: \(errnoText(e)).", detail: log)
            }
            links.append(link)
        }
        _ = LibbpfLog.take()
    }

    /// A load failure as one sentence; the verifier log goes in `detail` (shown with --debug).
    private static func loadError(code: Int32, log: String, debug: Bool) -> NetTopError {
        if code == EPERM || code == EACCES, geteuid() != 0 {
            return NetTopError(.noPermission, "loading BPF programs needs root; run nettop with sudo.", detail: log)
        }
        let failing = log.split(separator: "\n").first(where: { $0.contains("failed to load") || $0.contains("failed to") })
            .map { " (\($0.trimmingCharacters(in: .whitespaces)))" } ?? ""
        let hint = debug ? "" : "; run with --debug for the verifier log"
        return NetTopError(.unavailable, "the kernel refused nettop's BPF programs: \(errnoText(code))\(failing)\(hint).", detail: log)
    }
}
