/// One direction of a conntrack entry: who sent, to whom (conntrack's `src= dst= sport= dport=`).
public struct FlowEndpoints: Hashable, Sendable, CustomStringConvertible {
    public var src: IPAddress
    public var sport: UInt16
    public var dst: IPAddress
    public var dport: UInt16

    public init(src: IPAddress, sport: UInt16, dst: IPAddress, dport: UInt16) {
        self.src = src
        self.sport = sport
        self.dst = dst
        self.dport = dport
    }

    /// The same packets seen travelling the other way.
    public var inverted: FlowEndpoints { FlowEndpoints(src: dst, sport: dport, dst: src, dport: sport) }

    public var description: String { "\(src):\(sport) -> \(dst):\(dport)" }
}

/// A conntrack entry as nettop needs it: protocol and both tuples. The kernel records the reply tuple as
/// the packets of the other direction will look *after* NAT, so a reply tuple that is not the plain
/// inverse of the original one is a translation.
public struct ConntrackFlow: Hashable, Sendable, CustomStringConvertible {
    public var type: ConnectionType
    public var original: FlowEndpoints
    public var reply: FlowEndpoints

    public init(type: ConnectionType, original: FlowEndpoints, reply: FlowEndpoints) {
        self.type = type
        self.original = original
        self.reply = reply
    }

    /// True when some NAT rule changed an address or a port of this flow.
    public var isNAT: Bool { reply != original.inverted }

    /// What a socket whose local end is the original tuple's source (the client, e.g. behind DNAT)
    /// sees: the reply tuple, whose source is the real remote end.
    public var translationForOriginal: IPTranslation {
        IPTranslation(replSrcIP: reply.src, replSport: reply.sport, replDstIP: reply.dst, replDport: reply.dport)
    }

    /// What a socket whose local end is the reply tuple's source (the server, e.g. behind SNAT or
    /// masquerade) sees: the original tuple, whose source is the real client.
    public var translationForReply: IPTranslation {
        IPTranslation(replSrcIP: original.src, replSport: original.sport, replDstIP: original.dst, replDport: original.dport)
    }

    public var description: String { "\(type.rawValue) orig \(original) reply \(reply)" }
}

/// What the kernel said about one flow (NFCT_T_NEW / UPDATE / DESTROY).
public struct ConntrackEvent: Hashable, Sendable {
    public enum Kind: Sendable, Hashable {
        case new, update, destroy
    }

    public var kind: Kind
    public var flow: ConntrackFlow

    public init(_ kind: Kind, _ flow: ConntrackFlow) {
        self.kind = kind
        self.flow = flow
    }
}
