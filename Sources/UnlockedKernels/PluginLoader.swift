#if os(Linux)
import CKernels
import CSupport
import Glibc
import Synchronization
import UnlockedCore

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

    /// - Parameter isolated: load a copy into a new link-map namespace
    ///   (`dlmopen(LM_ID_NEWLM)`) instead of the process's own.
    package static func _load(path: String, allowInsecure: Bool, isolated: Bool = false) -> Result<PluginInstance, UnlockedError> {
        Result { () throws(UnlockedError) in
            let resolved = try checkFile(path: path, allowInsecure: allowInsecure)
            func fail(_ reason: String) -> UnlockedError { .badData("plugin \(path): \(reason)") }

            _ = dlerror()
            guard let handle = isolated ? uk_dlmopen_new(resolved, RTLD_NOW | RTLD_LOCAL) : dlopen(resolved, RTLD_NOW | RTLD_LOCAL) else {
                throw fail("\(isolated ? "dlmopen" : "dlopen") failed: \(lastDLError())")
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
                if let message = try PluginErrorBuffer.call({ pluginInit(hostAPI, &state, $0) }) {
                    throw fail("init failed: \(message)")
                }
                needsFini = descriptor
            }
            initialised = true
            return PluginInstance(descriptor: descriptor, kernels: kernels, path: resolved, state: state, handle: handle,
                                  isIsolated: isolated)
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
    package static func checkFile(path: String, allowInsecure: Bool) throws(UnlockedError) -> String {
        let resolved: String
        if allowInsecure {
            switch nonNilOrErrno({ realpath(path, nil) }) {
            case .success(let pointer):
                resolved = String(cString: pointer)
                free(pointer)
            case .failure(let error): throw .noInput("plugin \(path): \(error)")
            }
        } else {
            resolved = try securelyResolved(path)
        }
        let fd: Int32
        switch valueOrErrno({ open(resolved, O_RDONLY | O_CLOEXEC) }) {
        case .success(let opened): fd = opened
        case .failure(let error): throw .noInput("plugin \(path): cannot read it: \(error)")
        }
        defer { close(fd) }
        var info = stat()
        if case .failure(let error) = valueOrErrno({ fstat(fd, &info) }) { throw .noInput("plugin \(path): \(error)") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .noInput("plugin \(path): not a regular file") }
        if !allowInsecure {
            if info.st_mode & (S_IWGRP | S_IWOTH) != 0 {
                throw refusal(path, "the file \(resolved) is writable by other users (\(modeText(info)))")
            }
            if info.st_uid != geteuid() && info.st_uid != 0 {
                throw refusal(path, "the file \(resolved) belongs to uid \(info.st_uid), neither you nor root")
            }
        }
        do {
            try ELFCheck.check(fd: fd, fileSize: Int(info.st_size))
        } catch {
            throw .badData("plugin \(path): \(error.message)")
        }
        return resolved
    }

    /// Resolves `path` one component at a time, as the kernel would, and
    /// refuses it if another user could change what it leads to: every
    /// directory that holds a component on the way — each ancestor of the
    /// file, and of every symlink followed — must belong to us or root and
    /// be writable by nobody else, unless it is sticky (like /tmp), which
    /// protects only entries that belong to us or root. This is the rule of
    /// OpenSSH's `safe_path` and sudo's secure-path check, applied to the
    /// path as given as well as to where it leads. Returns the physical path.
    package static func securelyResolved(_ path: String) throws(UnlockedError) -> String {
        let me = geteuid()
        func status(_ at: String) throws(UnlockedError) -> stat {
            var info = stat()
            if case .failure(let error) = valueOrErrno({ lstat(at, &info) }) {
                throw .noInput("plugin \(path): \(at == path ? "" : "\(at): ")\(error)")
            }
            return info
        }
        var pending: [Substring] = path.split(separator: "/")
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            guard case .success = nonNilOrErrno({ getcwd(&buffer, buffer.count) }) else {
                throw .noInput("plugin \(path): cannot resolve it from the current directory")
            }
            pending = string(fromCBuffer: buffer).split(separator: "/") + pending
        }
        // The directories walked so far, "/" first: each was checked as the
        // holder of the next one before we entered it.
        var walked: [(path: String, info: stat)] = [("/", try status("/"))]
        var links = 0
        while !pending.isEmpty {
            let name = pending.removeFirst()
            if name == "." { continue }
            if name == ".." {
                if walked.count > 1 { walked.removeLast() }
                continue
            }
            let holder = walked[walked.count - 1]
            let entry = holder.path == "/" ? "/\(name)" : "\(holder.path)/\(name)"
            guard holder.info.st_mode & S_IFMT == S_IFDIR else {
                throw .noInput("plugin \(path): \(holder.path) is not a directory")
            }
            let info = try status(entry)
            let isLast = pending.isEmpty
            let place = isLast && info.st_mode & S_IFMT != S_IFLNK ? "its directory \(holder.path)" : "the directory \(holder.path) on its path"
            if holder.info.st_uid != me && holder.info.st_uid != 0 {
                throw refusal(path, "\(place) belongs to uid \(holder.info.st_uid), neither you nor root")
            }
            if holder.info.st_mode & (S_IWGRP | S_IWOTH) != 0 {
                guard holder.info.st_mode & S_ISVTX != 0 else {
                    throw refusal(path, "\(place) is writable by other users (\(modeText(holder.info)))")
                }
                if info.st_uid != me && info.st_uid != 0 {
                    throw refusal(path, "\(entry) in the shared sticky directory \(holder.path) belongs to uid \(info.st_uid), neither you nor root")
                }
            }
            switch info.st_mode & S_IFMT {
            case S_IFLNK:
                links += 1
                guard links <= 40 else { throw .noInput("plugin \(path): \(SystemCallError(code: ELOOP))") }
                var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let length: Int
                switch valueOrErrno({ readlink(entry, &target, target.count - 1) }) {
                case .success(let count): length = count
                case .failure(let error): throw .noInput("plugin \(path): \(entry): \(error)")
                }
                let text = String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if text.hasPrefix("/") { walked.removeSubrange(1...) }
                pending = text.split(separator: "/") + pending
            case S_IFDIR:
                walked.append((entry, info))
            default:
                guard isLast else { throw .noInput("plugin \(path): \(entry) is not a directory") }
                return entry
            }
        }
        // The path named a directory (or "/").
        return walked[walked.count - 1].path
    }

    /// A refusal for safety, with the way out.
    private static func refusal(_ path: String, _ reason: String) -> UnlockedError {
        .badData("plugin \(path): refused, \(reason); fix it (chmod go-w) or pass --allow-insecure-plugins")
    }

    private static func modeText(_ info: stat) -> String { "mode " + String(info.st_mode & 0o7777, radix: 8) }

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
package nonisolated(unsafe) let hostAPI: UnsafeMutablePointer<uk_host_api> = {
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
    ///
    /// - Parameter probe: first load each file in a probe child
    ///   (`PluginProbe.probe`), so one that crashes, exits or hangs while
    ///   loading is refused with one line before this process loads it;
    ///   nil loads directly (for embedders without a probe executable).
    public static func loading(explicit: [String], searchPath: String? = getenv(PluginLoader.searchPathVariable).map { String(cString: $0) },
                               allowInsecure: Bool = false, probe: PluginProbe.Options? = nil) throws(UnlockedError) -> KernelCatalog {
        var loaded: [PluginInstance] = []
        for path in try PluginLoader.distinctCandidates(explicit: explicit, searchPath: searchPath) {
            if let probe { _ = try PluginProbe.probe(path: path, allowInsecure: allowInsecure, options: probe) }
            let plugin = try PluginLoader.load(path: path, allowInsecure: allowInsecure)
            try PluginLoader.requireUnclaimed(plugin.name, by: path, claimed: loaded.map { ($0.name, $0.path) })
            loaded.append(plugin)
        }
        return KernelCatalog(plugins: loaded)
    }
}

extension PluginProbe {
    /// Every plugin of `explicit` and the `searchPath` directories as a
    /// probe child describes it, under `KernelCatalog.loading`'s rules (each
    /// file once, one file per plugin name); this process loads none of them.
    public static func describingAll(explicit: [String], searchPath: String? = getenv(PluginLoader.searchPathVariable).map { String(cString: $0) },
                                     allowInsecure: Bool = false, options: Options = Options()) throws(UnlockedError) -> [Description] {
        var described: [Description] = []
        for path in try PluginLoader.distinctCandidates(explicit: explicit, searchPath: searchPath) {
            let description = try probe(path: path, allowInsecure: allowInsecure, options: options)
            try PluginLoader.requireUnclaimed(description.name, by: path, claimed: described.map { ($0.name, $0.resolvedPath) })
            described.append(description)
        }
        return described
    }
}

extension PluginLoader {
    /// `candidatePaths`, each file once: a path resolving to a file already
    /// listed is skipped (loading it again would run its init twice).
    package static func distinctCandidates(explicit: [String], searchPath: String?) throws(UnlockedError) -> [String] {
        var seen = Set<String>()
        return try candidatePaths(explicit: explicit, searchPath: searchPath).filter { path in
            guard let resolved = realpath(path, nil) else { return true }
            defer { free(resolved) }
            return seen.insert(String(cString: resolved)).inserted
        }
    }

    /// Refuses a plugin `name` (from the file `path`) that the built-in
    /// kernels or an earlier file (`claimed`: name and path) already use.
    package static func requireUnclaimed(_ name: String, by path: String, claimed: [(name: String, path: String?)]) throws(UnlockedError) {
        if let other = ([(PluginInstance.builtin.name, nil)] + claimed).first(where: { $0.name == name }) {
            throw .badData("plugin \(path): name \(name) is already taken by \(other.path ?? "the built-in kernels")")
        }
    }
}
#endif
