import XCTest

/// `monotonic_retransmits` counts retransmitted segments. Each end lives alone in its own namespace, so the
/// namespace's `TcpRetransSegs` (/proc/net/snmp, per netns) is the kernel's own count for that one socket:
/// nettop never shows more than it, shows 0 when it is 0, and > 0 when an nft rule in the server's namespace
/// drops 30 % of the TCP packets arriving on its veth. (Without the rule the kernel still retransmits now and
/// then when the machine is slow — under emulation an RTO can fire before the ACK — which is why the bound
/// is the kernel's count, not a literal 0.) Bytes stay exact either way: retransmitted copies are not payload.
final class RetransmitTests: KernelTestCase {
    private let bytes = 400_000

    func testRetransmitsCountedWhenPacketsAreDropped() throws {
        let t = try transfer(dropping: true)
        let row = try XCTUnwrap(t.client, "client row")
        XCTAssertGreaterThan(t.clientKernelRetrans, 0, "the kernel retransmitted in the client's namespace")
        XCTAssertGreaterThan(row.maxRetransmits, 0, "client end, with 30 % of its segments dropped: \(row)")
        XCTAssertLessThanOrEqual(row.maxRetransmits, t.clientKernelRetrans, "never more than the kernel's TcpRetransSegs: \(row)")
    }

    func testRetransmitsWithoutDropsMatchTheKernel() throws {
        let t = try transfer(dropping: false)
        for (row, kernel) in [(t.client, t.clientKernelRetrans), (t.server, t.serverKernelRetrans)] {
            let row = try XCTUnwrap(row)
            XCTAssertLessThanOrEqual(row.maxRetransmits, kernel, "never more than the kernel's TcpRetransSegs: \(row)")
            if kernel == 0 { XCTAssertEqual(row.maxRetransmits, 0, "the kernel retransmitted nothing: \(row)") }
        }
    }

    private struct Transfer {
        var client: ObservedRow?, server: ObservedRow?
        var clientKernelRetrans: Int, serverKernelRetrans: Int
    }

    /// Client in namespace A sends `bytes` to a server in namespace B (v4 over a veth pair) and gets 1000 back.
    private func transfer(dropping: Bool) throws -> Transfer {
        let sandbox = makeSandbox()
        let clientNs = try sandbox.makeNamespace(), serverNs = try sandbox.makeNamespace()
        let link = try sandbox.link(clientNs, serverNs)
        if dropping {
            try sandbox.nft(in: serverNs, """
                table inet ntt {
                    chain input {
                        type filter hook input priority 0; policy accept;
                        iifname "\(link.ifB)" meta l4proto tcp numgen random mod 10 < 3 drop
                    }
                }
                """)
        }
        let nettop = try startNetTop()
        let x = try tcpExchange(serverAddress: link.v4B, serverNs: serverNs, clientNs: clientNs, send: bytes, reply: 1000,
                                timeoutMs: 90_000)
        let rows = expectedTCPRows(x, family: "v4", clientNs: clientNs, serverNs: serverNs,
                                   clientDirection: "outgoing", serverDirection: "incoming").map { assertRow(nettop, $0) }
        // Read after the rows are final: assertRow waited for both ends to be seen closed.
        return Transfer(client: rows[0], server: rows[1],
                        clientKernelRetrans: try retransSegs(sandbox, clientNs),
                        serverKernelRetrans: try retransSegs(sandbox, serverNs))
    }

    /// `Tcp: RetransSegs` of the namespace's /proc/net/snmp (a header line of names, then a line of values).
    private func retransSegs(_ sandbox: NetnsSandbox, _ ns: Namespace) throws -> Int {
        let r = try sandbox.run(in: ns, ["cat", "/proc/net/snmp"])
        let tcp = r.stdout.split(separator: "\n").filter { $0.hasPrefix("Tcp:") }.map { $0.split(separator: " ") }
        guard tcp.count == 2, let i = tcp[0].firstIndex(of: "RetransSegs"), i < tcp[1].count, let n = Int(tcp[1][i]) else {
            throw KernelTestError("no Tcp RetransSegs in \(ns)'s /proc/net/snmp: \(r.stdout) \(r.stderr)")
        }
        return n
    }
}
