/// The kind of loopback TCP connection a guessing step needs. Addresses and ports are chosen fresh for
/// every connection (by whoever makes it), so a wrong candidate cannot keep matching by chance.
struct TrialShape: Hashable, Sendable {
    enum Family: Hashable, Sendable {
        case v4
        /// An AF_INET6 client connecting to ::ffff:127.x.y.z: fills the v6 address fields with values that
        /// vary from one connection to the next, which ::1 (the only v6 loopback address) cannot.
        case v6mapped
    }

    /// What the client binds before connecting; sets SOCK_BINDADDR_LOCK (4) and SOCK_BINDPORT_LOCK (8).
    enum Bind: Hashable, Sendable, CaseIterable {
        case none, address, port, addressAndPort

        var userlocks: UInt8 {
            switch self {
            case .none: return 0
            case .address: return 4
            case .port: return 8
            case .addressAndPort: return 12
            }
        }
    }

    var family: Family = .v4
    var bind: Bind = .address
    /// Make the connection in the guesser's second network namespace (for netns, whose value is otherwise
    /// the same on every connection).
    var secondNetns = false
}

/// What a guessing connection really had, as user space saw it (getsockname, SO_COOKIE, /proc).
struct TrialFacts: Sendable, Equatable {
    var family: TrialShape.Family
    var saddr: [UInt8]      // IPv4, network order
    var daddr: [UInt8]
    var sport: UInt16
    var dport: UInt16
    var cookie: UInt64
    var netns: UInt32
    var userlocks: UInt8

    /// The bytes `field` holds in the kernel for this connection, or nil when it says nothing about it.
    func expected(_ field: GuessField) -> [UInt8]? {
        switch field {
        case .family: return le(UInt16(family == .v4 ? 2 : 10))
        case .sport: return le(sport)
        case .dport: return [UInt8(dport >> 8), UInt8(dport & 0xff)]
        case .saddr: return saddr
        case .daddr: return daddr
        case .v6saddr: return family == .v6mapped ? TrialFacts.mapped(saddr) : nil
        case .v6daddr: return family == .v6mapped ? TrialFacts.mapped(daddr) : nil
        case .netns: return le(netns)
        case .cookie: return le(cookie)
        case .userlocks: return [userlocks]
        }
    }

    static func mapped(_ v4: [UInt8]) -> [UInt8] {
        [UInt8](repeating: 0, count: 10) + [0xff, 0xff] + v4
    }

    private func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v.littleEndian) { Array($0) }
    }
}

/// Where the kernel side reads its window for one connection.
struct GuessRead: Hashable, Sendable {
    /// Offset in struct sock (of the window, or of the pointer to follow).
    var offset: Int
    /// When set: follow the pointer at `offset` and read the window at this offset in what it points to.
    var inner: Int?
}

/// One step of the guesser: make a connection of `shape`, read `read` from its struct sock.
struct GuessRequest: Sendable, Equatable {
    var field: GuessField
    var shape: TrialShape
    var read: GuessRead
}

/// What came back from one connection.
enum GuessObservation: Sendable {
    /// The program read the window.
    case window(TrialFacts, [UInt8])
    /// The program ran but could not read there (e.g. the "pointer" was not one).
    case unreadable(TrialFacts)
    /// No event came for the connection (it will be retried, a bounded number of times).
    case missed
}
