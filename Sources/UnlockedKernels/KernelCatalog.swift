import UnlockedCore
/// The kernels a run can name: the built-in plugin first, then loaded plugins.
public struct KernelCatalog: Sendable {
    public private(set) var plugins: [PluginInstance]

    public init(plugins: [PluginInstance] = []) {
        self.plugins = [PluginInstance.builtin] + plugins
    }

    public var kernels: [Kernel] { plugins.flatMap(\.kernels) }

    /// Names of all kernels, each once, in catalogue order.
    public var kernelNames: [String] {
        var seen = Set<String>()
        return kernels.map(\.name).filter { seen.insert($0).inserted }
    }

    /// Every name `kernel(named:dtype:)` resolves: the plain names, then
    /// `plugin:kernel` for each loaded plugin's kernels (the only way to name
    /// one that reuses a built-in name, as the example plugins do).
    public var acceptedKernelNames: [String] {
        var seen = Set(kernelNames)
        return kernelNames + plugins.dropFirst().flatMap { plugin in
            plugin.kernels.map { "\(plugin.name):\($0.name)" }.filter { seen.insert($0).inserted }
        }
    }

    /// The kernel `name` for elements of `dtype`; a usage error lists what exists.
    ///
    /// `plugin:kernel` (e.g. `sqdist:sqdist.sum`) names one plugin's kernel;
    /// a plain name is the first plugin's in catalogue order, so built-in
    /// kernels win over plugins that reuse their names.
    public func kernel(named name: String, dtype: DType) throws(UnlockedError) -> Kernel {
        var candidates = kernels
        var kernelName = name
        if let colon = name.firstIndex(of: ":") {
            let pluginName = String(name[..<colon])
            kernelName = String(name[name.index(after: colon)...])
            guard let plugin = plugins.first(where: { $0.name == pluginName }) else {
                throw .usage("--kernel \(name): no plugin \(pluginName) is loaded (loaded: \(plugins.map(\.name).joined(separator: ", ")))")
            }
            candidates = plugin.kernels
        }
        let named = candidates.filter { $0.name == kernelName }
        guard !named.isEmpty else {
            throw .usage("--kernel \(name): unknown kernel (accepted: \(kernelNames.joined(separator: ", ")))")
        }
        guard let match = named.first(where: { $0.inputType == dtype }) else {
            throw .usage("--dtype \(dtype.rawValue): kernel \(name) does not take it (accepted: \(named.map(\.inputType.rawValue).joined(separator: ", ")))")
        }
        return match
    }
}
