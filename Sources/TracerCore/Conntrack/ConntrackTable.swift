/// The NAT flows of every network namespace nettop watches, and the answer to "what is this socket's
/// translation". Pure: fed with events and dumps by a resolver, told when a tick begins, never reads a
/// clock or the kernel.
///
/// Only flows whose reply tuple is not the plain inverse of the original one (a real translation) are
/// kept; the others can never produce an answer. Each flow is findable from both of its ends, as in the
/// seed: a socket whose local end is the original tuple's source (the client of a DNAT) matches the
/// original tuple, and a socket whose local end is the reply tuple's source (the server behind an SNAT or
/// masquerade) matches the reply tuple.
///
/// A socket end whose local address is unknown (0.0.0.0 or ::, as for an unconnected UDP socket) matches
/// on its port and remote end alone.
///
/// Destroyed flows are kept for the rest of the tick in which their destruction was applied (the next
/// `beginTick()` removes them), so a NATed connection that lived a few milliseconds still resolves when
/// its closed row is shown. At most `destroyedCapacity` are kept; older ones are dropped first, counted.
public struct ConntrackTable: Sendable {
    /// A flow in one namespace, by its original tuple (what conntrack's own hash is keyed on).
    struct FlowKey: Hashable, Sendable {
        var type: ConnectionType
        var original: FlowEndpoints
    }

    /// A socket end as a lookup: protocol, local end, remote end.
    struct LookupKey: Hashable, Sendable {
        var type: ConnectionType
        var local: IPAddress
        var lport: UInt16
        var remote: IPAddress
        var rport: UInt16

        init(type: ConnectionType, _ e: FlowEndpoints) {
            self.type = type
            local = e.src; lport = e.sport; remote = e.dst; rport = e.dport
        }

        /// A socket whose local address is not known (an unconnected UDP socket bound to the wildcard)
        /// looks up by ports and remote end only.
        init(_ t: ConnectionTuple) {
            type = t.type
            local = t.source.isUnspecified ? LookupKey.unspecified(t.dest.family) : t.source
            lport = t.sport; remote = t.dest; rport = t.dport
        }

        /// The same key without the local address.
        var wildcard: LookupKey {
            var k = self
            k.local = LookupKey.unspecified(local.family)
            return k
        }

        static func unspecified(_ family: Family) -> IPAddress { family == .v4 ? .anyV4 : .anyV6 }
    }

    /// One flow that answers a lookup key.
    struct Candidate: Sendable {
        var id: UInt64
        var netns: UInt32
        var destroyed: Bool
        var translation: IPTranslation

        /// Own namespace first, live before destroyed; among the rest, live first, then the lowest
        /// namespace inode (stable across ticks), then the newest flow.
        func isBetter(than other: Candidate, own: UInt32) -> Bool {
            let rank = (netns == own ? 0 : 2) + (destroyed ? 1 : 0)
            let otherRank = (other.netns == own ? 0 : 2) + (other.destroyed ? 1 : 0)
            if rank != otherRank { return rank < otherRank }
            if netns != other.netns { return netns < other.netns }
            return id > other.id
        }
    }

    /// Candidates of one key: almost always one, so no array is made for it.
    enum Candidates: Sendable {
        case one(Candidate)
        case many([Candidate])

        var all: [Candidate] {
            switch self {
            case .one(let c): return [c]
            case .many(let cs): return cs
            }
        }
    }

    struct LiveFlow: Sendable {
        var id: UInt64
        var flow: ConntrackFlow
    }

    struct DestroyedFlow: Sendable {
        var id: UInt64
        var netns: UInt32
        var flow: ConntrackFlow
        var generation: UInt64
    }

    /// How many destroyed flows are kept for their last tick (`--conntrack-buffer`).
    public let destroyedCapacity: Int

