import CBPF
import Foundation
import Glibc
import XCTest
@testable import TracerCore

/// Loading (verifier) tests for every backend's programs, in both objects, on the running kernel. A
/// program that loads here but cannot attach (kprobes on this machine) still proves the verifier takes
/// it; a backend whose programs cannot load here (fentry on this machine) must fail exactly as the
/// kernel feature probe said, never be skipped. Without kernel BTF the CO-RE object must be refused
/// (libbpf: ESRCH), and the no-BTF object loads at offsets the guesser finds.
final class BackendLoadTests: XCTestCase {
    private var features: KernelFeatures { KernelFeatures.current }

    override func setUpWithError() throws {
        try Mounts.ensureTracefs()
    }

    /// tp_btf programs need their tracepoints in the kernel (sock:sock_send_length: Linux 6.3+); without
    /// them libbpf refuses the object with ESRCH before the verifier sees it.
    func testTracepointBackendLoads() throws {
        let outcome = try load(Backend(kind: .tracepoint), expectFailure: !features.socketTracepoints || !features.btf)
        guard features.socketTracepoints && features.btf else {
            guard case .failure(let failure) = outcome else { return XCTFail("tp_btf programs loaded without their tracepoints") }
            XCTAssertEqual(failure.code, ESRCH, "\(failure)")
            return
        }
        let loaded = try XCTUnwrap(try outcome.get())
        XCTAssertEqual(loaded.sorted(), [
            "cg_sock_release", "cg_udp4_recvmsg", "cg_udp4_sendmsg", "cg_udp6_recvmsg", "cg_udp6_sendmsg",
            "tp_inet_sock_set_state", "tp_sock_recv_length", "tp_sock_send_length", "tp_tcp_destroy_sock",
            "tp_tcp_retransmit_skb",
        ])
    }

    /// Without a cgroup v2 hierarchy the tracepoint backend finds UDP peers through the socket system calls.
    func testTracepointBackendWithoutCgroupLoadsTheSyscallPrograms() throws {
        let outcome = try load(Backend(kind: .tracepoint), cgroup: false,
                               expectFailure: !features.socketTracepoints || !features.btf)
        guard features.socketTracepoints && features.btf else { return }
        XCTAssertEqual(try XCTUnwrap(try outcome.get()).sorted(), [
            "sys_enter_recvfrom", "sys_enter_recvmmsg", "sys_enter_recvmsg", "sys_enter_sendmmsg",
            "sys_enter_sendmsg", "sys_enter_sendto", "sys_exit_recvfrom",
            "sys_exit_recvmmsg", "sys_exit_recvmsg", "sys_exit_sendmmsg", "sys_exit_sendmsg", "sys_exit_sendto",
            "tp_inet_sock_set_state", "tp_sock_recv_length", "tp_sock_send_length", "tp_tcp_destroy_sock",
            "tp_tcp_retransmit_skb",
        ])
    }

    /// kprobe programs pass the verifier on every kernel with BTF, whether or not kprobes attach.
    func testKprobeBackendLoads() throws {
        let outcome = try load(Backend(kind: .kprobe), expectFailure: !features.btf)
        guard features.btf else { return try assertRefusedWithoutBTF(outcome) }
        XCTAssertEqual(Set(try XCTUnwrap(try outcome.get())), kprobeBackendPrograms)
    }

    /// fentry: loads where the probe says fentry works; elsewhere fails with the probe's errno (EPERM here).
    func testFentryBackendLoadsExactlyWhereTheProbeSaysItCan() throws {
        let outcome = try load(Backend(kind: .fentry), expectFailure: !features.btf)
        guard features.btf else { return try assertRefusedWithoutBTF(outcome) }
        let probe = features.fentry
        if probe.available {
            let loaded = try XCTUnwrap(try outcome.get())
            XCTAssertEqual(Set(loaded), Set([
                "cg_sock_release", "fe_tcp_close", "fx_inet_csk_accept", "fx_tcp_recvmsg", "fx_tcp_sendmsg",
                "fx_tcp_v4_connect", "fx_tcp_v6_connect", "fx_udp_recvmsg", "fx_udp_sendmsg", "fx_udpv6_recvmsg",
                "fx_udpv6_sendmsg", "tp_inet_sock_set_state", "tp_tcp_destroy_sock", "tp_tcp_retransmit_skb",
            ] + (hasSendpage ? ["fx_tcp_sendpage"] : [])))
        } else {
            guard case .failure(let failure) = outcome else {
                return XCTFail("fentry programs loaded although the probe said: \(probe.detail)")
            }
            let code = failure.code
            XCTAssertEqual(code, try XCTUnwrap(probe.errno, "the probe ran a program: \(probe.detail)"),
                           "load error \(errnoName(code)), probe: \(probe.detail)")
            if probe.detail.contains("EPERM") {
                XCTAssertEqual(code, EPERM, "this machine's kernel refuses fentry with EPERM")
            }
        }
    }

