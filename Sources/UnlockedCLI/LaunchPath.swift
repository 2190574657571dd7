import ArgumentParser
import Glibc
import Unlocked
import UnlockedMPI

/// How this process was launched: by an MPI launcher (`mpirun`, `srun --mpi=pmix`), or
/// not (nil). Read once from the environment, before MPI is touched: a process no
/// launcher started never initialises MPI.
let launchDetection = Result { () throws(MPIError) in try MPILaunch.detect() }

/// The MPI launch of `run` and `bench`, or nil for a plain run.
func mpiLaunch() throws -> MPILaunch? {
    let launch = try launchDetection.get()
    return launch.launcher == nil ? nil : launch
}

/// This process's index among the tasks a launcher started, for deciding who speaks;
/// nil when none started it. The hidden subcommands (worker processes, plugin checks)
/// inherit their parent's environment and are never a task of their own.
func launchedTask(_ arguments: [String]) -> Int? {
    if [WorkerProcessArguments.subcommand, PluginVerifier.ChildArguments.subcommand].contains(arguments.first) { return nil }
    switch launchDetection {
    case .success(let launch): return launch.launcher == nil ? nil : launch.task
    case .failure(.singletonTasks(_, let task)): return task
    case .failure: return nil
    }
}

/// Under a launcher, `run` and `bench` run across ranks; other commands would run once
/// per task, printing the same thing R times, and are refused. srun without an MPI
/// plugin (each task an MPI singleton) is refused for every command: one line, from task 0.
func refuseUnderLauncher(_ command: ParsableCommand) throws {
    if command is WorkerCommand || command is VerifyPluginChildCommand { return }
    let launch: MPILaunch
    do {
        launch = try launchDetection.get()
    } catch {
        if case .singletonTasks(_, let task) = error, task == 0 { printError(error.description) }
        throw ExitCode(error.exitCode)
    }
    guard let launcher = launch.launcher, !(command is RunCommand || command is BenchCommand) else { return }
    if launch.task == 0 {
        let name = type(of: command).configuration.commandName ?? "this command"
        printError("\(name) runs as one process, not under \(launcher.rawValue) (only run and bench run across ranks)")
    }
    throw ExitCode(64)
}
