#if canImport(Glibc)
import Glibc
#endif

/// What happened to one write of the run loop's output.
enum WriteOutcome: Equatable {
    case written
    /// The reader went away (EPIPE): a clean end, as for `nettop --json | head -1`.
    case closed
    case failed(errno: Int32)
}

/// Writes whole buffers to a file descriptor with write(2) directly: no stdio buffer, so every tick
/// reaches a pipe or file as soon as it is rendered, and EPIPE comes back as a value (SIGPIPE is ignored).
struct FileOutput {
    var fd: Int32

    static let standardOutput = FileOutput(fd: STDOUT_FILENO)
    static let standardError = FileOutput(fd: STDERR_FILENO)

    /// Ignores SIGPIPE for the whole process so a closed reader shows up as EPIPE here.
    static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    func write(_ bytes: [UInt8]) -> WriteOutcome {
        bytes.withUnsafeBytes { write($0) }
    }

    func write(_ buffer: UnsafeRawBufferPointer) -> WriteOutcome {
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n >= 0 {
                offset += n
                continue
            }
            switch errno {
            case EINTR:
                continue
            case EAGAIN:
                // Inherited a non-blocking descriptor: wait until it can take more.
                var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&entry, 1, -1)
            case EPIPE:
                return .closed
            case let reason:
                return .failed(errno: reason)
            }
        }
        return .written
    }

    func write(_ text: String) -> WriteOutcome {
        write(Array(text.utf8))
    }
}