    private var live: [UInt32: [FlowKey: LiveFlow]] = [:]
    private var index: [LookupKey: Candidates] = [:]
    /// How many keys of `index` have each local port: every row of every tick is looked up, and on most
    /// hosts few ports have a NAT flow at all, so most lookups end here without hashing an address.
    private var keysByPort = [UInt32](repeating: 0, count: 65_536)
    /// Oldest first; `destroyedHead` is the first entry still in use.
    private var destroyed: [DestroyedFlow] = []
    private var destroyedHead = 0
    private var generation: UInt64 = 0
    private var nextID: UInt64 = 1

    /// Events and dump rows applied (NAT or not).
    public private(set) var eventsApplied: UInt64 = 0
    /// Destroyed flows dropped before their tick ended because the buffer was full.
    public private(set) var destroyedDrops: UInt64 = 0
    /// Full replacements of a namespace's flows from a dump.
    public private(set) var replacements: UInt64 = 0

    public init(destroyedCapacity: Int = 4096) {
        self.destroyedCapacity = max(0, destroyedCapacity)
    }

    // MARK: - Reading

    /// The translation of a socket end: from its own namespace if that one has it, else from any other.
    public func translation(for tuple: ConnectionTuple) -> IPTranslation? {
        guard keysByPort[Int(tuple.sport)] != 0, let candidates = index[LookupKey(tuple)] else { return nil }
        switch candidates {
        case .one(let c):
            return c.translation
        case .many(let cs):
            var best = cs[0]
            for c in cs.dropFirst() where c.isBetter(than: best, own: tuple.netns) { best = c }
            return best.translation
        }
    }

    /// NAT flows currently live, in all namespaces.
    public var liveCount: Int { live.values.reduce(0) { $0 + $1.count } }
    /// Destroyed flows still answering lookups this tick.
    public var destroyedCount: Int { destroyed.count - destroyedHead }
    /// Namespaces with at least one NAT flow.
    public var namespaces: [UInt32] { live.filter { !$0.value.isEmpty }.map(\.key).sorted() }
    /// The live NAT flows of one namespace (tests, debug dumps).
    public func flows(netns: UInt32) -> [ConntrackFlow] { live[netns]?.values.map(\.flow) ?? [] }
    /// True when no lookup can succeed (nothing to do for the rows of a tick).
    public var isEmpty: Bool { index.isEmpty }

    // MARK: - Writing

    /// Starts a tick: flows destroyed during the previous one are forgotten.
    public mutating func beginTick() {
        generation &+= 1
        while destroyedHead < destroyed.count, destroyed[destroyedHead].generation < generation {
            forgetOldestDestroyed()
        }
        compactDestroyed()
    }

    /// Applies events from a namespace's stream, in order.
    public mutating func apply(_ events: [ConntrackEvent], netns: UInt32) {
        for event in events { apply(event, netns: netns) }
    }

    public mutating func apply(_ event: ConntrackEvent, netns: UInt32) {
        eventsApplied &+= 1
        switch event.kind {
        case .new, .update:
            upsert(event.flow, netns: netns)
        case .destroy:
            let key = FlowKey(type: event.flow.type, original: event.flow.original)
            if let old = live[netns]?.removeValue(forKey: key) {
                unindex(old.flow, id: old.id)
                keepDestroyed(old.flow, netns: netns)
            }
        }
    }

    /// Replaces a namespace's flows with a full dump (after events were lost). Flows that are gone from
    /// the dump count as destroyed now: they may belong to a connection that closed during the loss.
    public mutating func replace(netns: UInt32, with flows: [ConntrackFlow]) {
        replacements &+= 1
        eventsApplied &+= UInt64(flows.count)
        var fresh: [FlowKey: ConntrackFlow] = [:]
        for flow in flows where flow.isNAT { fresh[FlowKey(type: flow.type, original: flow.original)] = flow }
        for (key, old) in live[netns] ?? [:] where fresh[key] != old.flow {
            live[netns]?.removeValue(forKey: key)
            unindex(old.flow, id: old.id)
            if fresh[key] == nil { keepDestroyed(old.flow, netns: netns) }
        }
        for (key, flow) in fresh where live[netns]?[key] == nil { insert(flow, key: key, netns: netns) }
    }

