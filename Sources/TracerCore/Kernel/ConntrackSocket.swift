import CConntrack
import Glibc

/// One netlink conntrack socket (a libnetfilter_conntrack handle): either subscribed to the event stream
/// (NEW, UPDATE, DESTROY), or used for dumps of the whole table. A netlink socket stays bound to the
/// network namespace it was created in, whichever thread uses it later (see `ConntrackNamespace`).
final class ConntrackSocket {
    /// Where the library's callback puts what it parsed (passed as the callback's `void *data`).
    private final class Sink {
        var events: [ConntrackEvent] = []
        var flows: [ConntrackFlow] = []
        var dumping = false
        var limit = Int.max
        var seen = 0
    }

    /// What one non-blocking read of the event stream gave.
    struct EventRead {
        var events: [ConntrackEvent] = []
        /// The kernel dropped events (ENOBUFS): the table must be reloaded from a dump.
        var overflowed = false
        /// errno of a failure other than ENOBUFS (the stream is unusable until reopened).
        var error: Int32?
    }

    private var handle: OpaquePointer?
    private let sink = Sink()

    private init(handle: OpaquePointer) {
        self.handle = handle
        let context = Unmanaged.passUnretained(sink).toOpaque()
        nfct_callback_register(handle, NFCT_T_ALL, { type, ct, data in
            guard let ct, let data else { return Int32(NFCT_CB_CONTINUE) }
            let sink = Unmanaged<Sink>.fromOpaque(data).takeUnretainedValue()
            if let flow = ConntrackRecord.flow(ct) {
                if sink.dumping {
                    sink.flows.append(flow)
                } else if let kind = ConntrackRecord.kind(type) {
                    sink.events.append(ConntrackEvent(kind, flow))
                }
            }
            // Events arrive one per datagram, so stopping here loses nothing: the rest stays queued.
            sink.seen += 1
            return Int32(sink.seen >= sink.limit ? NFCT_CB_STOP : NFCT_CB_CONTINUE)
        }, context)
    }

    deinit { close() }

    /// A socket for the event stream (`events: true`) or for dumps, in the calling thread's namespace.
    static func open(events: Bool) -> Result<ConntrackSocket, SocketError> {
        guard let handle = nfct_open(nt_ct_subsys_conntrack(), events ? nt_ct_all_groups() : 0) else {
            return .failure(SocketError(step: events ? "subscribing to conntrack events" : "opening conntrack", code: errno))
        }
        return .success(ConntrackSocket(handle: handle))
    }

    struct SocketError: Error {
        var step: String
        var code: Int32
    }

    var fd: Int32 { handle.map { nfct_fd($0) } ?? -1 }

    /// The kernel-side queue for events not yet read. SO_RCVBUFFORCE (CAP_NET_ADMIN) goes past
    /// net.core.rmem_max; SO_RCVBUF is the fallback. The kernel doubles the value and has a minimum.
    func setReceiveBuffer(bytes: Int) {
        var size = Int32(clamping: bytes / 2)
        let len = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, len) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, len)
        }
    }

    /// The receive buffer the kernel actually uses (after doubling and limits).
    var receiveBuffer: Int {
        var size: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len) == 0 ? Int(size) : 0
    }

    /// Reads never wait: each tick takes what is queued and goes on.
    func setNonBlocking() {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// Everything queued on the event stream, up to `limit` messages (the rest waits for the next call).
    func readEvents(limit: Int) -> EventRead {
        var result = EventRead()
        guard let handle else { result.error = EBADF; return result }
        sink.dumping = false
        sink.limit = max(1, limit)
        sink.seen = 0
        defer { sink.events.removeAll(keepingCapacity: true) }
        var overflows = 0
        while sink.seen < sink.limit {
            let ret = nfct_catch(handle)
            if ret >= 0 { continue }  // the callback asked to stop (limit), or nothing left to process
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK { break }
            if code == ENOBUFS {
                // Reported once per overflow; what is still queued is read on, then a dump follows.
                // Under a sustained flood it comes back again and again: stop and let the dump catch up.
                result.overflowed = true
                overflows += 1
                if overflows > 64 { break }
                continue
            }
            result.error = code
            break
        }
        result.events = sink.events
        return result
    }

    /// The whole table of the socket's namespace (TCP and UDP, IPv4 and IPv6). Blocking: the kernel
    /// paces a dump to the reader, so it cannot overflow.
    func dump() -> Result<[ConntrackFlow], SocketError> {
        guard let handle else { return .failure(SocketError(step: "dumping conntrack", code: EBADF)) }
        sink.dumping = true
        sink.limit = Int.max
        sink.seen = 0
        defer {
            sink.dumping = false
            sink.flows.removeAll(keepingCapacity: false)
        }
        var family = UInt32(AF_UNSPEC)
        guard nfct_query(handle, NFCT_Q_DUMP, &family) == 0 else {
            return .failure(SocketError(step: "dumping conntrack", code: errno))
        }
        return .success(sink.flows)
    }

    func close() {
        guard let h = handle else { return }
        handle = nil
        nfct_callback_unregister(h)
        nfct_close(h)
    }
}
