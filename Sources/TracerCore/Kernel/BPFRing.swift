import CBPF
import Glibc

/// A BPF ring buffer of fixed-size records (`Record`, a C struct of nettop.h), drained each tick: the
/// `events` ring (closes, listener changes, UDP releases) and the `dirty` ring (keys of changed entries).
final class BPFRing<Record> {
    private var ring: OpaquePointer?
    private let sink = RecordBytes(size: MemoryLayout<Record>.size)

    /// `name` says which ring in the error a user would see.
    init(fd: Int32, name: String) throws(NetTopError) {
        ring = sink.open(fd: fd)
        if ring == nil {
            throw NetTopError(.software, "the BPF \(name) ring buffer could not be opened: \(errnoText(errno)).")
        }
    }

    deinit { close() }

    func close() {
        if let ring { ring_buffer__free(ring) }
        ring = nil
    }

    /// Everything queued since the last drain, in order.
    func drain() -> [Record] {
        guard let ring else { return [] }
        _ = ring_buffer__consume(ring)
        return sink.take(as: Record.self)
    }
}

/// The bytes of the records libbpf hands over one by one, until `take` turns them into values. Not generic,
/// so that the C callback (which cannot capture a generic type) can reach it through its context pointer.
private final class RecordBytes {
    let size: Int
    private var bytes: [UInt8] = []

    init(size: Int) { self.size = size }

    func open(fd: Int32) -> OpaquePointer? {
        ring_buffer__new(fd, { ctx, data, length in
            guard let ctx, let data else { return 0 }
            let sink = Unmanaged<RecordBytes>.fromOpaque(ctx).takeUnretainedValue()
            guard length >= sink.size else { return 0 }
            sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: sink.size))
            return 0
        }, Unmanaged.passUnretained(self).toOpaque(), nil)
    }

    func take<T>(as type: T.Type) -> [T] {
        let records = bytes.withUnsafeBytes { raw in
            (0..<raw.count / size).map { raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self) }
        }
        bytes.removeAll(keepingCapacity: true)
        return records
    }
}
