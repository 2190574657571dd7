import ArgumentParser
import Unlocked

struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List, inspect and verify kernel plugins (see plugins/README.md).",
        subcommands: [List.self, Info.self, Verify.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the built-in kernels and every plugin of --plugin and $UNLOCKED_PLUGIN_PATH.")
        @OptionGroup var plugins: PluginOptions
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load one plugin and describe it and each of its kernels.")
        @Argument(help: "The plugin shared object.") var path: String
        @Flag(help: "Load it even if other users could have replaced it.") var allowInsecurePlugins = false
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every kernel of a plugin in a child process: against the built-in kernel of the same name or itself, tails, unaligned and chunked ranges, edge values, and concurrency as declared.")
        @Argument(help: "The plugin shared object.") var path: String
        @Flag(help: "Load it even if other users could have replaced it.") var allowInsecurePlugins = false
        @Option(help: "Threads of the concurrency check.") var threads = 8
        @Option(help: "Seconds one check may run before the child is killed.") var timeout = 30.0
    }
}

extension PluginsCommand.List {
    func run() throws {
        try reportingErrors {
            print(["plugin", "version", "abi", "kernels", "concurrency", "path"].joined(separator: "\t"))
            for plugin in try plugins.catalog().plugins {
                let kernels = plugin.kernels.map { "\($0.name)/\($0.inputType.rawValue)" }.joined(separator: ",")
                print([plugin.name, plugin.version, plugin.abiVersion, kernels, plugin.concurrencyMode.rawValue,
                       plugin.path ?? "(built in)"].joined(separator: "\t"))
            }
        }
    }
}

extension PluginsCommand.Info {
    func run() throws {
        try reportingErrors {
            let plugin = try PluginLoader.load(path: path, allowInsecure: allowInsecurePlugins)
            defer { plugin.close() }
            print("plugin \(plugin.name) \(plugin.version), ABI \(plugin.abiVersion), \(plugin.concurrencyMode.rawValue), \(plugin.path ?? path)")
            for kernel in plugin.kernels {
                let about = kernel.about.isEmpty ? "" : " — \(kernel.about)"
                print("  \(kernel.name) \(kernel.inputType.rawValue): \(kernel.resultDescription)\(about)")
            }
        }
    }
}

extension PluginsCommand.Verify {
    func run() throws {
        try reportingErrors {
            guard threads >= 2 else { throw UnlockedError.usage("--threads \(threads): must be at least 2") }
            guard timeout > 0, timeout.isFinite else { throw UnlockedError.usage("--timeout \(timeout): must be a positive number of seconds") }
            let report = try PluginVerifier.verify(path: path, allowInsecure: allowInsecurePlugins, threads: threads, timeout: timeout)
            print(report.text)
            if let error = report.error { throw error }
            print("plugin \(path): all \(report.kernels.count) kernels passed")
        }
    }
}
