/// A failure a user can cause or meet, as a value: one sentence that says what happened and what to do,
/// and the exit status the contract gives it. Never a trap, a libbpf dump or a stack trace.
public struct NetTopError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case usage          // exit 64
        case unavailable    // exit 69: a requested feature is not on this kernel
        case noPermission   // exit 77
        case software       // exit 70: anything else
    }

    public var kind: Kind
    public var message: String
    /// Extra detail shown only with --debug (e.g. the verifier log).
    public var detail: String?

    public init(_ kind: Kind, _ message: String, detail: String? = nil) {
        self.kind = kind
        self.message = message
        self.detail = detail
    }

    public var exitCode: Int32 {
        switch kind {
        case .usage: return 64
        case .unavailable: return 69
        case .noPermission: return 77
        case .software: return 70
        }
    }

    public var description: String { message }
}
