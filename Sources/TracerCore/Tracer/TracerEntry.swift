/// What `nettop debug ...` can dump.
public enum DebugTopic: String, Sendable, CaseIterable {
    case offsets, maps, state, stats
}

/// The verdict of `nettop check`.
public struct SupportReport: Sendable {
    /// True when nettop can run here with the chosen backend.
    public var supported: Bool
    /// The backend that would be used (nil when none can).
    public var backend: String?
    /// One line per probed capability: "name: yes|no — why".
    public var findings: [String]
    /// The exit status `nettop check` should end with (0, 69 or 77).
    public var exitCode: Int32

    public init(supported: Bool, backend: String?, findings: [String], exitCode: Int32) {
        self.supported = supported
        self.backend = backend
        self.findings = findings
        self.exitCode = exitCode
    }
}

/// The tracer as the front ends use it.
public protocol KernelTracing: ConnectionSource {
    /// A JSON document (one object) for `nettop debug TOPIC`.
    func debugJSON(_ topic: DebugTopic) throws(NetTopError) -> String
}
