/// One observation of a socket end, as the kernel layer reports it each tick: cumulative counters since
/// tracking of that socket end began (not since the last tick). Pure value: no kernel types.
///
/// The fields are ordered for size (the initializer takes them by name): the small ones fill the padding
/// after the kernel key, which makes a sample 136 bytes, not 152. A tick at 100k connections holds 200,000.
public struct ConnectionSample: Sendable, Hashable {
    public var tuple: ConnectionTuple
    /// Where the kernel keeps it; `nil` for a row read from /proc at start (no counters yet).
    public var kernelKey: KernelKey?
    public var origin: Origin
    /// TCP state number as the kernel numbers it (1 = ESTABLISHED ... 10 = LISTEN); 0 for UDP or unknown.
    public var tcpState: UInt8
    public var pid: UInt32
    public var retransmits: UInt32
    public var comm: String
    public var sentBytes: UInt64
    public var recvBytes: UInt64
    /// Monotonic nanoseconds (CLOCK_MONOTONIC, the bpf_ktime_get_ns clock) of the first and last activity.
    public var firstSeen: UInt64
    public var lastActivity: UInt64

    public init(tuple: ConnectionTuple, kernelKey: KernelKey?, pid: UInt32, comm: String,
                sentBytes: UInt64, recvBytes: UInt64, retransmits: UInt32,
                firstSeen: UInt64, lastActivity: UInt64, origin: Origin, tcpState: UInt8) {
        self.tuple = tuple
        self.kernelKey = kernelKey
        self.pid = pid
        self.comm = comm
        self.sentBytes = sentBytes
        self.recvBytes = recvBytes
        self.retransmits = retransmits
        self.firstSeen = firstSeen
        self.lastActivity = lastActivity
        self.origin = origin
        self.tcpState = tcpState
    }
}
