#if os(Linux)
import CKernels
import Glibc
import Synchronization

/// Loads plugins from shared objects, refusing anything unsafe or invalid
/// with one line before any of the plugin's kernels runs.
///
/// Errors: `.noInput` (66) for a missing or unreadable file, `.badData` (65)
/// for everything about the file itself (not a shared object, another
/// architecture, truncated, no entry symbol, an invalid descriptor, a failed
/// `init`, permissions that let other users replace it), `.usage` (64) for
/// a bad `UNLOCKED_PLUGIN_PATH`. Call from one thread at a time (`dlerror`
/// is per thread, but `init` of a plugin may not be).
public enum PluginLoader {
    /// The environment variable listing plugin directories.
    public static let searchPathVariable = "UNLOCKED_PLUGIN_PATH"

    /// Loads, validates and initialises the plugin at `path`.
    ///
    /// - Parameter allowInsecure: skip the permission checks
    ///   (`--allow-insecure-plugins`).
    public static func load(path: String, allowInsecure: Bool = false) throws(UnlockedError) -> PluginInstance {
        try _load(path: path, allowInsecure: allowInsecure).get()
    }

    static func _load(path: String, allowInsecure: Bool) -> Result<PluginInstance, UnlockedError> {
        Result { () throws(UnlockedError) in
            let resolved = try checkFile(path: path, allowInsecure: allowInsecure)
            func fail(_ reason: String) -> UnlockedError { .badData("plugin \(path): \(reason)") }

            _ = dlerror()
            guard let handle = dlopen(resolved, RTLD_NOW | RTLD_LOCAL) else {
                throw fail("dlopen failed: \(lastDLError())")
            }
            var initialised = false
            var state: UnsafeMutableRawPointer?
            var needsFini: UnsafePointer<uk_plugin>?
            defer { if !initialised { closeFailed(handle: handle, plugin: needsFini, state: state) } }

            guard let symbol = dlsym(handle, UK_PLUGIN_ENTRY_SYMBOL) else {
                throw fail("no entry symbol \(UK_PLUGIN_ENTRY_SYMBOL) (export it with UK_EXPORT, see plugins/README.md)")
            }
            let entry = unsafeBitCast(symbol, to: uk_plugin_entry_fn.self)
            guard let descriptor = entry() else { throw fail("\(UK_PLUGIN_ENTRY_SYMBOL)() returned NULL") }
            let kernels = try PluginValidator.validate(descriptor, origin: path)
            if let pluginInit = descriptor.pointee.`init` {
                var error = [CChar](repeating: 0, count: Int(UK_ERROR_CAPACITY))
                let status = pluginInit(hostAPI, &state, &error)
                guard status == 0 else {
                    let message = string(fromCBuffer: error)
                    throw fail("init failed: \(message.isEmpty ? "status \(status)" : message)")
                }
                needsFini = descriptor
            }
            initialised = true
            return PluginInstance(descriptor: descriptor, kernels: kernels, path: resolved, state: state, handle: handle)
        }
    }

    /// Unloads a plugin whose loading failed: `fini` only if `init` succeeded.
    private static func closeFailed(handle: UnsafeMutableRawPointer, plugin: UnsafePointer<uk_plugin>?,
                                    state: UnsafeMutableRawPointer?) {
        if let plugin { plugin.pointee.fini?(state) }
        dlclose(handle)
    }

    private static func lastDLError() -> String {
        guard let message = dlerror() else { return "unknown error" }
        return String(cString: message)
    }

