/// Everything the tracer can be told (the seed's Config), independent of how it was parsed.
public struct TracerConfig: Sendable, Hashable {
    public enum Backend: String, Sendable, CaseIterable {
        case auto, tracepoint, fentry, kprobe
    }

    public var collectTCP = true
    public var collectUDP = true
    public var collectIPv6 = true
    public var collectLocalDNS = true
    public var tcpTimeoutSeconds: Double = 1200
    public var udpTimeoutSeconds: Double = 30
    public var maxConnections = 65536
    public var procRoot = "/proc"
    public var bpfDebug = false
    public var enableConntrack = true
    public var conntrackBufferSize = 4096
    public var backend: Backend = .auto
    public var useBTF = true
    /// Bytes of the kernel's ring of changed-entry keys (40 bytes a key): 1 MB holds about 26,000 keys a
    /// tick, past which a tick reads the whole map (a lookup each would cost more by then). It counts twice
    /// in nettop's RSS (the ring is mapped twice), so it is no larger. Smaller only in tests.
    var dirtyRingBytes = 1 << 20
    /// Per-thread slots for a UDP datagram's peer (a power of two; nil: the kernel side's NT_PEER_SLOTS).
    /// Fewer only in tests, where threads then share slots and their peers go to the spill map.
    var peerSlots: Int?

    public init() {}
}