    func testNoBTFTracepointBackendLoads() throws {
        var backend = Backend(kind: .tracepoint, guessesOffsets: true)
        backend.offsets = try offsetsForNoBTF()
        let loaded = try XCTUnwrap(try load(backend).get())
        XCTAssertEqual(loaded.sorted(), [
            "cg_sock_create", "cg_sock_release", "cg_udp4_recvmsg", "cg_udp4_sendmsg", "cg_udp6_recvmsg",
            "cg_udp6_sendmsg", "tp_tcp_retransmit_skb", "tpc_inet_sock_set_state", "tpc_sock_recv_length",
            "tpc_sock_send_length", "tpc_tcp_destroy_sock",
        ])
        var withoutCgroup = try XCTUnwrap(try load(backend, cgroup: false).get()).sorted()
        XCTAssertEqual(withoutCgroup.filter { $0.hasPrefix("sys_") }.count, 12, "\(withoutCgroup)")
        withoutCgroup.removeAll { $0.hasPrefix("sys_") }
        XCTAssertEqual(withoutCgroup, ["tp_tcp_retransmit_skb", "tpc_inet_sock_set_state", "tpc_sock_recv_length",
                                       "tpc_sock_send_length", "tpc_tcp_destroy_sock"])
    }

    func testNoBTFKprobeBackendLoads() throws {
        var backend = Backend(kind: .kprobe, guessesOffsets: true)
        backend.offsets = try offsetsForNoBTF()
        let loaded = try XCTUnwrap(try load(backend).get())
        XCTAssertEqual(Set(loaded), kprobeBackendPrograms)
    }

    /// Both entry points of the offset guesser pass the verifier (the kprobe one attaches only where
    /// kprobes do).
    func testOffsetGuessProgramsLoad() throws {
        let bytes = try XCTUnwrap(Data(base64Encoded: BPFObjects.offset_guess))
        let object = try XCTUnwrap(bytes.withUnsafeBytes { nt_open_mem($0.baseAddress, $0.count, "offset_guess", nil) })
        defer { bpf_object__close(object) }
        XCTAssertEqual(bpf_object__load(object), 0, LibbpfLog.take())
        XCTAssertEqual(programs(object).map(\.name).sorted(), ["guess_inet_sock_set_state", "guess_tcp_shutdown"])
    }

    /// Every program of both objects belongs to some backend: none is dead weight, none is forgotten.
    func testEveryProgramBelongsToABackend() throws {
        for (name, base64) in [("nettop", BPFObjects.nettop), ("nettop_nobtf", BPFObjects.nettop_nobtf)] {
            let bytes = try XCTUnwrap(Data(base64Encoded: base64))
            let object = try XCTUnwrap(bytes.withUnsafeBytes { nt_open_mem($0.baseAddress, $0.count, name, nil) })
            defer { bpf_object__close(object) }
            let guessed = name == "nettop_nobtf"
            let kinds: [Backend.Kind] = guessed ? [.tracepoint, .kprobe] : [.tracepoint, .fentry, .kprobe]
            for p in programs(object) {
                XCTAssertTrue(kinds.contains { kind in
                    [true, false].contains { Backend(kind: kind, guessesOffsets: guessed).loads(section: p.section, cgroup: $0) }
                },
                              "\(name): \(p.name) (\(p.section)) is loaded by no backend")
            }
        }
    }

    /// kprobes cannot attach on this machine: attaching the kprobe backend's programs fails with the
    /// error nettop reports, not a crash; where kprobes work (a VM), they attach.
    func testKprobeAttachMatchesTheProbe() throws {
        var backend = Backend(kind: .kprobe, guessesOffsets: !features.btf)
        if !features.btf { backend.offsets = try offsetsForNoBTF() }
        guard case .success = try load(backend) else { return } // failed, and said why
        let result = Result { () throws(NetTopError) -> BPFObject in
            let bytes = [UInt8](Data(base64Encoded: backend.objectBase64)!)
            let bpf = try BPFObject(bytes: bytes, name: backend.objectName, btfPath: nil, debug: false) { object throws(NetTopError) in
                try backend.prepare(object, cgroup: false, features: KernelFeatures.current)
            }
            try bpf.attachAll(cgroupPath: nil)
            return bpf
        }
        switch result {
        case .success(let bpf):
            bpf.close()
            XCTAssertTrue(features.kprobes.available, "kprobes attached although the probe said: \(features.kprobes.detail)")
        case .failure(let error):
            XCTAssertFalse(features.kprobes.available, "kprobes are available but attaching failed: \(error.message)")
            XCTAssertEqual(error.kind, .unavailable)
            XCTAssertTrue(error.message.hasPrefix("attaching BPF program k"), error.message)
        }
    }

    // MARK: - Helpers

