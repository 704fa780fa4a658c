import CBPF
import Foundation
import Glibc

/// Offset guessing, the I/O half: loads offset_guess.bpf.c, makes the loopback TCP connections the state
/// machine (OffsetGuess/OffsetGuessMachine) asks for, and feeds it what the kernel side read from each
/// connection's struct sock. Used where CO-RE is not possible (no BTF, or --no-btf).
///
/// Everything runs on one dedicated thread: the kernel side recognises the connections by that thread's
/// (unique) name, and only that thread enters the guesser's second network namespace.
enum OffsetGuesser {
    /// Which entry point of offset_guess.bpf.c to use.
    enum Hook: Sendable {
        case tracepoint   // sock:inet_sock_set_state
        case kprobe       // tcp_shutdown

        var program: String { self == .tracepoint ? "guess_inet_sock_set_state" : "guess_tcp_shutdown" }
    }

    /// Guesses every field the no-BTF object reads; a clear error when it cannot.
    static func guess(hook: Hook, debug: Bool) throws(NetTopError) -> GuessedOffsets {
        guard let bytes = Data(base64Encoded: BPFObjects.offset_guess) else {
            throw NetTopError(.software, "the embedded offset-guessing BPF object is damaged; rebuild nettop with `make nettop`.")
        }
        let bpf = try BPFObject(bytes: [UInt8](bytes), name: "offset_guess", btfPath: nil, debug: debug) { object throws(NetTopError) in
            var prog = bpf_object__next_program(object, nil)
            while let p = prog {
                bpf_program__set_autoload(p, String(cString: bpf_program__name(p)) == hook.program)
                prog = bpf_object__next_program(object, p)
            }
        }
        defer { bpf.close() }
        try bpf.attachAll(cgroupPath: nil)
        let run = GuessRun(statusFD: try bpf.mapFD("status"))
        let outcome = run.onOwnThread()
        switch outcome {
        case .success(let offsets):
            return offsets
        case .failure(let failure):
            let hint = hook == .tracepoint ? "" : " (kprobe tcp_shutdown)"
            throw NetTopError(.unavailable, "\(failure.message)\(hint); nettop cannot read sockets on this kernel without BTF.")
        }
    }
}

/// One guessing session: the machine, the connections, the status map.
private final class GuessRun: @unchecked Sendable {
    private let statusFD: Int32
    private var outcome: Result<GuessedOffsets, OffsetGuessFailure> =
        .failure(OffsetGuessFailure(field: nil, message: "offset guessing did not run"))
    private var random = SystemRandomNumberGenerator()
    private var homeNetns: Int32 = -1
    private var secondNetns: Int32 = -1
    /// No guess may take longer than this, whatever the kernel does.
    private let deadline = monotonicNow() + 30_000_000_000
    /// The guessing thread's name, which the kernel side recognises it by (unique to this run).
    private let threadName = "ntguess-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)

    init(statusFD: Int32) { self.statusFD = statusFD }

