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
        var records: [Record] = []
        drain { records.append(copy $0) }
        return records
    }

    /// The same, one record at a time, with no array of them made: a tick of connection churn drains about
    /// 50,000 events (10 MB), whose array's pages were faulted in anew every tick.
    func drain(_ body: (borrowing Record) -> Void) {
        guard let ring else { return }
        _ = ring_buffer__consume(ring)
        sink.forEach(as: Record.self, body)
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

    /// Hands over the records received since the last call, and forgets them.
    func forEach<T>(as type: T.Type, _ body: (borrowing T) -> Void) {
        bytes.withUnsafeBytes { raw in
            for i in 0..<raw.count / size { body(raw.loadUnaligned(fromByteOffset: i * size, as: T.self)) }
        }
        bytes.removeAll(keepingCapacity: true)
    }
}
