/// A resolver driven by a test: what it is told to deliver is applied at the next `poll`, as the real
/// resolver applies what the kernel sent since the previous tick.
public final class FakeNATResolver: NATResolving {
    private enum Pending {
        case events([ConntrackEvent], netns: UInt32)
        case resync([ConntrackFlow], netns: UInt32)
        case removed(netns: UInt32)
    }

    public private(set) var table: ConntrackTable
    public var available: Bool
    public var unavailableReason: String?
    public private(set) var polls = 0
    public private(set) var isClosed = false
    private var pending: [Pending] = []
    private var resyncs: UInt64 = 0

    public init(bufferSize: Int = 4096, available: Bool = true, unavailableReason: String? = nil) {
        table = ConntrackTable(destroyedCapacity: bufferSize)
        self.available = available
        self.unavailableReason = unavailableReason
    }

    /// Events the namespace's stream will deliver at the next poll.
    public func deliver(_ events: [ConntrackEvent], netns: UInt32) { pending.append(.events(events, netns: netns)) }
    /// A dump that replaces the namespace's flows at the next poll, counted as a resync (ENOBUFS).
    public func resync(netns: UInt32, flows: [ConntrackFlow]) { pending.append(.resync(flows, netns: netns)) }
    /// The namespace goes away at the next poll.
    public func removeNamespace(_ netns: UInt32) { pending.append(.removed(netns: netns)) }

    public var counters: ConntrackCounters {
        var c = ConntrackCounters()
        c.resyncs = resyncs
        c.events = table.eventsApplied
        c.namespaces = table.namespaces.count
        c.flows = table.liveCount
        c.destroyedBuffered = table.destroyedCount
        c.destroyedDrops = table.destroyedDrops
        return c
    }

    public func poll(now: UInt64) {
        polls += 1
        table.beginTick()
        for item in pending {
            switch item {
            case .events(let events, let netns): table.apply(events, netns: netns)
            case .resync(let flows, let netns): table.replace(netns: netns, with: flows); resyncs += 1
            case .removed(let netns): table.removeNamespace(netns)
            }
        }
        pending.removeAll()
    }

    public func translation(for tuple: ConnectionTuple) -> IPTranslation? {
        available ? table.translation(for: tuple) : nil
    }

    public func close() { isClosed = true }
}
