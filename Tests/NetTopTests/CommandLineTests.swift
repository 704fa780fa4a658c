import Foundation
@testable import NetTop
import TracerCore
import XCTest

final class CommandLineTests: XCTestCase {
    /// The status and the stderr line of a bad command line, or a failure when it parsed.
    private func usageError(_ arguments: [String], file: StaticString = #filePath,
                            line: UInt = #line) -> (status: Int32, message: String)? {
        switch CommandLineParser.parse(arguments) {
        case .run:
            XCTFail("\(arguments) parsed", file: file, line: line)
            return nil
        case .exit(let status, let standardOutput, let standardError):
            XCTAssertEqual(standardOutput, "", file: file, line: line)
            return (status, standardError)
        }
    }

    func testEveryBadUsageIsOneLineAndExit64() {
        let cases: [([String], String)] = [
            (["--bogus"], "Unknown option '--bogus'"),
            (["--interval", "0"], "--interval must be a number of seconds greater than 0 (got 0)"),
            (["--interval", "-1"], "--interval must be a number of seconds greater than 0 (got -1)"),
            (["--interval", "nan"], "--interval must be a number of seconds greater than 0 (got nan)"),
            (["--port", "70000"], "--port must be between 1 and 65535 (got 70000)"),
            (["--port", "0"], "--port must be between 1 and 65535 (got 0)"),
            (["--backend", "bogus"], "The value 'bogus' is invalid for '--backend <auto|tracepoint|fentry|kprobe>'"),
            (["--proto", "sctp"], "The value 'sctp' is invalid for '--proto <tcp|udp>'"),
            (["--max-connections", "0"], "--max-connections must be between 1 and 2147483647 (got 0)"),
            (["--max-connections", "-5"], "--max-connections must be between 1 and 2147483647 (got -5)"),
            (["--iterations", "0"], "--iterations must be at least 1 (got 0)"),
            (["--tcp-timeout", "0"], "--tcp-timeout must be a number of seconds greater than 0 (got 0)"),
            (["--udp-timeout", "-2.5"], "--udp-timeout must be a number of seconds greater than 0 (got -2.5)"),
            (["--conntrack-buffer", "0"], "--conntrack-buffer must be between 1 and 2147483647 (got 0)"),
            (["--pid", "-1"], "The value '-1' is invalid for '--pid <PID>'"),
            (["--sort", "size"], "The value 'size' is invalid for '--sort <KEY>'"),
            (["--netns", "../etc"], "The value '../etc' is invalid for '--netns <INODE|NAME>'"),
            (["--batch", "--json"], "--batch and --json cannot be used together"),
            (["--no-tcp", "--no-udp"], "--no-tcp and --no-udp together leave nothing to collect"),
            (["--proto", "udp", "--no-udp"], "--proto udp shows nothing with --no-udp"),
            (["--interval"], "Missing value for '--interval <SECONDS>'"),
            (["debug"], "Missing expected argument '<offsets|maps|state|stats>'"),
            (["debug", "everything"], "The value 'everything' is invalid for '<offsets|maps|state|stats>'"),
            (["check", "--bogus"], "Unknown option '--bogus'"),
            (["check", "--json"], "--json is an option of the monitor, not of 'nettop check'"),
            (["debug", "maps", "--interval=2"], "--interval is an option of the monitor, not of 'nettop debug'"),
            (["--sort", "pid", "debug", "maps"], "--sort is an option of the monitor, not of 'nettop debug'"),
        ]
        for (arguments, problem) in cases {
            guard let (status, message) = usageError(arguments) else { continue }
            XCTAssertEqual(status, 64, "\(arguments)")
            XCTAssertTrue(message.hasPrefix("nettop: " + problem), "\(arguments): \(message)")
            XCTAssertTrue(message.hasSuffix("\n"), "\(arguments)")
            XCTAssertEqual(message.filter { $0 == "\n" }.count, 1, "\(arguments): \(message)")
        }
    }

    func testValueListsBecomeOneLine() {
        let message = usageError(["--sort", "size"])?.message
        XCTAssertEqual(message, "nettop: The value 'size' is invalid for '--sort <KEY>'. Please provide one of the "
            + "following: rate, bytes, sent, recv, retrans, age, pid, comm, proto, port, netns\n")
    }

    func testHelpExitsZeroOnStdout() {
        for arguments in [["--help"], ["-h"], ["check", "--help"], ["help", "debug"]] {
            guard case .exit(let status, let standardOutput, let standardError) = CommandLineParser.parse(arguments)
            else { return XCTFail("\(arguments) did not print help") }
            XCTAssertEqual(status, 0, "\(arguments)")
            XCTAssertEqual(standardError, "", "\(arguments)")
            XCTAssertTrue(standardOutput.contains("USAGE: nettop"), "\(arguments): \(standardOutput)")
        }
        guard case .exit(_, let help, _) = CommandLineParser.parse(["--help"]) else { return XCTFail() }
        for word in ["--batch", "--json", "--sort <KEY>", "rate", "netns", "--backend", "check", "debug"] {
            XCTAssertTrue(help.contains(word), word)
        }
    }

