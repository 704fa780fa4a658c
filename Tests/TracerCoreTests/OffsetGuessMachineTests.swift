import XCTest
@testable import TracerCore

/// The offset guesser's state machine against fake kernels: struct sock layouts (this kernel's, an older
/// one with a bitfield sk_userlocks, one with decoy copies), garbage everywhere else, and failures.
final class OffsetGuessMachineTests: XCTestCase {
    func testFindsEveryFieldOfThisKernelsLayout() throws {
        var kernel = FakeKernel(layout: .linux618, seed: 1)
        let found = try kernel.run(OffsetGuessMachine(ipv6: true, secondNetns: true))
        XCTAssertEqual(found[.family], 16)
        XCTAssertEqual(found[.sport], 14)
        XCTAssertEqual(found[.dport], 12)
        XCTAssertEqual(found[.saddr], 4)
        XCTAssertEqual(found[.daddr], 0)
        XCTAssertEqual(found[.v6saddr], 72)
        XCTAssertEqual(found[.v6daddr], 56)
        XCTAssertEqual(found[.netns], 48)
        XCTAssertEqual(found.netnsInode, 176)
        XCTAssertEqual(found[.cookie], 88)
        XCTAssertEqual(found[.userlocks], 243)
        XCTAssertEqual(found.userlocksShift, 0)
        XCTAssertTrue(found.hasIPv6)
        XCTAssertLessThan(found.connections, 200, "a handful of connections per field")
        XCTAssertEqual(found.entries.map { "\($0.structName).\($0.memberName)" }, [
            "sock_common.skc_family", "sock_common.skc_num", "sock_common.skc_dport", "sock_common.skc_rcv_saddr",
            "sock_common.skc_daddr", "sock_common.skc_v6_rcv_saddr", "sock_common.skc_v6_daddr",
            "sock_common.skc_net", "net.ns.inum", "sock_common.skc_cookie", "sock.sk_userlocks",
        ])
    }

    func testFindsAnOlderLayoutWithABitfieldUserlocks() throws {
        var kernel = FakeKernel(layout: .older, seed: 2)
        let found = try kernel.run(OffsetGuessMachine(ipv6: true, secondNetns: false))
        let layout = FakeLayout.older
        for field in GuessField.allCases where field != .netns {
            XCTAssertEqual(found[field], layout.offsets[field], "\(field)")
        }
        XCTAssertEqual(found[.netns], layout.offsets[.netns])
        XCTAssertEqual(found.netnsInode, layout.netInode)
        XCTAssertEqual(found.userlocksShift, 4)
    }

    /// inet_sport (network order) and a second copy of the peer address further in do not win: the first
    /// offset that matches on every connection does.
    func testCopiesFurtherInAreNotTaken() throws {
        var layout = FakeLayout.linux618
        layout.decoys = [(.daddr, 300), (.sport, 200), (.cookie, 400)]
        var kernel = FakeKernel(layout: layout, seed: 3)
        let found = try kernel.run(OffsetGuessMachine(ipv6: true, secondNetns: true))
        XCTAssertEqual(found[.daddr], 0)
        XCTAssertEqual(found[.sport], 14)
        XCTAssertEqual(found[.cookie], 88)
    }

    /// A list head in struct sock points into the socket itself, so its low byte follows the socket's
    /// address: TCP sockets are 2,368 bytes (0x940) apart in their slab, which moves that byte's high nibble
    /// by 4 per connection. Whatever the first socket's address, that nibble must not pass for sk_userlocks
    /// (it did for one start in sixteen when the trials' values were 12, 0, 4, 8).
    func testASelfPointerBelowUserlocksIsNotTakenWhateverTheSlabAddress() throws {
        for phase in 0..<16 {
            var layout = FakeLayout.linux618
            layout.selfPointer = (offset: 120, base: UInt64(0xffff_8880_0512_0000) + UInt64(phase) << 4)
            var kernel = FakeKernel(layout: layout, seed: 11)
            let found = try kernel.run(OffsetGuessMachine(ipv6: true, secondNetns: true))
            XCTAssertEqual(found[.userlocks], 243, "first socket at \(String(layout.selfPointer!.base, radix: 16))")
            XCTAssertEqual(found.userlocksShift, 0)
        }
    }

    /// Garbage that differs per connection in every byte around the fields (a worst case: the real socket
    /// is mostly constant): over many layouts of random bytes no offset other than the true one is taken.
    func testRandomBytesNeverPassForAField() throws {
        for seed in 100..<400 {
            var kernel = FakeKernel(layout: .linux618, seed: UInt64(seed))
            let found = try kernel.run(OffsetGuessMachine(ipv6: true, secondNetns: true))
            for field in GuessField.allCases {
                XCTAssertEqual(found[field], FakeLayout.linux618.offsets[field], "seed \(seed): \(field)")
            }
            XCTAssertEqual(found.userlocksShift, 0, "seed \(seed)")
        }
    }

