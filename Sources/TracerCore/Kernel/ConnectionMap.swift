import CBPF
import Glibc

/// The `conns` hash map seen from user space: dumped whole each tick with batch lookups (a few ms for
/// tens of thousands of entries), entries deleted when they expire or were left marked closed.
struct ConnectionMap {
    let fd: Int32
    let capacity: Int

    /// Every entry, read in batches and handed to `body` chunk by chunk, so that no copy of the whole map
    /// is held (at 200,000 entries that copy was 30 MB, made and freed every tick). The kernel's hash map
    /// may change under us; an entry is at worst seen in this tick or the next one.
    func forEach(_ body: (borrowing nt_conn_key, borrowing nt_conn_info) -> Void) throws(NetTopError) {
        var chunk = min(max(capacity, 64), 8192)
        var keys = [nt_conn_key](repeating: nt_conn_key(), count: chunk)
        var values = [nt_conn_info](repeating: nt_conn_info(), count: chunk)
        var inBatch = [UInt8](repeating: 0, count: 64), outBatch = [UInt8](repeating: 0, count: 64)
        var first = true
        while true {
            var count = UInt32(chunk)
            let ret = inBatch.withUnsafeMutableBytes { inPtr in
                nt_lookup_batch(fd, first ? nil : inPtr.baseAddress, &outBatch, &keys, &values, &count)
            }
            if ret != 0 && ret != -ENOENT {
                if ret == -ENOSPC, chunk < capacity * 2 {
                    // A hash bucket larger than the chunk: retry the same batch with more room.
                    chunk *= 2
                    keys = [nt_conn_key](repeating: nt_conn_key(), count: chunk)
                    values = [nt_conn_info](repeating: nt_conn_info(), count: chunk)
                    continue
                }
                throw NetTopError(.software, "reading the connection map failed: \(errnoText(-ret)).")
            }
            keys.withUnsafeBufferPointer { k in
                values.withUnsafeBufferPointer { v in
                    for i in 0..<Int(count) { body(k[i], v[i]) }
                }
            }
            if ret == -ENOENT { break }
            inBatch = outBatch
            first = false
        }
    }

    /// The entries of `keys` still in the map, each handed to `body` (a key that is gone was deleted by a
    /// close, whose event says the rest). One lookup a key: for the few that changed in a tick.
    func forEach(of keys: [nt_conn_key], _ body: (borrowing nt_conn_key, borrowing nt_conn_info) -> Void) {
        var info = nt_conn_info()
        for var key in keys where bpf_map_lookup_elem(fd, &key, &info) == 0 {
            body(key, info)
        }
    }

    func delete(_ keys: [nt_conn_key]) {
        guard !keys.isEmpty else { return }
        var keys = keys
        var count = UInt32(keys.count)
        if nt_delete_batch(fd, &keys, &count) != 0 {
            // Some were gone already (deleted by the kernel on close): fall back to one by one.
            for var key in keys { _ = bpf_map_delete_elem(fd, &key) }
        }
    }
}

/// The per-CPU telemetry array (`enum nt_counter`), summed over CPUs.
struct CounterArray {
    let fd: Int32
    let cpus: Int

    /// One counter, summed over CPUs.
    func read(_ counter: nt_counter) -> UInt64 {
        var perCPU = [UInt64](repeating: 0, count: cpus)
        var key = UInt32(counter.rawValue)
        guard bpf_map_lookup_elem(fd, &key, &perCPU) == 0 else { return 0 }
        return perCPU.reduce(0, &+)
    }

    func read() -> [UInt64] {
        var totals = [UInt64](repeating: 0, count: Int(NT_CNT_MAX.rawValue))
        var perCPU = [UInt64](repeating: 0, count: cpus)
        for i in 0..<totals.count {
            var key = UInt32(i)
            if bpf_map_lookup_elem(fd, &key, &perCPU) == 0 {
                totals[i] = perCPU.reduce(0, &+)
            }
        }
        return totals
    }
}
