import CBPF
import XCTest
@testable import TracerCore

/// An expired row's map key is made again from its KernelKey (nothing else of the map's key is kept), so
/// that must give back every byte the BPF programs wrote: TCP keys, and UDP keys with v4 and v6 peers,
/// including a v4 peer written by a dual-stack (AF_INET6) socket.
final class KernelRecordTests: XCTestCase {
    private func roundTrip(proto: nt_proto, family: UInt8, peer: [UInt8], port: UInt16, file: StaticString = #filePath,
                           line: UInt = #line) throws {
        var key = nt_conn_key()
        key.cookie = 0x1122_3344_5566_7788
        key.peer_port = port
        withUnsafeMutableBytes(of: &key.peer_addr) { raw in for (i, b) in peer.enumerated() { raw[i] = b } }
        var info = nt_conn_info()
        info.proto = UInt8(proto.rawValue)
        info.family = family
        var names = CommNames()
        let sample = try XCTUnwrap(KernelRecord.sample(key: key, info: info, names: &names), file: file, line: line)
        let back = KernelRecord.key(try XCTUnwrap(sample.kernelKey, file: file, line: line))
        let same = withUnsafeBytes(of: key) { a in withUnsafeBytes(of: back) { b in a.elementsEqual(b) } }
        XCTAssertTrue(same, "key bytes differ after the round trip", file: file, line: line)
    }

    func testMapKeysAreMadeAgainExactlyFromTheirKernelKey() throws {
        try roundTrip(proto: NT_PROTO_TCP, family: 2, peer: [], port: 0)
        try roundTrip(proto: NT_PROTO_TCP, family: 10, peer: [], port: 0)
        try roundTrip(proto: NT_PROTO_UDP, family: 2, peer: [10, 0, 0, 53], port: 53)
        try roundTrip(proto: NT_PROTO_UDP, family: 10, peer: [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x35], port: 5353)
        try roundTrip(proto: NT_PROTO_UDP, family: 10, peer: [127, 0, 0, 1], port: 9)
    }

    /// Names are remembered by pid, but only while pid and all sixteen bytes match: a reused pid or a
    /// renamed process (prctl PR_SET_NAME) shows its new name.
    func testProcessNamesFollowPidAndBytes() {
        var names = CommNames()
        func comm(_ text: String) -> (UInt64, UInt64) {
            var raw: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &raw) { b in for (i, c) in text.utf8.prefix(15).enumerated() { b[i] = c } }
            return raw
        }
        XCTAssertEqual(names.name(pid: 42, comm: comm("nginx")), "nginx")
        XCTAssertEqual(names.name(pid: 42, comm: comm("nginx")), "nginx")
        XCTAssertEqual(names.name(pid: 42, comm: comm("nginx: worker")), "nginx: worker")
        XCTAssertEqual(names.name(pid: 42 + 256, comm: comm("curl")), "curl", "same slot, other pid")
        XCTAssertEqual(names.name(pid: 42, comm: comm("nginx: worker")), "nginx: worker")
        XCTAssertEqual(names.name(pid: 0, comm: comm("")), "")
        XCTAssertEqual(names.name(pid: 0, comm: comm("swapper/0")), "swapper/0")
        XCTAssertEqual(names.name(pid: 7, comm: comm("fifteen-chars-x")), "fifteen-chars-x")
    }
}
