import CConntrack
import Glibc
import XCTest
@testable import TracerCore

/// conntrack input nettop did not make: nfnetlink messages that are cut short, reordered, repeated or
/// carry odd values, attribute sets no kernel sends, and event sequences in any order. Whatever arrives,
/// nothing traps and the NAT table stays consistent. Fixed seeds, bounded counts (and a time bound, for a
/// loaded machine).
///
/// Messages take the path of every conntrack event: `ConntrackSocket.read(message:)`, which checks the
/// message with `CtnetlinkValidator`, then has libnetfilter_conntrack parse it (`nfct_parse_conntrack`)
/// and `ConntrackRecord` read the parsed object; then `ConntrackTable`. The damage includes attributes
/// of the wrong size: the library alone calls exit() on those ("ctnetlink kernel ABI is broken, contact
/// your vendor."), which would end nettop with the terminal in curses mode. Should the check let one
/// through, this test process ends, and the run fails.
final class ConntrackFuzzTests: XCTestCase {
    // MARK: Messages

    func testWellFormedMessagesRoundTrip() throws {
        var rng = SplitMix(seed: 0xC7_0001)
        for n in 0..<200 {
            let flow = FlowPool.random(&rng, nat: true)
            let kind: ConntrackEvent.Kind = [.new, .update, .destroy][n % 3]
            let message = try XCTUnwrap(NetlinkMessage.build(flow, kind: kind))
            let parsed = message.parse()
            XCTAssertEqual(parsed.flow, flow, "message \(n)")
            XCTAssertEqual(parsed.kind, kind, "message \(n)")
        }
    }

    func testDamagedMessagesNeverTrapAndKeepTheTableConsistent() throws {
        var rng = SplitMix(seed: 0xC7_0002)
        let templates = try (0..<64).map { n -> NetlinkMessage in
            try XCTUnwrap(NetlinkMessage.build(FlowPool.random(&rng, nat: n % 4 != 0), kind: [.new, .update, .destroy][n % 3]))
        }
        var table = ConntrackTable(destroyedCapacity: 64)
        var parsedFlows = 0, rejected = 0, damaged = 0
        let deadline = Date().addingTimeInterval(60)
        for n in 0..<20_000 {
            if Date() > deadline { break }
            var message = templates[Int(rng.next() % UInt64(templates.count))]
            let changed = message.damage(rounds: 1 + Int(rng.next() % 4), rng: &rng)
            if changed { damaged += 1 }
            let parsed = message.parse()
            if let flow = parsed.flow {
                parsedFlows += 1
                table.apply(ConntrackEvent(parsed.kind ?? .update, flow), netns: UInt32(1 + n % 3))
                _ = table.translation(for: ConnectionTuple(type: flow.type, netns: 1, source: flow.original.src,
                                                           sport: flow.original.sport, dest: flow.original.dst,
                                                           dport: flow.original.dport))
            } else {
                rejected += 1
            }
            if n % 100 == 0 { table.beginTick() }
            XCTAssertLessThanOrEqual(table.destroyedCount, 64)
        }
        // Both outcomes must be common, or the damage was too mild or too harsh to test anything.
        XCTAssertGreaterThan(parsedFlows, 1000, "damaged \(damaged), rejected \(rejected)")
        XCTAssertGreaterThan(rejected, 1000, "damaged \(damaged), parsed \(parsedFlows)")
        for netns in UInt32(1)...3 { table.removeNamespace(netns) }
        table.beginTick()
        XCTAssertTrue(table.isEmpty, "lookups left behind after every flow was removed")
        XCTAssertEqual(table.liveCount, 0)
        XCTAssertEqual(table.destroyedCount, 0)
    }

