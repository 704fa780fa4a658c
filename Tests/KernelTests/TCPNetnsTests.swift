import XCTest

/// TCP between two test namespaces over a veth pair: the client's row is `outgoing` and carries the client
/// namespace's inode, the server's row `incoming` with the server namespace's inode; exact bytes both ways.
final class TCPNetnsTests: KernelTestCase {
    func testIPv4BetweenNamespaces() throws {
        try betweenNamespaces(v6: false)
    }

    func testIPv6BetweenNamespaces() throws {
        try betweenNamespaces(v6: true)
    }

    private func betweenNamespaces(v6: Bool) throws {
        let sandbox = makeSandbox()
        let clientNs = try sandbox.makeNamespace(), serverNs = try sandbox.makeNamespace()
        let link = try sandbox.link(clientNs, serverNs)
        let nettop = try startNetTop()
        let x = try tcpExchange(serverAddress: v6 ? link.v6B : link.v4B, serverNs: serverNs, clientNs: clientNs,
                                send: 1_000_000, reply: 123_457)
        XCTAssertEqual(x.client.local, canonicalAddress(v6 ? link.v6A : link.v4A))
        for row in expectedTCPRows(x, family: v6 ? "v6" : "v4", clientNs: clientNs, serverNs: serverNs,
                                   clientDirection: "outgoing", serverDirection: "incoming") {
            assertRow(nettop, row)
        }
    }
}
