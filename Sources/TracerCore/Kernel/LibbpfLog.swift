import CBPF
import Glibc
import Synchronization

/// Collects what libbpf prints, instead of letting it write to stderr: a load failure then becomes one
/// sentence for the user and the full text (verifier log included) for `--debug`.
enum LibbpfLog {
    private static let lines = Mutex<[String]>([])

    /// Routes libbpf's messages here. Idempotent.
    static func install() {
        _ = libbpf_set_print { level, format, args in
            guard let format, let args, let formatted = nt_vformat(format, args) else { return 0 }
            defer { free(formatted) }
            // Whole: the verifier's reason for refusing a program is at the end of a log that can be long.
            let text = String(decoding: UnsafeRawBufferPointer(start: formatted, count: strlen(formatted)), as: UTF8.self)
            LibbpfLog.lines.withLock { lines in
                if lines.count < 20000 { lines.append(text) }
            }
            return Int32(clamping: text.utf8.count)
        }
    }

    /// Returns and forgets what was collected so far.
    static func take() -> String {
        lines.withLock { lines in
            defer { lines.removeAll() }
            return lines.joined()
        }
    }
}