    /// Existence, readability, permissions and the ELF headers; returns the
    /// resolved path that `dlopen` gets (so a swapped symlink cannot race us
    /// between the check and the load of a different file's name).
    static func checkFile(path: String, allowInsecure: Bool) throws(UnlockedError) -> String {
        guard let resolvedPointer = realpath(path, nil) else {
            throw .noInput("plugin \(path): \(String(cString: strerror(errno)))")
        }
        let resolved = String(cString: resolvedPointer)
        free(resolvedPointer)
        let fd = open(resolved, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .noInput("plugin \(path): cannot read it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .noInput("plugin \(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .noInput("plugin \(path): not a regular file") }
        if !allowInsecure { try checkPermissions(path: path, resolved: resolved, file: info) }
        do {
            try ELFCheck.check(fd: fd, fileSize: Int(info.st_size))
        } catch {
            throw .badData("plugin \(path): \(error.message)")
        }
        return resolved
    }

    /// Refuses a file, or a directory holding it, that another user could
    /// replace: writable by group or others, or owned by someone other than
    /// us or root. A sticky directory (/tmp) protects files it holds.
    static func checkPermissions(path: String, resolved: String, file: stat) throws(UnlockedError) {
        let me = geteuid()
        func refuse(_ what: String, _ why: String) -> UnlockedError {
            .badData("plugin \(path): refused, \(what) \(why); fix it (chmod go-w) or pass --allow-insecure-plugins")
        }
        func mode(_ info: stat) -> String { "mode " + String(info.st_mode & 0o7777, radix: 8) }
        if file.st_mode & (S_IWGRP | S_IWOTH) != 0 {
            throw refuse("the file \(resolved)", "is writable by other users (\(mode(file)))")
        }
        if file.st_uid != me && file.st_uid != 0 {
            throw refuse("the file \(resolved)", "belongs to uid \(file.st_uid), neither you nor root")
        }
        let directory = resolved.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        var info = stat()
        guard stat(directory.isEmpty ? "/" : directory, &info) == 0 else {
            throw .noInput("plugin \(path): cannot stat its directory: \(String(cString: strerror(errno)))")
        }
        if info.st_mode & (S_IWGRP | S_IWOTH) != 0 && info.st_mode & S_ISVTX == 0 {
            throw refuse("its directory \(directory)", "is writable by other users (\(mode(info)))")
        }
        if info.st_uid != me && info.st_uid != 0 && info.st_mode & S_ISVTX == 0 {
            throw refuse("its directory \(directory)", "belongs to uid \(info.st_uid), neither you nor root")
        }
    }

    /// The plugin files to load, in order: each explicit path, then the
    /// `*.so` files of each `UNLOCKED_PLUGIN_PATH` directory, sorted by name.
    /// Empty entries are skipped (they would mean the current directory,
    /// which is never searched implicitly), as are directories that do not
    /// exist; relative entries are a usage error.
    public static func candidatePaths(explicit: [String], searchPath: String?) throws(UnlockedError) -> [String] {
        var paths = explicit
        for entry in (searchPath ?? "").split(separator: ":", omittingEmptySubsequences: true) {
            guard entry.hasPrefix("/") else {
                throw .usage("\(searchPathVariable) entry \(entry): not an absolute directory (accepted: /abs/dir[:/other/dir])")
            }
            guard let dir = opendir(String(entry)) else { continue }
            defer { closedir(dir) }
            var names: [String] = []
            while let item = readdir(dir) {
                let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name.hasSuffix(".so") && !name.hasPrefix(".") { names.append(name) }
            }
            paths += names.sorted().map { entry.hasSuffix("/") ? "\(entry)\($0)" : "\(entry)/\($0)" }
        }
        return paths
    }
}

/// Where plugins' log lines go: stderr (the CLI's choice). A program that
/// embeds the library and must keep its descriptors 0-2 sets -1 (dropped) or
/// a descriptor of its own.
public let pluginLogDescriptor = Atomic<Int32>(STDERR_FILENO)

/// The services every plugin's `init` receives; static, so valid until exit.
nonisolated(unsafe) let hostAPI: UnsafeMutablePointer<uk_host_api> = {
    let api = UnsafeMutablePointer<uk_host_api>.allocate(capacity: 1)
    api.initialize(to: uk_host_api(
        size: UInt32(MemoryLayout<uk_host_api>.size), abi_major: UInt32(UK_ABI_MAJOR),
        abi_minor: UInt32(UK_ABI_MINOR), reserved: 0,
        log: { name, message in
            // One write(2) per line, so lines of concurrent workers never interleave.
            let fd = pluginLogDescriptor.load(ordering: .relaxed)
            guard fd >= 0 else { return }
            let line = "unlocked: plugin \(name.map { String(cString: $0) } ?? "?"): \(message.map { String(cString: $0) } ?? "")\n"
            _ = line.withCString { write(fd, $0, strlen($0)) }
        }))
    return api
}()

extension KernelCatalog {
    /// The built-in kernels plus every plugin of `explicit` and the
    /// `searchPath` directories (by default `UNLOCKED_PLUGIN_PATH`).
    ///
    /// A file reached twice is loaded once; two different files claiming the
    /// same plugin name are a `.badData` error, so a kernel never silently
    /// comes from an unexpected file.
    public static func loading(explicit: [String], searchPath: String? = getenv(PluginLoader.searchPathVariable).map { String(cString: $0) },
                               allowInsecure: Bool = false) throws(UnlockedError) -> KernelCatalog {
        var loaded: [PluginInstance] = []
        for path in try PluginLoader.candidatePaths(explicit: explicit, searchPath: searchPath) {
            // Skip a file already loaded before dlopen, whose refcount would run its init twice.
            if let resolved = realpath(path, nil) {
                defer { free(resolved) }
                if loaded.contains(where: { $0.path == String(cString: resolved) }) { continue }
            }
            let plugin = try PluginLoader.load(path: path, allowInsecure: allowInsecure)
            if let other = ([PluginInstance.builtin] + loaded).first(where: { $0.name == plugin.name }) {
                throw .badData("plugin \(path): name \(plugin.name) is already taken by \(other.path ?? "the built-in kernels")")
            }
            loaded.append(plugin)
        }
        return KernelCatalog(plugins: loaded)
    }
}
#endif