    func testWithoutIPv6TheV6FieldsAreLeftOut() throws {
        var kernel = FakeKernel(layout: .linux618, seed: 4)
        let found = try kernel.run(OffsetGuessMachine(ipv6: false, secondNetns: false))
        XCTAssertNil(found[.v6saddr])
        XCTAssertNil(found[.v6daddr])
        XCTAssertFalse(found.hasIPv6)
        XCTAssertEqual(found[.family], 16)
        XCTAssertEqual(found[.userlocks], 243)
    }

    func testAFieldThatIsNowhereFailsClearlyAndBounded() {
        var layout = FakeLayout.linux618
        layout.offsets[.cookie] = nil
        var kernel = FakeKernel(layout: layout, seed: 5)
        XCTAssertThrowsError(try kernel.run(OffsetGuessMachine(ipv6: true, secondNetns: true))) { error in
            let failure = error as? OffsetGuessFailure
            XCTAssertEqual(failure?.field, .cookie)
            XCTAssertEqual(failure?.message,
                "offset guessing could not find sock_common.skc_cookie: found no offset in the first 512 bytes of struct sock that holds skc_cookie on every connection")
        }
        XCTAssertLessThan(kernel.connections, 300)
    }

    func testANamespacePointerThatIsNowhereFails() {
        var layout = FakeLayout.linux618
        layout.offsets[.netns] = nil
        var kernel = FakeKernel(layout: layout, seed: 6)
        XCTAssertThrowsError(try kernel.run(OffsetGuessMachine(ipv6: true, secondNetns: true))) { error in
            XCTAssertEqual((error as? OffsetGuessFailure)?.field, .netns)
            XCTAssertTrue((error as? OffsetGuessFailure)?.message.contains("network namespace's inode number") ?? false)
        }
    }

    func testMissedEventsAreRetriedThenGiveUp() throws {
        var kernel = FakeKernel(layout: .linux618, seed: 7)
        kernel.missEvery = 3   // every third connection brings no event
        let found = try kernel.run(OffsetGuessMachine(ipv6: true, secondNetns: true))
        XCTAssertEqual(found[.userlocks], 243)

        var dead = FakeKernel(layout: .linux618, seed: 8)
        dead.missEvery = 1
        XCTAssertThrowsError(try dead.run(OffsetGuessMachine(ipv6: true, secondNetns: true))) { error in
            XCTAssertEqual((error as? OffsetGuessFailure)?.message,
                "offset guessing could not find sock_common.skc_family: no kernel event came for 3 guessing connections in a row")
        }
        XCTAssertEqual(dead.connections, 3)
    }

    func testTheNumberOfConnectionsIsBounded() {
        var kernel = FakeKernel(layout: .linux618, seed: 9)
        XCTAssertThrowsError(try kernel.run(OffsetGuessMachine(ipv6: true, secondNetns: true, maxConnections: 10))) { error in
            XCTAssertTrue((error as? OffsetGuessFailure)?.message.contains("gave up after 10 connections") ?? false)
        }
        XCTAssertEqual(kernel.connections, 11)
    }

    func testRequestsAskForTheConnectionsEachFieldNeeds() {
        var machine = OffsetGuessMachine(ipv6: true, secondNetns: true)
        var kernel = FakeKernel(layout: .linux618, seed: 10)
        var shapes: [GuessField: Set<TrialShape>] = [:]
        while case .request(let r) = machine.step {
            shapes[r.field, default: []].insert(r.shape)
            machine.observe(kernel.answer(r))
        }
        XCTAssertEqual(shapes[.family]?.map(\.family).sorted { "\($0)" < "\($1)" }, [.v4, .v6mapped])
        XCTAssertEqual(shapes[.v6saddr]?.allSatisfy { $0.family == .v6mapped }, true)
        XCTAssertEqual(Set(shapes[.userlocks]?.map(\.bind) ?? []), Set(TrialShape.Bind.allCases))
        XCTAssertEqual(Set(shapes[.netns]?.map(\.secondNetns) ?? []), [false, true])
    }
}

/// A struct sock layout: where each field is, and where the namespace inode is in struct net.
private struct FakeLayout {
    var offsets: [GuessField: Int]
    var netInode: Int
    var userlocksShift: Int
    /// Further copies of a field's value (like inet_sport), same bytes.
    var decoys: [(GuessField, Int)] = []
    /// A pointer to the socket itself at `offset` (a list head): the n-th connection's socket is at
    /// `base + n * 0x940`, the distance between TCP sockets in their slab.
    var selfPointer: (offset: Int, base: UInt64)?

