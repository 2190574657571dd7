#if os(Linux)
import Glibc
import Synchronization
import UnlockedCore

/// Loads a plugin in a child process and describes it, so that a plugin
/// whose constructor, entry point, `init` or `fini` crashes, calls `exit`
/// or never returns becomes a one-line `.badData` error naming it, never a
/// crash, a silent exit or a hang of the caller.
///
/// `plugins list` and `plugins info` show only what a probe child reported;
/// `run` and `bench` probe each plugin file (`KernelCatalog.loading` with
/// `probe:`) before loading it into their own process. What runs later in
/// the host (kernels) is not covered: `plugins verify` checks those.
///
/// The child is this executable started again in its hidden mode
/// (`ChildArguments.subcommand`). It reports on `ChildProcess.reportDescriptor`
/// with tab-separated lines: `plugin name version abi concurrency resolved`,
/// `kernel index name dtype result about` for each kernel, `unloaded` once
/// `fini` and `dlclose` returned; or `error code message` when the loader
/// refused the file. Any thread may call `describe` and `probe`; each waits
/// for its own child.
public enum PluginProbe {
    /// What a probe child found in a plugin file.
    public struct Description: Sendable, Equatable {
        /// The path as the caller gave it.
        public var path: String
        /// The file the child loaded, symlinks and `..` resolved.
        public var resolvedPath: String
        public var name: String
        public var version: String
        /// "1.0": the ABI the plugin was built against.
        public var abiVersion: String
        public var concurrency: ConcurrencyMode
        public var kernels: [KernelSummary]
        /// What the child wrote to stdout and stderr while loading: the
        /// plugin's log lines and anything else it printed.
        public var log: String
    }

    /// One kernel as a probe child listed it.
    public struct KernelSummary: Sendable, Equatable {
        /// Its `get_kernel` index.
        public var index: Int
        public var name: String
        public var inputType: DType
        /// "map -> u64" or "reduce -> uint128" (`Kernel.resultDescription`).
        public var result: String
        /// The kernel's one-line description, empty if it has none.
        public var about: String
    }

    /// How to start probe children.
    public struct Options: Sendable, Equatable {
        /// The executable whose hidden mode loads the plugin; nil is this
        /// process's own (the `unlocked` CLI). Embedders pass a program that
        /// hands `ChildArguments.subcommand`'s words to `runChild`.
        public var executable: String?
        /// Seconds a plugin may take to load before its child is killed and
        /// the plugin refused.
        public var timeout: Double

        public init(executable: String? = nil, timeout: Double = 10) {
            self.executable = executable
            self.timeout = timeout
        }
    }

    /// How a probe starts its child: the hidden entry point of this
    /// executable and its arguments, defined once here for both sides. The
    /// CLI's hidden subcommand hands what follows its name to
    /// `init(parsing:)` and calls `runChild`.
    public struct ChildArguments: Equatable, Sendable {
        /// The hidden subcommand that runs a probe child.
        public static let subcommand = "__probe-plugin"

        public var path: String
        public var allowInsecure: Bool

        public init(path: String, allowInsecure: Bool) {
            self.path = path
            self.allowInsecure = allowInsecure
        }

        /// The words after the executable: `__probe-plugin strict|insecure PATH`.
        public var arguments: [String] { [Self.subcommand, allowInsecure ? "insecure" : "strict", path] }

        /// Parses the words after the subcommand, as `arguments` wrote them.
        public init(parsing words: [String]) throws(UnlockedError) {
            guard words.count == 2, ["strict", "insecure"].contains(words[0]) else {
                throw .usage("\(Self.subcommand) \(words.joined(separator: " ")): not a probe child "
                             + "(started by 'plugins list', 'plugins info' and 'run' as strict|insecure PATH)")
            }
            self.init(path: words[1], allowInsecure: words[0] == "insecure")
        }
    }

    /// Loads the plugin at `path` in a child and describes it.
    ///
    /// Errors: the loader's own (`.noInput`, `.badData`, `.usage`), and
    /// `.badData` for a child that crashed, exited or hung while loading or
    /// unloading the plugin.
    public static func describe(path: String, allowInsecure: Bool = false, options: Options = Options()) throws(UnlockedError) -> Description {
        try _describe(path: path, allowInsecure: allowInsecure, options: options).get()
    }

    package static func _describe(path: String, allowInsecure: Bool, options: Options) -> Result<Description, UnlockedError> {
        attempt(path: path, allowInsecure: allowInsecure, options: options).result
    }