    func testEveryOptionReachesItsValue() throws {
        let arguments = ["--json", "--interval", "0.5", "--iterations", "3", "--sort", "pid", "--reverse",
                         "--netns", "4026531840", "--pid", "42", "--proto", "udp", "--port", "53",
                         "--no-tcp", "--no-ipv6", "--tcp-timeout", "60", "--udp-timeout", "10.5",
                         "--max-connections", "1000", "--no-conntrack", "--conntrack-buffer", "100",
                         "--backend", "tracepoint", "--no-btf", "--debug"]
        guard case .run(let runnable) = CommandLineParser.parse(arguments) else { return XCTFail("not parsed") }
        let command = try XCTUnwrap(runnable as? NetTopCommand)
        XCTAssertEqual(command.output.mode, .json)
        XCTAssertEqual(command.output.interval, 0.5)
        XCTAssertEqual(command.output.iterations, 3)
        let view = try command.view.viewOptions(resolver: NetnsResolver())
        XCTAssertEqual(view, ViewOptions(sort: .pid, reverse: true, netns: 4_026_531_840, pid: 42, proto: .udp, port: 53))
        let config = command.tracer.config
        XCTAssertFalse(config.collectTCP)
        XCTAssertTrue(config.collectUDP)
        XCTAssertFalse(config.collectIPv6)
        XCTAssertEqual(config.tcpTimeoutSeconds, 60)
        XCTAssertEqual(config.udpTimeoutSeconds, 10.5)
        XCTAssertEqual(config.maxConnections, 1000)
        XCTAssertFalse(config.enableConntrack)
        XCTAssertEqual(config.conntrackBufferSize, 100)
        XCTAssertEqual(config.backend, .tracepoint)
        XCTAssertFalse(config.useBTF)
        XCTAssertTrue(config.bpfDebug)
    }

    func testDefaults() throws {
        guard case .run(let runnable) = CommandLineParser.parse([]) else { return XCTFail("not parsed") }
        let command = try XCTUnwrap(runnable as? NetTopCommand)
        XCTAssertEqual(command.output.mode, .interactive)
        XCTAssertEqual(command.output.interval, 1)
        XCTAssertNil(command.output.iterations)
        XCTAssertEqual(try command.view.viewOptions(resolver: NetnsResolver()), ViewOptions())
        XCTAssertEqual(command.tracer.config, TracerConfig())
    }

    func testSubcommandsParse() throws {
        guard case .run(let debug) = CommandLineParser.parse(["debug", "offsets", "--no-btf"]) else {
            return XCTFail("debug not parsed")
        }
        XCTAssertEqual((debug as? DebugCommand)?.topic, .offsets)
        XCTAssertEqual((debug as? DebugCommand)?.tracer.config.useBTF, false)
        guard case .run(let check) = CommandLineParser.parse(["check", "--backend", "kprobe"]) else {
            return XCTFail("check not parsed")
        }
        XCTAssertEqual((check as? CheckCommand)?.tracer.config.backend, .kprobe)
    }

    // MARK: The built binary, end to end

    private func nettopBinary() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["NETTOP_BIN"] {
            return URL(fileURLWithPath: path)
        }
        let bundle = Bundle.main.bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()]
            .map { $0.appendingPathComponent("nettop") }
        return try XCTUnwrap(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                             "no nettop binary in \(candidates.map(\.path)); build it or set NETTOP_BIN")
    }

    private func runBinary(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = try nettopBinary()
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self),
                String(decoding: errData, as: UTF8.self))
    }

    func testBinaryRejectsBadIntervalWithOneLine() throws {
        let result = try runBinary(["--json", "--interval", "0"])
        XCTAssertEqual(result.status, 64)
        XCTAssertEqual(result.err, "nettop: --interval must be a number of seconds greater than 0 (got 0)\n")
        XCTAssertEqual(result.out, "")
    }

    func testBinaryRejectsUnknownBackendWithOneLine() throws {
        let result = try runBinary(["--batch", "--backend", "bogus"])
        XCTAssertEqual(result.status, 64)
        XCTAssertEqual(result.err, "nettop: The value 'bogus' is invalid for '--backend <auto|tracepoint|fentry|kprobe>'. "
            + "Please provide one of 'auto', 'tracepoint', 'fentry' or 'kprobe'.\n")
    }

    func testBinaryHelpExitsZero() throws {
        let result = try runBinary(["--help"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.err, "")
        XCTAssertTrue(result.out.hasPrefix("OVERVIEW: "), result.out)
        XCTAssertTrue(result.out.contains("nettop check"))
    }
}