    static let linux618 = FakeLayout(
        offsets: [.daddr: 0, .saddr: 4, .dport: 12, .sport: 14, .family: 16, .netns: 48, .v6daddr: 56,
                  .v6saddr: 72, .cookie: 88, .userlocks: 243],
        netInode: 176, userlocksShift: 0)

    /// Everything moved, sk_userlocks the high nibble of a bitfield byte.
    static let older = FakeLayout(
        offsets: [.daddr: 0, .saddr: 4, .dport: 12, .sport: 14, .family: 16, .netns: 40, .v6daddr: 48,
                  .v6saddr: 64, .cookie: 96, .userlocks: 560],
        netInode: 120, userlocksShift: 4)
}

/// Answers the machine's requests as the kernel side would, from a fake struct sock filled per connection.
private struct FakeKernel {
    let layout: FakeLayout
    var rng: SplitMix
    var connections = 0
    /// Every n-th connection brings no event (0: never).
    var missEvery = 0
    private let netPointer: [UInt8] = [0x00, 0x10, 0x32, 0x54, 0x80, 0x88, 0xff, 0xff]

    init(layout: FakeLayout, seed: UInt64) {
        self.layout = layout
        rng = SplitMix(seed: seed)
    }

    mutating func run(_ machine: OffsetGuessMachine) throws -> GuessedOffsets {
        var machine = machine
        while true {
            switch machine.step {
            case .done(let found): return found
            case .failed(let failure): throw failure
            case .request(let r): machine.observe(answer(r))
            }
        }
    }

    mutating func answer(_ r: GuessRequest) -> GuessObservation {
        connections += 1
        if missEvery > 0 && connections % missEvery == 0 { return .missed }
        let facts = makeFacts(r.shape)
        let sock = fill(facts)
        if let inner = r.read.inner {
            // Only the real skc_net is a readable pointer; other 8-byte values read as garbage memory
            // one time in four, and fail the rest.
            if let net = layout.offsets[.netns], r.read.offset == net {
                return .window(facts, window(of: struct_net(facts), at: inner))
            }
            if Int(rng.next() % 4) == 0 { return .window(facts, garbage(256)) }
            return .unreadable(facts)
        }
        return .window(facts, window(of: sock, at: r.read.offset))
    }

    private mutating func makeFacts(_ shape: TrialShape) -> TrialFacts {
        func byte() -> UInt8 { UInt8(1 + rng.next() % 254) }
        return TrialFacts(family: shape.family, saddr: [127, byte(), byte(), byte()], daddr: [127, byte(), byte(), byte()],
                          sport: UInt16(1024 + rng.next() % 60000), dport: UInt16(1024 + rng.next() % 60000),
                          cookie: 1000 + rng.next() % 100_000, netns: shape.secondNetns ? 4026532999 : 4026531840,
                          userlocks: shape.bind.userlocks)
    }

    private mutating func garbage(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }

    private mutating func fill(_ facts: TrialFacts) -> [UInt8] {
        var sock = garbage(1400)
        // Realistic small values nearby: zero runs.
        for i in stride(from: 100, to: 1400, by: 37) { sock[i] = 0 }
        for (field, offset) in layout.offsets {
            if field == .netns {
                sock.replaceSubrange(offset..<(offset + 8), with: netPointer)
                continue
            }
            if field == .userlocks {
                let v = facts.userlocks | 16   // SOCK_CONNECT_BIND-like extra bit above the four locks
                sock[offset] = layout.userlocksShift == 4 ? (facts.userlocks << 4) | 0x01 : v
                continue
            }
            guard let bytes = facts.expected(field) ?? (field.needsIPv6 ? [UInt8](repeating: 0, count: 16) : nil) else { continue }
            sock.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        }
        if let (offset, base) = layout.selfPointer {
            let address = base + UInt64(connections) * 0x940 + UInt64(offset)
            sock.replaceSubrange(offset..<(offset + 8), with: withUnsafeBytes(of: address.littleEndian) { Array($0) })
        }
        for (field, offset) in layout.decoys {
            if let bytes = facts.expected(field) { sock.replaceSubrange(offset..<(offset + bytes.count), with: bytes) }
        }
        return sock
    }

    private mutating func struct_net(_ facts: TrialFacts) -> [UInt8] {
        var net = garbage(4096)
        let inode = withUnsafeBytes(of: facts.netns.littleEndian) { Array($0) }
        net.replaceSubrange(layout.netInode..<(layout.netInode + 4), with: inode)
        return net
    }

    private func window(of bytes: [UInt8], at offset: Int) -> [UInt8] {
        let end = min(bytes.count, offset + 256)
        guard offset < end else { return [UInt8](repeating: 0, count: 256) }
        return Array(bytes[offset..<end]) + [UInt8](repeating: 0, count: 256 - (end - offset))
    }
}
