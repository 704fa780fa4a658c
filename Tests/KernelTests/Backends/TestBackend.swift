import Foundation
@testable import TracerCore

/// The backend the kernel tests run nettop with, from the environment: `NETTOP_TEST_BACKEND`
/// (auto|tracepoint|fentry|kprobe) and `NETTOP_TEST_NO_BTF=1` (offset guessing instead of CO-RE).
/// `make test` runs the kernel suite a second time with NETTOP_TEST_NO_BTF=1; `make vmtest` sets both.
enum TestBackend {
    static var backend: String? {
        guard let b = ProcessInfo.processInfo.environment["NETTOP_TEST_BACKEND"], !b.isEmpty, b != "auto" else { return nil }
        return b
    }

    static var noBTF: Bool {
        guard let v = ProcessInfo.processInfo.environment["NETTOP_TEST_NO_BTF"] else { return false }
        return !v.isEmpty && v != "0"
    }

    /// The backend nettop picks on this kernel for these settings (nil: none can trace it).
    static var kind: Backend.Kind? {
        let requested = backend.flatMap(TracerConfig.Backend.init(rawValue:)) ?? .auto
        return try? KernelFeatures.current.choose(requested, useBTF: !noBTF).get().kind
    }

    /// Extra nettop arguments for every run of the kernel tests.
    static var arguments: [String] {
        (backend.map { ["--backend", $0] } ?? []) + (noBTF ? ["--no-btf"] : [])
    }
}
