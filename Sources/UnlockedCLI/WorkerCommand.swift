import ArgumentParser
import Unlocked

/// The hidden entry points through which the library starts this executable
/// again. Their arguments are defined in the library; these only hand them over.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: WorkerProcessArguments.subcommand,
        abstract: "Worker process of the processes-shm and processes-pipe engines (started by them).",
        shouldDisplay: false
    )

    @Argument(parsing: .captureForPassthrough) var words: [String] = []
}

extension WorkerCommand {
    func run() throws {
        try reportingErrors {
            let status = runWorkerProcess(try WorkerProcessArguments(parsing: words), replies: StandardOutput.descriptor)
            if status != 0 { throw ExitCode(status) }
        }
    }
}

struct ForkServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: ForkServers.subcommand,
        abstract: "Fork server of the processes-shm and processes-pipe engines (started by them).",
        shouldDisplay: false
    )

    func run() throws {
        let status = runForkServer()
        if status != 0 { throw ExitCode(status) }
    }
}

struct VerifyPluginChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: PluginVerifier.ChildArguments.subcommand,
        abstract: "Child process of 'plugins verify' (started by it).",
        shouldDisplay: false
    )

    @Argument(parsing: .captureForPassthrough) var words: [String] = []
}

extension VerifyPluginChildCommand {
    func run() throws {
        try reportingErrors {
            let status = try PluginVerifier.runChild(try PluginVerifier.ChildArguments(parsing: words))
            if status != 0 { throw ExitCode(status) }
        }
    }
}

struct ProbePluginChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: PluginProbe.ChildArguments.subcommand,
        abstract: "Child process that loads a plugin for 'plugins list', 'plugins info', 'run' and 'bench' (started by them).",
        shouldDisplay: false
    )

    @Argument(parsing: .captureForPassthrough) var words: [String] = []
}

extension ProbePluginChildCommand {
    func run() throws {
        try reportingErrors {
            // The child reports its own errors to the parent, which words them.
            let status = PluginProbe.runChild(try PluginProbe.ChildArguments(parsing: words))
            if status != 0 { throw ExitCode(status) }
        }
    }
}
