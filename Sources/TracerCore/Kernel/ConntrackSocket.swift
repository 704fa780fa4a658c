import CConntrack
import Glibc

/// One netlink conntrack socket (a libnetfilter_conntrack handle): either subscribed to the event stream
/// (NEW, UPDATE, DESTROY), or used for dumps of the whole table. A netlink socket stays bound to the
/// network namespace it was created in, whichever thread uses it later (see `ConntrackNamespace`).
final class ConntrackSocket {
    /// What one non-blocking read of the event stream gave.
    struct EventRead {
        var events: [ConntrackEvent] = []
        /// The kernel dropped events (ENOBUFS): the table must be reloaded from a dump.
        var overflowed = false
        /// errno of a failure other than ENOBUFS (the stream is unusable until reopened).
        var error: Int32?
    }

    private var handle: OpaquePointer?
    /// One datagram at a time: an event is one message, a dump part holds many (the kernel fills about a
    /// page per part, and never more than 32 KiB); MSG_TRUNC tells when one did not fit.
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    /// Messages refused on this socket since `takeRejected()` last asked (see `CtnetlinkValidator`).
    private var rejected = 0
    /// The sequence number of the next dump request (see `ConntrackDumpReader`).
    private var nextSeq = UInt32.random(in: 1...UInt32.max / 2)

    /// The messages refused since the last call, for the resolver's counters.
    func takeRejected() -> Int {
        defer { rejected = 0 }
        return rejected
    }

