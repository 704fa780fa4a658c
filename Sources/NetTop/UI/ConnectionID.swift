import TracerCore

/// What makes a row on screen the same connection from one tick to the next: its tuple and its process.
/// The tracer's own row identity (the kernel's socket cookie) does not reach the front ends; the tuple
/// with the pid tells apart all but two sockets of one process sharing a tuple, which is rare enough that
/// they may share a sparkline.
struct ConnectionID: Hashable, Sendable {
    var tuple: ConnectionTuple
    var pid: UInt32

    init(_ row: ConnectionStats) {
        tuple = row.tuple
        pid = row.pid
    }
}

/// What a group row stands for, in each grouping.
enum GroupKey: Hashable, Sendable {
    case process(pid: UInt32, comm: String)
    case netns(UInt32)
    /// The remote address; an unconnected UDP socket's missing peer is the unspecified address.
    case remoteHost(IPAddress)
}

/// What a selection points at: a connection, or a group of them.
enum RowKey: Hashable, Sendable {
    case connection(ConnectionID)
    case group(GroupKey)
}
