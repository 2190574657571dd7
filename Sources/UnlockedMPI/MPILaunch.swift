#if os(Linux)
import Glibc

/// How this process was started, read from the launcher's environment before any MPI
/// call: a process no MPI launcher started never initialises MPI and pays nothing for it.
///
/// A plain value: any thread may use it.
public struct MPILaunch: Sendable, Equatable {
    /// The MPI launchers recognised, by the variables they set.
    public enum Launcher: String, Sendable, Equatable {
        /// Open MPI's `mpirun`/`mpiexec`: `OMPI_COMM_WORLD_SIZE`.
        case openMPI = "mpirun"
        /// A PMIx server, such as `srun --mpi=pmix` or `prterun`: `PMIX_RANK`.
        case pmix = "PMIx"
        /// A PMI-1/PMI-2 server, such as `srun --mpi=pmi2` or MPICH's Hydra: `PMI_RANK`.
        case pmi = "PMI"
    }

    /// The launcher that started this process, or nil: run as one process without MPI.
    public var launcher: Launcher?
    /// The world size the launcher announced, where its variables say.
    public var announcedSize: Int?
    /// This process's index among the launched tasks, where the variables say (0 otherwise).
    public var task: Int
    /// The launcher's variables seen (`OMPI_COMM_WORLD_*`, `PMIX_*`, `PMI_*`, `SLURM_*`, `SRUN_*`), for reports.
    public var variables: [String: String]

    /// Reads the launcher from `environment`.
    ///
    /// Throws `MPIError.singletonTasks` for an srun step of several tasks that carries no
    /// MPI wire-up variables (srun without an MPI plugin): each task would initialise MPI
    /// as a 1-rank world and run the whole job alone. A SLURM batch script run directly
    /// (no step) and a one-task step are plain runs.
    public static func detect(_ environment: [String: String] = processEnvironment()) throws(MPIError) -> MPILaunch {
        let variables = environment.filter { name, _ in
            name.hasPrefix("OMPI_COMM_WORLD_") || name.hasPrefix("PMIX_") || name.hasPrefix("PMI_")
                || name.hasPrefix("SLURM_") || name.hasPrefix("SRUN_")
        }
        let number = { (name: String) in environment[name].flatMap { Int($0) } }
        let stepTasks = environment["SLURM_STEP_ID"] == nil ? nil : number("SLURM_STEP_NUM_TASKS") ?? number("SLURM_NTASKS")
        let slurmTask = number("SLURM_PROCID") ?? 0
        if let rank = number("OMPI_COMM_WORLD_RANK"), environment["OMPI_COMM_WORLD_SIZE"] != nil {
            return MPILaunch(launcher: .openMPI, announcedSize: number("OMPI_COMM_WORLD_SIZE"), task: rank,
                             variables: variables)
        }
        if let rank = number("PMIX_RANK") {
            return MPILaunch(launcher: .pmix, announcedSize: stepTasks, task: rank, variables: variables)
        }
        if let rank = number("PMI_RANK") {
            return MPILaunch(launcher: .pmi, announcedSize: number("PMI_SIZE") ?? stepTasks, task: rank, variables: variables)
        }
        if let stepTasks, stepTasks > 1 { throw .singletonTasks(tasks: stepTasks, task: slurmTask) }
        return MPILaunch(launcher: nil, announcedSize: nil, task: 0, variables: variables)
    }

    /// This process's environment, read from `environ` (the module avoids Foundation).
    public static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }
}
#endif
