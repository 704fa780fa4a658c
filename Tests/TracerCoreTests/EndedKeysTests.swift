import XCTest
@testable import TracerCore

/// A connection ends once per poll however often its entry was read; two connections that ended under one
/// reused key (sockets keyed by address) both end.
final class EndedKeysTests: XCTestCase {
    private func key(_ cookie: UInt64) -> KernelKey { KernelKey(cookie: cookie, peer: nil, peerPort: 0) }

    func testTheSameEntryEndsOnceAndAnotherStartUnderItsKeyEndsToo() {
        var ended = EndedKeys(capacity: 4)
        XCTAssertTrue(ended.isEmpty)
        XCTAssertTrue(ended.insert(key(1), firstSeen: 100))
        XCTAssertFalse(ended.insert(key(1), firstSeen: 100), "the same entry read twice")
        XCTAssertTrue(ended.insert(key(1), firstSeen: 200), "a second connection under the reused key")
        XCTAssertFalse(ended.insert(key(1), firstSeen: 200))
        XCTAssertFalse(ended.insert(key(1), firstSeen: 100))
        XCTAssertTrue(ended.insert(key(1), firstSeen: 300))
        XCTAssertTrue(ended.insert(key(2), firstSeen: 100))
        XCTAssertTrue(ended.contains(key(1)))
        XCTAssertTrue(ended.contains(key(2)))
        XCTAssertFalse(ended.contains(key(3)))
        XCTAssertFalse(ended.isEmpty)
    }
}
