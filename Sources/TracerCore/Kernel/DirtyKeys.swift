import CBPF
import Glibc

/// The keys of the connection map's entries that changed since the last tick (`epoch` and `dirty` in
/// nettop_common.bpf.h): the epoch is advanced first, then the ring drained, so every change either is in
/// what `drain` returns or is read by the lookups that follow it.
final class DirtyKeys {
    private let epoch: UnsafeMutablePointer<UInt64>
    private let mapping: UnsafeMutableRawPointer
    private let mappingSize: Int
    private let ring: BPFRing<nt_conn_key>

    init(epochFD: Int32, ringFD: Int32) throws(NetTopError) {
        mappingSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let raw = mmap(nil, mappingSize, PROT_READ | PROT_WRITE, MAP_SHARED, epochFD, 0), raw != MAP_FAILED else {
            throw NetTopError(.software, "the BPF epoch map could not be mapped: \(errnoText(errno)); Linux 5.8 or later is needed.")
        }
        do {
            ring = try BPFRing(fd: ringFD, name: "dirty-key")
        } catch {
            munmap(raw, mappingSize)
            throw error
        }
        mapping = raw
        epoch = raw.bindMemory(to: UInt64.self, capacity: 1)
    }

    deinit { munmap(mapping, mappingSize) }

    func close() {
        ring.close()
    }

    /// Starts a new epoch: a change from now on queues its entry's key again.
    func advance() {
        nt_store_seq_cst(epoch, epoch.pointee &+ 1)
    }

    /// The keys queued since the last drain (an entry may appear twice when two CPUs changed it at once).
    func drain() -> [nt_conn_key] {
        ring.drain()
    }
}