    /// The defect the check guards against, shown: on a message whose original source address is three
    /// bytes long, the library alone ends the process (a child here, exit status 1), and nettop's reading
    /// refuses the same message. Bounded: the child is killed after 10 s.
    func testTheLibraryExitsOnAWrongSizeAndNettopRefusesTheMessage() throws {
        let flow = ConntrackFlow(type: .tcp,
                                 original: FlowEndpoints(src: IPAddress("10.0.0.1")!, sport: 40000, dst: IPAddress("198.18.0.1")!, dport: 80),
                                 reply: FlowEndpoints(src: IPAddress("10.0.0.2")!, sport: 80, dst: IPAddress("10.0.0.1")!, dport: 40000))
        let good = try XCTUnwrap(NetlinkMessage.build(flow, kind: .new))
        XCTAssertEqual(good.parse().flow, flow)
        var tree = Attribute.list(good.bytes, from: NetlinkMessage.payloadOffset, to: good.bytes.count)
        let tuple = try XCTUnwrap(tree.firstIndex { $0.type == 1 })         // CTA_TUPLE_ORIG
        let ip = try XCTUnwrap(tree[tuple].children.firstIndex { $0.type == 1 })  // CTA_TUPLE_IP
        let src = try XCTUnwrap(tree[tuple].children[ip].children.firstIndex { $0.type == 1 })  // CTA_IP_V4_SRC
        tree[tuple].children[ip].children[src].payload.removeLast()
        var bytes = Array(good.bytes[..<NetlinkMessage.payloadOffset]) + tree.flatMap { $0.serialized }
        withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { for i in 0..<4 { bytes[i] = $0[i] } }

        XCTAssertEqual(CtnetlinkValidator.problem(in: bytes), .badAttribute(path: [1, 1, 1], length: 3))
        XCTAssertEqual(bytes.withUnsafeBytes { ConntrackSocket.read(message: $0) }, .rejected)

        let child = fork()
        if child == 0 {
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, 2) }  // the library's complaint is not the test's output
            bytes.withUnsafeBytes { raw in
                if let ct = nfct_new() {
                    _ = nfct_parse_conntrack(NFCT_T_ALL, raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self), ct)
                }
            }
            _exit(0)  // the library returned: it did not end the process
        }
        XCTAssertGreaterThan(child, 0, "fork")
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(10)
        while waitpid(child, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(child, SIGKILL)
                waitpid(child, &status, 0)
                return XCTFail("the child neither returned nor exited within 10 s")
            }
            usleep(10_000)
        }
        let exited = status & 0x7f == 0
        XCTAssertTrue(exited, "the child was killed by signal \(status & 0x7f)")
        XCTAssertEqual((status >> 8) & 0xff, 1, "libnetfilter_conntrack is expected to exit(1) on this message")
    }

    /// Attribute sets no kernel sends: a family that does not match the addresses set, a tuple half set,
    /// an unknown protocol. The reading gives no flow or a whole one, never a trap.
    func testArbitraryAttributeSetsAreReadSafely() {
        var rng = SplitMix(seed: 0xC7_0003)
        let v4Attributes = [ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV4_DST, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV4_DST]
        let v6Attributes = [ATTR_ORIG_IPV6_SRC, ATTR_ORIG_IPV6_DST, ATTR_REPL_IPV6_SRC, ATTR_REPL_IPV6_DST]
        let portAttributes = [ATTR_ORIG_PORT_SRC, ATTR_ORIG_PORT_DST, ATTR_REPL_PORT_SRC, ATTR_REPL_PORT_DST]
        var flows = 0
        for _ in 0..<5000 {
            guard let ct = nfct_new() else { return XCTFail("nfct_new") }
            defer { nfct_destroy(ct) }
            let families: [UInt8] = [UInt8(AF_INET), UInt8(AF_INET6), 0, 255, UInt8(AF_UNIX)]
            let protocols: [UInt8] = [UInt8(IPPROTO_TCP), UInt8(IPPROTO_UDP), UInt8(IPPROTO_ICMP), 0, 132]
            if rng.next() % 8 != 0 { nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, families[Int(rng.next() % 5)]) }
            if rng.next() % 8 != 0 { nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, protocols[Int(rng.next() % 5)]) }
            for attribute in v4Attributes where rng.next() % 4 != 0 {
                nfct_set_attr_u32(ct, attribute, UInt32(truncatingIfNeeded: rng.next()))
            }
            for attribute in v6Attributes where rng.next() % 4 != 0 {
                var bytes = (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                bytes.withUnsafeMutableBytes { nfct_set_attr(ct, attribute, $0.baseAddress) }
            }
            for attribute in portAttributes where rng.next() % 4 != 0 {
                nfct_set_attr_u16(ct, attribute, UInt16(truncatingIfNeeded: rng.next()))
            }
            if let flow = ConntrackRecord.flow(ct) {
                flows += 1
                XCTAssertTrue([ConnectionType.tcp, .udp].contains(flow.type))
            }
        }
        XCTAssertGreaterThan(flows, 100)
    }

    // MARK: The table's event API

    /// Random events, dumps and vanished namespaces against a plain dictionary of what must be live.
    func testEventSequencesMatchAReferenceTable() {
        var rng = SplitMix(seed: 0xC7_0004)
        let capacity = 32
        var table = ConntrackTable(destroyedCapacity: capacity)
        var reference: [UInt32: [ReferenceKey: ConntrackFlow]] = [:]
        let namespaces: [UInt32] = [11, 12, 13]
        let deadline = Date().addingTimeInterval(60)
        for step in 0..<20_000 {
            if Date() > deadline { break }
            let netns = namespaces[Int(rng.next() % 3)]
            switch rng.next() % 20 {
            case 0:
                let flows = (0..<Int(rng.next() % 6)).map { _ in FlowPool.random(&rng, nat: rng.next() % 3 != 0) }
                table.replace(netns: netns, with: flows)
                var fresh: [ReferenceKey: ConntrackFlow] = [:]
                for flow in flows where flow.isNAT { fresh[ReferenceKey(flow)] = flow }
                reference[netns] = fresh
            case 1:
                table.removeNamespace(netns)
                reference[netns] = nil
            case 2, 3:
                table.beginTick()
            case 4...8:
                // Destroy something live (usually) or something never seen.
                let flow = rng.next() % 4 != 0 ? (reference[netns]?.values.first ?? FlowPool.random(&rng, nat: true))
                                               : FlowPool.random(&rng, nat: true)
                table.apply(ConntrackEvent(.destroy, flow), netns: netns)
                reference[netns]?[ReferenceKey(flow)] = nil
                // Destroyed flows still answer until the next tick starts (within the buffer's bound).
            default:
                let flow = FlowPool.random(&rng, nat: rng.next() % 4 != 0)
                table.apply(ConntrackEvent(rng.next() % 2 == 0 ? .new : .update, flow), netns: netns)
                reference[netns, default: [:]][ReferenceKey(flow)] = flow.isNAT ? flow : nil
            }
            XCTAssertLessThanOrEqual(table.destroyedCount, capacity, "step \(step)")
            if step % 50 == 0 || step < 200 {
                let expected = reference.values.reduce(0) { $0 + $1.count }
                XCTAssertEqual(table.liveCount, expected, "step \(step)")
                for ns in namespaces {
                    XCTAssertEqual(Set(table.flows(netns: ns)), Set(reference[ns]?.values.map { $0 } ?? []),
                                   "step \(step), netns \(ns)")
                    for flow in reference[ns]?.values.map({ $0 }) ?? [] {
                        let clientEnd = ConnectionTuple(type: flow.type, netns: ns, source: flow.original.src,
                                                        sport: flow.original.sport, dest: flow.original.dst,
                                                        dport: flow.original.dport)
                        XCTAssertNotNil(table.translation(for: clientEnd), "step \(step): live \(flow) unresolved")
                    }
                }
            }
        }
        for ns in namespaces { table.removeNamespace(ns) }
        table.beginTick()
        XCTAssertTrue(table.isEmpty, "lookups left behind after every flow was removed")
        XCTAssertEqual(table.liveCount, 0)
        XCTAssertEqual(table.destroyedCount, 0)
        var probe = SplitMix(seed: 0xC7_0005)
        for _ in 0..<500 {
            let f = FlowPool.random(&probe, nat: true)
            XCTAssertNil(table.translation(for: ConnectionTuple(type: f.type, netns: 11, source: f.original.src,
                                                                sport: f.original.sport, dest: f.original.dst,
                                                                dport: f.original.dport)))
        }
    }
}

