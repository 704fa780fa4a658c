// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "nettop",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "nettop", targets: ["NetTop"]),
        .library(name: "TracerCore", targets: ["TracerCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Thin C shims over system libraries (see each module.modulemap / shim header).
        .systemLibrary(name: "CBPF", path: "Sources/CBPF"),
        .systemLibrary(name: "CCurses", path: "Sources/CCurses"),
        .systemLibrary(name: "CConntrack", path: "Sources/CConntrack"),

        // Build tool: turns the compiled BPF object into Swift source, so `nettop` stays one file.
        .executableTarget(name: "bpf-embed", path: "Sources/BPFEmbed"),
        .plugin(name: "BPFBuild", capability: .buildTool(), dependencies: ["bpf-embed"], path: "Plugins/BPFBuild"),

        .target(
            name: "TracerCore",
            dependencies: ["CBPF", "CConntrack"],
            plugins: ["BPFBuild"]
        ),
        .executableTarget(
            name: "NetTop",
            dependencies: [
                "TracerCore", "CCurses",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Known-traffic generator the kernel tests run (also inside namespaces they create).
        .executableTarget(name: "nettop-peer", path: "Sources/NetTopPeer"),

        .testTarget(name: "TracerCoreTests", dependencies: ["TracerCore"]),
        .testTarget(name: "NetTopTests", dependencies: ["NetTop", "TracerCore"]),
        .testTarget(name: "KernelTests", dependencies: ["TracerCore"]),
    ]
)
