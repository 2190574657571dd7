#if os(Linux)
import Glibc
import UnlockedCore

/// `unlocked plugins verify`: conformance of every kernel of a plugin, run
/// in child processes so that a crash, an abort or an endless loop becomes a
/// verdict naming the kernel and the check, and the host never dies.
///
/// The host never loads the plugin itself. A probe child (`PluginProbe`)
/// loads and validates it and lists its kernels; then one child per kernel
/// runs the `PluginConformance` checks, announcing each check on
/// `ChildProcess.reportDescriptor` before it starts. Lines are
/// tab-separated: `begin check`, `pass check`, `fail check reason`.
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
        /// The kernel to check, by its `get_kernel` index.
        public var kernelIndex: Int
        /// Threads of the concurrency checks.
        public var threads: Int

        public init(path: String, allowInsecure: Bool, kernelIndex: Int, threads: Int) {
            self.path = path
            self.allowInsecure = allowInsecure
            self.kernelIndex = kernelIndex
            self.threads = threads
        }

        /// The words after the executable: `__verify-plugin INDEX THREADS strict|insecure PATH`.
        public var arguments: [String] {
            [Self.subcommand, "\(kernelIndex)", "\(threads)", allowInsecure ? "insecure" : "strict", path]
        }

        /// Parses the words after the subcommand, as `arguments` wrote them.
        public init(parsing words: [String]) throws(UnlockedError) {
            guard words.count == 4, let index = Int(words[0]), index >= 0, let threads = Int(words[1]), threads > 0,
                  ["strict", "insecure"].contains(words[2]) else {
                throw .usage("\(Self.subcommand) \(words.joined(separator: " ")): not a verification child "
                             + "(started by 'plugins verify' as INDEX THREADS strict|insecure PATH)")
            }
            self.init(path: words[3], allowInsecure: words[2] == "insecure", kernelIndex: index, threads: threads)
        }
    }

    /// Verifies the plugin at `path` by running `executable` (this tool by
    /// default) in its hidden child modes, `PluginProbe.ChildArguments` and
    /// `ChildArguments`.
    ///
    /// - Parameter timeout: seconds a child may stay silent before it is
    ///   killed, i.e. the longest loading or a single check may take.
    public static func verify(path: String, executable: String? = nil, allowInsecure: Bool = false,
                              threads: Int = 8, timeout: Double = 30) throws(UnlockedError) -> Report {
        let executable = executable ?? ownExecutablePath()
        let description = try PluginProbe.describe(path: path, allowInsecure: allowInsecure,
                                                   options: PluginProbe.Options(executable: executable, timeout: timeout))
        var report = Report(path: path, kernels: [])
        for kernel in description.kernels {
            var result = KernelResult(name: kernel.name, dtype: kernel.inputType.rawValue, checks: [])
            var current: String?
            let arguments = [executable] + ChildArguments(path: path, allowInsecure: allowInsecure, kernelIndex: kernel.index,
                                                          threads: threads).arguments
            let outcome = try ChildProcess.run(arguments, timeout: timeout) { fields in
                switch (fields.first, fields.count) {
                case ("begin", 2): current = fields[1]
                case ("pass", 2): result.checks.append(CheckResult(check: fields[1], failure: nil)); current = nil
                case ("fail", 3): result.checks.append(CheckResult(check: fields[1], failure: fields[2])); current = nil
                default: break
                }
            }
            let check = current ?? "start"
            let lastWords = PluginProbe.lastLine(outcome.stderr)
            switch outcome.termination {
            case .exited(let code) where current == nil && (code == 0 || code == checksFailedStatus) && !result.checks.isEmpty:
                break
            case .exited(let code):
                result.checks.append(CheckResult(check: check, failure: "exited with status \(code)\(lastWords.map { ": \($0)" } ?? "")"))
            case .signaled(let signal):
                let detail = lastWords.map { " after \"\($0)\"" } ?? ""
                result.checks.append(CheckResult(check: check, failure: "crashed with \(signalName(signal))\(detail)"))
            case .timedOut:
                result.checks.append(CheckResult(check: check, failure: "no progress for \(PluginProbe.formatSeconds(timeout)), killed (an endless loop?)"))
            }
            report.kernels.append(result)
        }
        return report
    }

    /// A child's exit status when it ran every check and some failed.
    private static let checksFailedStatus = UnlockedError.Kind.badData.rawValue

    /// The child side: loads the plugin and checks one kernel, announcing
    /// each check on `ChildProcess.reportDescriptor` before it starts (a
    /// crash must not lose what was announced). `drivers` run the
    /// concurrency stress through engines as well (the engine layer passes
    /// its pools). Returns the exit status: 0 when every check passed.
    package static func runChild(_ invocation: ChildArguments, drivers: [PluginConformance.Driver]) throws(UnlockedError) -> Int32 {
        ChildProcess.disableCoreDumps()
        try ISA.initializeDispatch()
        let plugin = try PluginLoader.load(path: invocation.path, allowInsecure: invocation.allowInsecure)
        defer { plugin.close() }
        let kernels = plugin.kernels
        guard kernels.indices.contains(invocation.kernelIndex) else {
            throw .usage("kernel index \(invocation.kernelIndex): the plugin has kernels 0...\(kernels.count - 1)")
        }
        let conformance = PluginConformance(kernel: kernels[invocation.kernelIndex], threads: invocation.threads, drivers: drivers)
        let passed = conformance.run { event in
            switch event {
            case .begin(let check): ChildProcess.report(["begin", check])
            case .progress(let check): ChildProcess.report(["progress", check])
            case .pass(let check): ChildProcess.report(["pass", check])
            case .fail(let check, let reason): ChildProcess.report(["fail", check, reason])
            }
        }
        return passed ? 0 : checksFailedStatus
    }
}
#endif
