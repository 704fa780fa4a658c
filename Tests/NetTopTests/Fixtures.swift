@testable import NetTop
import TracerCore

/// Rows and snapshots built by hand, so the renderers and the run loop are tested without a kernel.
enum Fixtures {
    static let hostNetns: UInt32 = 4_026_531_840
    static let blueNetns: UInt32 = 4_026_532_500

    static func row(
        _ type: ConnectionType = .tcp,
        source: String = "10.0.0.1", sport: UInt16 = 43210,
        dest: String = "93.184.216.34", dport: UInt16 = 443,
        netns: UInt32 = hostNetns, direction: Direction = .outgoing,
        pid: UInt32 = 1234, comm: String = "curl",
        sent: UInt64 = 0, lastSent: UInt64 = 0, recv: UInt64 = 0, lastRecv: UInt64 = 0,
        retransmits: UInt32 = 0, lastRetransmits: UInt32 = 0,
        lastUpdateEpoch: UInt64 = 1_700_000_000, firstSeen: UInt64 = 1_000, closed: Bool = false,
        tcpState: UInt8 = 1, conntrack: IPTranslation? = nil
    ) -> ConnectionStats {
        ConnectionStats(
            tuple: ConnectionTuple(type: type, netns: netns, source: IPAddress(source)!, sport: sport,
                                   dest: IPAddress(dest)!, dport: dport),
            direction: direction, pid: pid, comm: comm,
            monotonicSentBytes: sent, lastSentBytes: lastSent,
            monotonicRecvBytes: recv, lastRecvBytes: lastRecv,
            monotonicRetransmits: retransmits, lastRetransmits: lastRetransmits,
            lastUpdateEpoch: lastUpdateEpoch, firstSeen: firstSeen, lastActivity: firstSeen + 10,
            closed: closed, tcpState: type == .tcp ? tcpState : 0, conntrack: conntrack)
    }

    /// A v4 TCP client with traffic in both directions and retransmits.
    static let tcpV4 = row(sent: 1_000_000, lastSent: 250_000, recv: 2_048, lastRecv: 1_024,
                           retransmits: 3, lastRetransmits: 1)

    /// A v6 UDP socket that answered a query, in a named namespace.
    static let udpV6 = row(.udp, source: "fd00::53", sport: 53, dest: "fd00::1:2", dport: 40000,
                           netns: blueNetns, direction: .incoming, pid: 77, comm: "dnsmasq",
                           sent: 512, lastSent: 512, recv: 64, lastRecv: 64, lastUpdateEpoch: 1_700_000_001)

    /// A loopback connection that closed since the last tick.
    static let closedLocal = row(source: "127.0.0.1", sport: 8080, dest: "127.0.0.1", dport: 50000,
                                 direction: .local, pid: 900, comm: "server", sent: 10, lastSent: 10,
                                 recv: 20, lastRecv: 20, closed: true, tcpState: 7)

    /// A container's connection leaving through the host's NAT.
    static let nated = row(source: "172.17.0.2", sport: 51000, dest: "1.1.1.1", dport: 443, pid: 4321,
                           comm: "wget", sent: 300, recv: 5_000,
                           conntrack: IPTranslation(replSrcIP: IPAddress("1.1.1.1")!, replSport: 443,
                                                    replDstIP: IPAddress("192.168.1.10")!, replDport: 61000))

    static let hostileComm = "\u{1b}[2Jevil\nname\"\\"

    static var stats: TracerStats {
        var stats = TracerStats()
        stats.tracked = 42
        stats.closedReceived = 7
        stats.closedLost = 2
        stats.closedBufferDrops = 1
        stats.mapFullDrops = 5
        stats.expiredTCP = 3
        stats.expiredUDP = 4
        stats.pollMs = 1.25
        stats.tickMs = 2.5
        stats.udpPeerUnknown = 6
        stats.syscallContextFull = 8
        stats.conntrackResyncs = 9
        stats.conntrackAvailable = true
        stats.maxConnections = 65536
        stats.conntrackRejected = 11
        stats.conntrackErrors = 12
        return stats
    }

    static func snapshot(_ rows: [ConnectionStats], timestamp: Double = 1_700_000_000.5) -> Snapshot {
        Snapshot(timestamp: timestamp, backend: "tracepoint", connections: rows, stats: stats,
                 netnsNames: [blueNetns: "blue"])
    }
}
