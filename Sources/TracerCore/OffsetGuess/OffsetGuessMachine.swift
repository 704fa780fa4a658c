/// The offset guesser's state machine (DataDog's idea, one field at a time), pure: it says which
/// connection to make and where to read, is told what was read, and moves on. The I/O is elsewhere
/// (Kernel/OffsetGuesser.swift), so the machine is tested against fake struct layouts.
///
/// For each field it reads a window of struct sock (`window` bytes) per connection, keeps the offsets in
/// the window whose bytes equal what that connection's field must hold, and intersects over further
/// connections with fresh addresses, ports and cookies. A window with no candidate left moves the search
/// on; once `confirmations` connections agree, the lowest candidate is the field (copies of a value, like
/// inet_sport, sit further into the socket). For the namespace it follows each 8-byte aligned pointer and
/// searches the pointed-to struct for the namespace's inode number. Everything is bounded: offsets by
/// each field's limit, connections by `maxConnections`, and missed events by `maxMissed` in a row.
struct OffsetGuessMachine: Sendable {
    enum Step: Sendable, Equatable {
        case request(GuessRequest)
        case done(GuessedOffsets)
        case failed(OffsetGuessFailure)
    }

    private(set) var step: Step
    private let fields: [GuessField]
    private let window: Int
    private let ipv6: Bool
    private let secondNetns: Bool
    private let maxConnections: Int
    private let maxMissed = 3

    private var result = GuessedOffsets()
    private var fieldIndex = 0
    /// Direct fields: where the window starts. Pointer fields: where the window starts in the pointee.
    private var start = 0
    /// Pointer fields: the offset of the pointer being followed.
    private var pointer = 0
    /// Candidates in the current window (absolute offsets; for userlocks, offset * 2 + (shift == 4)).
    private var candidates: [Int]?
    private var agreed = 0
    private var missed = 0
    private var trial = 0

    /// `ipv6`: AF_INET6 sockets can be made (else the v6 fields are left out). `secondNetns`: the I/O
    /// side can make connections in a second network namespace.
    init(ipv6: Bool, secondNetns: Bool, window: Int = 256, maxConnections: Int = 3000) {
        self.ipv6 = ipv6
        self.secondNetns = secondNetns
        self.window = window
        self.maxConnections = maxConnections
        fields = GuessField.allCases.filter { ipv6 || !$0.needsIPv6 }
        step = .failed(OffsetGuessFailure(field: nil, message: "no field to guess"))
        step = nextRequest()
    }

    /// The offsets found so far (all of them once `step` is `.done`).
    var found: GuessedOffsets { result }

    mutating func observe(_ observation: GuessObservation) {
        guard case .request(let request) = step else { return }
        let field = request.field
        result.connections += 1
        if result.connections > maxConnections {
            step = fail(field, "gave up after \(maxConnections) connections")
            return
        }
        switch observation {
        case .missed:
            missed += 1
            if missed >= maxMissed {
                step = fail(field, "no kernel event came for \(maxMissed) guessing connections in a row")
                return
            }
        case .unreadable:
            missed = 0
            trial += 1
            if field.isPointer { start = field.innerLimit } // not a pointer: on to the next one
            advanceWindow(field)
        case .window(let facts, let bytes):
            missed = 0
            trial += 1
            guard let expected = facts.expected(field) else { break }
            let matches = Set(matching(field, expected, in: bytes))
            let kept = candidates.map { $0.filter(matches.contains) } ?? matches.sorted()
            if kept.isEmpty {
                advanceWindow(field)
            } else {
                candidates = kept
                agreed += 1
                if agreed >= field.confirmations {
                    take(field, kept[0])
                }
            }
        }
        if case .request = step { step = nextRequest() }
    }

