/// Where the tracer gets each connection's NAT translation: the kernel's conntrack tables (real), nothing
/// (conntrack off or unusable), or a table a test fills (fake). One owner calls it from one thread: the
/// tracer, once per tick — `poll` first, then `translation(for:)` for the rows of that tick.
public protocol NATResolving: AnyObject {
    /// Whether translations can be found at all (false when turned off, without CAP_NET_ADMIN, or without
    /// conntrack in the kernel).
    var available: Bool { get }
    /// Why not, in one sentence, when `available` is false.
    var unavailableReason: String? { get }
    var counters: ConntrackCounters { get }

    /// Starts a tick: takes in what the kernel said since the previous one. `now` is monotonic
    /// nanoseconds (for periodic work such as looking for new namespaces).
    func poll(now: UInt64)
    /// The translation of one socket end, or nil when it is not NATed (or not known to be).
    func translation(for tuple: ConnectionTuple) -> IPTranslation?
    /// Releases every kernel resource; safe to call twice.
    func close()
}

/// The resolver's self-telemetry.
public struct ConntrackCounters: Sendable, Hashable {
    /// Full reloads of a namespace's table after the event stream overflowed (ENOBUFS).
    public var resyncs: UInt64 = 0
    /// Events (and dump rows) applied.
    public var events: UInt64 = 0
    /// Namespaces whose conntrack table is being followed.
    public var namespaces = 0
    /// NAT flows known now, and destroyed ones kept for their last tick.
    public var flows = 0
    public var destroyedBuffered = 0
    /// Destroyed flows dropped early because `--conntrack-buffer` was full.
    public var destroyedDrops: UInt64 = 0
    /// Namespaces that could not be opened, and dumps or reads that failed.
    public var errors: UInt64 = 0
    /// Messages refused unparsed: malformed, or sizes of a ctnetlink ABI nettop does not know.
    public var rejected: UInt64 = 0

    public init() {}
}

/// No NAT information: conntrack turned off (`--no-conntrack`) or not usable here.
public final class NoNATResolver: NATResolving {
    public let unavailableReason: String?

    public init(reason: String = "conntrack is turned off (--no-conntrack)") {
        unavailableReason = reason
    }

    public var available: Bool { false }
    public var counters: ConntrackCounters { ConntrackCounters() }
    public func poll(now: UInt64) {}
    public func translation(for tuple: ConnectionTuple) -> IPTranslation? { nil }
    public func close() {}
}
