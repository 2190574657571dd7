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
        subcommands: [CompareCommand.self, BenchCommand.self, RunCommand.self, TopoCommand.self, KernelsCommand.self, PluginsCommand.self,
                      WorkerCommand.self, VerifyPluginChildCommand.self],
        defaultSubcommand: CompareCommand.self
    )

    /// ArgumentParser's own errors (an unknown value, a missing option) come
    /// as a usage block; like ours they become one line and exit 64. Help and
    /// `--version` print as usual. Under an MPI launcher only task 0 writes
    /// errors and help (each task would otherwise print the same line), and
    /// commands that do not run across ranks are refused (`LaunchPath.swift`).
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let task = launchedTask(arguments)
        do {
            var command = try parseAsRoot(arguments)
            try refuseUnderLauncher(command)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if let task, task != 0 { Glibc.exit(code.rawValue) }
            if code == .success || error is ExitCode { exit(withError: error) }
            // Lists of accepted values come as "following:\n  - a\n  - b": one line, comma-separated.
            let words = message(for: error).split(whereSeparator: \.isWhitespace).joined(separator: " ")
                .replacingOccurrences(of: "following: - ", with: "following: ").replacingOccurrences(of: " - ", with: ", ")
            printError(words.hasPrefix("Error: ") ? String(words.dropFirst("Error: ".count)) : words)
            Glibc.exit(code.rawValue)
        }
    }
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
