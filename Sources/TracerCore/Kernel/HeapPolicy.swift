import CBPF

/// How the C allocator treats the large arrays a tick makes and drops (the rows of 200,000 connections are
/// 40 MB). By default glibc raises its mmap threshold to the largest block freed so far, up to 32 MB, so
/// after the first tick those arrays come from the heap, whose freed middle is never handed back: at 100k
/// connections that kept about 70 MB more resident than the live data. A fixed threshold turns the raising
/// off: a block of 1 MB or more is its own mapping, returned to the kernel when freed. Smaller ones (a
/// tick's rows at 10k connections are about 4 MB) stay in the heap and are reused without faulting pages
/// in again every tick.
enum HeapPolicy {
    static let mmapThreshold: Int32 = 1 << 20

    static func returnLargeBlocks() {
        _ = mallopt(M_MMAP_THRESHOLD, mmapThreshold)
        _ = mallopt(M_TRIM_THRESHOLD, 4 * mmapThreshold)
    }
}