    private init(handle: OpaquePointer) {
        self.handle = handle
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

    /// Everything queued on the event stream, up to about `limit` messages (the rest waits for the next
    /// call). nettop reads the datagrams itself rather than through `nfct_catch`, so that each message is
    /// checked before libnetfilter_conntrack parses it.
    func readEvents(limit: Int) -> EventRead {
        var result = EventRead()
        guard handle != nil else { result.error = EBADF; return result }
        var overflows = 0
        var seen = 0
        while seen < max(1, limit) {
            switch receive(blocking: false) {
            case .datagram(let length):
                seen += each(length) { kind, flow in
                    if let kind { result.events.append(ConntrackEvent(kind, flow)) }
                }
            case .notFromKernel, .truncated:
                rejected += 1
            case .failed(let code) where code == EAGAIN || code == EWOULDBLOCK:
                return result
            case .failed(let code) where code == ENOBUFS:
                // Reported once per overflow; what is still queued is read on, then a dump follows.
                // Under a sustained flood it comes back again and again: stop and let the dump catch up.
                result.overflowed = true
                overflows += 1
                if overflows > 64 { return result }
            case .failed(let code):
                result.error = code
                return result
            }
        }
        return result
    }

    /// The whole table of the socket's namespace (TCP and UDP, IPv4 and IPv6). Blocking: the kernel
    /// paces a dump to the reader, so it cannot overflow. Only the messages of this dump's request are
    /// taken; what an earlier, unfinished dump left on the socket is skipped (`ConntrackDumpReader`).
    func dump() -> Result<[ConntrackFlow], SocketError> {
        func failure(_ code: Int32) -> Result<[ConntrackFlow], SocketError> {
            .failure(SocketError(step: "dumping conntrack", code: code))
        }
        guard handle != nil else { return failure(EBADF) }
        var reader = ConntrackDumpReader(seq: nextSeq)
        defer { nextSeq = reader.seq &+ 1 }
        if let code = send(reader.request(subsystem: nt_ct_subsys_conntrack())) { return failure(code) }
        var flows: [ConntrackFlow] = []
        while true {
            switch receive(blocking: true) {
            case .datagram(let length):
                var step = ConntrackDumpReader.Step.read
                each(length, takes: { reader.takes(seq: $0) }, onControl: { type, code, seq in
                    step = reader.control(isDone: type == NLMSG_DONE, code: code, seq: seq)
                    return step == .read
                }) { _, flow in flows.append(flow) }
                switch step {
                case .read:
                    continue
                case .finished:
                    return .success(flows)
                case .sendAgain:
                    if let code = send(reader.request(subsystem: nt_ct_subsys_conntrack())) { return failure(code) }
                case .failed(let code):
                    return failure(code)
                }
            case .notFromKernel, .truncated:
                rejected += 1
            case .failed(let code) where code == EINTR:
                continue
            case .failed(let code):
                return failure(code)
            }
        }
    }

    /// Sends one request to the kernel; the errno if it could not.
    private func send(_ request: [UInt8]) -> Int32? {
        let fd = self.fd
        let sent = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        return sent == request.count ? nil : (sent < 0 ? errno : EIO)
    }

    /// What one netlink message gave.
    enum MessageReading: Equatable {
        case flow(ConntrackEvent.Kind?, ConntrackFlow)
        /// Malformed, or sizes of a ctnetlink ABI this library does not know: not parsed.
        case rejected
        /// Not a conntrack message, or not a TCP/UDP flow over IPv4/IPv6.
        case ignored
    }

    /// One message (its `nlmsg_len` bytes): checked by `CtnetlinkValidator`, then parsed by the library and
    /// read by `ConntrackRecord`. Only IPCTNL_MSG_CT_NEW (new, update, dump row) and IPCTNL_MSG_CT_DELETE of
    /// the conntrack subsystem are parsed, as libnetfilter_conntrack's own receive path does.
    static func read(message: UnsafeRawBufferPointer) -> MessageReading {
        guard message.count >= CtnetlinkValidator.payloadOffset, let base = message.baseAddress else { return .ignored }
        let type = Int32(base.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        guard type >> 8 == Int32(nt_ct_subsys_conntrack()), [0, 2].contains(type & 0xff) else { return .ignored }
        if CtnetlinkValidator.problem(in: message) != nil { return .rejected }
        guard let ct = nfct_new() else { return .ignored }
        defer { nfct_destroy(ct) }
        let parsed = nfct_parse_conntrack(NFCT_T_ALL, base.assumingMemoryBound(to: nlmsghdr.self), ct)
        guard parsed > 0, let flow = ConntrackRecord.flow(ct) else { return .ignored }
        return .flow(ConntrackRecord.kind(nf_conntrack_msg_type(rawValue: parsed)), flow)
    }

    // MARK: - Receiving

    private enum Received {
        case datagram(Int)
        case notFromKernel
        case truncated
        case failed(Int32)
    }

    private func receive(blocking: Bool) -> Received {
        let fd = self.fd
        var from = sockaddr_nl()
        var fromLength = socklen_t(MemoryLayout<sockaddr_nl>.size)
        let flags = Int32(MSG_TRUNC) | (blocking ? 0 : Int32(MSG_DONTWAIT))
        let capacity = buffer.count
        let n = buffer.withUnsafeMutableBytes { raw in
            withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, raw.baseAddress, capacity, flags, $0, &fromLength)
                }
            }
        }
        if n < 0 { return .failed(errno) }
        // Only the kernel speaks on ctnetlink (as libnfnetlink insists too).
        if from.nl_pid != 0 { return .notFromKernel }
        if n > capacity { return .truncated }
        return .datagram(n)
    }

    /// Each conntrack message of the datagram in `buffer`: checked, parsed, read (refused ones are
    /// counted in `rejected`), if `takes` its sequence number. Control messages (NLMSG_DONE, NLMSG_ERROR)
    /// go to `onControl` with the error code they carry and their sequence number; it returns false to stop
    /// at that message. Returns the number of messages seen.
    @discardableResult
    private func each(_ length: Int,
                      takes: (_ seq: UInt32) -> Bool = { _ in true },
                      onControl: (_ type: Int32, _ code: Int32, _ seq: UInt32) -> Bool = { _, _, _ in true },
                      _ body: (ConntrackEvent.Kind?, ConntrackFlow) -> Void) -> Int {
        var seen = 0
        buffer.withUnsafeMutableBytes { raw in
            var offset = 0
            while length - offset >= CtnetlinkValidator.headerLength {
                let base = raw.baseAddress! + offset
                let messageLength = Int(base.loadUnaligned(as: UInt32.self))
                guard messageLength >= CtnetlinkValidator.headerLength, messageLength <= length - offset else {
                    rejected += 1  // a broken frame: nothing after it can be trusted
                    return
                }
                seen += 1
                let type = Int32(base.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
                let seq = base.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
                if type == NLMSG_DONE || type == NLMSG_ERROR {
                    let code = messageLength >= 20 ? base.loadUnaligned(fromByteOffset: 16, as: Int32.self) : 0
                    if !onControl(type, code, seq) { return }
                } else if takes(seq) {
                    switch Self.read(message: UnsafeRawBufferPointer(start: base, count: messageLength)) {
                    case .flow(let kind, let flow): body(kind, flow)
                    case .rejected: rejected += 1
                    case .ignored: break
                    }
                }
                offset += (messageLength + 3) & ~3
            }
        }
        return seen
    }

    func close() {
        guard let h = handle else { return }
        handle = nil
        nfct_close(h)
    }
}
