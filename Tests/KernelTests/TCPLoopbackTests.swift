import XCTest

/// TCP on loopback: the client writes 1,000,000 bytes, the server replies 123,457; both ends are rows of
/// their own with exact bytes, direction `local`, in the root namespace.
final class TCPLoopbackTests: KernelTestCase {
    func testIPv4LoopbackExactBytesBothEnds() throws {
        try loopback("127.0.0.1", family: "v4")
    }

    func testIPv6LoopbackExactBytesBothEnds() throws {
        try loopback("::1", family: "v6")
    }

    /// The same exchange with write()/read() on both ends, and with sendfile() (from a file) and recv().
    func testWriteReadAndSendfileAreCountedExactly() throws {
        let nettop = try startNetTop()
        for (address, family, api) in [("127.0.0.1", "v4", "write"), ("::1", "v6", "write"), ("127.0.0.1", "v4", "sendfile"), ("::1", "v6", "sendfile")] {
            let x = try tcpExchange(serverAddress: address, send: 1_000_000, reply: 123_457,
                                    clientExtra: ["--api", api], serverExtra: ["--api", api])
            let root = Namespace.root
            for var row in expectedTCPRows(x, family: family, clientNs: root, serverNs: root, clientDirection: "local", serverDirection: "local") {
                row.what += " (\(api))"
                assertRow(nettop, row)
            }
        }
    }

    private func loopback(_ address: String, family: String) throws {
        let nettop = try startNetTop()
        let x = try tcpExchange(serverAddress: address, send: 1_000_000, reply: 123_457)
        XCTAssertEqual(x.client.int("sent"), 1_000_000)
        XCTAssertEqual(x.server.int("sent"), 123_457)
        let root = Namespace.root
        for row in expectedTCPRows(x, family: family, clientNs: root, serverNs: root, clientDirection: "local", serverDirection: "local") {
            if let seen = assertRow(nettop, row) {
                // For the record (the closing note): what the peers moved against what nettop saw.
                print("known traffic \(row.what): peer sent \(row.sent) recv \(row.recv); nettop row: \(seen)")
            }
        }
        XCTAssertFalse(nettop.table.backends.contains(""), "every tick names its backend")
    }
}
