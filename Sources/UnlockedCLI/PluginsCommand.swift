import ArgumentParser
import Glibc
import Unlocked

struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List, inspect and verify kernel plugins (see plugins/README.md).",
        subcommands: [List.self, Info.self, Verify.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the built-in kernels and every plugin of --plugin and $UNLOCKED_PLUGIN_PATH, each loaded in a child process.")
        @OptionGroup var plugins: PluginOptions
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load one plugin in a child process and describe it and each of its kernels.")
        @Argument(help: "The plugin shared object.") var path: String
        @OptionGroup var safety: PluginSafetyOptions
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
            let described = try PluginProbe.describingAll(explicit: plugins.paths, allowInsecure: plugins.safety.allowInsecurePlugins,
                                                          options: try plugins.safety.probe())
            described.forEach(passOnLog)
            print(["plugin", "version", "abi", "kernels", "concurrency", "path"].joined(separator: "\t"))
            let builtin = PluginInstance.builtin
            print([builtin.name, builtin.version, builtin.abiVersion,
                   builtin.kernels.map { "\($0.name)/\($0.inputType.rawValue)" }.joined(separator: ","),
                   builtin.concurrencyMode.rawValue, "(built in)"].joined(separator: "\t"))
            for plugin in described {
                print([plugin.name, plugin.version, plugin.abiVersion,
                       plugin.kernels.map { "\($0.name)/\($0.inputType.rawValue)" }.joined(separator: ","),
                       plugin.concurrency.rawValue, plugin.resolvedPath].joined(separator: "\t"))
            }
        }
    }
}

extension PluginsCommand.Info {
    func run() throws {
        try reportingErrors {
            let plugin = try PluginProbe.probe(path: path, allowInsecure: safety.allowInsecurePlugins, options: try safety.probe())
            passOnLog(plugin)
            print("plugin \(plugin.name) \(plugin.version), ABI \(plugin.abiVersion), \(plugin.concurrency.rawValue), \(plugin.resolvedPath)")
            for kernel in plugin.kernels {
                let about = kernel.about.isEmpty ? "" : " — \(kernel.about)"
                print("  \(kernel.name) \(kernel.inputType.rawValue): \(kernel.result)\(about)")
            }
        }
    }
}

/// What a plugin wrote while its probe child loaded it (its log lines,
/// anything it printed) goes to stderr, as if it had been loaded here.
private func passOnLog(_ plugin: PluginProbe.Description) {
    _ = FileDescriptorIO.write(STDERR_FILENO, Array(plugin.log.utf8))
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