/// A flow's identity in a namespace, as conntrack keys it: protocol and original tuple.
private struct ReferenceKey: Hashable {
    var type: ConnectionType
    var original: FlowEndpoints
    init(_ flow: ConntrackFlow) { type = flow.type; original = flow.original }
}

/// Flows from small pools of addresses and ports, so that events collide: the same original tuple
/// with other replies, replies equal to other flows' originals, wildcard and v4-mapped addresses.
private enum FlowPool {
    static let v4 = ["10.0.0.1", "10.0.0.2", "198.18.0.1", "0.0.0.0", "127.0.0.1"].map { IPAddress($0)! }
    static let v6 = ["fd00::1", "fd00::2", "::", "::1", "2001:db8::80"].map { IPAddress($0)! }
    static let ports: [UInt16] = [0, 53, 80, 8080, 40000, 65535]

    static func random(_ rng: inout SplitMix, nat: Bool) -> ConntrackFlow {
        let pool = rng.next() % 3 == 0 ? v6 : v4
        func address() -> IPAddress { pool[Int(rng.next() % UInt64(pool.count))] }
        func port() -> UInt16 { ports[Int(rng.next() % UInt64(ports.count))] }
        let type: ConnectionType = rng.next() % 2 == 0 ? .tcp : .udp
        let original = FlowEndpoints(src: address(), sport: port(), dst: address(), dport: port())
        var reply = original.inverted
        if nat {
            while reply == original.inverted {
                reply = FlowEndpoints(src: address(), sport: port(), dst: address(), dport: port())
            }
        }
        return ConntrackFlow(type: type, original: original, reply: reply)
    }
}

