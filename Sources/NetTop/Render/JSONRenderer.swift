import TracerCore

/// One NDJSON line per tick, exactly the contract of MISSION.md:
/// `{"timestamp":…,"backend":"…","connections":[…],"stats":{…}}`. Pure: a Snapshot in, bytes out.
/// The caller applies the view (filters, sort) before and adds the newline after.
enum JSONRenderer {
    static func render(_ snapshot: Snapshot) -> String {
        String(decoding: renderBytes(snapshot), as: UTF8.self)
    }

    /// The whole line, without its newline.
    static func renderBytes(_ snapshot: Snapshot) -> [UInt8] {
        var line: [UInt8] = []
        write(snapshot, chunkBytes: .max, newline: false) { line += $0; return true }
        return line
    }

    /// The line and its newline, handed to `emit` in pieces of at least `chunkBytes` (the last one may be
    /// shorter) as they fill; stops early when `emit` returns false (the reader went away). A piece is lent
    /// for the call only: it is the buffer's own memory, written over by the next one (a copy of each 1 MB
    /// piece into an array was 7 % of a tick at 20k rows).
    static func write(_ snapshot: Snapshot, chunkBytes: Int, newline: Bool = true,
                      emit: (UnsafeRawBufferPointer) -> Bool) {
        // About 450 bytes a row; a piece is reserved once, not regrown.
        let rows = snapshot.connections.count
        var out = JSONOutputBuffer(capacity: min(512 + rows * 480, chunkBytes < .max / 2 ? chunkBytes + 4096 : .max))
        out.raw("{\"timestamp\":")
        out.double(snapshot.timestamp)
        out.raw(",\"backend\":")
        out.string(snapshot.backend)
        out.raw(",\"connections\":[")
        let stopped = snapshot.connections.withUnsafeBufferPointer { rows in
            for index in rows.indices {
                if index > 0 { out.raw(",") }
                connection(rows.baseAddress! + index, into: &out)
                if out.count >= chunkBytes, !out.drain(emit) { return true }
            }
            return false
        }
        if stopped { return }
        out.raw("],\"stats\":")
        stats(snapshot.stats, into: &out)
        out.raw("}")
        if newline { out.raw("\n") }
        _ = out.drain(emit)
    }

    static func connection(_ row: ConnectionStats, into out: inout JSONOutputBuffer) {
        withUnsafePointer(to: row) { connection($0, into: &out) }
    }

    /// The row read in place, field by field: copying each 200-byte row out of the tick's array (with a
    /// retain of its name) was a tenth of rendering it.
    static func connection(_ row: UnsafePointer<ConnectionStats>, into out: inout JSONOutputBuffer) {
        let tuple = row.pointee.tuple
        out.raw("{\"type\":\"")
        out.raw(tuple.type == .tcp ? "tcp" : "udp")
        out.raw("\",\"family\":\"")
        out.raw(tuple.family == .v4 ? "v4" : "v6")
        out.raw("\",\"source\":")
        out.address(tuple.source)
        out.raw(",\"sport\":")
        out.uint(tuple.sport)
        out.raw(",\"dest\":")
        out.address(tuple.dest)
        out.raw(",\"dport\":")
        out.uint(tuple.dport)
        switch row.pointee.direction {
        case .incoming: out.raw(",\"direction\":\"incoming\"")
        case .outgoing: out.raw(",\"direction\":\"outgoing\"")
        case .local: out.raw(",\"direction\":\"local\"")
        case .none: out.raw(",\"direction\":\"none\"")
        }
        out.raw(",\"pid\":")
        out.uint(row.pointee.pid)
        out.raw(",\"comm\":")
        out.string(row.pointee.comm)
        out.raw(",\"net_ns\":")
        out.uint(tuple.netns)
        out.raw(",\"monotonic_sent_bytes\":")
        out.uint(row.pointee.monotonicSentBytes)
        out.raw(",\"last_sent_bytes\":")
        out.uint(row.pointee.lastSentBytes)
        out.raw(",\"monotonic_recv_bytes\":")
        out.uint(row.pointee.monotonicRecvBytes)
        out.raw(",\"last_recv_bytes\":")
        out.uint(row.pointee.lastRecvBytes)
        out.raw(",\"monotonic_retransmits\":")
        out.uint(row.pointee.monotonicRetransmits)
        out.raw(",\"last_retransmits\":")
        out.uint(row.pointee.lastRetransmits)
        out.raw(",\"last_update_epoch\":")
        out.uint(row.pointee.lastUpdateEpoch)
        out.raw(",\"closed\":")
        out.bool(row.pointee.closed)
        out.raw(",\"conntrack\":")
        if let nat = row.pointee.conntrack {
            out.raw("{\"repl_src_ip\":")
            out.address(nat.replSrcIP)
            out.raw(",\"repl_sport\":")
            out.uint(nat.replSport)
            out.raw(",\"repl_dst_ip\":")
            out.address(nat.replDstIP)
            out.raw(",\"repl_dport\":")
            out.uint(nat.replDport)
            out.raw("}")
        } else {
            out.null()
        }
        out.raw("}")
    }

    /// Contract keys first, then the rest of TracerStats in snake_case.
    static func stats(_ stats: TracerStats, into out: inout JSONOutputBuffer) {
        out.raw("{\"tracked\":")
        out.uint(UInt64(max(0, stats.tracked)))
        out.raw(",\"closed_received\":")
        out.uint(stats.closedReceived)
        out.raw(",\"closed_lost\":")
        out.uint(stats.closedLost)
        out.raw(",\"map_full_drops\":")
        out.uint(stats.mapFullDrops)
        out.raw(",\"expired_tcp\":")
        out.uint(stats.expiredTCP)
        out.raw(",\"expired_udp\":")
        out.uint(stats.expiredUDP)
        out.raw(",\"poll_ms\":")
        out.double(stats.pollMs)
        out.raw(",\"tick_ms\":")
        out.double(stats.tickMs)
        out.raw(",\"conntrack_resyncs\":")
        out.uint(stats.conntrackResyncs)
        out.raw(",\"conntrack_available\":")
        out.bool(stats.conntrackAvailable)
        out.raw(",\"closed_buffer_drops\":")
        out.uint(stats.closedBufferDrops)
        out.raw(",\"udp_peer_unknown\":")
        out.uint(stats.udpPeerUnknown)
        out.raw(",\"syscall_context_full\":")
        out.uint(stats.syscallContextFull)
        out.raw(",\"max_connections\":")
        out.uint(UInt64(max(0, stats.maxConnections)))
        out.raw(",\"conntrack_rejected\":")
        out.uint(stats.conntrackRejected)
        out.raw(",\"conntrack_errors\":")
        out.uint(stats.conntrackErrors)
        out.raw("}")
    }
}
