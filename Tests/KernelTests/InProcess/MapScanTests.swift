import CBPF
import Glibc
import XCTest
@testable import TracerCore

/// The batch walk through a real BPF hash map, made by the test: read whole, and read a piece at a time
/// across calls (as ticks do), each entry comes out, none twice, and the walk starts over after the end.
final class MapScanTests: XCTestCase {
    private func makeMap(entries: Int) throws -> ConnectionMap {
        let fd = bpf_map_create(BPF_MAP_TYPE_HASH, "nt_scan_test", UInt32(MemoryLayout<nt_conn_key>.size),
                                UInt32(MemoryLayout<nt_conn_info>.size), 8192, nil)
        guard fd >= 0 else { throw KernelTestError("bpf_map_create: \(String(cString: strerror(errno)))") }
        for n in 0..<entries {
            var key = nt_conn_key()
            key.cookie = UInt64(n + 1)
            var info = nt_conn_info()
            info.sent_bytes = UInt64(n) * 10
            XCTAssertEqual(bpf_map_update_elem(fd, &key, &info, UInt64(BPF_NOEXIST)), 0)
        }
        return ConnectionMap(fd: fd, capacity: 8192)
    }

    func testAWalkInPiecesMeetsEveryEntryOnceAndStartsOverAtTheEnd() throws {
        let map = try makeMap(entries: 5000)
        defer { close(map.fd) }

        var whole: [UInt64: UInt64] = [:]
        try map.forEach { key, info in whole[key.cookie] = info.sent_bytes }
        XCTAssertEqual(whole.count, 5000)
        XCTAssertEqual(whole[4321], 43200)

        var scan = MapScan()
        var seen: [UInt64] = []
        var calls = 0
        var ended = false
        while !ended {
            ended = try scan.next(in: map, entries: 300) { key, info in
                seen.append(key.cookie)
                XCTAssertEqual(info.sent_bytes, (key.cookie - 1) * 10)
            }
            calls += 1
            XCTAssertLessThan(calls, 1000, "the walk ends")
        }
        XCTAssertEqual(seen.count, 5000, "no entry twice")
        XCTAssertEqual(Set(seen), Set(whole.keys))
        XCTAssertGreaterThanOrEqual(calls, 5000 / 600, "read a piece at a time")

        // After the end the walk starts again from the beginning.
        var again: [UInt64] = []
        _ = try scan.next(in: map, entries: 300) { key, _ in again.append(key.cookie) }
        XCTAssertFalse(again.isEmpty)
        XCTAssertEqual(Array(seen.prefix(again.count)), again)
    }
}
