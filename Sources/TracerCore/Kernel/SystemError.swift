import Glibc

/// errno as text, for messages ("Operation not permitted").
func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// libbpf returns -errno from int calls; pointer calls return NULL and set errno.
func libbpfErrno(_ ret: Int32) -> Int32 {
    ret < 0 ? -ret : errno
}

/// CLOCK_MONOTONIC in nanoseconds: the clock bpf_ktime_get_ns() reads.
func monotonicNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Wall clock minus monotonic clock, in nanoseconds: adding it to a monotonic time gives unix time.
func wallClockOffsetNs() -> Int64 {
    var real = timespec(), mono = timespec()
    clock_gettime(CLOCK_REALTIME, &real)
    clock_gettime(CLOCK_MONOTONIC, &mono)
    let realNs = Int64(real.tv_sec) * 1_000_000_000 + Int64(real.tv_nsec)
    let monoNs = Int64(mono.tv_sec) * 1_000_000_000 + Int64(mono.tv_nsec)
    return realNs - monoNs
}

func unixNow() -> Double {
    var real = timespec()
    clock_gettime(CLOCK_REALTIME, &real)
    return Double(real.tv_sec) + Double(real.tv_nsec) / 1e9
}