    /// Without kernel BTF libbpf refuses the CO-RE object before the verifier ("failed to find valid kernel
    /// BTF"): that is why nettop has a second object.
    private func assertRefusedWithoutBTF(_ outcome: Result<[String], LoadFailure>) throws {
        guard case .failure(let failure) = outcome else { return XCTFail("the CO-RE object loaded without kernel BTF") }
        XCTAssertEqual(failure.code, ESRCH, "\(failure)")
        XCTAssertTrue(failure.log.contains("failed to find valid kernel BTF"), "\(failure)")
    }

    /// BTF's offsets where the kernel has BTF (so a guessing fault cannot hide a load fault), else guessed.
    private func offsetsForNoBTF() throws -> GuessedOffsets {
        if features.btf { return try btfOffsets() }
        return try OffsetGuesser.guess(hook: features.guessHook, debug: false)
    }

    private struct LoadFailure: Error, CustomStringConvertible {
        var code: Int32
        var log: String
        var description: String { "\(errnoName(code))\n\(LoadFailure.essentials(log))" }

        /// The verifier's own log and libbpf's "failed" lines: what says why.
        static func essentials(_ log: String) -> String {
            var out: [Substring] = []
            var inProgLog = false
            for line in log.split(separator: "\n") {
                if line.contains("BEGIN PROG LOAD LOG") { inProgLog = true }
                if inProgLog || line.contains("failed") || line.contains("invalid") { out.append(line) }
                if line.contains("END PROG LOAD LOG") { inProgLog = false }
            }
            return String(out.joined(separator: "\n").suffix(6000))
        }
    }

    /// tcp_sendpage exists before Linux 6.5 only; its programs load only there.
    private var hasSendpage: Bool { features.functions.contains("tcp_sendpage") }

    private var kprobeBackendPrograms: Set<String> {
        Set([
            "cg_sock_create", "cg_sock_release", "kp_tcp_close", "kp_tcp_recvmsg", "kp_tcp_sendmsg", "kp_tcp_v4_connect",
            "kp_tcp_v6_connect", "kp_udp_recvmsg", "kp_udp_sendmsg", "kp_udpv6_recvmsg", "kp_udpv6_sendmsg",
            "krp_inet_csk_accept", "krp_tcp_recvmsg", "krp_tcp_sendmsg", "krp_tcp_v4_connect", "krp_tcp_v6_connect",
            "krp_udp_recvmsg", "krp_udp_sendmsg", "krp_udpv6_recvmsg", "krp_udpv6_sendmsg", "tp_tcp_retransmit_skb",
            "tpc_inet_sock_set_state", "tpc_tcp_destroy_sock",
        ] + (hasSendpage ? ["kp_tcp_sendpage", "krp_tcp_sendpage"] : []))
    }

    /// Opens the backend's object, turns its programs on or off as nettop does, and loads it: the names of
    /// the programs loaded, or the errno the load failed with.
    private func load(_ backend: Backend, cgroup: Bool = true, expectFailure: Bool = false) throws -> Result<[String], LoadFailure> {
        let bytes = try XCTUnwrap(Data(base64Encoded: backend.objectBase64))
        LibbpfLog.install()
        let object = try XCTUnwrap(bytes.withUnsafeBytes { nt_open_mem($0.baseAddress, $0.count, backend.objectName, nil) })
        defer { bpf_object__close(object) }
        try backend.prepare(object, cgroup: cgroup, features: features)
        _ = LibbpfLog.take()
        let ret = bpf_object__load(object)
        let log = LibbpfLog.take()
        guard ret == 0 else {
            if !expectFailure && (backend.kind != .fentry || features.fentry.available) {
                XCTFail("\(backend.name) (\(backend.objectName)) did not load: \(errnoName(-ret))\n\(LoadFailure.essentials(log))")
            }
            return .failure(LoadFailure(code: -ret, log: log))
        }
        return .success(programs(object).filter(\.autoload).map(\.name))
    }

    private func programs(_ object: OpaquePointer) -> [(name: String, section: String, autoload: Bool)] {
        var out: [(String, String, Bool)] = []
        var prog = bpf_object__next_program(object, nil)
        while let p = prog {
            out.append((String(cString: bpf_program__name(p)), String(cString: bpf_program__section_name(p)),
                        bpf_program__autoload(p)))
            prog = bpf_object__next_program(object, p)
        }
        return out
    }
}

/// The running kernel's BTF offsets of what the no-BTF object reads, as if guessed.
func btfOffsets() throws -> GuessedOffsets {
    let btf = try XCTUnwrap(btf__load_vmlinux_btf(), "this test needs the kernel's BTF")
    defer { btf__free(btf) }
    var g = GuessedOffsets()
    for field in GuessField.allCases {
        let off = nt_btf_member_offset(btf, field.structName, field.memberName)
        XCTAssertGreaterThanOrEqual(off, 0, "\(field.structName).\(field.memberName) in BTF")
        g[field] = Int(off)
    }
    g.netnsInode = Int(nt_btf_member_offset(btf, "net", "ns") + nt_btf_member_offset(btf, "ns_common", "inum"))
    return g
}