    /// Runs the guess on a thread of its own and waits for it.
    func onOwnThread() -> Result<GuessedOffsets, OffsetGuessFailure> {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            let run = Unmanaged<GuessRun>.fromOpaque(raw!).takeRetainedValue()
            run.outcome = run.run()
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<GuessRun>.fromOpaque(context).release()
            return .failure(OffsetGuessFailure(field: nil, message: "offset guessing could not start its thread (\(errnoText(created)))"))
        }
        pthread_join(thread, nil)
        return outcome
    }

    private func run() -> Result<GuessedOffsets, OffsetGuessFailure> {
        nameThisThread()
        openSecondNetns()
        defer {
            if secondNetns >= 0 { close(secondNetns) }
            if homeNetns >= 0 { close(homeNetns) }
        }
        var machine = OffsetGuessMachine(ipv6: ipv6Available(), secondNetns: secondNetns >= 0)
        while true {
            switch machine.step {
            case .done(let offsets):
                return .success(offsets)
            case .failed(let failure):
                return .failure(failure)
            case .request(let request):
                if monotonicNow() > deadline {
                    return .failure(OffsetGuessFailure(field: request.field,
                        message: "offset guessing took longer than 30 s (at \(request.field.structName).\(request.field.memberName))"))
                }
                switch connect(request) {
                case .success(let observation):
                    machine.observe(observation)
                case .failure(let failure):
                    return .failure(failure)
                }
            }
        }
    }

    // MARK: - One connection

    /// Makes the connection `request` asks for, has the kernel side read its struct sock, and says what
    /// came back. A failure here is the machine's too: it cannot go on without connections.
    private func connect(_ request: GuessRequest) -> Result<GuessObservation, OffsetGuessFailure> {
        let inSecond = request.shape.secondNetns && secondNetns >= 0
        if inSecond, ProcFS.setnsFunction?(secondNetns, ProcFS.cloneNewNet) != 0 {
            return .failure(OffsetGuessFailure(field: request.field, message: "offset guessing could not enter its second network namespace (\(errnoText(errno)))"))
        }
        defer { if inSecond { _ = ProcFS.setnsFunction?(homeNetns, ProcFS.cloneNewNet) } }

        var lastError = ""
        for _ in 0..<5 {
            switch attempt(request) {
            case .success(let observation): return .success(observation)
            case .failure(.setup(let message)): lastError = message
            }
        }
        return .failure(OffsetGuessFailure(field: request.field, message: "offset guessing could not make its loopback connections: \(lastError)"))
    }

    private enum AttemptError: Error { case setup(String) }

    private func attempt(_ request: GuessRequest) -> Result<GuessObservation, AttemptError> {
        let daddr = randomLoopback(), saddr = randomLoopback()
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { return .failure(.setup("socket: \(errnoText(errno))")) }
        defer { close(listener) }
        guard bindV4(listener, daddr, 0), listen(listener, 4) == 0, let dport = localPort(listener) else {
            return .failure(.setup("listener on \(dotted(daddr)): \(errnoText(errno))"))
        }

        let mapped = request.shape.family == .v6mapped
        let client = socket(mapped ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard client >= 0 else { return .failure(.setup("client socket: \(errnoText(errno))")) }
        defer { close(client) }
        var off: Int32 = 0
        if mapped { setsockopt(client, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, 4) }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)   // close with a reset: no TIME_WAIT left behind
        setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))

        let bind = request.shape.bind
        let wantAddress = bind == .address || bind == .addressAndPort
        let wantPort = bind == .port || bind == .addressAndPort
        if bind != .none {
            let port: UInt16 = wantPort ? UInt16.random(in: 20000...60000, using: &random) : 0
            let address: [UInt8] = wantAddress ? saddr : [0, 0, 0, 0]
            let ok = mapped ? bindV6(client, address, port, mappedAny: !wantAddress) : bindV4(client, address, port)
            guard ok else { return .failure(.setup("bind \(dotted(address)):\(port): \(errnoText(errno))")) }
        }
        guard connectTo(client, daddr, dport, mapped: mapped) else {
            return .failure(.setup("connect to \(dotted(daddr)):\(dport): \(errnoText(errno))"))
        }
        guard let (source, sport) = localEnd(client, mapped: mapped) else {
            return .failure(.setup("getsockname: \(errnoText(errno))"))
        }
        var cookie: UInt64 = 0
        var len = socklen_t(8)
        guard getsockopt(client, SOL_SOCKET, 57 /* SO_COOKIE */, &cookie, &len) == 0 else {
            return .failure(.setup("SO_COOKIE: \(errnoText(errno))"))
        }
        var st = stat()
        guard stat("/proc/thread-self/ns/net", &st) == 0 else {
            return .failure(.setup("/proc/thread-self/ns/net: \(errnoText(errno))"))
        }
        let facts = TrialFacts(family: request.shape.family, saddr: source, daddr: daddr, sport: sport, dport: dport,
                               cookie: cookie, netns: UInt32(truncatingIfNeeded: st.st_ino),
                               userlocks: bind.userlocks)

        // Arm, shut the sending side down (ESTABLISHED -> FIN_WAIT1 runs the kernel side, synchronously),
        // read what it found, disarm.
        var status = nt_guess_status()
        withUnsafeMutableBytes(of: &status.comm) { $0.copyBytes(from: threadName.utf8.prefix(15)) }
        status.state = UInt32(NT_GUESS_ARMED.rawValue)
        status.offset = UInt32(request.read.offset)
        status.inner = UInt32(request.read.inner ?? 0)
        status.deref = request.read.inner == nil ? 0 : 1
        status.sport = sport
        status.dport = dport
        var key: UInt32 = 0
        guard bpf_map_update_elem(statusFD, &key, &status, UInt64(BPF_ANY)) == 0 else {
            return .failure(.setup("writing the guess status map: \(errnoText(errno))"))
        }
        shutdown(client, Int32(SHUT_WR))
        var answer = nt_guess_status()
        let read = bpf_map_lookup_elem(statusFD, &key, &answer)
        var idle = nt_guess_status()
        _ = bpf_map_update_elem(statusFD, &key, &idle, UInt64(BPF_ANY))
        guard read == 0, answer.state == UInt32(NT_GUESS_DONE.rawValue) else { return .success(.missed) }
        guard answer.err == 0 else { return .success(.unreadable(facts)) }
        let window = withUnsafeBytes(of: answer.window) { Array($0) }
        return .success(.window(facts, window))
    }

    /// Names the calling thread (pthread_setname_np and prctl are out of Swift's reach: GNU-only, variadic).
    private func nameThisThread() {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = threadName.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    // MARK: - Namespaces

    /// Makes a second network namespace (loopback up) this thread can switch to, when it may.
    private func openSecondNetns() {
        homeNetns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard homeNetns >= 0, let unshare = GuessRun.unshareFunction, let setns = ProcFS.setnsFunction else { return }
        guard unshare(ProcFS.cloneNewNet) == 0 else { return }
        if nt_loopback_up() == 0 {
            secondNetns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        }
        if setns(homeNetns, ProcFS.cloneNewNet) != 0 {
            // Stranded in the new namespace: guess there only (the offsets are the same).
            if secondNetns >= 0 { close(secondNetns) }
            secondNetns = -1
        }
    }

    /// glibc's unshare(2) (declared only under _GNU_SOURCE, so not imported into Swift).
    private static let unshareFunction: (@convention(c) (Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "unshare") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Int32).self)
    }()

    private func ipv6Available() -> Bool {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    // MARK: - Addresses

    /// 127.x.y.z with x, y, z in 1...254: every one is a local address of the loopback interface.
    private func randomLoopback() -> [UInt8] {
        [127, UInt8.random(in: 1...254, using: &random), UInt8.random(in: 1...254, using: &random),
         UInt8.random(in: 1...254, using: &random)]
    }

    private func dotted(_ a: [UInt8]) -> String { a.map(String.init).joined(separator: ".") }

    private func v4(_ address: [UInt8], _ port: UInt16) -> sockaddr_in {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        withUnsafeMutableBytes(of: &sa.sin_addr) { $0.copyBytes(from: address) }
        return sa
    }

    private func v6(_ address: [UInt8], _ port: UInt16, mappedAny: Bool) -> sockaddr_in6 {
        var sa = sockaddr_in6()
        sa.sin6_family = sa_family_t(AF_INET6)
        sa.sin6_port = port.bigEndian
        if !mappedAny {
            withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: TrialFacts.mapped(address)) }
        }
        return sa
    }

    private func bindV4(_ fd: Int32, _ address: [UInt8], _ port: UInt16) -> Bool {
        var sa = v4(address, port)
        return withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// Binds an AF_INET6 socket to ::ffff:address (or to :: for the port only).
    private func bindV6(_ fd: Int32, _ address: [UInt8], _ port: UInt16, mappedAny: Bool) -> Bool {
        var sa = v6(address, port, mappedAny: mappedAny)
        return withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        } == 0
    }

    private func connectTo(_ fd: Int32, _ address: [UInt8], _ port: UInt16, mapped: Bool) -> Bool {
        if mapped {
            var sa = v6(address, port, mappedAny: false)
            return withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            } == 0
        }
        var sa = v4(address, port)
        return withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    private func localPort(_ fd: Int32) -> UInt16? {
        var sa = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        } == 0
        return ok ? UInt16(bigEndian: sa.sin_port) : nil
    }

    /// The local IPv4 address (the v4 part of a mapped one) and port of a connected socket.
    private func localEnd(_ fd: Int32, mapped: Bool) -> ([UInt8], UInt16)? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        } == 0
        guard ok else { return nil }
        return withUnsafeBytes(of: storage) { raw in
            let port = UInt16(raw[2]) << 8 | UInt16(raw[3])
            return mapped ? (Array(raw[20..<24]), port) : (Array(raw[4..<8]), port)
        }
    }
}
