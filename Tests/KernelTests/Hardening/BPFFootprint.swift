import Foundation
import Glibc
import XCTest

/// The BPF objects one process holds: the program, link and map ids in its fd table
/// (/proc/PID/fdinfo/N has `prog_id:`, `link_id:` or `map_id:`). Ids are allocated cyclically by the
/// kernel, so once freed an id is not seen again for a long while: an id of the footprint still loaded
/// after the process exited is a leftover of that process, whatever other nettops run meanwhile.
struct BPFFootprint: CustomStringConvertible {
    var programs: Set<Int> = []
    var links: Set<Int> = []
    var maps: Set<Int> = []

    var isEmpty: Bool { programs.isEmpty && links.isEmpty && maps.isEmpty }
    var description: String { "programs \(programs.sorted()), links \(links.sorted()), maps \(maps.sorted())" }

    mutating func formUnion(_ other: BPFFootprint) {
        programs.formUnion(other.programs)
        links.formUnion(other.links)
        maps.formUnion(other.maps)
    }

    /// Read from /proc; empty when the process is gone.
    static func of(pid: Int32) -> BPFFootprint {
        var result = BPFFootprint()
        let directory = "/proc/\(pid)/fdinfo"
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let text = try? String(contentsOfFile: "\(directory)/\(fd)", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                let parts = line.split(whereSeparator: { $0 == ":" || $0 == "\t" || $0 == " " })
                guard parts.count == 2, let id = Int(parts[1]) else { continue }
                switch parts[0] {
                case "prog_id": result.programs.insert(id)
                case "link_id": result.links.insert(id)
                case "map_id": result.maps.insert(id)
                default: break
                }
            }
        }
        return result
    }
}

/// What the kernel has loaded now, from bpftool.
enum BPFInspector {
    static let bpftool = FileManager.default.isExecutableFile(atPath: "/usr/sbin/bpftool") ? "/usr/sbin/bpftool" : "/sbin/bpftool"

    /// Every loaded program: id → name.
    static func programs() throws -> [Int: String] {
        var result: [Int: String] = [:]
        for object in try list(["prog", "show"]) {
            if let id = object["id"] as? Int { result[id] = object["name"] as? String ?? "" }
        }
        return result
    }

    static func linkIDs() throws -> Set<Int> { Set(try list(["link", "show"]).compactMap { $0["id"] as? Int }) }
    static func mapIDs() throws -> Set<Int> { Set(try list(["map", "show"]).compactMap { $0["id"] as? Int }) }

    private static func list(_ arguments: [String]) throws -> [[String: Any]] {
        let r = try runCommand(bpftool, arguments + ["--json"], timeout: 60)
        guard r.status == 0 else { throw KernelTestError("bpftool \(arguments.joined(separator: " ")): \(r.stderr)") }
        let text = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return [] }
        guard let array = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw KernelTestError("bpftool \(arguments.joined(separator: " ")) printed no JSON array: \(text.prefix(300))")
        }
        return array
    }

    /// Everything pinned under /sys/fs/bpf (paths relative to it), nettop's or anyone's.
    static func pinned() -> Set<String> {
        let root = "/sys/fs/bpf"
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var result = Set<String>()
        while let path = walker.nextObject() as? String { result.insert(path) }
        return result
    }

    /// The parts of `footprint` the kernel still has loaded.
    static func remaining(of footprint: BPFFootprint) throws -> BPFFootprint {
        BPFFootprint(programs: footprint.programs.intersection(try programs().keys),
                     links: footprint.links.intersection(try linkIDs()),
                     maps: footprint.maps.intersection(try mapIDs()))
    }
}

extension KernelTestCase {
    /// Asserts that nothing of `footprint` is still loaded (waiting up to `timeout` for the kernel's
    /// deferred frees) and that nothing new is pinned under /sys/fs/bpf compared with `pinnedBefore`.
    func assertNoBPFLeft(_ footprint: BPFFootprint, pinnedBefore: Set<String>, _ what: String, timeout: TimeInterval = 20,
                         file: StaticString = #filePath, line: UInt = #line) {
        let end = Date().addingTimeInterval(timeout)
        var left = footprint
        while true {
            do {
                left = try BPFInspector.remaining(of: footprint)
            } catch {
                XCTFail("\(what): \(error)", file: file, line: line)
                return
            }
            if left.isEmpty || Date() > end { break }
            usleep(200_000)
        }
        XCTAssertTrue(left.isEmpty, "\(what): still loaded after nettop exited: \(left)", file: file, line: line)
        let newPins = BPFInspector.pinned().subtracting(pinnedBefore)
        XCTAssertTrue(newPins.isEmpty, "\(what): pinned under /sys/fs/bpf: \(newPins.sorted())", file: file, line: line)
    }

    /// The footprint of a running nettop once its programs are attached, with the names of its programs.
    func footprintOfRunningNetTop(pid: Int32, _ what: String, file: StaticString = #filePath,
                                  line: UInt = #line) throws -> BPFFootprint {
        let footprint = BPFFootprint.of(pid: pid)
        XCTAssertFalse(footprint.programs.isEmpty, "\(what): nettop holds no BPF programs", file: file, line: line)
        XCTAssertFalse(footprint.maps.isEmpty, "\(what): nettop holds no BPF maps", file: file, line: line)
        return footprint
    }
}
