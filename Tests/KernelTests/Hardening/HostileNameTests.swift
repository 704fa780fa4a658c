import Foundation
import Glibc
import XCTest

/// A process may name itself anything (prctl(PR_SET_NAME), 15 bytes): here an OSC window-title sequence,
/// a BEL, a clear-screen sequence, a newline and two bytes that are not UTF-8. A network namespace name
/// may hold escapes and a newline too. nettop must show them escaped — never write the raw bytes to the
/// terminal or break a JSON line — both for a connection it found at start (/proc) and one it traced.
final class HostileNameTests: KernelTestCase {
    /// ESC ] 0 ; p w n BEL ESC [ 2 J LF 0xFF 0xFE
    static let hostileName: [UInt8] = [0x1b, 0x5d, 0x30, 0x3b, 0x70, 0x77, 0x6e, 0x07, 0x1b, 0x5b, 0x32, 0x4a, 0x0a, 0xff, 0xfe]
    /// As JSON carries it (escaped there, decoded here): invalid UTF-8 becomes U+FFFD.
    static let decodedName = "\u{1b}]0;pwn\u{07}\u{1b}[2J\n\u{FFFD}\u{FFFD}"
    /// As the batch table shows it.
    static let escapedName = "\\x1b]0;pwn\\x07\\x1b[2J\\x0a\u{FFFD}\u{FFFD}"

    func testHostileCommandIsEscapedInJSON() throws {
        let server = try startPeer(["tcp-server", "--bind", "127.0.0.1", "--port", "0", "--send", "500", "--timeout-ms", "90000"])
        let port = try server.listeningPort()
        // Connected before nettop starts: its row comes from the start scan, with the name read from /proc.
        let client = try startHostileClient(port: port, send: 1234)
        let lport = try client.connectedPort()
        let nettop = try startRawNetTop(["--json", "--interval", "0.2", "--port", "\(port)"])
        let clientRow: () -> [String: Any]? = {
            nettop.ticks.lazy.flatMap { ($0["connections"] as? [[String: Any]]) ?? [] }
                .last { ($0["sport"] as? Int) == lport && ($0["dport"] as? Int) == port }
        }
        let lastTick = { nettop.lines.last.map { String(decoding: $0.suffix(700), as: UTF8.self) } ?? "no tick" }
        XCTAssertTrue(nettop.waitFor(timeout: 60) { clientRow() != nil },
                      "seeded row never shown; last tick: \(lastTick()); stderr: \(nettop.stderr)")
        XCTAssertEqual(clientRow()?["comm"] as? String, Self.decodedName, "name of the connection found at start")

        // Traffic now: the traced row carries the name the kernel gives (bpf_get_current_comm).
        client.go()
        XCTAssertEqual(try client.done(), 500)
        XCTAssertTrue(nettop.waitFor(timeout: rowTimeout) {
            (clientRow()?["monotonic_sent_bytes"] as? Int) == 1234 && (clientRow()?["closed"] as? Bool) == true
        }, "traced row: \(String(describing: clientRow())); last tick: \(lastTick())")
        XCTAssertEqual(clientRow()?["comm"] as? String, Self.decodedName, "name of the traced connection")
        XCTAssertEqual(clientRow()?["monotonic_recv_bytes"] as? Int, 500)

        nettop.signal(SIGINT)
        XCTAssertEqual(nettop.waitForExit(timeout: 15), 0, "stderr: \(nettop.stderr)")
        let output = nettop.output
        assertTerminalSafe(output, allowing: [0x0a], "JSON output")
        for (n, line) in nettop.lines.enumerated() {
            XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(line)), "line \(n) is not JSON")
        }
    }

    func testHostileCommandAndNamespaceNameAreEscapedInBatch() throws {
        // A namespace named with an escape sequence, a BEL and a newline, removed at teardown.
        let nsName = "ntt-\(getpid())-h\u{1b}[31m\u{07}\nx"
        try mustRun(ipTool, ["netns", "add", nsName])
        addTeardownBlock { _ = try? runCommand(ipTool, ["netns", "del", nsName]) }
        try mustRun(ipTool, ["-n", nsName, "link", "set", "lo", "up"])
        var st = stat()
        XCTAssertEqual(stat("/run/netns/\(nsName)", &st), 0)
        let ns = Namespace(name: nsName, inode: UInt64(st.st_ino))

        let server = try startPeer(["tcp-server", "--bind", "127.0.0.1", "--port", "0", "--send", "500", "--timeout-ms", "90000"],
                                   in: ns)
        let port = try server.listeningPort()
        let nettop = try startRawNetTop(["--batch", "--interval", "0.2", "--port", "\(port)"])
        XCTAssertTrue(nettop.waitForLines(1, timeout: 60), "no batch output; stderr: \(nettop.stderr)")
        let client = try startHostileClient(port: port, send: 4321, in: ns)
        let lport = try client.connectedPort()
        client.go()
        XCTAssertEqual(try client.done(), 500)

        let escapedNamespace = "ntt-\(getpid())-h\\x1b[31m\\x07\\x0ax"
        // The client's row: LOCAL (the fifth column) is its end; the name holds no blank, so columns split.
        let rowLine: () -> String? = {
            nettop.lines.lazy.map { String(decoding: $0, as: UTF8.self) }.last { line in
                let columns = line.split(separator: " ")
                return columns.count > 4 && columns[4] == "127.0.0.1:\(lport)" && line.hasSuffix("closed")
            }
        }
        XCTAssertTrue(nettop.waitFor(timeout: rowTimeout) { rowLine() != nil },
                      "closed client row never shown:\n\(String(decoding: nettop.output.suffix(3000), as: UTF8.self))")
        let row = rowLine() ?? ""
        XCTAssertTrue(row.contains(Self.escapedName), "command not shown escaped: \(row.debugDescription)")
        XCTAssertTrue(row.contains(escapedNamespace), "namespace name not shown escaped: \(row.debugDescription)")
        XCTAssertTrue(row.contains("4.2 KiB"), "4321 bytes sent: \(row.debugDescription)")

        nettop.signal(SIGTERM)
        XCTAssertEqual(nettop.waitForExit(timeout: 15), 0, "stderr: \(nettop.stderr)")
        assertTerminalSafe(nettop.output, allowing: [0x0a], "batch output")
    }

    // MARK: - Helpers

    /// No byte below 0x20 but those allowed, no DEL, no C1 control, and valid UTF-8 throughout.
    func assertTerminalSafe(_ bytes: [UInt8], allowing allowed: Set<UInt8>, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        let controls = bytes.enumerated().filter { ($0.element < 0x20 && !allowed.contains($0.element)) || $0.element == 0x7f }
        XCTAssertTrue(controls.isEmpty, "\(what): raw control bytes at \(controls.prefix(5).map { "\($0.offset): \($0.element)" })",
                      file: file, line: line)
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            return XCTFail("\(what): not valid UTF-8", file: file, line: line)
        }
        let c1 = text.unicodeScalars.filter { (0x80...0x9f).contains($0.value) }
        XCTAssertTrue(c1.isEmpty, "\(what): C1 control characters \(c1.map(\.value))", file: file, line: line)
    }

    func startHostileClient(port: Int, send: Int, in ns: Namespace? = nil) throws -> HostileClient {
        let client = try HostileClient(name: Self.hostileName, port: port, send: send, in: ns)
        addTeardownBlock { client.terminate() }
        return client
    }
}

