#if os(Linux)
import Glibc
import UnlockedCore

/// `unlocked plugins verify`: conformance of every kernel of a plugin, run
/// in child processes so that a crash, an abort or an endless loop becomes a
/// verdict naming the kernel and the check, and the host never dies.
///
/// The host never loads the plugin itself. One child (`--list`) loads and
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

    /// Verifies the plugin at `path` by running `executable` (this tool)
    /// in its hidden child mode, `plugins verify-child`.
    ///
    /// - Parameter timeout: seconds a child may stay silent before it is
    ///   killed, i.e. the longest a single check may take.
    public static func verify(path: String, executable: String, allowInsecure: Bool = false,
                              threads: Int = 8, timeout: Double = 30) throws(UnlockedError) -> Report {
        let base = [executable, "plugins", "verify-child", path] + (allowInsecure ? ["--allow-insecure-plugins"] : [])
        var listed: [(index: Int, name: String, dtype: String)] = []
        let listing = try ChildProcess.run(base + ["--list"], timeout: timeout) { line in
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
            throw .badData("plugin \(path): crashed while loading: \(ChildProcess.signalName(signal))")
        case .timedOut:
            throw .badData("plugin \(path): hung while loading (no answer in \(timeout) s)")
        }

        var report = Report(path: path, kernels: [])
        for kernel in listed {
            var result = KernelResult(name: kernel.name, dtype: kernel.dtype, checks: [])
            var current: String?
            let outcome = try ChildProcess.run(base + ["--kernel-index", "\(kernel.index)", "--threads", "\(threads)"],
                                               timeout: timeout) { line in
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
            case .exited(let code) where current == nil && (code == 0 || code == 65) && !result.checks.isEmpty:
                break
            case .exited(let code):
                result.checks.append(CheckResult(check: check, failure: "exited with status \(code)\(lastLine(outcome.stderr).map { ": \($0)" } ?? "")"))
            case .signaled(let signal):
                let detail = lastLine(outcome.stderr).map { " after \"\($0)\"" } ?? ""
                result.checks.append(CheckResult(check: check, failure: "crashed with \(ChildProcess.signalName(signal))\(detail)"))
            case .timedOut:
                result.checks.append(CheckResult(check: check, failure: "no progress for \(formatTimeout(timeout)), killed (an endless loop?)"))
            }
            report.kernels.append(result)
        }
        return report
    }

    /// The child side: loads the plugin and either lists its kernels or
    /// checks one, writing protocol lines to stdout unbuffered (a crash
    /// must not lose what was announced). Returns whether all checks passed.
    public static func runChild(path: String, allowInsecure: Bool, kernelIndex: Int?, threads: Int) throws(UnlockedError) -> Bool {
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
            throw .usage("--kernel-index \(kernelIndex): the plugin has kernels 0...\(kernels.count - 1)")
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
        var bytes = Array(line.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
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
