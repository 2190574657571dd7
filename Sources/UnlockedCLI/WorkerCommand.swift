import ArgumentParser
import Unlocked

/// The hidden worker mode of the process engines: the engine starts this
/// same executable as `unlocked __worker …` and talks to it over stdin/stdout.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "__worker",
        abstract: "Worker process of the processes-shm and processes-pipe engines (started by them).",
        shouldDisplay: false
    )

    @Option var index: Int
    @Option var parent: Int32
    @Option var cpu: Int?
    @Flag var bestEffort = false
}

extension WorkerCommand {
    func run() throws {
        let status = runWorkerProcess(index: index, cpu: cpu, bestEffort: bestEffort, parent: parent)
        if status != 0 { throw ExitCode(status) }
    }
}
