import Glibc

/// The conntrack sockets of one network namespace: the event stream and a socket for dumps.
///
/// conntrack tables are per namespace, and a netlink socket talks to the namespace it was created in. So
/// both sockets are made by a short-lived thread that enters the namespace (setns(CLONE_NEWNET) on
/// /proc/<pid>/ns/net or /run/netns/NAME), opens them, goes back to where it was and ends; the sockets
/// are then read from the tracer's thread like any other.
final class ConntrackNamespace {
    let inode: UInt32
    let events: ConntrackSocket
    let dumper: ConntrackSocket
    /// Events were lost and the last dump failed: dump again at the next poll.
    var needsResync = false

    private init(inode: UInt32, events: ConntrackSocket, dumper: ConntrackSocket) {
        self.inode = inode
        self.events = events
        self.dumper = dumper
    }

    struct OpenError: Error {
        var step: String
        var code: Int32

        /// One sentence for the user: why nettop shows no NAT translations.
        var reason: String {
            switch code {
            case EPERM, EACCES:
                return "conntrack needs CAP_NET_ADMIN (\(step): \(errnoText(code))); NAT translations are not shown — run nettop as root."
            case EPROTONOSUPPORT, ENOENT, EOPNOTSUPP, EAFNOSUPPORT:
                return "this kernel has no conntrack netlink interface (nf_conntrack_netlink; \(step): \(errnoText(code))); NAT translations are not shown."
            default:
                return "conntrack cannot be read (\(step): \(errnoText(code))); NAT translations are not shown."
            }
        }
    }

    /// Opens the sockets inside the namespace whose file is `path`. With `expectedInode`, a namespace
    /// file that now names another namespace (the process moved or its pid was reused) is refused.
    static func open(path: String, expectedInode: UInt32?, receiveBuffer: Int) -> Result<ConntrackNamespace, OpenError> {
        let job = OpenJob(path: path, expectedInode: expectedInode, receiveBuffer: receiveBuffer)
        let context = Unmanaged.passRetained(job).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            let job = Unmanaged<OpenJob>.fromOpaque(raw!).takeRetainedValue()
            job.run()
            return nil
        }, context)
        guard created == 0 else {
            Unmanaged<OpenJob>.fromOpaque(context).release()
            return .failure(OpenError(step: "starting a thread to enter \(path)", code: created))
        }
        pthread_join(thread, nil)
        return job.result ?? .failure(OpenError(step: "entering \(path)", code: EINVAL))
    }

    /// The work of the thread that enters the namespace.
    private final class OpenJob {
        let path: String
        let expectedInode: UInt32?
        let receiveBuffer: Int
        var result: Result<ConntrackNamespace, OpenError>?

        init(path: String, expectedInode: UInt32?, receiveBuffer: Int) {
            self.path = path
            self.expectedInode = expectedInode
            self.receiveBuffer = receiveBuffer
        }

        func run() {
            // This thread's own namespace, to go back to: only this thread ever changes namespace.
            let home = Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
            let target = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            defer {
                if home >= 0 { Glibc.close(home) }
                if target >= 0 { Glibc.close(target) }
            }
            guard home >= 0, target >= 0 else {
                result = .failure(OpenError(step: "opening \(home < 0 ? "/proc/thread-self/ns/net" : path)", code: errno))
                return
            }
            var targetStat = stat(), homeStat = stat()
            guard fstat(target, &targetStat) == 0, fstat(home, &homeStat) == 0 else {
                result = .failure(OpenError(step: "stat \(path)", code: errno))
                return
            }
            guard let inode = UInt32(exactly: targetStat.st_ino) else {
                result = .failure(OpenError(step: "stat \(path)", code: EOVERFLOW))
                return
            }
            if let expectedInode, expectedInode != inode {
                result = .failure(OpenError(step: "\(path) names another namespace now", code: ESTALE))
                return
            }
            let entered = targetStat.st_ino != homeStat.st_ino
            if entered {
                guard let setns = ProcFS.setnsFunction else {
                    result = .failure(OpenError(step: "setns", code: ENOSYS))
                    return
                }
                guard setns(target, ProcFS.cloneNewNet) == 0 else {
                    result = .failure(OpenError(step: "entering \(path)", code: errno))
                    return
                }
            }
            result = makeSockets(inode: inode)
            if entered, let setns = ProcFS.setnsFunction { _ = setns(home, ProcFS.cloneNewNet) }
        }

        /// The event socket first, so nothing that happens after the first dump is missed.
        private func makeSockets(inode: UInt32) -> Result<ConntrackNamespace, OpenError> {
            let events: ConntrackSocket, dumper: ConntrackSocket
            switch ConntrackSocket.open(events: true) {
            case .success(let s): events = s
            case .failure(let e): return .failure(OpenError(step: e.step, code: e.code))
            }
            switch ConntrackSocket.open(events: false) {
            case .success(let s): dumper = s
            case .failure(let e): return .failure(OpenError(step: e.step, code: e.code))
            }
            events.setReceiveBuffer(bytes: receiveBuffer)
            events.setNonBlocking()
            return .success(ConntrackNamespace(inode: inode, events: events, dumper: dumper))
        }
    }

    func close() {
        events.close()
        dumper.close()
    }
}
