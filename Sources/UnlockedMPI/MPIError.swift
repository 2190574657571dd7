/// What can go wrong launching or running across MPI ranks, each with the exit code
/// (BSD `sysexits.h`, as the rest of Unlocked) a rank ends with.
public enum MPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The launcher started `tasks` tasks but MPI would see each alone, as a 1-rank world:
    /// srun without an MPI plugin (`MpiDefault=none`), or another MPI's `mpiexec`. Every
    /// task gets it; only `task` 0 should write it, so the job's log shows it once. Exit code 64.
    case singletonTasks(tasks: Int, task: Int)
    /// The MPI library gives less thread support than needed. Exit code 70.
    case threadLevel(required: MPIThreadLevel, provided: MPIThreadLevel)
    /// MPI was already initialised or finalised in this process: it allows one world. Exit code 70.
    case alreadyInitialized
    /// An MPI call returned `code`; `message` is `MPI_Error_string`'s text. Exit code 70.
    case call(function: String, code: Int32, message: String)
    /// A rank failed, and every rank learnt so from `MPIWorld.agree`. Its own exit code.
    case rankFailed(RankFailure)

    public var exitCode: Int32 {
        switch self {
        case .singletonTasks: 64
        case .threadLevel, .alreadyInitialized, .call: 70
        case .rankFailed(let failure): failure.exitCode
        }
    }

    public var description: String {
        switch self {
        case .singletonTasks(let tasks, _):
            "\(tasks) tasks were started without MPI wire-up this Open MPI can use (srun without --mpi, "
                + "or another MPI's mpiexec), so each would run alone as a 1-rank job; "
                + "launch with `srun --mpi=pmix` or Open MPI's `mpirun`"
        case .threadLevel(let required, let provided):
            "this MPI library provides thread level \(provided), Unlocked needs \(required)"
        case .alreadyInitialized:
            "MPI was already initialised in this process"
        case .call(let function, let code, let message):
            "\(function) failed with MPI error \(code): \(message)"
        case .rankFailed(let failure):
            failure.description
        }
    }
}

/// One rank's failure as every rank sees it after `MPIWorld.agree`.
public struct RankFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var rank: Int
    public var host: String
    public var exitCode: Int32
    public var message: String
    /// The failing rank stops: no rank may carry on past the step that learnt of it.
    public var endsJob: Bool

    public init(rank: Int, host: String, exitCode: Int32, message: String, endsJob: Bool = false) {
        self.rank = rank
        self.host = host
        self.exitCode = exitCode
        self.message = message
        self.endsJob = endsJob
    }

    public var description: String { "rank \(rank) on \(host): \(message)" }
}

/// The thread support levels of `MPI_Init_thread`, in increasing order.
public enum MPIThreadLevel: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    /// One thread in the process. The corresponding C constant is `MPI_THREAD_SINGLE`.
    case single
    /// Threads, but only the one that initialised MPI calls it. `MPI_THREAD_FUNNELED`.
    case funneled
    /// Any thread calls MPI, one at a time. `MPI_THREAD_SERIALIZED`.
    case serialized
    /// Any thread calls MPI at any time. `MPI_THREAD_MULTIPLE`.
    case multiple

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .single: "MPI_THREAD_SINGLE"
        case .funneled: "MPI_THREAD_FUNNELED"
        case .serialized: "MPI_THREAD_SERIALIZED"
        case .multiple: "MPI_THREAD_MULTIPLE"
        }
    }
}
