/// What the offset guesser found: one byte offset per field (struct sock, or struct net for the
/// namespace inode), as the no-BTF programs read them.
struct GuessedOffsets: Sendable, Equatable {
    /// One found field, named as BTF names it.
    struct Entry: Sendable, Equatable {
        var structName: String
        var memberName: String
        var offset: Int
    }

    private(set) var offsets: [GuessField: Int] = [:]
    /// Offset of ns.inum in struct net.
    var netnsInode: Int?
    /// 4 when sk_userlocks is the high nibble of a bitfield byte (kernels before it became a u8).
    var userlocksShift = 0
    /// Connections the guess took (for diagnostics).
    var connections = 0

    subscript(field: GuessField) -> Int? {
        get { offsets[field] }
        set { offsets[field] = newValue }
    }

    var hasIPv6: Bool { offsets[.v6saddr] != nil && offsets[.v6daddr] != nil }

    /// In the order `nettop debug offsets` lists them.
    var entries: [Entry] {
        var list: [Entry] = []
        for field in GuessField.allCases {
            guard let offset = offsets[field] else { continue }
            list.append(Entry(structName: field.structName, memberName: field.memberName, offset: offset))
            if field == .netns, let inner = netnsInode {
                list.append(Entry(structName: "net", memberName: "ns.inum", offset: inner))
            }
        }
        return list
    }
}

/// Why guessing stopped without an answer: one sentence for the user.
struct OffsetGuessFailure: Error, Sendable, Equatable, CustomStringConvertible {
    var field: GuessField?
    var message: String
    var description: String { message }
}
