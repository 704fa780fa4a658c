import CConntrack
import Foundation
import Glibc
import XCTest
@testable import TracerCore

/// The netlink side of the NAT resolver in this process, against real netfilter in namespaces the test
/// makes: the dump at start, the event stream, destroyed flows kept one more poll, ENOBUFS and resync.
final class ConntrackResolverKernelTests: KernelTestCase {
    private func tuple(_ type: ConnectionType, _ ns: Namespace, _ source: String, _ sport: Int, _ dest: String,
                       _ dport: Int) -> ConnectionTuple {
        ConnectionTuple(type: type, netns: UInt32(ns.inode), source: IPAddress(source)!, sport: UInt16(sport),
                        dest: IPAddress(dest)!, dport: UInt16(dport))
    }

    private func resolver(receiveBuffer: Int? = nil) -> ConntrackResolver {
        var options = ConntrackResolver.Options()
        if let receiveBuffer { options.receiveBufferBytes = receiveBuffer }
        let r = ConntrackResolver(options: options, now: monotonicNow())
        addTeardownBlock { r.close() }
        return r
    }

    /// A NAT topology whose server accepts `n` connections, reached from the client at VIP port 8443 (the
    /// server and the namespaces last until the test's teardown).
    private func manyServerBehindDNAT(_ n: Int) throws -> (topo: NATTopology, port: Int) {
        let topo = try NATTopology(sandbox: makeSandbox())
        let server = try startPeer(["many-server", "--bind", topo.serverV4, "--port", "0", "--connections", "\(n)",
                                    "--timeout-ms", workBoundMs(60)], in: topo.server)
        let port = try server.listeningPort()
        try topo.dnat(proto: "tcp", v6: false, vport: 8443, serverPort: port)
        return (topo, port)
    }

