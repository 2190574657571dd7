import ArgumentParser
import Foundation
import Unlocked

/// Options that choose which plugin kernels a command can name.
struct PluginOptions: ParsableArguments {
    @Option(name: .customLong("plugin"), help: ArgumentHelp(
        "A plugin shared object to load (repeatable); then every *.so in $UNLOCKED_PLUGIN_PATH (colon-separated directories).",
        valueName: "path"))
    var paths: [String] = []

    @OptionGroup var safety: PluginSafetyOptions

    /// The built-in kernels plus every plugin found, probed in a child,
    /// then loaded and validated here.
    func catalog() throws(UnlockedError) -> KernelCatalog {
        try KernelCatalog.loading(explicit: paths, allowInsecure: safety.allowInsecurePlugins, probe: try safety.probe())
    }
}

/// How plugins are let in: the permission checks and the probe child.
struct PluginSafetyOptions: ParsableArguments {
    @Flag(help: "Load plugins even if other users could have replaced them (the file, or a directory on its path, writable by group/others or owned by another user).")
    var allowInsecurePlugins = false

    @Option(help: "Seconds a plugin may take to load in its probe child before it is refused.")
    var pluginTimeout = 10.0

    func probe() throws(UnlockedError) -> PluginProbe.Options {
        guard pluginTimeout > 0, pluginTimeout.isFinite else {
            throw .usage("--plugin-timeout \(pluginTimeout): must be a positive number of seconds")
        }
        return PluginProbe.Options(timeout: pluginTimeout)
    }
}
