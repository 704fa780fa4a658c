import TracerCore

/// How one connection's fields read in text output (the batch table, later the UI).
enum ConnectionText {
    /// "10.0.0.1:443", "[fd00::1]:53", or "*:*" for an unconnected UDP socket's missing peer (as `ss`).
    static func endpoint(_ address: IPAddress, _ port: UInt16) -> String {
        if address.isUnspecified && port == 0 { return "*:*" }
        switch address.family {
        case .v4: return "\(address):\(port)"
        case .v6: return "[\(address)]:\(port)"
        }
    }

    static func direction(_ direction: Direction) -> String {
        switch direction {
        case .incoming: return "in"
        case .outgoing: return "out"
        case .local: return "local"
        case .none: return "-"
        }
    }

    /// Seconds since the connection was first seen, at `monotonicNs` (CLOCK_MONOTONIC nanoseconds, the
    /// clock of `firstSeen`); a closed connection's age stops at its last activity.
    static func ageSeconds(_ row: ConnectionStats, monotonicNs: UInt64) -> Double {
        let end = row.closed ? row.lastActivity : max(monotonicNs, row.firstSeen)
        return Double(end &- min(end, row.firstSeen)) / 1e9
    }

    /// `ss` names for the kernel's TCP states (include/net/tcp_states.h); "-" for UDP and unknown.
    static func tcpState(_ state: UInt8) -> String {
        switch state {
        case 1: return "ESTAB"
        case 2: return "SYN-SENT"
        case 3: return "SYN-RECV"
        case 4: return "FIN-WAIT-1"
        case 5: return "FIN-WAIT-2"
        case 6: return "TIME-WAIT"
        case 7: return "CLOSE"
        case 8: return "CLOSE-WAIT"
        case 9: return "LAST-ACK"
        case 10: return "LISTEN"
        case 11: return "CLOSING"
        case 12: return "NEW-SYN-RECV"
        default: return "-"
        }
    }

    static func state(of row: ConnectionStats) -> String {
        if row.closed { return "closed" }
        return row.tuple.type == .tcp ? tcpState(row.tcpState) : "-"
    }

    /// The `ip netns` name where one is known, else the inode number.
    static func netns(_ inode: UInt32, names: [UInt32: String]) -> String {
        if let name = names[inode] { return TerminalSafeText.sanitize(name) }
        return String(inode)
    }

    static func command(_ comm: String) -> String {
        comm.isEmpty ? "-" : TerminalSafeText.sanitize(comm)
    }
}
