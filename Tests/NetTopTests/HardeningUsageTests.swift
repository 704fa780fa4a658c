import Foundation
import XCTest

/// Bad command lines given to the real binary: each exits 64 with exactly one line on stderr naming the
/// problem, and nothing on stdout. (CommandLineTests covers the parser in-process, and the binary for
/// `--interval 0` and `--backend bogus`; these are the rest, end to end.) None of them needs root.
final class HardeningUsageTests: XCTestCase {
    func testBadUsageThroughTheBinaryIsOneLineAndExit64() throws {
        let missingNamespace = "ntt-nosuch-\(getpid())"
        let cases: [([String], String)] = [
            (["--bogus"], "nettop: Unknown option '--bogus'"),
            (["-x"], "nettop: Unknown option '-x'"),
            (["--json", "extra"], "nettop: Unexpected argument 'extra'"),
            (["--json", "--interval", "-1"], "nettop: --interval must be a number of seconds greater than 0 (got -1)"),
            (["--batch", "--interval", "-0.5"], "nettop: --interval must be a number of seconds greater than 0 (got -0.5)"),
            (["--json", "--interval", "abc"], "nettop: The value 'abc' is invalid for '--interval <SECONDS>'"),
            (["--json", "--interval="], "nettop: Missing value for '--interval <SECONDS>'"),
            (["--batch", "--netns", missingNamespace],
             "nettop: unknown network namespace '\(missingNamespace)': there is no /run/netns/\(missingNamespace)"),
            (["--json", "--port", "70000"], "nettop: --port must be between 1 and 65535 (got 70000)"),
            (["--json", "--port", "99999999999999999999999"],
             "nettop: The value '99999999999999999999999' is invalid for '--port <N>'"),
            (["--json", "--pid", "99999999999"], "nettop: The value '99999999999' is invalid for '--pid <PID>'"),
            (["--json", "--iterations", "-3"], "nettop: --iterations must be at least 1 (got -3)"),
            (["--json", "--netns", "0"], "nettop: The value '0' is invalid for '--netns <INODE|NAME>'"),
            (["check", "--port", "80"], "nettop: --port is an option of the monitor, not of 'nettop check'"),
            // The interactive mode: bad usage is reported before it looks for a terminal.
            (["--no-tcp", "--no-udp"], "nettop: --no-tcp and --no-udp together leave nothing to collect"),
        ]
        for (arguments, expected) in cases {
            let result = try HardeningBinary.run(arguments)
            XCTAssertEqual(result.status, 64, "\(arguments): stderr \(result.stderr)")
            XCTAssertEqual(result.stderr, expected + "\n", "\(arguments)")
            XCTAssertEqual(result.stdout, [], "\(arguments): stdout must stay empty")
        }
    }

    /// A value holding a newline, an escape sequence or a BEL is echoed in the error: the line must stay one
    /// line and must not carry the raw control bytes to the user's terminal (it could clear the screen or
    /// retitle the window).
    func testHostileArgumentValuesAreEscapedInTheOneLine() throws {
        let cases: [[String]] = [
            ["--json", "--netns", "evil\u{1b}[2J\nname"],
            ["--bo\u{1b}]0;owned\u{07}gus"],
            ["--json", "--sort", "\u{1b}[31mred"],
            ["--json", "--interval", "1\n2"],
            ["--batch", "--port", "\u{1b}c"],
        ]
        for arguments in cases {
            let result = try HardeningBinary.run(arguments)
            XCTAssertEqual(result.status, 64, "\(arguments.debugDescription)")
            XCTAssertEqual(result.stdout, [], "\(arguments.debugDescription)")
            XCTAssertEqual(result.stderrBytes.filter { $0 == 0x0a }.count, 1,
                           "\(arguments.debugDescription): \(result.stderr.debugDescription)")
            XCTAssertEqual(result.stderrBytes.last, 0x0a, "\(arguments.debugDescription)")
            let controls = result.stderrBytes.dropLast().filter { $0 < 0x20 || $0 == 0x7f }
            XCTAssertEqual(controls, [], "\(arguments.debugDescription): raw control bytes in \(result.stderr.debugDescription)")
            XCTAssertTrue(result.stderr.hasPrefix("nettop: "), result.stderr.debugDescription)
        }
        // Escaped, not dropped: the user can still see what was wrong.
        let named = try HardeningBinary.run(["--json", "--netns", "evil\u{1b}[2J"])
        XCTAssertEqual(named.stderr, "nettop: unknown network namespace 'evil\\x1b[2J': there is no /run/netns/evil\\x1b[2J\n")
    }
}

/// The built `nettop` run to completion with its raw output (NETTOP_BIN, else beside the test bundle).
enum HardeningBinary {
    struct Result {
        var status: Int32
        var stdout: [UInt8]
        var stderrBytes: [UInt8]
        var stderr: String { String(decoding: stderrBytes, as: UTF8.self) }
    }

    static var path: String {
        if let path = ProcessInfo.processInfo.environment["NETTOP_BIN"] { return path }
        let bundle = Bundle.main.bundleURL
        return [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("nettop").path }
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "nettop"
    }

    /// Runs nettop with `arguments`, stdin from /dev/null; bounded by `timeout` seconds (then killed).
    static func run(_ arguments: [String], timeout: TimeInterval = 30) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return Result(status: process.terminationStatus, stdout: [UInt8](outData), stderrBytes: [UInt8](errData))
    }
}
