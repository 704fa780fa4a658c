import Foundation
import Glibc
import XCTest
@testable import TracerCore

/// Which backend nettop picks, and what `--backend` does when the kernel cannot give it: exit 69 with one
/// sentence. Expectations follow the kernel feature probes; on this machine (tracepoints, no kprobes, no
/// fentry) they are spelled out too.
final class BackendChoiceTests: XCTestCase {
    private var features: KernelFeatures { KernelFeatures.current }

    /// `nettop check` loads every backend's programs: well under a second here, and in a 6.1 guest under
    /// emulation, while the host was busy, over 30 s.
    private let checkTimeout: TimeInterval = KernelTestCase.underEmulation ? 180 : 30

    override func setUpWithError() throws {
        try Mounts.ensureTracefs()
    }

    func testCheckListsTheBackendsAndTheChoice() throws {
        let r = try runCommand(Binaries.nettop, ["check"], timeout: checkTimeout)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        for prefix in ["btf: ", "socket tracepoints: ", "kprobes: ", "fentry: ", "backend: "] {
            XCTAssertEqual(lines.filter { $0.hasPrefix(prefix) }.count, 1, "one \(prefix)line in:\n\(r.stdout)")
        }
        let chosen = try XCTUnwrap(features.choose(.auto, useBTF: true).get())
        XCTAssertTrue(lines.contains { $0.hasPrefix("backend: \(chosen.name) — \(chosen.reason)") }, r.stdout)
        XCTAssertTrue(lines.contains("kprobes: \(features.kprobes.available ? "yes" : "no") — \(features.kprobes.detail)"), r.stdout)
        XCTAssertTrue(lines.contains("fentry: \(features.fentry.available ? "yes" : "no") — \(features.fentry.detail)"), r.stdout)
        if features.socketTracepoints && features.btf {
            XCTAssertEqual(chosen.name, "tracepoint", "with BTF and the sock tracepoints, tracepoint wins")
        }
    }

    func testCheckWithNoBTFSaysOffsetsAreGuessed() throws {
        let r = try runCommand(Binaries.nettop, ["check", "--no-btf"], timeout: checkTimeout)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("struct sock offsets guessed (--no-btf)"), r.stdout)
    }

    /// Each backend asked for by name: runs (and every tick names it) where the kernel has it, exit 69 with
    /// one line on stderr where it does not.
    func testEachRequestedBackendRunsOrExits69() throws {
        for (backend, noBTF) in [("tracepoint", false), ("kprobe", false), ("fentry", false),
                                 ("tracepoint", true), ("kprobe", true), ("fentry", true)] {
            let args = ["--json", "--iterations", "1", "--interval", "0.2", "--backend", backend] + (noBTF ? ["--no-btf"] : [])
            let r = try runCommand(Binaries.nettop, args, timeout: 60)
            let expected = features.choose(TracerConfig.Backend(rawValue: backend)!, useBTF: !noBTF)
            switch expected {
            case .success:
                XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
                let tick = try XCTUnwrap(r.stdout.split(separator: "\n").first, "\(args): no tick")
                let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(tick.utf8)) as? [String: Any])
                XCTAssertEqual(doc["backend"] as? String, backend, "\(args)")
            case .failure(let error):
                XCTAssertEqual(r.status, 69, "\(args): \(r.stderr)")
                XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)")
                XCTAssertTrue(r.stderr.contains(error.message), "\(r.stderr) vs \(error.message)")
            }
        }
    }

    /// This machine's facts (KERNEL.md): BTF and the sock tracepoints, no kprobes, fentry refused. If the
    /// probes ever disagree here, the probing is wrong.
    func testThisMachinesKernelIsProbedAsDocumented() throws {
        guard uname().hasPrefix("6.18") else { return } // another kernel (a VM): the tests above cover it
        XCTAssertTrue(features.btf)
        XCTAssertTrue(features.socketTracepoints)
        XCTAssertFalse(features.kprobes.available, features.kprobes.detail)
        XCTAssertFalse(features.fentry.available, features.fentry.detail)
        XCTAssertEqual(features.fentry.errno, EPERM, features.fentry.detail)
        XCTAssertEqual(features.retransmitErrOffset, 76)
        XCTAssertFalse(features.recvmsgHasNonblock)
        XCTAssertEqual(try features.choose(.auto, useBTF: true).get().name, "tracepoint")
        XCTAssertEqual(try features.choose(.auto, useBTF: false).get().guessesOffsets, true)
        XCTAssertEqual(features.guessHook, .tracepoint)
    }

    private func uname() -> String {
        var u = utsname()
        Glibc.uname(&u)
        return withUnsafeBytes(of: u.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}