/// One ctnetlink message (nlmsghdr, nfgenmsg, attributes), as the kernel sends it for a conntrack event.
private struct NetlinkMessage {
    /// The message; `bytes.count` is what was "received".
    var bytes: [UInt8]

    static let headerLength = MemoryLayout<nlmsghdr>.size  // 16
    static let payloadOffset = headerLength + 4            // + struct nfgenmsg

    /// Built by the library from a conntrack object, as the kernel would: IPCTNL_MSG_CT_NEW with
    /// NLM_F_CREATE|NLM_F_EXCL for a new flow, without for an update, IPCTNL_MSG_CT_DELETE for a destroy.
    static func build(_ flow: ConntrackFlow, kind: ConntrackEvent.Kind) -> NetlinkMessage? {
        guard let ct = nfct_new() else { return nil }
        defer { nfct_destroy(ct) }
        let family = flow.original.src.family == .v4 ? AF_INET : AF_INET6
        for attribute in [ATTR_ORIG_L3PROTO, ATTR_REPL_L3PROTO] { nfct_set_attr_u8(ct, attribute, UInt8(family)) }
        let proto = UInt8(flow.type == .tcp ? IPPROTO_TCP : IPPROTO_UDP)
        for attribute in [ATTR_ORIG_L4PROTO, ATTR_REPL_L4PROTO] { nfct_set_attr_u8(ct, attribute, proto) }
        func set(_ address: IPAddress, v4: nf_conntrack_attr, v6: nf_conntrack_attr) {
            var bytes = address.bytes  // network order; an IPv4 address in the first four
            if family == AF_INET {
                bytes.withUnsafeBytes { nfct_set_attr_u32(ct, v4, $0.load(as: UInt32.self)) }
            } else {
                bytes.withUnsafeMutableBytes { nfct_set_attr(ct, v6, $0.baseAddress) }
            }
        }
        set(flow.original.src, v4: ATTR_ORIG_IPV4_SRC, v6: ATTR_ORIG_IPV6_SRC)
        set(flow.original.dst, v4: ATTR_ORIG_IPV4_DST, v6: ATTR_ORIG_IPV6_DST)
        set(flow.reply.src, v4: ATTR_REPL_IPV4_SRC, v6: ATTR_REPL_IPV6_SRC)
        set(flow.reply.dst, v4: ATTR_REPL_IPV4_DST, v6: ATTR_REPL_IPV6_DST)
        nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, flow.original.sport.bigEndian)
        nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, flow.original.dport.bigEndian)
        nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, flow.reply.sport.bigEndian)
        nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, flow.reply.dport.bigEndian)

        var buffer = [UInt8](repeating: 0, count: 4096)
        let length: Int = buffer.withUnsafeMutableBytes { raw in
            let nlh = raw.baseAddress!.bindMemory(to: nlmsghdr.self, capacity: 1)
            nlh.pointee.nlmsg_len = UInt32(payloadOffset)
            let subsystem: UInt16 = 1 << 8  // NFNL_SUBSYS_CTNETLINK
            switch kind {
            case .new: nlh.pointee.nlmsg_type = subsystem | 0; nlh.pointee.nlmsg_flags = 0x400 | 0x200  // CT_NEW, CREATE|EXCL
            case .update: nlh.pointee.nlmsg_type = subsystem | 0; nlh.pointee.nlmsg_flags = 0
            case .destroy: nlh.pointee.nlmsg_type = subsystem | 2; nlh.pointee.nlmsg_flags = 0  // CT_DELETE
            }
            raw[headerLength] = UInt8(family)  // nfgenmsg: family, version 0, res_id 0
            guard nfct_nlmsg_build(nlh, ct) >= 0 else { return 0 }
            return Int(nlh.pointee.nlmsg_len)
        }
        guard length > payloadOffset else { return nil }
        return NetlinkMessage(bytes: Array(buffer[..<length]))
    }

    /// What nettop makes of it: the library's parse, then `ConntrackRecord`. A message the receive path
    /// refuses or hands to no callback (shorter than its headers, claiming more than was received, another
    /// subsystem, a message type other than CT_NEW and CT_DELETE) gives nothing, as it does there.
    func parse() -> (flow: ConntrackFlow?, kind: ConntrackEvent.Kind?) {
        guard bytes.count >= Self.headerLength else { return (nil, nil) }
        // Received into the library's large buffer: what lies after the message is the buffer's (zeroes here).
        let buffer = bytes + [UInt8](repeating: 0, count: 8192)
        let claimed = Int(buffer[0]) | Int(buffer[1]) << 8 | Int(buffer[2]) << 16 | Int(buffer[3]) << 24
        let messageType = Int(buffer[4]) | Int(buffer[5]) << 8
        guard claimed >= Self.payloadOffset, claimed <= bytes.count,
              messageType >> 8 == 1, [0, 2].contains(messageType & 0xff) else { return (nil, nil) }
        return buffer.withUnsafeBytes { raw -> (ConntrackFlow?, ConntrackEvent.Kind?) in
            switch ConntrackSocket.read(message: UnsafeRawBufferPointer(rebasing: raw[..<claimed])) {
            case .flow(let kind, let flow): return (flow, kind)
            case .rejected, .ignored: return (nil, nil)
            }
        }
    }

    /// Damage a broken or unexpected sender could do without breaking the attribute framing. Returns
    /// whether anything changed.
    mutating func damage(rounds: Int, rng: inout SplitMix) -> Bool {
        let before = bytes
        var header = Array(bytes[..<Self.payloadOffset])
        var tree = Attribute.list(bytes, from: Self.payloadOffset, to: bytes.count)
        for _ in 0..<rounds {
            switch rng.next() % 11 {
            case 0:  // cut short at an attribute boundary, at any depth
                Attribute.mutateRandomList(&tree, rng: &rng) { list, rng in
                    if !list.isEmpty { list.removeLast(Int(rng.next() % UInt64(list.count + 1))) }
                }
            case 1:  // an attribute dropped
                Attribute.mutateRandomList(&tree, rng: &rng) { list, rng in
                    if !list.isEmpty { list.remove(at: Int(rng.next() % UInt64(list.count))) }
                }
            case 2:  // an attribute repeated (the later one wins or the first does: either is a reading)
                Attribute.mutateRandomList(&tree, rng: &rng) { list, rng in
                    if !list.isEmpty { list.append(list[Int(rng.next() % UInt64(list.count))]) }
                }
            case 3:  // siblings reordered
                Attribute.mutateRandomList(&tree, rng: &rng) { list, rng in list.shuffle(using: &rng) }
            case 4:  // the original and reply tuples exchanged, or one of them made a copy of the other
                let tuples = tree.indices.filter { [1, 2].contains(tree[$0].type) }
                if tuples.count == 2 {
                    if rng.next() % 2 == 0 { tree.swapAt(tuples[0], tuples[1]) } else {
                        let kept = tree[tuples[Int(rng.next() % 2)]]
                        tree[tuples[0]].children = kept.children
                        tree[tuples[1]].children = kept.children
                    }
                }
            case 5, 6:  // a value changed: an address byte, a port, the protocol number
                Attribute.mutateRandomLeaf(&tree, rng: &rng) { leaf, rng in
                    guard !leaf.payload.isEmpty else { return }
                    leaf.payload[Int(rng.next() % UInt64(leaf.payload.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            case 7:  // an attribute of a type this library does not know
                tree.append(Attribute(type: 0x3000 + UInt16(rng.next() % 0x100), nested: false,
                                      payload: (0..<Int(rng.next() % 24)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
            case 8:  // a leaf of the wrong size: longer or shorter by a few bytes, or empty
                Attribute.mutateRandomLeaf(&tree, rng: &rng) { leaf, rng in
                    switch rng.next() % 3 {
                    case 0: leaf.payload += (0..<(1 + Int(rng.next() % 5))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    case 1: leaf.payload.removeLast(min(leaf.payload.count, 1 + Int(rng.next() % 3)))
                    default: leaf.payload = []
                    }
                }
            case 9:  // a nest cut to a few bytes, too short for one attribute
                Attribute.mutateRandomList(&tree, rng: &rng) { list, rng in
                    guard let i = list.indices.filter({ list[$0].nested }).randomElement(using: &rng) else { return }
                    list[i] = Attribute(type: list[i].type, nested: false,
                                        payload: (0..<(1 + Int(rng.next() % 3))).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
                }
            default:  // header: message type and flags (new, update, destroy, others), family
                let at = [4, 6, Self.headerLength][Int(rng.next() % 3)]
                header[at] = [0, 1, 2, 3, UInt8(truncatingIfNeeded: rng.next())][Int(rng.next() % 5)]
                if at == 6 { header[7] = rng.next() % 2 == 0 ? 0x06 : 0 }  // NLM_F_CREATE|NLM_F_EXCL or none
            }
        }
        bytes = header + tree.flatMap { $0.serialized }
        let length = UInt32(bytes.count)
        for i in 0..<4 { bytes[i] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(i))) }
        return bytes != before
    }
}

/// One netlink attribute, nested (with children) or not (with a payload), as the framing reads.
private struct Attribute {
    var type: UInt16
    var nested: Bool
    var payload: [UInt8] = []
    var children: [Attribute] = []

    /// The attributes in `bytes[from..<to]`, nested ones (NLA_F_NESTED) read recursively.
    static func list(_ bytes: [UInt8], from start: Int, to end: Int) -> [Attribute] {
        var result: [Attribute] = []
        var at = start
        while end - at >= 4 {
            let length = Int(bytes[at]) | Int(bytes[at + 1]) << 8
            guard length >= 4, length <= end - at else { break }
            let rawType = UInt16(bytes[at + 2]) | UInt16(bytes[at + 3]) << 8
            let nested = rawType & 0x8000 != 0
            var attribute = Attribute(type: rawType & 0x3fff, nested: nested)
            if nested {
                attribute.children = list(bytes, from: at + 4, to: at + length)
            } else {
                attribute.payload = Array(bytes[(at + 4)..<(at + length)])
            }
            result.append(attribute)
            at += (length + 3) & ~3
        }
        return result
    }

    var serialized: [UInt8] {
        let body = nested ? children.flatMap { $0.serialized } : payload
        let length = 4 + body.count
        let rawType = type | (nested ? 0x8000 : 0)
        var out = [UInt8(truncatingIfNeeded: length), UInt8(truncatingIfNeeded: length >> 8),
                   UInt8(truncatingIfNeeded: rawType), UInt8(truncatingIfNeeded: rawType >> 8)] + body
        while out.count % 4 != 0 { out.append(0) }
        return out
    }

    /// Applies `change` to the top-level list or to the children of a random nested attribute.
    static func mutateRandomList(_ list: inout [Attribute], rng: inout SplitMix,
                                 _ change: (inout [Attribute], inout SplitMix) -> Void) {
        let nestedIndices = list.indices.filter { list[$0].nested }
        if nestedIndices.isEmpty || rng.next() % 3 == 0 {
            change(&list, &rng)
        } else {
            let i = nestedIndices[Int(rng.next() % UInt64(nestedIndices.count))]
            mutateRandomList(&list[i].children, rng: &rng, change)
        }
    }

    /// Applies `change` to a random leaf, at any depth.
    static func mutateRandomLeaf(_ list: inout [Attribute], rng: inout SplitMix,
                                 _ change: (inout Attribute, inout SplitMix) -> Void) {
        guard !list.isEmpty else { return }
        let i = Int(rng.next() % UInt64(list.count))
        if list[i].nested { mutateRandomLeaf(&list[i].children, rng: &rng, change) } else { change(&list[i], &rng) }
    }
}
