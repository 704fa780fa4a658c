import CBPF
import Glibc

/// The JSON documents of `nettop debug ...`: small, hand-written, one object each.
enum DebugDump {
    static func stats(_ s: TracerStats, backend: String) -> String {
        JSONObject()
            .string("backend", backend)
            .int("tracked", s.tracked)
            .uint("closed_received", s.closedReceived)
            .uint("closed_lost", s.closedLost)
            .uint("closed_buffer_drops", s.closedBufferDrops)
            .uint("map_full_drops", s.mapFullDrops)
            .uint("expired_tcp", s.expiredTCP)
            .uint("expired_udp", s.expiredUDP)
            .double("poll_ms", s.pollMs)
            .double("tick_ms", s.tickMs)
            .uint("whole_map_reads", s.wholeMapReads)
            .uint("udp_peer_unknown", s.udpPeerUnknown)
            .uint("syscall_context_full", s.syscallContextFull)
            .uint("conntrack_resyncs", s.conntrackResyncs)
            .bool("conntrack_available", s.conntrackAvailable)
            .int("max_connections", s.maxConnections)
            .uint("conntrack_rejected", s.conntrackRejected)
            .uint("conntrack_errors", s.conntrackErrors)
            .text
    }

    static func maps(bpf: BPFObject, counters: [UInt64]) -> String {
        var maps: [String] = []
        for name in ["conns", "events", "dirty", "counters", "untracked", "sysctx"] {
            guard let fd = try? bpf.mapFD(name) else { continue }
            var info = bpf_map_info()
            var len = UInt32(MemoryLayout<bpf_map_info>.size)
            guard bpf_obj_get_info_by_fd(fd, &info, &len) == 0 else { continue }
            var obj = JSONObject()
                .string("name", name)
                .uint("id", UInt64(info.id))
                .uint("type", UInt64(info.type))
                .uint("key_size", UInt64(info.key_size))
                .uint("value_size", UInt64(info.value_size))
                .uint("max_entries", UInt64(info.max_entries))
            if name == "conns" || name == "sysctx" || name == "untracked" {
                obj = obj.int("entries", countEntries(fd: fd, keySize: Int(info.key_size), limit: Int(info.max_entries)))
            }
            maps.append(obj.text)
        }
        let names = ["map_full", "events_lost", "syscall_context_full", "udp_peer_unknown", "dirty_lost"]
        var counterObj = JSONObject()
        for (i, name) in names.enumerated() where i < counters.count { counterObj = counterObj.uint(name, counters[i]) }
        return JSONObject().raw("maps", "[" + maps.joined(separator: ",") + "]").raw("counters", counterObj.text).text
    }

    static func state(_ snapshot: Snapshot, ports: Int) -> String {
        var rows: [String] = []
        for c in snapshot.connections {
            rows.append(JSONObject()
                .string("type", c.tuple.type.rawValue)
                .uint("net_ns", UInt64(c.tuple.netns))
                .string("source", c.tuple.source.description).uint("sport", UInt64(c.tuple.sport))
                .string("dest", c.tuple.dest.description).uint("dport", UInt64(c.tuple.dport))
                .string("direction", c.direction.rawValue)
                .uint("pid", UInt64(c.pid)).string("comm", c.comm)
                .uint("tcp_state", UInt64(c.tcpState))
                .uint("monotonic_sent_bytes", c.monotonicSentBytes)
                .uint("monotonic_recv_bytes", c.monotonicRecvBytes)
                .bool("closed", c.closed)
                .text)
        }
        return JSONObject()
            .string("backend", snapshot.backend)
            .int("listening_ports", ports)
            .raw("connections", "[" + rows.joined(separator: ",") + "]")
            .text
    }

    /// The struct fields the programs read: with BTF, the kernel's offsets (CO-RE relocates to these) and
    /// `guessed` null; after offset guessing (no BTF, or --no-btf), the guessed offsets, with the BTF ones
    /// beside them where the kernel has BTF.
    static func offsets(guessed: GuessedOffsets? = nil) -> String {
        let btf = btf__load_vmlinux_btf()
        defer { if let btf { btf__free(btf) } }
        /// A member path ("ns.inum") is summed through its structs.
        func btfOffset(_ type: String, _ path: String) -> Int? {
            guard let btf else { return nil }
            if path == "ns.inum" && type == "net" {
                let ns = nt_btf_member_offset(btf, "net", "ns"), inum = nt_btf_member_offset(btf, "ns_common", "inum")
                return ns >= 0 && inum >= 0 ? ns + inum : nil
            }
            let off = nt_btf_member_offset(btf, type, path)
            return off >= 0 ? off : nil
        }
        var items: [String] = []
        func add(_ type: String, _ name: String, guessed: Int?) {
            var o = JSONObject().string("struct", type).string("name", name)
            o = guessed.map { o.int("guessed", $0) } ?? o.null("guessed")
            o = btfOffset(type, name).map { o.int("btf", $0) } ?? o.null("btf")
            items.append(o.text)
        }
        if let guessed {
            for entry in guessed.entries { add(entry.structName, entry.memberName, guessed: entry.offset) }
        } else {
            let fields: [(String, String)] = [
                ("sock_common", "skc_daddr"), ("sock_common", "skc_rcv_saddr"), ("sock_common", "skc_dport"),
                ("sock_common", "skc_num"), ("sock_common", "skc_family"), ("sock_common", "skc_state"),
                ("sock_common", "skc_net"), ("sock_common", "skc_v6_daddr"), ("sock_common", "skc_v6_rcv_saddr"),
                ("sock_common", "skc_cookie"), ("sock", "sk_protocol"), ("sock", "sk_userlocks"), ("net", "ns"),
                ("ns_common", "inum"),
            ]
            for (type, name) in fields { add(type, name, guessed: nil) }
        }
        return JSONObject().string("source", guessed != nil || btf == nil ? "guessed" : "btf")
            .raw("fields", "[" + items.joined(separator: ",") + "]").text
    }

    private static func countEntries(fd: Int32, keySize: Int, limit: Int) -> Int {
        var key = [UInt8](repeating: 0, count: keySize), next = key
        var n = 0
        var ret = bpf_map_get_next_key(fd, nil, &next)
        while ret == 0 && n <= limit {
            n += 1
            key = next
            ret = bpf_map_get_next_key(fd, &key, &next)
        }
        return n
    }
}

/// A JSON object built field by field, keys in insertion order.
struct JSONObject {
    private var fields: [String] = []

    var text: String { "{" + fields.joined(separator: ",") + "}" }

    func raw(_ key: String, _ json: String) -> JSONObject {
        var copy = self
        copy.fields.append("\(JSONObject.quote(key)):\(json)")
        return copy
    }
    func string(_ key: String, _ value: String) -> JSONObject { raw(key, JSONObject.quote(value)) }
    func int<I: BinaryInteger>(_ key: String, _ value: I) -> JSONObject { raw(key, String(value)) }
    func uint(_ key: String, _ value: UInt64) -> JSONObject { raw(key, String(value)) }
    func double(_ key: String, _ value: Double) -> JSONObject { raw(key, value.isFinite ? String(value) : "null") }
    func bool(_ key: String, _ value: Bool) -> JSONObject { raw(key, value ? "true" : "false") }
    func null(_ key: String) -> JSONObject { raw(key, "null") }

    /// A JSON string literal: quotes, backslashes and every control character escaped.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7f || (0x80..<0xa0).contains(u.value) {
                    out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