/// A tiny python3 client that renames itself (prctl(PR_SET_NAME)), connects to 127.0.0.1:PORT, says
/// "connected LPORT", and on the line "go" sends N bytes, reads the reply to EOF, closes and says
/// "done RECEIVED".
final class HostileClient: @unchecked Sendable {
    static let script = """
        import ctypes, socket, sys
        name, port, size = bytes.fromhex(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0) != 0:
            sys.exit("prctl failed")
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        print("connected", s.getsockname()[1], flush=True)
        if sys.stdin.readline().strip() != "go":
            sys.exit("no go")
        s.sendall(b"x" * size)
        s.shutdown(socket.SHUT_WR)
        got = 0
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += len(chunk)
        s.close()
        print("done", got, flush=True)
        """

    private let child: ChildProcess
    private let output = Lines()

    init(name: [UInt8], port: Int, send: Int, in ns: Namespace?) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ntt-\(getpid())-hostile.py").path
        try Self.script.write(toFile: path, atomically: true, encoding: .utf8)
        let hex = name.map { String(format: "%02x", $0) }.joined()
        let python = ["/usr/bin/python3", "-I", path, hex, "\(port)", "\(send)"]
        let (executable, arguments) = ns.map { (ipTool, ["netns", "exec", $0.name] + python) }
            ?? (python[0], Array(python.dropFirst()))
        let lines = output
        child = try ChildProcess(label: "hostile client", executable: executable, arguments: arguments) { lines.append($0) }
    }

    private func waitForLine(_ prefix: String, timeout: TimeInterval = 30) throws -> String {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let line = output.all.first(where: { $0.hasPrefix(prefix + " ") }) { return line }
            if !child.isRunning, output.all.first(where: { $0.hasPrefix(prefix + " ") }) == nil {
                usleep(100_000)
                if let line = output.all.first(where: { $0.hasPrefix(prefix + " ") }) { return line }
                throw KernelTestError("hostile client exited without '\(prefix)'; stderr: \(child.stderr)")
            }
            usleep(10_000)
        }
        throw KernelTestError("hostile client: no '\(prefix)' within \(timeout) s; stderr: \(child.stderr)")
    }

    func connectedPort() throws -> Int {
        guard let port = Int(try waitForLine("connected").split(separator: " ")[1]) else {
            throw KernelTestError("hostile client: bad 'connected' line")
        }
        return port
    }

    func go() { child.writeLine("go") }

    /// Bytes received before EOF.
    func done() throws -> Int { Int(try waitForLine("done").split(separator: " ")[1]) ?? -1 }

    func terminate() { child.terminate() }
}
