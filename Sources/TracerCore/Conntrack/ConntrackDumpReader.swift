/// One conntrack table dump on a netlink socket, told apart from what an earlier dump left there. Pure: the
/// socket side (Kernel/ConntrackSocket.swift) sends `request`, then hands over each message's sequence
/// number and, for control messages, their type and error code; this says what to keep and when the dump
/// is over.
///
/// Why it is needed: a dump the kernel could not finish (a part it failed to allocate is reported as an
/// error on the socket) stays running in the kernel, and every later read on the socket resumes it. A new
/// dump request on that socket is refused (EBUSY), while the old dump's remaining parts and its DONE still
/// arrive. Taken as they came, those parts made the next dump end early with only the old dump's tail,
/// and the namespace's translations were replaced by that fraction. Here, messages of another sequence
/// number are skipped; a refused request waits for the old dump's DONE and is sent again.
struct ConntrackDumpReader: Sendable, Equatable {
    enum Step: Sendable, Equatable {
        /// Read on.
        case read
        /// The dump is complete: keep what was taken.
        case finished
        /// An earlier dump has ended: send `request` again (a new sequence number). Nothing was taken of
        /// the refused request, so nothing is to be forgotten.
        case sendAgain
        /// The dump failed with this errno.
        case failed(Int32)
    }

    /// Requests sent in all (the first and those sent again after an EBUSY) before giving up.
    static let maxRequests = 4
    /// EBUSY on Linux (the model imports no C).
    static let ebusy: Int32 = 16

    private(set) var seq: UInt32
    /// The request was refused because an earlier dump is still running: waiting for that dump's DONE.
    private(set) var waitingForEarlierDump = false
    private(set) var requests = 1

    init(seq: UInt32) { self.seq = seq }

    /// A data message of `seq` belongs to this dump.
    func takes(seq: UInt32) -> Bool { seq == self.seq && !waitingForEarlierDump }

    /// An NLMSG_DONE (`isDone`) or NLMSG_ERROR with its error code (0 or a negative errno).
    mutating func control(isDone: Bool, code: Int32, seq: UInt32) -> Step {
        if seq != self.seq {
            // The end of an earlier dump: ours can start once it is there.
            guard isDone, waitingForEarlierDump else { return .read }
            guard requests < Self.maxRequests else { return .failed(Self.ebusy) }
            requests += 1
            waitingForEarlierDump = false
            self.seq &+= 1
            return .sendAgain
        }
        if isDone { return code < 0 ? .failed(-code) : .finished }
        if code == 0 { return .read }           // an acknowledgement
        if -code == Self.ebusy {
            waitingForEarlierDump = true
            return .read
        }
        return .failed(-code)
    }

    /// The dump request (nlmsghdr + nfgenmsg, 20 bytes; the header in host order, as netlink wants it):
    /// IPCTNL_MSG_CT_GET of the conntrack subsystem with NLM_F_REQUEST | NLM_F_DUMP, every family,
    /// sequence number `seq`.
    func request(subsystem: UInt8) -> [UInt8] {
        var bytes: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v) { bytes += $0 } }
        put(UInt32(20))                                  // nlmsg_len
        put(UInt16(subsystem) << 8 | 1)                  // nlmsg_type: IPCTNL_MSG_CT_GET
        put(UInt16(0x0001 | 0x0300))                     // NLM_F_REQUEST | NLM_F_DUMP
        put(seq)                                         // nlmsg_seq
        put(UInt32(0))                                   // nlmsg_pid
        bytes += [0, 0, 0, 0]                            // nfgen_family AF_UNSPEC, NFNETLINK_V0, res_id 0
        return bytes
    }
}