    /// The binds of the userlocks trials, in order: 12 first (a rare byte value, so few candidates survive
    /// the first window), then values whose steps differ. A 4-bit candidate must match all eight, and
    /// a nibble that moves by a constant step per connection cannot: the low byte of a pointer into a slab
    /// of 2,368-byte TCP sockets (0x940) moves its high nibble by 4 per object, and the sequence
    /// 12, 0, 4, 8 this used to be is exactly such a run. With four trials, that (or a random byte
    /// matching by chance, one in 65,536 a nibble) now and then made a lower offset win, and every UDP
    /// server then read as outgoing.
    static let userlocksBinds: [TrialShape.Bind] =
        [.addressAndPort, .none, .port, .address, .none, .addressAndPort, .address, .port]

    // MARK: - Implementation

    private var currentField: GuessField? { fieldIndex < fields.count ? fields[fieldIndex] : nil }

    /// Window starts advance by less than a window, so a field never straddles two windows unseen.
    private var stride: Int { window - 16 }

    private mutating func nextRequest() -> Step {
        guard let field = currentField else { return .done(result) }
        let read = field.isPointer ? GuessRead(offset: pointer, inner: start) : GuessRead(offset: start, inner: nil)
        return .request(GuessRequest(field: field, shape: shape(for: field), read: read))
    }

    /// The connection for the next look at `field`: values vary from one to the next, and for fields whose
    /// value depends on the kind of connection, the kinds alternate.
    private func shape(for field: GuessField) -> TrialShape {
        var s = TrialShape()
        switch field {
        case .family:
            s.family = ipv6 && trial % 2 == 1 ? .v6mapped : .v4
        case .v6saddr, .v6daddr:
            s.family = .v6mapped
        case .netns:
            s.secondNetns = secondNetns && trial % 2 == 1
        case .userlocks:
            s.bind = Self.userlocksBinds[trial % Self.userlocksBinds.count]
        default:
            break
        }
        return s
    }

    /// Offsets in the window (absolute) whose bytes equal `expected`.
    private func matching(_ field: GuessField, _ expected: [UInt8], in bytes: [UInt8]) -> [Int] {
        var out: [Int] = []
        let base = start
        let size = expected.count
        var i = 0
        while i + size <= bytes.count {
            if field == .userlocks {
                // A byte of its own (shift 0), or the high nibble of a bitfield byte (shift 4). Only the
                // low four lock bits are compared: newer kernels add SOCK_CONNECT_BIND (16) on connect.
                let b = bytes[i], v = expected[0]
                if b & 0x0f == v { out.append((base + i) * 2) }
                if b >> 4 == v { out.append((base + i) * 2 + 1) }
            } else if bytes[i..<(i + size)].elementsEqual(expected) {
                out.append(base + i)
            }
            i += field.alignment
        }
        return out
    }

    private mutating func advanceWindow(_ field: GuessField) {
        candidates = nil
        agreed = 0
        if field.isPointer {
            start += stride
            if start >= field.innerLimit {
                start = 0
                pointer += 8
            }
            if pointer >= field.limit {
                step = fail(field, "found no pointer in the first \(field.limit) bytes of struct sock leading to the network namespace's inode number")
            }
        } else {
            start += stride
            if start >= field.limit {
                step = fail(field, "found no offset in the first \(field.limit) bytes of struct sock that holds \(field.memberName) on every connection")
            }
        }
    }

    private mutating func take(_ field: GuessField, _ candidate: Int) {
        switch field {
        case .netns:
            result[.netns] = pointer
            result.netnsInode = candidate
        case .userlocks:
            result[.userlocks] = candidate / 2
            result.userlocksShift = candidate % 2 == 1 ? 4 : 0
        default:
            result[field] = candidate
        }
        fieldIndex += 1
        start = 0
        pointer = 0
        candidates = nil
        agreed = 0
        missed = 0
        trial = 0
    }

    private func fail(_ field: GuessField, _ why: String) -> Step {
        .failed(OffsetGuessFailure(field: field,
            message: "offset guessing could not find \(field.structName).\(field.memberName): \(why)"))
    }
}
