#if os(Linux)
import Glibc
import UnlockedCore

/// `unlocked plugins verify`: conformance of every kernel of a plugin, run
/// in child processes so that a crash, an abort or an endless loop becomes a
/// verdict naming the kernel and the check, and the host never dies.
///
/// The host never loads the plugin itself. One child (listing) loads and
/// validates it and lists its kernels; then one child per kernel runs the
/// `PluginConformance` checks, announcing each check on stdout before it
/// starts. Lines are tab-separated: `kernel i name dtype`, `begin check`,
/// `pass check`, `fail check reason`.
public enum PluginVerifier {
    /// The verdict of one check.
    public struct CheckResult: Sendable, Equatable {
        public var check: String
        /// nil when the check passed.
        public var failure: String?
    }

    public struct KernelResult: Sendable {
        public var name: String
        public var dtype: String
        public var checks: [CheckResult]
        public var passed: Bool { checks.allSatisfy { $0.failure == nil } && !checks.isEmpty }
    }

    public struct Report: Sendable {
        public var path: String
        public var kernels: [KernelResult]
        public var passed: Bool { kernels.allSatisfy(\.passed) }

        /// One line per check, `ok` or `FAIL`.
        public var text: String {
            kernels.flatMap { kernel in
                kernel.checks.map { result in
                    let label = "\(kernel.name) \(kernel.dtype)"
                    return result.failure.map { "FAIL \(label): \(result.check): \($0)" } ?? "ok   \(label): \(result.check)"
                }
            }.joined(separator: "\n")
        }

        /// The one-line error of a failed verification, nil if it passed.
        public var error: UnlockedError? {
            let failed = kernels.filter { !$0.passed }
            guard let first = failed.first else { return nil }
            let reason = first.checks.first { $0.failure != nil }.map { "\($0.check): \($0.failure!)" } ?? "no checks ran"
            return .badData("plugin \(path): \(failed.count) of \(kernels.count) kernels failed verification; first \(first.name) (\(first.dtype)): \(reason)")
        }
    }

    /// How `verify` starts a child: the hidden entry point of this executable
    /// and its arguments, defined once here for both sides. The CLI's hidden
    /// subcommand hands what follows its name to `init(parsing:)` and calls `runChild`.
    public struct ChildArguments: Equatable, Sendable {
        /// The hidden subcommand that runs a verification child.
        public static let subcommand = "__verify-plugin"

        public var path: String
        public var allowInsecure: Bool
        /// The kernel to check; nil lists the kernels instead.
        public var kernelIndex: Int?
        /// Threads of the concurrency check.
        public var threads: Int

        public init(path: String, allowInsecure: Bool, kernelIndex: Int?, threads: Int) {
            self.path = path
            self.allowInsecure = allowInsecure
            self.kernelIndex = kernelIndex
            self.threads = threads
        }

        /// The words after the executable: `__verify-plugin list|INDEX THREADS strict|insecure PATH`.
        public var arguments: [String] {
            [Self.subcommand, kernelIndex.map(String.init) ?? "list", "\(threads)", allowInsecure ? "insecure" : "strict", path]
        }

        /// Parses the words after the subcommand, as `arguments` wrote them.
        public init(parsing words: [String]) throws(UnlockedError) {
            guard words.count == 4, words[0] == "list" || Int(words[0]) != nil, let threads = Int(words[1]), threads > 0,
                  ["strict", "insecure"].contains(words[2]) else {
                throw .usage("\(Self.subcommand) \(words.joined(separator: " ")): not a verification child "
                             + "(started by 'plugins verify' as list|INDEX THREADS strict|insecure PATH)")
            }
            self.init(path: words[3], allowInsecure: words[2] == "insecure", kernelIndex: Int(words[0]), threads: threads)
        }
    }

