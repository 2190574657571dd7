import ArgumentParser
import Foundation
import Unlocked

/// Options that choose which plugin kernels a command can name.
struct PluginOptions: ParsableArguments {
    @Option(name: .customLong("plugin"), help: ArgumentHelp(
        "A plugin shared object to load (repeatable); then every *.so in $UNLOCKED_PLUGIN_PATH (colon-separated directories).",
        valueName: "path"))
    var paths: [String] = []

    @Flag(help: "Load plugins even if other users could have replaced them (file or directory writable by group/others).")
    var allowInsecurePlugins = false

    /// The built-in kernels plus every plugin found, loaded and validated.
    func catalog() throws(UnlockedError) -> KernelCatalog {
        try KernelCatalog.loading(explicit: paths, allowInsecure: allowInsecurePlugins)
    }
}
