import Foundation
@testable import NetTop
import TracerCore
import XCTest

/// The commands run end to end against a fake tracer, clock and terminal.
final class RunCommandTests: XCTestCase {
    private let rootMessage = "nettop: loading BPF programs needs root; run nettop with sudo."

    func testJSONWritesOneFlushedLinePerTickThenStops() throws {
        let world = FakeWorld()
        world.tracer = FakeTracer([Fixtures.snapshot([Fixtures.tcpV4]), Fixtures.snapshot([Fixtures.udpV6])])
        XCTAssertEqual(world.run(["--json", "--iterations", "2", "--interval", "0.5"]), 0)
        // One write per tick, each one whole line: a reader of a pipe sees every tick as it happens.
        XCTAssertEqual(world.writes.count, 2)
        let lines = world.writes.map { String(decoding: $0, as: UTF8.self) }
        XCTAssertTrue(lines.allSatisfy { $0.hasSuffix("}\n") && $0.filter { $0 == "\n" }.count == 1 })
        let objects = try lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual((objects[0]["connections"] as? [[String: Any]])?.first?["comm"] as? String, "curl")
        XCTAssertEqual((objects[1]["connections"] as? [[String: Any]])?.first?["comm"] as? String, "dnsmasq")
        XCTAssertEqual(world.tracer.clients, ["main", "main"])
        XCTAssertEqual(world.tracer.closeCount, 1)
        XCTAssertTrue(world.waiter.closed)
        // The first tick comes one interval after the start, the next one interval later.
        XCTAssertEqual(world.waiter.deadlines, [1_000.5, 1_001.0])
        XCTAssertEqual(world.errors, [])
    }

