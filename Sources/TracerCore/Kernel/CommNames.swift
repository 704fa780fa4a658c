/// Process names made from the kernel's 16-byte `comm` fields, remembered by pid in a small direct-mapped
/// table: every row of every tick carries one, a host's rows mostly belong to a few processes, and making
/// a String from the bytes each time was a twentieth of a tick. An entry is used only when both the pid
/// and all sixteen bytes match, so a renamed process or a reused pid gets its new name.
struct CommNames {
    private struct Entry {
        var pid: UInt32 = 0
        var low: UInt64 = 0
        var high: UInt64 = 0
        var name = ""
    }

    private static let slots = 256
    private var entries = [Entry](repeating: Entry(), count: CommNames.slots)

    mutating func name<T>(pid: UInt32, comm raw: T) -> String {
        let (low, high) = withUnsafeBytes(of: raw) { bytes in
            (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
        let slot = Int(pid) & (Self.slots - 1)
        return entries.withUnsafeMutableBufferPointer { table in
            if table[slot].pid == pid && table[slot].low == low && table[slot].high == high {
                return table[slot].name
            }
            let name = KernelRecord.comm(raw)
            table[slot] = Entry(pid: pid, low: low, high: high, name: name)
            return name
        }
    }
}