    /// `_describe`, and whether the child was killed for taking too long.
    private static func attempt(path: String, allowInsecure: Bool, options: Options) -> (result: Result<Description, UnlockedError>, timedOut: Bool) {
        var timedOut = false
        let result = Result { () throws(UnlockedError) in
            let arguments = [options.executable ?? ownExecutablePath()]
                + ChildArguments(path: path, allowInsecure: allowInsecure).arguments
            var plugin: [String]?
            var kernels: [KernelSummary] = []
            var refusal: UnlockedError?
            var unloaded = false
            let outcome = try ChildProcess.run(arguments, timeout: options.timeout) { fields in
                switch (fields.first, fields.count) {
                case ("plugin", 6): plugin = Array(fields.dropFirst())
                case ("kernel", 6):
                    if let index = Int(fields[1]), let dtype = DType(rawValue: fields[3]) {
                        kernels.append(KernelSummary(index: index, name: fields[2], inputType: dtype, result: fields[4], about: fields[5]))
                    }
                case ("error", 3):
                    refusal = UnlockedError(Int32(fields[1]).flatMap(UnlockedError.Kind.init(rawValue:)) ?? .badData, fields[2])
                case ("unloaded", 1): unloaded = true
                default: break
                }
            }
            if let refusal { throw refusal }
            // Which step the child was in decides how its end is worded.
            let step = plugin == nil ? "while loading" : !unloaded ? "while unloading (in fini or a destructor)" : "at exit (in a destructor)"
            func fail(_ what: String) -> UnlockedError {
                let said = lastLine(outcome.stderr).map { " after printing \"\($0.prefix(200))\"" } ?? ""
                return .badData("plugin \(path): \(what) \(step)\(said)")
            }
            switch outcome.termination {
            case .exited(0) where unloaded: break
            case .exited(let code): throw fail("exited with status \(code)")
            case .signaled(let signal): throw fail("crashed with \(signalName(signal))")
            case .timedOut:
                timedOut = true
                throw .badData("plugin \(path): hung \(step) (no answer in \(formatSeconds(options.timeout)))")
            }
            guard let plugin, let mode = ConcurrencyMode(rawValue: plugin[3]) else {
                throw .internal("plugin \(path): the probe child described it in a form this host does not read")
            }
            return Description(path: path, resolvedPath: plugin[4], name: plugin[0], version: plugin[1], abiVersion: plugin[2],
                               concurrency: mode, kernels: kernels, log: outcome.stderr)
        }
        return (result, timedOut)
    }

    /// `describe`, remembered for the life of the process per path, file
    /// version and `allowInsecure`: a path is probed again only once the
    /// file's device, inode, size, modification or change time differ (the
    /// change time moves on every write, chmod or touch, and nobody can set
    /// it back). Refusals and crashes are remembered too; a hang is not, as
    /// it may only mean a busy machine. Nothing is kept on disk, where
    /// another process could plant a verdict: each new process probes once.
    public static func probe(path: String, allowInsecure: Bool = false, options: Options = Options()) throws(UnlockedError) -> Description {
        // A file that cannot be stat'ed gets the child's own words for it.
        guard let version = FileVersion(path: path) else {
            return try describe(path: path, allowInsecure: allowInsecure, options: options)
        }
        let key = VerdictKey(path: path, file: version, allowInsecure: allowInsecure)
        if let known = verdicts.withLock({ $0[key] }) { return try known.get() }
        let (verdict, timedOut) = attempt(path: path, allowInsecure: allowInsecure, options: options)
        if !timedOut { verdicts.withLock { $0[key] = verdict } }
        return try verdict.get()
    }

    /// A file's identity and version, as `stat` (following symlinks) gives them.
    struct FileVersion: Hashable {
        var device: UInt64, inode: UInt64, size: Int64
        var modified: [Int], changed: [Int]

        init?(path: String) {
            var info = stat()
            guard case .success = valueOrErrno({ stat(path, &info) }) else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = [info.st_mtim.tv_sec, info.st_mtim.tv_nsec]
            changed = [info.st_ctim.tv_sec, info.st_ctim.tv_nsec]
        }
    }

    struct VerdictKey: Hashable {
        var path: String
        var file: FileVersion
        var allowInsecure: Bool
    }

    private static let verdicts = Mutex<[VerdictKey: Result<Description, UnlockedError>]>([:])

    /// The child side: loads the plugin, reports it on
    /// `ChildProcess.reportDescriptor`, unloads it and returns the exit
    /// status (0, or the loader error's code after an `error` line).
    public static func runChild(_ invocation: ChildArguments) -> Int32 {
        ChildProcess.disableCoreDumps()
        do {
            let plugin = try PluginLoader.load(path: invocation.path, allowInsecure: invocation.allowInsecure)
            ChildProcess.report(["plugin", plugin.name, plugin.version, plugin.abiVersion, plugin.concurrencyMode.rawValue,
                                 plugin.path ?? invocation.path])
            for (index, kernel) in plugin.kernels.enumerated() {
                ChildProcess.report(["kernel", "\(index)", kernel.name, kernel.inputType.rawValue, kernel.resultDescription, kernel.about])
            }
            plugin.close()
            ChildProcess.report(["unloaded"])
            return 0
        } catch {
            ChildProcess.report(["error", "\(error.exitCode)", error.message])
            return error.exitCode
        }
    }

    /// The last line a child wrote, without our own "unlocked: " prefix.
    package static func lastLine(_ text: String) -> String? {
        text.split(separator: "\n").last.map { line in
            line.hasPrefix("unlocked: ") ? String(line.dropFirst("unlocked: ".count)) : String(line)
        }
    }

    /// "2 s", "0.5 s".
    package static func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}

#endif
