import Glibc

/// The pseudo file systems the tracer needs: tracefs (to attach tracepoints) and a cgroup v2 hierarchy
/// (to attach the sock_release program).
enum Mounts {
    struct Entry {
        var device: String
        var path: String
        var type: String
    }

    static func read(procRoot: String = "/proc") -> [Entry] {
        guard let text = try? readTextFile("\(procRoot)/self/mounts") else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count >= 3 else { return nil }
            return Entry(device: String(f[0]), path: unescapeMountPath(String(f[1])), type: String(f[2]))
        }
    }

    /// Mounts tracefs at /sys/kernel/tracing when no tracefs is mounted; says what to do when it cannot.
    static func ensureTracefs() throws(NetTopError) {
        let mounts = read()
        if mounts.contains(where: { $0.type == "tracefs" }) { return }
        // debugfs exposes tracefs under /sys/kernel/debug/tracing on older systems.
        if mounts.contains(where: { $0.type == "debugfs" }), access("/sys/kernel/debug/tracing/events", F_OK) == 0 { return }
        if mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, nil) != 0 {
            let e = errno
            throw NetTopError(.unavailable,
                "tracefs is not mounted and mounting it failed (\(errnoText(e))); run `mount -t tracefs tracefs /sys/kernel/tracing` and try again.")
        }
    }

    /// The mount point of the cgroup v2 hierarchy, if one is mounted.
    static func cgroup2Path() -> String? {
        read().first(where: { $0.type == "cgroup2" })?.path
    }

    private static func unescapeMountPath(_ s: String) -> String {
        // /proc/self/mounts escapes space, tab, newline and backslash as \ooo.
        guard s.contains("\\") else { return s }
        var out = [UInt8](), bytes = Array(s.utf8), i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count + 0,
               let v = UInt8(String(decoding: bytes[(i + 1)...min(i + 3, bytes.count - 1)], as: UTF8.self), radix: 8) {
                out.append(v); i += 4
            } else {
                out.append(bytes[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Reads a whole (small, pseudo) file as UTF-8 text.
func readTextFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SystemCallError(errno: errno) }
    defer { close(fd) }
    var data = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n < 0 {
            if errno == EINTR { continue }
            throw SystemCallError(errno: errno)
        }
        if n == 0 { break }
        data.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: data, as: UTF8.self)
}

struct SystemCallError: Error {
    var errno: Int32
}
