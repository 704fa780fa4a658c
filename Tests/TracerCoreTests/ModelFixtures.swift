import TracerCore

/// Builders for the model tests: one place that knows how to make a plausible sample.
enum ModelFixtures {
    static let second: UInt64 = 1_000_000_000
    static let hostNetns: UInt32 = 4026531840

    static func ip(_ text: String) -> IPAddress {
        guard let address = IPAddress(text) else { preconditionFailure("bad test address \(text)") }
        return address
    }

    static func tuple(_ type: ConnectionType = .tcp, netns: UInt32 = hostNetns,
                      _ source: String = "10.0.0.1", _ sport: UInt16 = 40000,
                      _ dest: String = "10.0.0.2", _ dport: UInt16 = 80) -> ConnectionTuple {
        ConnectionTuple(type: type, netns: netns, source: ip(source), sport: sport, dest: ip(dest), dport: dport)
    }

    static func sample(_ tuple: ConnectionTuple, cookie: UInt64?, sent: UInt64 = 0, recv: UInt64 = 0,
                       retransmits: UInt32 = 0, firstSeen: UInt64 = 1, lastActivity: UInt64 = 1,
                       origin: Origin = .connect, pid: UInt32 = 1234, comm: String = "curl") -> ConnectionSample {
        ConnectionSample(tuple: tuple,
                         kernelKey: cookie.map { KernelKey(cookie: $0, peer: nil, peerPort: 0) },
                         pid: pid, comm: comm, sentBytes: sent, recvBytes: recv, retransmits: retransmits,
                         firstSeen: firstSeen, lastActivity: lastActivity, origin: origin,
                         tcpState: tuple.type == .tcp ? 1 : 0)
    }

    static func key(_ cookie: UInt64) -> KernelKey {
        KernelKey(cookie: cookie, peer: nil, peerPort: 0)
    }
}

/// The test target's seeded generator (ProcNetParserTests), usable with `shuffle(using:)` and
/// `random(in:using:)`, so the model tests' "kernel order" and churn are the same on every run.
extension SplitMix: RandomNumberGenerator {}