    /// Polls (every 50 ms, bounded) until `done`; returns whether it held.
    @discardableResult
    private func poll(_ r: ConntrackResolver, timeout: TimeInterval = 10, until done: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            r.poll(now: monotonicNow())
            if done() { return true }
            usleep(50_000)
        }
        return false
    }

    func testDumpAtStartThenEventsResolveDNATFromTheRoutersTable() throws {
        let sandbox = makeSandbox()
        let topo = try NATTopology(sandbox: sandbox)
        let server = try startPeer(["many-server", "--bind", topo.serverV4, "--port", "0", "--connections", "2",
                                    "--timeout-ms", "30000"], in: topo.server)
        let port = try server.listeningPort()
        try topo.dnat(proto: "tcp", v6: false, vport: 8080, serverPort: port)
        let before = try startPeer(["hold", "--connect", NATTopology.vip4, "--port", "8080", "--timeout-ms", "30000"], in: topo.client)
        let beforePort = try before.waitFor("connected")[0].lport

        let r = resolver()
        XCTAssertTrue(r.available, r.unavailableReason ?? "")
        XCTAssertTrue(r.followedNamespaces.contains(UInt32(topo.router.inode)), "the router namespace (named, no process) is followed")
        let expected = { (lport: Int) in
            IPTranslation(replSrcIP: IPAddress(topo.serverV4)!, replSport: UInt16(port),
                          replDstIP: IPAddress(topo.clientV4)!, replDport: UInt16(lport))
        }
        // Known from the dump, before any poll.
        XCTAssertEqual(r.translation(for: tuple(.tcp, topo.client, topo.clientV4, beforePort, NATTopology.vip4, 8080)),
                       expected(beforePort))

        let after = try startPeer(["hold", "--connect", NATTopology.vip4, "--port", "8080", "--timeout-ms", "30000"], in: topo.client)
        let afterPort = try after.waitFor("connected")[0].lport
        let clientEnd = tuple(.tcp, topo.client, topo.clientV4, afterPort, NATTopology.vip4, 8080)
        XCTAssertTrue(poll(r) { r.translation(for: clientEnd) != nil }, "the NEW event resolves the second connection")
        XCTAssertEqual(r.translation(for: clientEnd), expected(afterPort))
        // The server's end matches the reply tuple: its translation is the client's original view.
        XCTAssertEqual(r.translation(for: tuple(.tcp, topo.server, topo.serverV4, port, topo.clientV4, afterPort)),
                       IPTranslation(replSrcIP: IPAddress(topo.clientV4)!, replSport: UInt16(afterPort),
                                     replDstIP: IPAddress(NATTopology.vip4)!, replDport: 8080))
        // Not NATed, not known: nil.
        XCTAssertNil(r.translation(for: tuple(.tcp, topo.client, topo.clientV4, afterPort, topo.serverV4, port)))
        XCTAssertEqual(r.counters.resyncs, 0)
        before.closeStdin()
        after.closeStdin()
    }

    func testDestroyedFlowResolvesForOneMorePollThenNot() throws {
        let sandbox = makeSandbox()
        let topo = try NATTopology(sandbox: sandbox)
        let server = try startPeer(["udp-server", "--bind", topo.serverV4, "--port", "0", "--expect-datagrams", "1",
                                    "--timeout-ms", "30000"], in: topo.server)
        let port = try server.listeningPort()
        try topo.dnat(proto: "udp", v6: false, vport: 5353, serverPort: port)
        let r = resolver()
        let events = try runPeer(["udp-client", "--connect", NATTopology.vip4, "--port", "5353", "--datagrams", "1",
                                  "--size", "10", "--connected"], in: topo.client)
        let lport = try XCTUnwrap(events.first { $0.event == "udp" }).lport
        let clientEnd = tuple(.udp, topo.client, topo.clientV4, lport, NATTopology.vip4, 5353)
        XCTAssertTrue(poll(r) { r.translation(for: clientEnd) != nil }, "the NEW event arrives")
        XCTAssertEqual(r.translation(for: clientEnd)?.replSrcIP, IPAddress(topo.serverV4))

        // Flushing the router's table destroys the flow now (the garbage collector would take up to a minute).
        try ConntrackFlush.flush(topo.router)
        // Only this flow's fate is looked at: other namespaces on the host may have NAT flows of their own.
        let router = UInt32(topo.router.inode)
        XCTAssertFalse(r.flows(netns: router).isEmpty)
        XCTAssertTrue(poll(r) { r.flows(netns: router).isEmpty }, "the DESTROY event arrives")
        XCTAssertGreaterThan(r.counters.destroyedBuffered, 0)
        XCTAssertEqual(r.translation(for: clientEnd)?.replSrcIP, IPAddress(topo.serverV4), "kept for the poll that saw the destroy")
        r.poll(now: monotonicNow())
        XCTAssertNil(r.translation(for: clientEnd), "gone one poll later")
    }

    func testBurstOverflowsTheEventSocketAndResyncRestoresEveryTranslation() throws {
        let n = 5000
        let (topo, port) = try manyServerBehindDNAT(n)
        let r = resolver(receiveBuffer: 4096)
        r.poll(now: monotonicNow())

        let burst = try startPeer(["many", "--connect", NATTopology.vip4, "--port", "8443", "--connections", "\(n)",
                                   "--timeout-ms", workBoundMs(60)], in: topo.client)
        let lports = try XCTUnwrap(burst.waitFor("connected", timeout: workBound(30))[0].arrays["lports"])
        XCTAssertEqual(lports.count, n)

        let tuples = lports.map { tuple(.tcp, topo.client, topo.clientV4, $0, NATTopology.vip4, 8443) }
        func wrong() -> [Int] {
            zip(lports, tuples).filter { lport, t in
                r.translation(for: t) != IPTranslation(replSrcIP: IPAddress(topo.serverV4)!, replSport: UInt16(port),
                                                       replDstIP: IPAddress(topo.clientV4)!, replDport: UInt16(lport))
            }.map(\.0)
        }
        let ok = poll(r, timeout: workBound(15)) { r.counters.resyncs > 0 && wrong().isEmpty }
        let missing = wrong()
        XCTAssertGreaterThan(r.counters.resyncs, 0, "a \(n)-connection burst into a \(4096)-byte buffer overflows it")
        XCTAssertTrue(ok && missing.isEmpty, "\(missing.count) of \(n) connections without the right translation, e.g. \(missing.prefix(5))")
        print("burst: \(n) connections, resyncs \(r.counters.resyncs), events \(r.counters.events), flows \(r.counters.flows)")
        burst.closeStdin()
        try burst.finish(timeout: workBound(30))
    }

    /// A dump the kernel could not finish stays running on its socket, and every read resumes it: the next
    /// dump's request is refused (EBUSY) while the old dump's parts keep coming. The next dump must still
    /// be the whole table, not the old dump's tail. The unfinished dump is made here by sending a request
    /// and reading only its first part.
    func testADumpLeftUnfinishedOnTheSocketDoesNotCutTheNextOne() throws {
        let n = 1000
        let topo = try manyServerBehindDNAT(n).topo
        let burst = try startPeer(["many", "--connect", NATTopology.vip4, "--port", "8443", "--connections", "\(n)",
                                   "--timeout-ms", workBoundMs(60)], in: topo.client)
        XCTAssertEqual(try XCTUnwrap(burst.waitFor("connected", timeout: workBound(30))[0].arrays["lports"]).count, n)

        let ns = try ConntrackNamespace.open(path: "/run/netns/\(topo.router.name)", expectedInode: nil,
                                             receiveBuffer: 1 << 20).get()
        defer { ns.close() }
        let whole = try ns.dumper.dump().get().filter(\.isNAT).count
        XCTAssertGreaterThanOrEqual(whole, n)

        var request = ConntrackDumpReader(seq: 0).request(subsystem: nt_ct_subsys_conntrack())
        XCTAssertEqual(send(ns.dumper.fd, &request, request.count, 0), request.count)
        var part = [UInt8](repeating: 0, count: 1 << 16)
        let first = recv(ns.dumper.fd, &part, part.count, 0)
        var messages = 0, offset = 0
        while offset + 16 <= first {
            let length = part.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
            guard length >= 16 else { break }
            messages += 1
            offset += (length + 3) & ~3
        }
        XCTAssertGreaterThan(messages, 0)
        XCTAssertLessThan(messages, whole / 2, "the first part holds a fraction of the \(whole) flows")

        let next = try ns.dumper.dump().get().filter(\.isNAT).count
        XCTAssertEqual(next, whole, "the dump after an unfinished one")
        XCTAssertEqual(try ns.dumper.dump().get().filter(\.isNAT).count, whole, "and the one after that")
        burst.closeStdin()
        try burst.finish(timeout: workBound(30))
    }

    func testNamespacesThatAppearLaterAreFollowedAndVanishedOnesClosed() throws {
        var options = ConntrackResolver.Options()
        options.rescanIntervalNs = 200_000_000
        let r = ConntrackResolver(options: options, now: monotonicNow())
        addTeardownBlock { r.close() }
        XCTAssertTrue(r.available, r.unavailableReason ?? "")

        let sandbox = makeSandbox()
        let topo = try NATTopology(sandbox: sandbox)
        let server = try startPeer(["hold-server", "--bind", topo.serverV6, "--port", "0", "--timeout-ms", "30000"], in: topo.server)
        let port = try server.listeningPort()
        try topo.dnat(proto: "tcp", v6: true, vport: 8080, serverPort: port)
        let client = try startPeer(["hold", "--connect", NATTopology.vip6, "--port", "8080", "--timeout-ms", "30000"], in: topo.client)
        let lport = try client.waitFor("connected")[0].lport
        let clientEnd = tuple(.tcp, topo.client, topo.clientV6, lport, NATTopology.vip6, 8080)
        XCTAssertTrue(poll(r) { r.translation(for: clientEnd) != nil }, "the router, made after the resolver, is found by a rescan")
        XCTAssertEqual(r.translation(for: clientEnd),
                       IPTranslation(replSrcIP: IPAddress(topo.serverV6)!, replSport: UInt16(port),
                                     replDstIP: IPAddress(topo.clientV6)!, replDport: UInt16(lport)))
        let router = UInt32(topo.router.inode)
        XCTAssertTrue(r.followedNamespaces.contains(router))

        client.closeStdin()
        try client.finish()
        try server.finish()
        sandbox.teardown()
        XCTAssertTrue(poll(r) { !r.followedNamespaces.contains(router) }, "a deleted namespace is let go at the next rescan")
        r.poll(now: monotonicNow())
        XCTAssertNil(r.translation(for: clientEnd), "its flows answer one more poll at most")
    }
}
