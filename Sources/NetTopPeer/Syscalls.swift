import Glibc

/// Why the peer stopped early. Each case maps to one exit status, so a test can tell them apart.
enum PeerError: Error {
    case usage(String)            // exit 64
    case system(String, Int32)    // exit 1: a call failed, with its errno
    case failed(String)           // exit 1: the traffic was not what was asked (e.g. wrong reply size)
    case timeout(String)          // exit 2: --timeout-ms elapsed

    var exitStatus: Int32 {
        switch self {
        case .usage: return 64
        case .system, .failed: return 1
        case .timeout: return 2
        }
    }

    var message: String {
        switch self {
        case .usage(let m): return m
        case .system(let what, let err): return "\(what): \(String(cString: strerror(err)))"
        case .failed(let m): return m
        case .timeout(let m): return m
        }
    }
}

func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// The single bound on the whole run: every wait in the peer is a poll() that ends at this deadline,
/// so the peer can never hang a test.
struct Deadline {
    let end: UInt64
    let totalMs: Int

    init(milliseconds: Int) {
        totalMs = milliseconds
        end = monotonicNanoseconds() + UInt64(milliseconds) * 1_000_000
    }

    var remainingMs: Int32 {
        let now = monotonicNanoseconds()
        if now >= end { return 0 }
        return Int32(clamping: (end - now + 999_999) / 1_000_000)
    }

    func check(_ doing: String) throws {
        if remainingMs == 0 { throw PeerError.timeout("timeout after \(totalMs) ms while \(doing)") }
    }
}

/// Retries a libc call that was interrupted; turns -1 into a typed error carrying errno.
@discardableResult
func sys<T: BinaryInteger>(_ what: @autoclosure () -> String, _ call: () -> T) throws -> T {
    while true {
        let r = call()
        if r >= 0 { return r }
        let err = errno
        if err == EINTR { continue }
        throw PeerError.system(what(), err)
    }
}

/// Waits until `fd` is ready for `events` (POLLIN / POLLOUT) or the deadline passes.
/// Returns the revents seen (which may include POLLHUP / POLLERR).
@discardableResult
func waitReady(_ fd: Int32, _ events: Int16, _ deadline: Deadline, _ doing: @autoclosure () -> String) throws -> Int16 {
    while true {
        let ms = deadline.remainingMs
        if ms == 0 { throw PeerError.timeout("timeout after \(deadline.totalMs) ms while \(doing())") }
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        let r = poll(&pfd, 1, ms)
        if r < 0 {
            if errno == EINTR { continue }
            throw PeerError.system("poll", errno)
        }
        if r > 0 { return pfd.revents }
    }
}

/// Sleeps for `ms` milliseconds, never past the deadline.
func sleepMs(_ ms: Int, _ deadline: Deadline, _ doing: String) throws {
    let end = monotonicNanoseconds() + UInt64(ms) * 1_000_000
    while true {
        let now = monotonicNanoseconds()
        if now >= end { return }
        if now >= deadline.end { throw PeerError.timeout("timeout after \(deadline.totalMs) ms while \(doing)") }
        let left = min(end, deadline.end) - now
        var ts = timespec(tv_sec: Int(left / 1_000_000_000), tv_nsec: Int(left % 1_000_000_000))
        _ = nanosleep(&ts, nil)
    }
}

/// Raises the open-file limit to at least `needed` (root may raise the hard limit too).
func raiseFileLimit(to needed: Int) throws {
    let resource = Int32(RLIMIT_NOFILE.rawValue)
    var rl = rlimit()
    try sys("getrlimit") { getrlimit(resource, &rl) }
    let want = rlim_t(needed)
    if rl.rlim_cur >= want { return }
    rl.rlim_cur = want
    if rl.rlim_max < want { rl.rlim_max = want }
    try sys("setrlimit(RLIMIT_NOFILE, \(needed))") { setrlimit(resource, &rl) }
}
