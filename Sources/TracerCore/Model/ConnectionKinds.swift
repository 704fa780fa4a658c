/// Transport protocol of a connection. Raw values are the JSON contract's strings.
public enum ConnectionType: String, Sendable, Hashable, CaseIterable, Codable {
    case tcp, udp
}

/// Address family. Raw values are the JSON contract's strings.
public enum Family: String, Sendable, Hashable, CaseIterable, Codable {
    case v4, v6
}

/// Which end of the connection this socket is. Raw values are the JSON contract's strings.
public enum Direction: String, Sendable, Hashable, CaseIterable, Codable {
    case incoming, outgoing, local, none
}

/// How the kernel side saw a socket end come into being (mirrors `enum nt_origin` in bpf/nettop.h).
public enum Origin: UInt8, Sendable, Hashable {
    case unknown = 0
    case connect = 1
    case accept = 2
    case udpBound = 3
    case udpClient = 4
}