    func testFiltersAndSortApplyToJSON() throws {
        let world = FakeWorld()
        let rows = [Fixtures.tcpV4, Fixtures.udpV6, Fixtures.nated, Fixtures.closedLocal]
        world.tracer = FakeTracer([Fixtures.snapshot(rows)])
        XCTAssertEqual(world.run(["--json", "--iterations", "1", "--proto", "tcp", "--sort", "pid", "--reverse"]), 0)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(world.writes[0])) as? [String: Any])
        let pids = (object["connections"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int }
        XCTAssertEqual(pids, [4321, 1234, 900])
    }

    func testBatchRatesUseTheIntervalAndTicksAreSeparatedByABlankLine() {
        let world = FakeWorld()
        // First seen when the run began (the fake clock starts at 1,000 s).
        let row = Fixtures.row(sent: 4096, lastSent: 4096, recv: 0, lastRecv: 0, firstSeen: 1_000_000_000_000)
        world.tracer = FakeTracer([Fixtures.snapshot([row]), Fixtures.snapshot([row])])
        XCTAssertEqual(world.run(["--batch", "--iterations", "2", "--interval", "2"]), 0)
        let ticks = world.output.components(separatedBy: "\n\n")
        XCTAssertEqual(ticks.count, 2)
        XCTAssertTrue(ticks[0].hasPrefix("nettop 2023-11-14 22:13:20  backend tracepoint  rows 1"))
        XCTAssertTrue(ticks[1].hasPrefix("nettop 2023-11-14 22:13:20"))
        // 4096 bytes in a 2 s interval: 2.0 KiB/s; 4.0 KiB in total.
        XCTAssertTrue(ticks[0].contains("2.0 KiB   0 B  4.0 KiB"), ticks[0])
        // Its age at each tick, from the tick's clock.
        XCTAssertTrue(ticks[0].contains("  2s  ESTAB"), ticks[0])
        XCTAssertTrue(ticks[1].contains("  4s  ESTAB"), ticks[1])
    }

    func testStopSignalEndsCleanly() {
        let world = FakeWorld()
        world.waiter.stopAtWait = 2
        world.tracer = FakeTracer([Fixtures.snapshot([Fixtures.tcpV4])])
        XCTAssertEqual(world.run(["--json"]), 0)
        XCTAssertEqual(world.writes.count, 1)
        XCTAssertEqual(world.tracer.closeCount, 1)
        XCTAssertTrue(world.waiter.closed)
    }

    func testClosedStdoutIsACleanExit() {
        let world = FakeWorld()
        world.writeOutcomes = [.closed]
        XCTAssertEqual(world.run(["--json", "--iterations", "5"]), 0)
        XCTAssertEqual(world.writes.count, 1)
        XCTAssertEqual(world.tracer.clients.count, 1)
        XCTAssertEqual(world.tracer.closeCount, 1)
        XCTAssertEqual(world.errors, [])
    }

    func testWriteFailureIsReported() {
        let world = FakeWorld()
        world.writeOutcomes = [.failed(errno: ENOSPC)]
        XCTAssertEqual(world.run(["--json"]), 70)
        XCTAssertEqual(world.errors, ["nettop: cannot write to standard output: No space left on device."])
        XCTAssertEqual(world.tracer.closeCount, 1)
    }

    func testNotRootIsExit77WithOneSentence() {
        for arguments in [["--json"], ["--batch"], ["debug", "maps"], []] {
            let world = FakeWorld()
            world.root = false
            XCTAssertEqual(world.run(arguments), 77, "\(arguments)")
            XCTAssertEqual(world.errors, [rootMessage], "\(arguments)")
            XCTAssertTrue(world.openedConfigs.isEmpty, "\(arguments)")
        }
    }

    func testUsageErrorsComeBeforeThePrivilegeCheck() {
        let world = FakeWorld()
        world.root = false
        XCTAssertEqual(world.run(["--json", "--port", "0"]), 64)
        XCTAssertEqual(world.errors, ["nettop: --port must be between 1 and 65535 (got 0)"])
    }

    /// Without a terminal on stdout the UI says so in one sentence that points to --batch, before any BPF
    /// is loaded.
    func testInteractiveUIWithoutATerminalSuggestsBatch() {
        let world = FakeWorld()
        XCTAssertEqual(world.run(["--sort", "pid"]), 69)
        XCTAssertEqual(world.errors.count, 1)
        XCTAssertTrue(world.errors.first?.hasPrefix("nettop: the interactive UI needs a terminal") ?? false, "\(world.errors)")
        XCTAssertTrue(world.errors.first?.contains("--batch") ?? false)
        XCTAssertTrue(world.openedConfigs.isEmpty)
    }

    func testTracerErrorsKeepTheirExitCodeAndShowDetailOnlyWithDebug() {
        let error = NetTopError(.unavailable, "this kernel has no kprobes; use --backend tracepoint.",
                                detail: "libbpf: failed to create kprobe")
        let quiet = FakeWorld()
        quiet.openError = error
        XCTAssertEqual(quiet.run(["--json", "--backend", "kprobe"]), 69)
        XCTAssertEqual(quiet.errors, ["nettop: this kernel has no kprobes; use --backend tracepoint."])
        XCTAssertEqual(quiet.openedConfigs.first?.backend, .kprobe)

        let verbose = FakeWorld()
        verbose.openError = error
        XCTAssertEqual(verbose.run(["--json", "--backend", "kprobe", "--debug"]), 69)
        XCTAssertEqual(verbose.errors, ["nettop: this kernel has no kprobes; use --backend tracepoint.",
                                        "libbpf: failed to create kprobe"])
        XCTAssertEqual(verbose.openedConfigs.first?.bpfDebug, true)
    }

    func testTickErrorClosesTheTracer() {
        let world = FakeWorld()
        world.tracer.tickError = NetTopError(.software, "the ring buffer went away.")
        XCTAssertEqual(world.run(["--batch"]), 70)
        XCTAssertEqual(world.errors, ["nettop: the ring buffer went away."])
        XCTAssertEqual(world.tracer.closeCount, 1)
    }

    func testNetnsNameIsResolvedThroughTheDirectory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("netns-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("blue")
        XCTAssertTrue(FileManager.default.createFile(atPath: file.path, contents: Data()))
        var info = stat()
        XCTAssertEqual(stat(file.path, &info), 0)
        let inode = UInt32(truncatingIfNeeded: info.st_ino)

        let world = FakeWorld()
        world.netnsDirectory = directory.path
        world.tracer = FakeTracer([Fixtures.snapshot([Fixtures.row(netns: inode, pid: 1), Fixtures.row(pid: 2)])])
        XCTAssertEqual(world.run(["--json", "--iterations", "1", "--netns", "blue"]), 0)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(world.writes[0])) as? [String: Any])
        XCTAssertEqual((object["connections"] as? [[String: Any]])?.map { $0["pid"] as? Int }, [1])

        let unknown = FakeWorld()
        unknown.netnsDirectory = directory.path
        XCTAssertEqual(unknown.run(["--json", "--netns", "red"]), 64)
        XCTAssertEqual(unknown.errors, ["nettop: unknown network namespace 'red': there is no \(directory.path)/red"])
    }

    func testCheckRunsWithoutRootAndPrintsTheReport() {
        let world = FakeWorld()
        world.root = false
        world.report = SupportReport(supported: false, backend: "tracepoint",
                                     findings: ["root: no — BPF needs root", "btf: yes"], exitCode: 77)
        XCTAssertEqual(world.run(["check"]), 77)
        XCTAssertEqual(world.output, """
            nettop would use the tracepoint backend on this kernel, but it needs root to load its BPF programs; \
            run it with sudo.
            root: no — BPF needs root
            btf: yes

            """)
        XCTAssertEqual(world.errors, [])

        let ready = FakeWorld()
        XCTAssertEqual(ready.run(["check"]), 0)
        XCTAssertTrue(ready.output.hasPrefix("nettop can run on this kernel with the tracepoint backend.\n"))

        let unsupported = FakeWorld()
        unsupported.report = SupportReport(supported: false, backend: nil,
                                           findings: ["backend: none — no kprobes"], exitCode: 69)
        XCTAssertEqual(unsupported.run(["check", "--backend", "kprobe"]), 69)
        XCTAssertEqual(unsupported.output,
                       "nettop cannot run on this kernel with these options.\nbackend: none — no kprobes\n")
    }

    func testDebugPrintsTheTracersJSON() {
        let world = FakeWorld()
        XCTAssertEqual(world.run(["debug", "stats"]), 0)
        XCTAssertEqual(world.output, "{\"topic\":\"stats\"}\n")
        XCTAssertEqual(world.tracer.closeCount, 1)
    }
}
