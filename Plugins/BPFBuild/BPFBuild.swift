import Foundation
import PackagePlugin

/// Compiles `bpf/*.bpf.c` with the toolchain's clang (CO-RE, BTF) and embeds each object as Swift source.
/// No object file is committed and no resource bundle is needed: a copied `nettop` binary runs alone.
@main
struct BPFBuild: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let bpfDir = context.package.directoryURL.appending(path: "bpf")
        let clang = try context.tool(named: "clang").url
        let embed = try context.tool(named: "bpf-embed").url
        let headers = try FileManager.default.contentsOfDirectory(atPath: bpfDir.path)
            .filter { $0.hasSuffix(".h") }
            .map { bpfDir.appending(path: $0) }
        let sources = try FileManager.default.contentsOfDirectory(atPath: bpfDir.path)
            .filter { $0.hasSuffix(".bpf.c") }
            .sorted()
        var commands: [Command] = []
        for source in sources {
            let name = String(source.dropLast(".bpf.c".count))
            let input = bpfDir.appending(path: source)
            let object = context.pluginWorkDirectoryURL.appending(path: "\(name).bpf.o")
            let swift = context.pluginWorkDirectoryURL.appending(path: "BPFObject_\(name).swift")
            commands.append(.buildCommand(
                displayName: "Compiling BPF \(source)",
                executable: clang,
                arguments: [
                    "-target", "bpf", "-O2", "-g", "-Wall", "-Werror",
                    "-D__TARGET_ARCH_x86", "-I", bpfDir.path, "-I", "/usr/include/x86_64-linux-gnu",
                    "-c", input.path, "-o", object.path,
                ],
                inputFiles: [input] + headers,
                outputFiles: [object]
            ))
            commands.append(.buildCommand(
                displayName: "Embedding BPF \(name).bpf.o",
                executable: embed,
                arguments: [object.path, swift.path, name],
                inputFiles: [object],
                outputFiles: [swift]
            ))
        }
        return commands
    }
}
