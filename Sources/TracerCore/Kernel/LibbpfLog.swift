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
            guard let format, let args else { return 0 }
            var buffer = [CChar](repeating: 0, count: 4096)
            let n = vsnprintf(&buffer, buffer.count, format, args)
            guard n > 0 else { return 0 }
            let text = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            LibbpfLog.lines.withLock { lines in
                if lines.count < 20000 { lines.append(text) }
            }
            return n
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
