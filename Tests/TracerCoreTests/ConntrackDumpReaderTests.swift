import XCTest
@testable import TracerCore

/// One dump told apart from the rest of what a conntrack socket receives: the request's bytes, the
/// messages it takes, and what an earlier, unfinished dump's parts, DONE and the EBUSY it causes lead to.
final class ConntrackDumpReaderTests: XCTestCase {
    func testTheRequestIsAConntrackGetDumpOfEveryFamily() {
        let bytes = ConntrackDumpReader(seq: 0x0102_0304).request(subsystem: 1)
        XCTAssertEqual(bytes.count, 20)
        func u16(_ at: Int) -> UInt16 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt16.self) } }
        func u32(_ at: Int) -> UInt32 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: at, as: UInt32.self) } }
        XCTAssertEqual(u32(0), 20)
        XCTAssertEqual(u16(4), 0x0101, "NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET")
        XCTAssertEqual(u16(6), 0x0301, "NLM_F_REQUEST | NLM_F_DUMP")
        XCTAssertEqual(u32(8), 0x0102_0304)
        XCTAssertEqual(u32(12), 0)
        XCTAssertEqual(Array(bytes[16...]), [0, 0, 0, 0], "AF_UNSPEC, NFNETLINK_V0, res_id 0")
    }

    func testItsOwnPartsAreTakenAndItsDoneFinishes() {
        var r = ConntrackDumpReader(seq: 40)
        XCTAssertTrue(r.takes(seq: 40))
        XCTAssertEqual(r.control(isDone: true, code: 0, seq: 40), .finished)
    }

    /// An earlier dump that ended by itself before this request: its parts and DONE are skipped.
    func testAnEarlierDumpsPartsAndDoneAreSkipped() {
        var r = ConntrackDumpReader(seq: 40)
        XCTAssertFalse(r.takes(seq: 39))
        XCTAssertEqual(r.control(isDone: true, code: 0, seq: 39), .read)
        XCTAssertTrue(r.takes(seq: 40))
        XCTAssertEqual(r.control(isDone: true, code: 0, seq: 40), .finished)
    }

    /// An earlier dump still running: the request is refused with EBUSY. Nothing is taken until the earlier
    /// dump's DONE, then the request goes again with a new sequence number, whose parts are taken.
    func testARefusedRequestWaitsForTheEarlierDumpsEndAndIsSentAgain() {
        var r = ConntrackDumpReader(seq: 40)
        XCTAssertEqual(r.control(isDone: false, code: -16, seq: 40), .read)
        XCTAssertFalse(r.takes(seq: 40), "nothing of a refused request is taken")
        XCTAssertFalse(r.takes(seq: 39))
        XCTAssertEqual(r.control(isDone: false, code: -16, seq: 38), .read, "another request's error changes nothing")
        XCTAssertEqual(r.control(isDone: true, code: 0, seq: 39), .sendAgain)
        XCTAssertEqual(r.seq, 41)
        XCTAssertEqual(r.request(subsystem: 1)[8], 41)
        XCTAssertTrue(r.takes(seq: 41))
        XCTAssertFalse(r.takes(seq: 40))
        XCTAssertEqual(r.control(isDone: true, code: 0, seq: 41), .finished)
    }

    func testRefusedAgainAndAgainItGivesUp() {
        var r = ConntrackDumpReader(seq: 1)
        for attempt in 1..<ConntrackDumpReader.maxRequests {
            XCTAssertEqual(r.control(isDone: false, code: -16, seq: r.seq), .read)
            XCTAssertEqual(r.control(isDone: true, code: 0, seq: 0), .sendAgain, "attempt \(attempt)")
        }
        XCTAssertEqual(r.control(isDone: false, code: -16, seq: r.seq), .read)
        XCTAssertEqual(r.control(isDone: true, code: 0, seq: 0), .failed(16))
        XCTAssertEqual(r.requests, ConntrackDumpReader.maxRequests)
    }

    func testErrorsOfItsOwnRequestFailIt() {
        var r = ConntrackDumpReader(seq: 7)
        XCTAssertEqual(r.control(isDone: false, code: 0, seq: 7), .read, "an acknowledgement")
        XCTAssertEqual(r.control(isDone: false, code: -1, seq: 7), .failed(1))
        var d = ConntrackDumpReader(seq: 7)
        XCTAssertEqual(d.control(isDone: true, code: -4, seq: 7), .failed(4), "a DONE that carries an error")
    }
}
