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

    /// The kernel `name` for elements of `dtype`; a usage error lists what exists.
    public func kernel(named name: String, dtype: DType) throws(UnlockedError) -> Kernel {
        let named = kernels.filter { $0.name == name }
        guard !named.isEmpty else {
            throw .usage("--kernel \(name): unknown kernel (accepted: \(kernelNames.joined(separator: ", ")))")
        }
        guard let match = named.first(where: { $0.inputType == dtype }) else {
            throw .usage("--dtype \(dtype.rawValue): kernel \(name) does not take it (accepted: \(named.map(\.inputType.rawValue).joined(separator: ", ")))")
        }
        return match
    }
}
