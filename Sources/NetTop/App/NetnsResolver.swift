#if canImport(Glibc)
import Glibc
#endif
import TracerCore

/// Turns an `ip netns` name into the namespace's inode, the number the tracer reports in `net_ns`.
/// `ip netns add NAME` bind-mounts the namespace on /run/netns/NAME, so stat() there yields its inode.
struct NetnsResolver {
    var directory = "/run/netns"

    func inode(for selector: NetnsSelector) throws(NetTopError) -> UInt32 {
        switch selector {
        case .inode(let inode):
            return inode
        case .name(let name):
            var info = stat()
            let path = directory + "/" + name
            guard stat(path, &info) == 0 else {
                let reason = errno
                if reason == ENOENT || reason == ENOTDIR {
                    throw NetTopError(.usage, "unknown network namespace '\(name)': there is no \(path)")
                }
                throw NetTopError(.usage, "cannot read \(path): \(String(cString: strerror(reason)))")
            }
            return UInt32(truncatingIfNeeded: info.st_ino)
        }
    }
}
