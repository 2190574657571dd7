#if os(Linux)
import UnlockedCore

/// Copies of plugins, each loaded into a link-map namespace of its own with
/// `dlmopen(LM_ID_NEWLM)`: its own globals, its own `init` state, even its
/// own copy of libc. The C analogue of a sub-interpreter with per-interpreter
/// extension state, and what lets the `isolated` engine run a SERIAL plugin
/// on several threads without a lock: each worker leases one copy.
///
/// Copies are kept for the life of the process and reused by later leases,
/// never `dlclose`d: glibc does not return a closed namespace's static TLS,
/// so closing and reloading would exhaust it after about a dozen loads.
/// glibc allows 16 namespaces in all (fewer here: each copy of libc takes
/// static TLS), so leases beyond that fail with a clear error. Any thread
/// may lease and release.
package enum IsolatedPlugins {
    private struct Copy {
        let instance: PluginInstance
        var leased: Bool
    }

    /// By resolved path. A LockedValue rather than a `Mutex`: workers lease
    /// at once, and the thread sanitizer cannot see `Mutex`'s contended hand-over.
    private static let copies = LockedValue<[String: [Copy]]>([:])

    /// A copy of `plugin` no other worker holds, loaded now if none is free.
    package static func lease(_ plugin: PluginInstance) throws(UnlockedError) -> PluginInstance {
        guard let path = plugin.path else { return plugin }  // built-in kernels are thread-safe
        let result: Result<PluginInstance, UnlockedError> = copies.withLock { copies in
            if let index = copies[path, default: []].firstIndex(where: { !$0.leased }) {
                copies[path]![index].leased = true
                return .success(copies[path]![index].instance)
            }
            let loaded = PluginLoader._load(path: path, allowInsecure: false, isolated: true).mapError { error in
                let held = copies.values.reduce(0) { $0 + $1.count }
                return UnlockedError(.usage, "isolated: no link-map namespace of its own for another copy of plugin "
                    + "\(plugin.name) (\(held) copies loaded; glibc allows at most 15, fewer as each copy of libc takes static TLS): "
                    + "\(error.message); use fewer workers, or --engine locked-pool")
            }
            if case .success(let instance) = loaded { copies[path, default: []].append(Copy(instance: instance, leased: true)) }
            return loaded
        }
        return try result.get()
    }

    /// Returns a leased copy for the next lease; its state is kept.
    package static func release(_ instance: PluginInstance) {
        guard let path = instance.path, instance.isIsolated else { return }
        copies.withLock { copies in
            if let index = copies[path]?.firstIndex(where: { $0.instance === instance }) { copies[path]![index].leased = false }
        }
    }

    /// Copies loaded so far, leased or not (for reports and tests).
    package static var loadedCount: Int { copies.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
#endif
