import CBPF
import Foundation
import XCTest
@testable import TracerCore

/// Offset guessing against the running kernel: every guessed offset equals the kernel's BTF offset, in
/// process and through `nettop debug offsets --no-btf`. Where the kernel has no BTF (or hides it), there
/// is nothing to compare with: the guess must still find every field, and nettop says the offsets are
/// guessed.
final class OffsetGuessKernelTests: XCTestCase {
    override func setUpWithError() throws {
        try Mounts.ensureTracefs()
    }

    func testGuessedOffsetsEqualBTF() throws {
        let guessed = try OffsetGuesser.guess(hook: .tracepoint, debug: false)
        XCTAssertEqual(guessed.entries.count, GuessField.allCases.count + 1,
                       "every field and net.ns.inum, over \(guessed.connections) connections: \(guessed.entries)")
        guard KernelFeatures.current.btf else { return }
        let btf = try btfOffsets()
        for field in GuessField.allCases {
            XCTAssertEqual(guessed[field], btf[field], "\(field.structName).\(field.memberName)")
        }
        XCTAssertEqual(guessed.netnsInode, btf.netnsInode, "net.ns.inum")
        XCTAssertEqual(guessed.userlocksShift, try userlocksBitShift(), "sk_userlocks: a byte (0) or a bitfield's high nibble (4)")
        XCTAssertTrue(guessed.hasIPv6)
    }

    /// The kprobe entry point of the guesser: where kprobes attach it must find the same offsets; where they
    /// do not (this machine), the guess fails as unavailable, with a sentence that says so.
    func testKprobeGuessMatchesTheProbe() throws {
        switch Result(catching: { () throws(NetTopError) in try OffsetGuesser.guess(hook: .kprobe, debug: false) }) {
        case .success(let guessed):
            XCTAssertTrue(KernelFeatures.current.kprobes.available)
            guard KernelFeatures.current.btf else { return }
            let btf = try btfOffsets()
            for field in GuessField.allCases {
                XCTAssertEqual(guessed[field], btf[field], "\(field.structName).\(field.memberName)")
            }
        case .failure(let error):
            XCTAssertFalse(KernelFeatures.current.kprobes.available, "kprobes are available, yet: \(error.message)")
            XCTAssertEqual(error.kind, .unavailable)
            XCTAssertTrue(error.message.contains("guess_tcp_shutdown"), error.message)
        }
    }

    /// The acceptance check: `nettop debug offsets --no-btf` lists every field the no-BTF programs read,
    /// each guessed offset equal to the BTF one beside it.
    func testDebugOffsetsNoBTFMatchesBTF() throws {
        let r = try runCommand(Binaries.nettop, ["debug", "offsets", "--no-btf"], timeout: 60)
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertEqual(doc["source"] as? String, "guessed")
        let fields = try XCTUnwrap(doc["fields"] as? [[String: Any]])
        let names = fields.map { "\($0["struct"] as? String ?? "?").\($0["name"] as? String ?? "?")" }
        XCTAssertEqual(Set(names), [
            "sock_common.skc_family", "sock_common.skc_num", "sock_common.skc_dport", "sock_common.skc_rcv_saddr",
            "sock_common.skc_daddr", "sock_common.skc_v6_rcv_saddr", "sock_common.skc_v6_daddr",
            "sock_common.skc_net", "net.ns.inum", "sock_common.skc_cookie", "sock.sk_userlocks",
        ])
        let hasBTF = KernelFeatures.current.btf
        for f in fields {
            let guessed = try XCTUnwrap(f["guessed"] as? Int, "\(f)")
            guard hasBTF else {
                XCTAssertTrue(f["btf"] is NSNull, "no BTF, so no BTF offset: \(f)")
                continue
            }
            let btf = try XCTUnwrap(f["btf"] as? Int, "\(f)")
            XCTAssertEqual(guessed, btf, "\(f["struct"] ?? "").\(f["name"] ?? "")")
        }
    }

    /// With BTF, `debug offsets` says so and guesses nothing; without, it guesses on its own.
    func testDebugOffsetsWithBTF() throws {
        let r = try runCommand(Binaries.nettop, ["debug", "offsets"], timeout: 60)
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        guard KernelFeatures.current.btf else {
            XCTAssertEqual(doc["source"] as? String, "guessed")
            return
        }
        XCTAssertEqual(doc["source"] as? String, "btf")
        let fields = try XCTUnwrap(doc["fields"] as? [[String: Any]])
        XCTAssertFalse(fields.isEmpty)
        XCTAssertTrue(fields.allSatisfy { $0["guessed"] is NSNull && $0["btf"] is Int }, "\(fields)")
    }

    /// Where sk_userlocks starts within its byte, per BTF: 0 for a byte of its own (6.x), 4 for the
    /// bitfield older kernels have (6.1: `u8 sk_padding:1, sk_kern_sock:1, ..., sk_userlocks:4`).
    private func userlocksBitShift() throws -> Int {
        let btf = try XCTUnwrap(btf__load_vmlinux_btf())
        defer { btf__free(btf) }
        let id = btf__find_by_name_kind(btf, "sock", UInt32(BTF_KIND_STRUCT))
        let sock = try XCTUnwrap(btf__type_by_id(btf, UInt32(id)))
        let members = try XCTUnwrap(btf_members(sock))
        for i in 0..<Int(btf_vlen(sock)) where String(cString: btf__name_by_offset(btf, members[i].name_off)) == "sk_userlocks" {
            return Int(btf_member_bit_offset(sock, UInt32(i)) % 8)
        }
        throw KernelTestError("struct sock has no sk_userlocks in BTF")
    }
}
