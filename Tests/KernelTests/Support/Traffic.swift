import Foundation
import XCTest

/// What both ends of one TCP exchange printed: the expectations nettop's rows are checked against.
struct TCPExchange {
    let client: PeerEvent   // the client's "tcp" line: lport, sent, recv, pid
    let server: PeerEvent   // the server's "tcp" line
    let serverPort: Int
}

/// The row of one socket end nettop must show, as the peers saw it.
struct ExpectedRow {
    var what: String
    var type: String
    var family: String
    var netNs: Namespace
    var source: String?          // nil: don't match on the local address (unconnected UDP sockets)
    var sport: Int
    var dest: String
    var dport: Int
    var direction: String?
    var pid: Int
    var sent: Int
    var recv: Int
    var closed: Bool              // must be seen with closed: true
}

extension KernelTestCase {
    /// Runs a TCP server (replying `reply` bytes) and a client (sending `send`), each optionally in a namespace.
    func tcpExchange(serverAddress: String, serverNs: Namespace? = nil, clientNs: Namespace? = nil,
                     send: Int, reply: Int, clientExtra: [String] = [], serverExtra: [String] = [],
                     timeoutMs: Int = 20_000) throws -> TCPExchange {
        let t = ["--timeout-ms", "\(timeoutMs)"]
        let server = try startPeer(["tcp-server", "--bind", serverAddress, "--port", "0", "--send", "\(reply)"] + serverExtra + t,
                                   in: serverNs)
        let port = try server.listeningPort()
        let client = try startPeer(["tcp-client", "--connect", serverAddress, "--port", "\(port)", "--send", "\(send)",
                                    "--recv-expect", "\(reply)"] + clientExtra + t, in: clientNs)
        let timeout = TimeInterval(timeoutMs) / 1000 + 5
        try client.finish(timeout: timeout)
        try server.finish(timeout: timeout)
        return TCPExchange(client: try XCTUnwrap(client.events("tcp").first), server: try XCTUnwrap(server.events("tcp").first),
                           serverPort: port)
    }

    /// The two rows of a finished TCP exchange.
    func expectedTCPRows(_ x: TCPExchange, family: String, clientNs: Namespace, serverNs: Namespace,
                         clientDirection: String, serverDirection: String) -> [ExpectedRow] {
        [
            ExpectedRow(what: "client end", type: "tcp", family: family, netNs: clientNs, source: x.client.local,
                        sport: x.client.lport, dest: x.client.remote, dport: x.serverPort, direction: clientDirection,
                        pid: x.client.pid, sent: x.client.int("sent"), recv: x.client.int("recv"), closed: true),
            ExpectedRow(what: "server end", type: "tcp", family: family, netNs: serverNs, source: x.server.local,
                        sport: x.serverPort, dest: x.server.remote, dport: x.server.rport, direction: serverDirection,
                        pid: x.server.pid, sent: x.server.int("sent"), recv: x.server.int("recv"), closed: true),
        ]
    }

    /// Waits for the row and checks every field against what the peers saw.
    @discardableResult
    func assertRow(_ nettop: NetTopRunner, _ e: ExpectedRow, checkPid: Bool = true, timeout: TimeInterval? = nil,
                   file: StaticString = #filePath, line: UInt = #line) -> ObservedRow? {
        let what = "\(e.what) \(e.type) \(e.source ?? "*"):\(e.sport) -> \(e.dest):\(e.dport) in \(e.netNs)"
        let row = waitForRow(nettop, what, timeout: timeout, match: {
            $0.find(type: e.type, sport: e.sport, dport: e.dport, source: e.source, dest: e.dest, netNs: e.netNs.inode)
        }, done: { r in
            r.latest.sent == e.sent && r.latest.recv == e.recv && (!e.closed || r.seenClosed)
        }, file: file, line: line)
        guard let row else {
            let near = nettop.table.involving(port: e.sport) + nettop.table.involving(port: e.dport)
            if !near.isEmpty {
                XCTFail("\(what): rows with its ports:\n  " + near.map(\.description).joined(separator: "\n  "), file: file, line: line)
            }
            return nil
        }
        let c = row.latest
        XCTAssertEqual(c.sent, e.sent, "\(what): monotonic_sent_bytes", file: file, line: line)
        XCTAssertEqual(c.recv, e.recv, "\(what): monotonic_recv_bytes", file: file, line: line)
        XCTAssertEqual(c.family, e.family, "\(what): family", file: file, line: line)
        if let d = e.direction { XCTAssertEqual(c.direction, d, "\(what): direction", file: file, line: line) }
        if checkPid {
            XCTAssertEqual(c.pid, e.pid, "\(what): pid", file: file, line: line)
            XCTAssertEqual(c.comm, "nettop-peer", "\(what): comm", file: file, line: line)
        }
        if e.closed { XCTAssertTrue(row.seenClosed, "\(what): never seen with closed: true", file: file, line: line) }
        XCTAssertFalse(row.wentBackwards, "\(what): monotonic counters went backwards", file: file, line: line)
        return row
    }
}
