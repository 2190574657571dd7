import ArgumentParser
import Foundation
import Glibc
import Unlocked

@main
struct UnlockedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlocked",
        abstract: "Run one hot loop on every core, and compare honestly how each way of going parallel does.",
        version: BuildInfo.version,
        subcommands: [CompareCommand.self, BenchCommand.self, ContentionCommand.self, RunCommand.self, TopoCommand.self, KernelsCommand.self,
                      PluginsCommand.self, WorkerCommand.self, ForkServerCommand.self, VerifyPluginChildCommand.self, ProbePluginChildCommand.self],
        defaultSubcommand: CompareCommand.self
    )

    /// ArgumentParser's `main`, with stdout moved out of plugin code's reach
    /// between parsing (whose help and version text go to stdout) and running.
    /// ArgumentParser's own errors (an unknown value, a missing option) come
    /// as a usage block; like ours they become one line and exit 64. Help and
    /// `--version` print as usual. Under an MPI launcher only task 0 writes
    /// errors and help (each task would otherwise print the same line), and
    /// commands that do not run across ranks are refused (`LaunchPath.swift`).
    static func main() {
        // hwloc dlopens its GPU, PCI and libxml plugins (X11, OpenCL, ICU: some 20 libraries) at
        // its first topology, though we read no I/O objects and its own XML parser suffices: they
        // slow every start and make the fork server's image, which each worker copies, twice the size.
        setenv("HWLOC_PLUGINS_BLACKLIST", "hwloc_gl,hwloc_opencl,hwloc_pci,hwloc_xml_libxml", 0)
        defer { ForkServers.stopAll() }
        let arguments = Array(CommandLine.arguments.dropFirst())
        let task = launchedTask(arguments)
        do {
            var command = try parseAsRoot(arguments)
            try refuseUnderLauncher(command)
            // ArgumentParser's own help command prints to the real stdout; our commands, worker
            // processes included (they answer their engine on it), get the private one.
            if defines(type(of: command)) { StandardOutput.isolate() }
            try command.run()
            try StandardOutput.requireWritten()
        } catch {
            let code = exitCode(for: error)
            ForkServers.stopAll()
            if let task, task != 0 { Glibc.exit(code.rawValue) }
            if code == .success || error is ExitCode { exit(withError: error) }
            // Lists of accepted values come as "following:\n  - a\n  - b": one line, comma-separated.
            let words = message(for: error).split(whereSeparator: \.isWhitespace).joined(separator: " ")
                .replacingOccurrences(of: "following: - ", with: "following: ").replacingOccurrences(of: " - ", with: ", ")
            printError(words.hasPrefix("Error: ") ? String(words.dropFirst("Error: ".count)) : words)
            Glibc.exit(code.rawValue)
        }
    }

    /// Whether `command` is one of this CLI's subcommands, at any depth.
    private static func defines(_ command: ParsableCommand.Type, under root: ParsableCommand.Type = UnlockedCommand.self) -> Bool {
        root.configuration.subcommands.contains { ObjectIdentifier($0) == ObjectIdentifier(command) || defines(command, under: $0) }
    }
}

/// The CLI's standard output, kept on a private descriptor.
///
/// Plugin code runs inside this process (constructors, `init`, kernels) and
/// may write to descriptor 1; that must never land inside a table, CSV or
/// JSON document. So before a command runs, `isolate` moves our stdout to a
/// private close-on-exec descriptor and points descriptor 1 at stderr for
/// the rest of the process: what plugins print goes to stderr, and only
/// `print` below reaches stdout. The library never does this itself: an
/// embedding program's stdout is its own. Main thread only.
enum StandardOutput {
    /// Where `print` writes: descriptor 1 until `isolate`, -1 if it was closed.
    nonisolated(unsafe) static var descriptor = STDOUT_FILENO
    /// The first failed write, reported once the command is done.
    nonisolated(unsafe) static var failure: SystemCallError?

    static func isolate() {
        switch valueOrErrno({ fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3) }) {
        case .success(let fd): descriptor = fd
        case .failure(let error): descriptor = -1; failure = error
        }
        // Also when stdout was closed: a descriptor opened later would get 1,
        // and a plugin's printf would write into it.
        _ = valueOrErrno { dup2(STDERR_FILENO, STDOUT_FILENO) }
    }

    /// Exit 74 (EX_IOERR) with one line if any output could not be written.
    static func requireWritten() throws {
        guard let failure else { return }
        printError("cannot write the output to stdout: \(failure)")
        throw ExitCode(UnlockedError.Kind.ioError.rawValue)
    }
}

/// Every command's output: written to `StandardOutput.descriptor`. It has
/// Swift's `print` signature so it shadows it throughout the CLI, and no
/// command can print past the private descriptor by accident.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    let text = items.map { "\($0)" }.joined(separator: separator) + terminator
    guard StandardOutput.failure == nil else { return }
    StandardOutput.failure = FileDescriptorIO.write(StandardOutput.descriptor, Array(text.utf8))
}

/// Runs `body`, turning an `UnlockedError` into one line on stderr and its
/// sysexits code, so nothing a user types ends in a trap or a stack trace.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as UnlockedError {
        printError(error.message)
        throw ExitCode(error.exitCode)
    }
}

/// Writes one line to stderr; write(2) directly, as the C `stderr` global
/// is not concurrency-safe in Swift 6.
func printError(_ message: String) {
    let line = "unlocked: \(message)\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
}
