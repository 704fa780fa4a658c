import CBPF
import Glibc

/// The `events` ring buffer: closes, listener changes and UDP releases, drained each tick.
final class EventRing {
    private var ring: OpaquePointer?
    fileprivate var pending: [nt_event] = []

    init(fd: Int32) throws(NetTopError) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        ring = ring_buffer__new(fd, { ctx, data, size in
            guard let ctx, let data, size >= MemoryLayout<nt_event>.size else { return 0 }
            let ring = Unmanaged<EventRing>.fromOpaque(ctx).takeUnretainedValue()
            ring.pending.append(data.loadUnaligned(as: nt_event.self))
            return 0
        }, context, nil)
        if ring == nil {
            throw NetTopError(.software, "the BPF ring buffer could not be opened: \(errnoText(errno)).")
        }
    }

    deinit { close() }

    func close() {
        if let ring { ring_buffer__free(ring) }
        ring = nil
    }

    /// Everything queued since the last drain, in order.
    func drain() -> [nt_event] {
        guard let ring else { return [] }
        _ = ring_buffer__consume(ring)
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }
}