    /// Verifies the plugin at `path` by running `executable` (this tool by
    /// default) in its hidden child mode, `ChildArguments.subcommand`.
    ///
    /// - Parameter timeout: seconds a child may stay silent before it is
    ///   killed, i.e. the longest a single check may take.
    public static func verify(path: String, executable: String? = nil, allowInsecure: Bool = false,
                              threads: Int = 8, timeout: Double = 30) throws(UnlockedError) -> Report {
        let executable = executable ?? ownExecutablePath()
        func child(_ kernelIndex: Int?) -> [String] {
            [executable] + ChildArguments(path: path, allowInsecure: allowInsecure, kernelIndex: kernelIndex, threads: threads).arguments
        }
        var listed: [(index: Int, name: String, dtype: String)] = []
        let listing = try ChildProcess.run(child(nil), timeout: timeout) { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if fields.count == 4, fields[0] == "kernel", let index = Int(fields[1]) {
                listed.append((index, fields[2], fields[3]))
            }
        }
        switch listing.termination {
        case .exited(0): break
        case .exited(let code):
            // The child already said why in one line, with the loader's exit code.
            throw UnlockedError(UnlockedError.Kind(rawValue: code) ?? .badData,
                                lastLine(listing.stderr) ?? "plugin \(path): loading failed with exit status \(code)")
        case .signaled(let signal):
            throw .badData("plugin \(path): crashed while loading: \(signalName(signal))")
        case .timedOut:
            throw .badData("plugin \(path): hung while loading (no answer in \(timeout) s)")
        }

        var report = Report(path: path, kernels: [])
        for kernel in listed {
            var result = KernelResult(name: kernel.name, dtype: kernel.dtype, checks: [])
            var current: String?
            let outcome = try ChildProcess.run(child(kernel.index), timeout: timeout) { line in
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                switch (fields.first, fields.count) {
                case ("begin", 2): current = fields[1]
                case ("pass", 2): result.checks.append(CheckResult(check: fields[1], failure: nil)); current = nil
                case ("fail", 3): result.checks.append(CheckResult(check: fields[1], failure: fields[2])); current = nil
                default: break
                }
            }
            let check = current ?? "start"
            switch outcome.termination {
            case .exited(let code) where current == nil && (code == 0 || code == checksFailedStatus) && !result.checks.isEmpty:
                break
            case .exited(let code):
                result.checks.append(CheckResult(check: check, failure: "exited with status \(code)\(lastLine(outcome.stderr).map { ": \($0)" } ?? "")"))
            case .signaled(let signal):
                let detail = lastLine(outcome.stderr).map { " after \"\($0)\"" } ?? ""
                result.checks.append(CheckResult(check: check, failure: "crashed with \(signalName(signal))\(detail)"))
            case .timedOut:
                result.checks.append(CheckResult(check: check, failure: "no progress for \(formatTimeout(timeout)), killed (an endless loop?)"))
            }
            report.kernels.append(result)
        }
        return report
    }

    /// A child's exit status when it ran every check and some failed.
    private static let checksFailedStatus = UnlockedError.Kind.badData.rawValue

    /// The child side: loads the plugin and either lists its kernels or
    /// checks one, writing protocol lines to stdout unbuffered (a crash
    /// must not lose what was announced). Returns the exit status: 0 when
    /// every check passed.
    public static func runChild(_ invocation: ChildArguments) throws(UnlockedError) -> Int32 {
        try runChild(path: invocation.path, allowInsecure: invocation.allowInsecure, kernelIndex: invocation.kernelIndex,
                     threads: invocation.threads) ? 0 : checksFailedStatus
    }

    private static func runChild(path: String, allowInsecure: Bool, kernelIndex: Int?, threads: Int) throws(UnlockedError) -> Bool {
        // A crash is an expected verdict here: no core file for it.
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
        try ISA.initializeDispatch()
        let plugin = try PluginLoader.load(path: path, allowInsecure: allowInsecure)
        defer { plugin.close() }
        let kernels = plugin.kernels
        guard let kernelIndex else {
            for (index, kernel) in kernels.enumerated() {
                writeLine(["kernel", "\(index)", kernel.name, kernel.inputType.rawValue])
            }
            return true
        }
        guard kernels.indices.contains(kernelIndex) else {
            throw .usage("kernel index \(kernelIndex): the plugin has kernels 0...\(kernels.count - 1)")
        }
        return PluginConformance(kernel: kernels[kernelIndex], threads: threads).run { event in
            switch event {
            case .begin(let check): writeLine(["begin", check])
            case .pass(let check): writeLine(["pass", check])
            case .fail(let check, let reason): writeLine(["fail", check, reason])
            }
        }
    }

    private static func writeLine(_ fields: [String]) {
        let line = fields.map { $0.map { $0 == "\t" || $0 == "\n" ? " " : $0 } }.map { String($0) }
            .joined(separator: "\t") + "\n"
        _ = FileDescriptorIO.writeAll(STDOUT_FILENO, Array(line.utf8))
    }

    private static func lastLine(_ text: String) -> String? {
        text.split(separator: "\n").last.map { line in
            line.hasPrefix("unlocked: ") ? String(line.dropFirst("unlocked: ".count)) : String(line)
        }
    }

    private static func formatTimeout(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
#endif
