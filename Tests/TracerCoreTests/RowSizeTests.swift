import XCTest
@testable import TracerCore

/// The per-row values are held 200,000 at a time at 100k connections, several arrays of them per tick:
/// their sizes are part of what nettop costs, and a field added or moved carelessly grows every one.
final class RowSizeTests: XCTestCase {
    func testPerRowValuesKeepTheirSizes() {
        XCTAssertEqual(MemoryLayout<IPAddress>.size, 17, "two words and the family, the family last")
        XCTAssertEqual(MemoryLayout<KernelKey?>.stride, 32)
        XCTAssertEqual(MemoryLayout<IPTranslation?>.stride, 48)
        XCTAssertEqual(MemoryLayout<ConnectionTuple>.stride, 48)
        XCTAssertEqual(MemoryLayout<ConnectionSample>.stride, 136)
        XCTAssertEqual(MemoryLayout<ConnectionStats>.stride, 144, "the translation boxed")
        XCTAssertEqual(MemoryLayout<RowID>.stride, 8)
    }
}