    /// A namespace that went away: its flows answer for one more tick, like destroyed ones.
    public mutating func removeNamespace(_ netns: UInt32) {
        guard let flows = live.removeValue(forKey: netns) else { return }
        for old in flows.values {
            unindex(old.flow, id: old.id)
            keepDestroyed(old.flow, netns: netns)
        }
    }

    // MARK: - Implementation

    private mutating func upsert(_ flow: ConntrackFlow, netns: UInt32) {
        let key = FlowKey(type: flow.type, original: flow.original)
        if let old = live[netns]?[key] {
            if old.flow == flow { return }
            live[netns]?.removeValue(forKey: key)
            unindex(old.flow, id: old.id)
        }
        guard flow.isNAT else { return }
        insert(flow, key: key, netns: netns)
    }

    private mutating func insert(_ flow: ConntrackFlow, key: FlowKey, netns: UInt32) {
        let id = nextID
        nextID &+= 1
        live[netns, default: [:]][key] = LiveFlow(id: id, flow: flow)
        addIndex(flow, id: id, netns: netns, destroyed: false)
    }

    private mutating func keepDestroyed(_ flow: ConntrackFlow, netns: UInt32) {
        guard destroyedCapacity > 0 else { return }
        if destroyedCount >= destroyedCapacity {
            forgetOldestDestroyed()
            destroyedDrops &+= 1
        }
        let id = nextID
        nextID &+= 1
        destroyed.append(DestroyedFlow(id: id, netns: netns, flow: flow, generation: generation))
        addIndex(flow, id: id, netns: netns, destroyed: true)
        compactDestroyed()
    }

    private mutating func forgetOldestDestroyed() {
        let old = destroyed[destroyedHead]
        destroyedHead += 1
        unindex(old.flow, id: old.id)
    }

    /// Drops the used-up front of the buffer once it is half of it.
    private mutating func compactDestroyed() {
        if destroyedHead == destroyed.count {
            destroyed.removeAll(keepingCapacity: true)
            destroyedHead = 0
        } else if destroyedHead > 1024 && destroyedHead * 2 > destroyed.count {
            destroyed.removeFirst(destroyedHead)
            destroyedHead = 0
        }
    }

    /// Each end of the flow under its full key and under its key without the local address.
    private mutating func addIndex(_ flow: ConntrackFlow, id: UInt64, netns: UInt32, destroyed: Bool) {
        let original = LookupKey(type: flow.type, flow.original), reply = LookupKey(type: flow.type, flow.reply)
        let fromOriginal = Candidate(id: id, netns: netns, destroyed: destroyed, translation: flow.translationForOriginal)
        let fromReply = Candidate(id: id, netns: netns, destroyed: destroyed, translation: flow.translationForReply)
        add(original, fromOriginal)
        add(original.wildcard, fromOriginal)
        add(reply, fromReply)
        add(reply.wildcard, fromReply)
    }

    private mutating func add(_ key: LookupKey, _ candidate: Candidate) {
        switch index[key] {
        case nil:
            index[key] = .one(candidate)
            keysByPort[Int(key.lport)] += 1
        case .one(let c): index[key] = .many([c, candidate])
        case .many(var cs):
            index[key] = nil  // keep the array uniquely referenced while it grows
            cs.append(candidate)
            index[key] = .many(cs)
        }
    }

    private mutating func unindex(_ flow: ConntrackFlow, id: UInt64) {
        let original = LookupKey(type: flow.type, flow.original), reply = LookupKey(type: flow.type, flow.reply)
        for key in [original, original.wildcard, reply, reply.wildcard] { remove(key, id: id) }
    }

    private mutating func remove(_ key: LookupKey, id: UInt64) {
        switch index[key] {
        case nil: return
        case .one(let c):
            if c.id == id {
                index[key] = nil
                keysByPort[Int(key.lport)] -= 1
            }
        case .many(var cs):
            index[key] = nil
            cs.removeAll { $0.id == id }
            if cs.count == 1 {
                index[key] = .one(cs[0])
            } else if !cs.isEmpty {
                index[key] = .many(cs)
            } else {
                keysByPort[Int(key.lport)] -= 1
            }
        }
    }
}
