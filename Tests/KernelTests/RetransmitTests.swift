import XCTest

/// `monotonic_retransmits` counts retransmitted segments: > 0 when an nft rule in the server's namespace
/// drops 30 % of the TCP packets arriving on its veth, exactly 0 for the same transfer without the rule.
/// Bytes stay exact either way: retransmitted copies are not payload the application sent.
final class RetransmitTests: KernelTestCase {
    private let bytes = 400_000

    func testRetransmitsCountedWhenPacketsAreDropped() throws {
        let (client, _) = try transfer(dropping: true)
        let row = try XCTUnwrap(client, "client row")
        XCTAssertGreaterThan(row.maxRetransmits, 0, "client end, with 30 % of its segments dropped: \(row)")
    }

    func testNoRetransmitsWithoutDrops() throws {
        let (client, server) = try transfer(dropping: false)
        for row in [client, server].compactMap({ $0 }) {
            XCTAssertEqual(row.maxRetransmits, 0, "no loss, no retransmits: \(row)")
        }
    }

    /// Client in namespace A sends `bytes` to a server in namespace B (v4 over a veth pair) and gets 1000 back.
    private func transfer(dropping: Bool) throws -> (client: ObservedRow?, server: ObservedRow?) {
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
        return (rows[0], rows[1])
    }
}
