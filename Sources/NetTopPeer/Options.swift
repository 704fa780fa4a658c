import Glibc

/// Command-line parsing for the peer: `nettop-peer MODE --name value ... --flag`.
/// Deliberately small (no dependencies): the peer must build fast and run anywhere, also under `ip netns exec`.
struct Options {
    let mode: String
    private var values: [String: String] = [:]
    private var flags: Set<String> = []

    /// Options every mode takes.
    static let commonValues: Set<String> = ["timeout-ms"]

    /// For each mode: the options that take a value, and the flags that take none.
    static let modes: [String: (values: Set<String>, flags: Set<String>)] = [
        "tcp-server": (["bind", "port", "count", "send", "backlog", "api"], []),
        "tcp-client": (["connect", "port", "send", "recv-expect", "count", "hold-ms", "sleep-before-close-ms", "bind", "lport", "api"], []),
        "udp-server": (["bind", "port", "expect-datagrams", "api", "hold-ms"], ["echo"]),
        "udp-client": (["connect", "port", "datagrams", "size", "api", "recv-api", "interval-ms", "hold-ms", "bind", "lport"], ["connected", "echo"]),
        "hold": (["connect", "port", "hold-ms", "bind", "lport"], []),
        "hold-server": (["bind", "port"], []),
        "many": (["connect", "port", "connections", "hold-ms"], []),
        "many-server": (["bind", "port", "connections"], ["until-stdin-eof"]),
    ]

    init(_ args: [String]) throws {
        guard let mode = args.first else { throw PeerError.usage("no mode given (try --help)") }
        guard let spec = Options.modes[mode] else { throw PeerError.usage("unknown mode '\(mode)' (try --help)") }
        self.mode = mode
        var i = 1
        while i < args.count {
            let arg = args[i]
            guard arg.hasPrefix("--") else { throw PeerError.usage("\(mode): unexpected argument '\(arg)'") }
            var name = String(arg.dropFirst(2))
            var inlineValue: String?
            if let eq = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            if spec.flags.contains(name) {
                if inlineValue != nil { throw PeerError.usage("\(mode): --\(name) takes no value") }
                flags.insert(name)
            } else if spec.values.contains(name) || Options.commonValues.contains(name) {
                if let v = inlineValue {
                    values[name] = v
                } else {
                    i += 1
                    guard i < args.count else { throw PeerError.usage("\(mode): --\(name) needs a value") }
                    values[name] = args[i]
                }
            } else {
                throw PeerError.usage("\(mode): unknown option --\(name)")
            }
            i += 1
        }
    }

    func has(_ flag: String) -> Bool { flags.contains(flag) }

    func string(_ name: String) throws -> String {
        guard let v = values[name] else { throw PeerError.usage("\(mode): --\(name) is required") }
        return v
    }

    func optionalString(_ name: String) -> String? { values[name] }

    func int(_ name: String, default def: Int? = nil, min lower: Int = 0, max upper: Int = Int.max) throws -> Int {
        guard let s = values[name] else {
            if let def { return def }
            throw PeerError.usage("\(mode): --\(name) is required")
        }
        guard let v = Int(s), v >= lower, v <= upper else {
            throw PeerError.usage("\(mode): --\(name) must be an integer in \(lower)...\(upper), not '\(s)'")
        }
        return v
    }

    func optionalInt(_ name: String, min lower: Int = 0, max upper: Int = Int.max) throws -> Int? {
        values[name] == nil ? nil : try int(name, min: lower, max: upper)
    }

    func port(_ name: String = "port") throws -> UInt16 { UInt16(try int(name, min: 0, max: 65535)) }

    /// The address to bind locally (--bind, --lport), if any was asked for; the family follows `remote`.
    func localBinding(for remote: SocketAddress) throws -> SocketAddress? {
        let lport = try optionalInt("lport", max: 65535)
        let host = optionalString("bind")
        if host == nil && lport == nil { return nil }
        let any = remote.family == AF_INET6 ? "::" : "0.0.0.0"
        return try SocketAddress(host: host ?? any, port: UInt16(lport ?? 0))
    }
}

