import CConntrack
import Foundation
import Glibc
@testable import TracerCore

/// Empties the conntrack table of a test namespace (what `conntrack -F` does, through the same library),
/// so the kernel sends a DESTROY event for every flow now rather than when its garbage collector gets to
/// it (up to a minute). Runs in a thread that enters the namespace; only that thread changes namespace.
enum ConntrackFlush {
    static func flush(_ ns: Namespace) throws {
        final class Job {
            let path: String
            var failure: String?
            init(path: String) { self.path = path }
        }
        let job = Job(path: "/run/netns/\(ns.name)")
        let context = Unmanaged.passRetained(job).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            let fd = open(job.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0, let setns = ProcFS.setnsFunction, setns(fd, ProcFS.cloneNewNet) == 0 else {
                job.failure = "entering \(job.path): \(String(cString: strerror(errno)))"
                if fd >= 0 { close(fd) }
                return nil
            }
            close(fd)
            guard let h = nfct_open(nt_ct_subsys_conntrack(), 0) else {
                job.failure = "nfct_open: \(String(cString: strerror(errno)))"
                return nil
            }
            var family = UInt32(AF_UNSPEC)
            if nfct_query(h, NFCT_Q_FLUSH, &family) != 0 {
                job.failure = "conntrack flush: \(String(cString: strerror(errno)))"
            }
            nfct_close(h)
            return nil  // the thread ends here, still in the test namespace: nothing else runs on it
        }, context)
        guard created == 0 else {
            Unmanaged<Job>.fromOpaque(context).release()
            throw KernelTestError("pthread_create: \(created)")
        }
        pthread_join(thread, nil)
        if let failure = job.failure { throw KernelTestError(failure) }
    }
}
