import ArgumentParser
import TracerCore

// How command-line words become values. The tracer's enums are TracerCore's (no ArgumentParser there),
// so their conformances live here, beside nettop's own.

extension SortKey: ExpressibleByArgument {
    static var allValueDescriptions: [String: String] {
        Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, $0.summary) })
    }
}

extension ConnectionType: ExpressibleByArgument {}

extension TracerConfig.Backend: ExpressibleByArgument {}

extension DebugTopic: ExpressibleByArgument {}

/// `--netns INODE|NAME`: a number is a namespace inode, anything else an `ip netns` name, resolved
/// through /run/netns before the tracer starts (see `NetnsResolver`).
enum NetnsSelector: Equatable, Sendable, ExpressibleByArgument {
    case inode(UInt32)
    case name(String)

    init?(argument: String) {
        if let inode = UInt32(argument) {
            guard inode != 0 else { return nil }
            self = .inode(inode)
        } else {
            // A name is one path component of /run/netns: nothing that could walk out of it.
            guard !argument.isEmpty, !argument.contains("/"), argument != ".", argument != "..",
                  !argument.contains("\0") else { return nil }
            self = .name(argument)
        }
    }
}

extension Double {
    /// "1200" and "0" rather than "1200.0" and "0.0" in help and error messages.
    var plain: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}