let usageText = """
usage: nettop-peer MODE [OPTIONS]      known traffic for nettop's tests (IPv4 or IPv6: the address literal decides)

Every mode prints one JSON object per line on stdout (flushed), each with "event" and "pid".
Every wait is bounded by --timeout-ms MS (default 10000): on expiry the peer exits 2 with a message on stderr.
Exit status: 0 done, 1 a call failed or the traffic was not as expected, 2 timeout, 64 bad usage.
A port of 0 on a server picks a free one; the "listening" line tells which.

  tcp-server  --bind ADDR --port P [--count N=1] [--send BYTES=0] [--backlog N] [--api send|write|sendfile]
      prints {"event":"listening",lport}; accepts N connections one after another, reads each to EOF,
      replies BYTES, closes; per connection {"event":"tcp",local,lport,remote,rport,recv,sent}.
  tcp-client  --connect ADDR --port P --send BYTES [--recv-expect BYTES] [--count N=1] [--hold-ms MS]
              [--sleep-before-close-ms MS] [--bind ADDR] [--lport P] [--api send|write|sendfile]
      N sequential connections: connect, wait --hold-ms, write exactly BYTES, shutdown(SHUT_WR), read the
      reply to EOF, wait --sleep-before-close-ms, close; per connection {"event":"tcp",...,sent,recv,
      duration_us} (connect to close).
      With --recv-expect, a reply of another size exits 1. --api (both TCP modes): send/recv (default),
      write/read, or sendfile from a temporary file with recv.
  udp-server  --bind ADDR --port P --expect-datagrams N [--echo] [--api recvfrom|recvmsg|recvmmsg]
              [--hold-ms MS]
      unconnected socket; receives N datagrams in all (from any peers) with the chosen call, echoes each to
      its sender with the matching sendto|sendmsg|sendmmsg when --echo; then one line per peer
      {"event":"udp-peer",local,lport,remote,rport,recv,sent,datagrams_recv,datagrams_sent},
      keeps the socket open --hold-ms, closes.
  udp-client  --connect ADDR --port P --datagrams N --size S [--connected] [--api send|sendto|sendmsg|sendmmsg]
              [--echo] [--recv-api recv|recvfrom|recvmsg|recvmmsg] [--interval-ms MS] [--hold-ms MS]
              [--bind ADDR] [--lport P]
      sends N datagrams of S bytes (default api: send when --connected, else sendto; sendmmsg sends them all
      in batches); with --echo waits for N echoes (default recv api matches the send api); prints
      {"event":"udp",local,lport,remote,rport,sent,recv,datagrams_sent,datagrams_recv}, keeps the socket
      open --hold-ms (idle), closes.
  hold        --connect ADDR --port P [--hold-ms MS] [--bind ADDR] [--lport P]
      connects, prints {"event":"connected",...}; holds the connection until stdin reaches EOF (or --hold-ms
      elapses, stdin then ignored). A stdin line "send N" writes N bytes; "close" ends like EOF. Then
      shutdown, read to EOF, close, print {"event":"closed",...,sent,recv}.
  hold-server --bind ADDR --port P
      accepts one connection, prints {"event":"accepted",...}; counts what it reads (stdin "send N" writes N
      bytes) until the peer's EOF, then closes and prints {"event":"closed",...,sent,recv}.
  many        --connect ADDR --port P --connections N [--hold-ms MS]
      opens N concurrent TCP connections (raises RLIMIT_NOFILE), prints {"event":"connected",count,lports};
      holds them until stdin reaches EOF (or --hold-ms), closes all, prints {"event":"closed",count}. A stdin
      line "send N" writes N bytes on every connection, then prints {"event":"sent",count,bytes}.
  many-server --bind ADDR --port P --connections N [--until-stdin-eof]
      accepts N connections, prints {"event":"accepted",count}; holds each until its peer closes, then prints
      {"event":"closed",count,still_open}. With --until-stdin-eof, stdin's EOF also ends the wait: the
      connections whose peers' closes never arrived are closed here and counted in still_open.
"""
