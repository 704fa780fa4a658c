import CBPF
import Glibc

/// The `conns` hash map seen from user space: read whole with batch lookups when needed, otherwise a
/// piece of it each tick (`MapScan`) and the entries the kernel queued as changed; entries deleted when they
/// expire or were left marked closed.
struct ConnectionMap {
    let fd: Int32
    let capacity: Int

    /// Every entry, read in batches and handed to `body` chunk by chunk, so that no copy of the whole map
    /// is held (at 200,000 entries that copy was 30 MB, made and freed every tick). The kernel's hash map
    /// may change under us; an entry is at worst seen in this tick or the next one.
    func forEach(_ body: (borrowing nt_conn_key, borrowing nt_conn_info) -> Void) throws(NetTopError) {
        var scan = MapScan()
        while try !scan.next(in: self, entries: 8192, body) {}
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

/// A walk through the connection map in batch lookups that can stop after any batch and go on from there
/// at a later tick: the kernel's batch token names a hash bucket, which stays valid while entries come
/// and go. Owns its buffers, so a walk spread over many ticks allocates them once.
struct MapScan {
    private var token = [UInt8](repeating: 0, count: 64)
    private var atStart = true
    private var keys: [nt_conn_key] = []
    private var values: [nt_conn_info] = []

    /// Reads the next batch of about `entries` entries (whole hash buckets) into `body`. Returns true when
    /// the batch reached the end of the map; the next call starts again from its beginning.
    mutating func next(in map: ConnectionMap, entries: Int,
                       _ body: (borrowing nt_conn_key, borrowing nt_conn_info) -> Void) throws(NetTopError) -> Bool {
        var chunk = min(max(entries, 64), max(map.capacity, 64))
        while true {
            if keys.count < chunk {
                keys = [nt_conn_key](repeating: nt_conn_key(), count: chunk)
                values = [nt_conn_info](repeating: nt_conn_info(), count: chunk)
            }
            var count = UInt32(chunk)
            var outBatch = [UInt8](repeating: 0, count: 64)
            let start = atStart
            let ret = token.withUnsafeMutableBytes { inPtr in
                nt_lookup_batch(map.fd, start ? nil : inPtr.baseAddress, &outBatch, &keys, &values, &count)
            }
            if ret != 0 && ret != -ENOENT {
                if ret == -ENOSPC, chunk < map.capacity * 2 {
                    // A hash bucket larger than the chunk: the same batch again with more room.
                    chunk *= 2
                    continue
                }
                throw NetTopError(.software, "reading the connection map failed: \(errnoText(-ret)).")
            }
            keys.withUnsafeBufferPointer { k in
                values.withUnsafeBufferPointer { v in
                    for i in 0..<Int(count) { body(k[i], v[i]) }
                }
            }
            if ret == -ENOENT {
                atStart = true
                return true
            }
            token = outBatch
            atStart = false
            return false
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

    /// Every counter, by index.
    func read() -> [UInt64] {
        (0..<NT_CNT_MAX.rawValue).map { read(nt_counter(rawValue: $0)) }
    }
}
