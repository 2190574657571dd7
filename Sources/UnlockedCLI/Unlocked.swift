import ArgumentParser
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
