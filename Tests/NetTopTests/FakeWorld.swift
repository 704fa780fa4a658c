@testable import NetTop
import TracerCore

/// A tracer that hands out prepared snapshots and records how it was used.
final class FakeTracer: KernelTracing {
    var snapshots: [Snapshot]
    var tickError: NetTopError?
    private(set) var clients: [String] = []
    private(set) var closeCount = 0
    let backendName = "tracepoint"

    init(_ snapshots: [Snapshot]) {
        self.snapshots = snapshots
    }

    func tick(client: String) throws(NetTopError) -> Snapshot {
        clients.append(client)
        if let tickError { throw tickError }
        return snapshots.isEmpty ? Fixtures.snapshot([]) : snapshots.removeFirst()
    }

    func close() { closeCount += 1 }

    func debugJSON(_ topic: DebugTopic) throws(NetTopError) -> String {
        #"{"topic":"\#(topic.rawValue)"}"#
    }
}

/// A clock that only moves when the waiter sleeps, so every tick covers exactly one interval.
final class FakeClock {
    var now = 1_000.0
}

final class FakeWaiter: TickWaiter {
    let clock: FakeClock
    /// Stop at the n-th wait (1-based); nil never stops.
    var stopAtWait: Int?
    private(set) var deadlines: [Double] = []
    private(set) var closed = false

    init(clock: FakeClock, stopAtWait: Int? = nil) {
        self.clock = clock
        self.stopAtWait = stopAtWait
    }

    func waitForStop(until deadline: Double) -> Bool {
        deadlines.append(deadline)
        if let stopAtWait, deadlines.count >= stopAtWait { return true }
        clock.now = max(clock.now, deadline)
        return false
    }

    func close() { closed = true }
}

/// Everything a command run left behind.
final class FakeWorld {
    var root = true
    var tracer = FakeTracer([])
    var openError: NetTopError?
    var openedConfigs: [TracerConfig] = []
    var report = SupportReport(supported: true, backend: "tracepoint",
                               findings: ["root: yes", "btf: yes — /sys/kernel/btf/vmlinux (CO-RE)"], exitCode: 0)
    var writes: [[UInt8]] = []
    var writeOutcomes: [WriteOutcome] = []
    var errors: [String] = []
    let clock = FakeClock()
    lazy var waiter = FakeWaiter(clock: clock)
    var netnsDirectory = "/nonexistent-netns-dir"

    var output: String { String(decoding: writes.joined(), as: UTF8.self) }

    var environment: AppEnvironment {
        AppEnvironment(
            isRoot: { self.root },
            openTracer: { config throws(NetTopError) in
                self.openedConfigs.append(config)
                if let error = self.openError { throw error }
                return self.tracer
            },
            checkSupport: { _ in self.report },
            netnsResolver: NetnsResolver(directory: netnsDirectory),
            writeRaw: { bytes in
                self.writes.append(Array(bytes))
                return self.writeOutcomes.isEmpty ? .written : self.writeOutcomes.removeFirst()
            },
            writeError: { self.errors.append($0) },
            makeWaiter: { () throws(NetTopError) in self.waiter },
            monotonicSeconds: { self.clock.now },
            utcOffset: { _ in 0 }
        )
    }

    /// Parses `arguments` as the real binary would and runs the result against this world.
    func run(_ arguments: [String]) -> Int32 {
        NetTopMain.run(arguments: arguments, environment: environment)
    }
}
