import Foundation
import Glibc
import XCTest

/// The machine nettop lands on: not root, tracefs not mounted (or not mountable), another nettop already
/// running. (conntrack without CAP_NET_ADMIN, and --no-conntrack, are covered by NAT/NATTests.)
final class EnvironmentTests: KernelTestCase {
    private let rootMessage = "nettop: loading BPF programs needs root; run nettop with sudo.\n"
    private let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

    func testNotRootExits77WithOneSentence() throws {
        for arguments in [["--json", "--iterations", "1"], ["--batch", "--interval", "0.2"], ["debug", "maps"],
                          ["debug", "offsets"], []] {
            let nettop = try startRawNetTop(arguments, wrapper: asNobody)
            XCTAssertEqual(nettop.waitForExit(timeout: 60), 77, "\(arguments)")
            XCTAssertEqual(nettop.stderr, rootMessage, "\(arguments)")
            XCTAssertEqual(nettop.output, [], "\(arguments)")
        }
        // Bad usage is still bad usage first: fix the command, then get the privilege.
        let usage = try startRawNetTop(["--json", "--port", "70000"], wrapper: asNobody)
        XCTAssertEqual(usage.waitForExit(timeout: 60), 64)
        XCTAssertEqual(usage.stderr, "nettop: --port must be between 1 and 65535 (got 70000)\n")
        // `check` runs without root and says what is missing.
        let check = try startRawNetTop(["check"], wrapper: asNobody)
        XCTAssertEqual(check.waitForExit(timeout: 60), 77)
        let report = String(decoding: check.output, as: UTF8.self)
        XCTAssertTrue(report.contains("needs root"), report)
    }

    /// tracefs unmounted in a private mount namespace: nettop mounts it there itself and traces as usual.
    func testWithoutTracefsNettopMountsItAndTraces() throws {
        let script = """
            for m in /sys/kernel/tracing /sys/kernel/debug/tracing /sys/kernel/debug; do umount -l "$m" 2>/dev/null; done
            if grep -qw tracefs /proc/self/mounts; then echo "tracefs still mounted" >&2; exit 99; fi
            exec "$0" "$@"
            """
        let nettop = try startRawNetTop(["--json", "--interval", "0.2"],
                                        wrapper: ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script])
        XCTAssertTrue(nettop.waitForLines(1, timeout: 60), "no tick without tracefs; stderr: \(nettop.stderr)")
        // nettop's own mount namespace has tracefs again, mounted by nettop.
        let mounts = (try? String(contentsOfFile: "/proc/\(nettop.pid)/mounts", encoding: .utf8)) ?? ""
        XCTAssertTrue(mounts.split(separator: "\n").contains { $0.split(separator: " ").dropFirst(2).first == "tracefs" },
                      "no tracefs in nettop's namespace:\n\(mounts)")
        // And it traces: a known exchange shows with exact bytes.
        let x = try tcpExchange(serverAddress: "127.0.0.1", send: 12_345, reply: 678)
        let wanted = "\"sport\":\(x.client.lport),"
        let seen = nettop.waitFor(timeout: rowTimeout) {
            nettop.lines.contains { line in
                let text = String(decoding: line, as: UTF8.self)
                return text.contains(wanted) && text.contains("\"monotonic_sent_bytes\":12345")
            }
        }
        XCTAssertTrue(seen, "client row with 12345 bytes sent not seen; stderr: \(nettop.stderr)")
        nettop.signal(SIGINT)
        XCTAssertEqual(nettop.waitForExit(timeout: 15), 0, "stderr: \(nettop.stderr)")
        // The host's own tracefs was never touched.
        let hostMounts = try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)
        XCTAssertTrue(hostMounts.contains(" tracefs "), "the test's own tracefs mount went away")
    }

    /// tracefs neither mounted nor mountable (its mount point hidden under a tmpfs in a private mount
    /// namespace): one sentence saying how to mount it, exit 69, and nothing loaded.
    func testTracefsThatCannotBeMountedIsExplained() throws {
        let pinnedBefore = BPFInspector.pinned()
        let keep = FileManager.default.temporaryDirectory.appendingPathComponent("ntt-\(getpid())-btf").path
        try FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: keep) }
        // /sys/kernel gets an empty tmpfs; the kernel's BTF is moved back onto it, so only tracefs is missing.
        let script = """
            for m in /sys/kernel/tracing /sys/kernel/debug/tracing /sys/kernel/debug; do umount -l "$m" 2>/dev/null; done
            mount --bind /sys/kernel/btf "\(keep)" || exit 98
            mount -t tmpfs -o size=1m nettop-test /sys/kernel || exit 98
            mkdir /sys/kernel/btf && mount --move "\(keep)" /sys/kernel/btf || exit 98
            mount -o remount,ro /sys/kernel || exit 98
            exec "$0" "$@"
            """
        let nettop = try startRawNetTop(["--json", "--interval", "0.2"],
                                        wrapper: ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script])
        let status = nettop.waitForExit(timeout: 60)
        XCTAssertEqual(status, 69, "stderr: \(nettop.stderr)")
        let lines = nettop.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 2, "one line: \(nettop.stderr)")
        XCTAssertTrue(nettop.stderr.hasPrefix("nettop: tracefs is not mounted"), nettop.stderr)
        XCTAssertTrue(nettop.stderr.contains("mount -t tracefs tracefs /sys/kernel/tracing"), nettop.stderr)
        XCTAssertEqual(nettop.output, [])
        assertNoBPFLeft(BPFFootprint(), pinnedBefore: pinnedBefore, "tracefs unavailable")
    }

    /// Two nettops at once each load their own programs and both see the same traffic, exactly.
    func testTwoNetTopsAtOnceBothReportExactBytes() throws {
        let first = try startNetTop()
        let second = try startNetTop()
        let root = Namespace.root
        let x = try tcpExchange(serverAddress: "127.0.0.1", send: 250_000, reply: 40_000)
        let rows = expectedTCPRows(x, family: "v4", clientNs: root, serverNs: root, clientDirection: "local", serverDirection: "local")
        for nettop in [first, second] {
            for row in rows { assertRow(nettop, row) }
        }
        let udpServer = try startPeer(["udp-server", "--bind", "::1", "--port", "0", "--expect-datagrams", "4", "--echo"])
        let port = try udpServer.listeningPort()
        let client = try runPeer(["udp-client", "--connect", "::1", "--port", "\(port)", "--datagrams", "4", "--size", "321",
                                  "--connected", "--echo"]).first { $0.event == "udp" }
        let lport = try XCTUnwrap(client).lport
        for nettop in [first, second] {
            waitForRow(nettop, "udp client end", match: { $0.find(type: "udp", sport: lport, dport: port, netNs: root.inode) },
                       done: { $0.latest.sent == 4 * 321 && $0.latest.recv == 4 * 321 })
        }
        // Each has its own programs and maps: neither depends on the other's.
        let (a, b) = (BPFFootprint.of(pid: first.pid), BPFFootprint.of(pid: second.pid))
        XCTAssertFalse(a.programs.isEmpty || b.programs.isEmpty)
        XCTAssertTrue(a.programs.isDisjoint(with: b.programs) && a.maps.isDisjoint(with: b.maps), "\(a) / \(b)")
    }
}
