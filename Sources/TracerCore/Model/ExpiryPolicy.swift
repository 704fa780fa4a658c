/// When an idle row is dropped: strictly more than its protocol's timeout since its last activity.
struct ExpiryPolicy: Sendable {
    var tcpTimeout: UInt64
    var udpTimeout: UInt64

    init(_ config: TableConfig) {
        tcpTimeout = config.tcpTimeout
        udpTimeout = config.udpTimeout
    }

    func isExpired(_ sample: borrowing ConnectionSample, now: UInt64) -> Bool {
        // A row stamped after `now` (the kernel's clock read after ours) is fresh, not 2^64 ns old.
        guard now > sample.lastActivity else { return false }
        let timeout = sample.tuple.type == .tcp ? tcpTimeout : udpTimeout
        return now - sample.lastActivity > timeout
    }
}
