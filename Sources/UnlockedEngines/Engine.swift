import CKernels
import UnlockedCore
import UnlockedKernels
import UnlockedTopology

/// The ways of going parallel Unlocked compares, by their CLI names.
public enum EngineKind: String, CaseIterable, Sendable, Codable {
    /// One kernel call on the calling thread.
    case sequential
    /// A new thread per block, all joined at the end (the seed's `f_threaded`).
    case spawn
    /// Pool workers that must hold one global lock while they run a chunk (CPython's GIL).
    case gil
    /// Persistent pinned workers, a mutex + condition variable queue, partials merged under the lock.
    case lockedPool = "locked-pool"
    /// Persistent pinned workers, chunks claimed with atomics, futex parking.
    case lockfreePool = "lockfree-pool"
    /// Swift structured concurrency (`withTaskGroup`), the coroutine model.
    case tasks
    /// `DispatchQueue.concurrentPerform`.
    case gcd
    /// Worker processes mapping the input from a memfd; only ranges and results cross a pipe.
    case processesShm = "processes-shm"
    /// Worker processes receiving their chunks' bytes over a pipe (multiprocessing's pickling).
    case processesPipe = "processes-pipe"
    /// `sequential` or `lockfree-pool`, and the chunk size, from a quick calibration.
    case auto
    /// The lock-free pool whose workers each run their own copy of a plugin,
    /// loaded into a link-map namespace of its own: the sub-interpreter model.
    case isolated
    /// The real OpenMP runtime (libgomp): `schedule(static)`, or `schedule(dynamic, chunk)` with `--chunk`.
    case openmp

    /// Whether the engine's workers map job buffers from shared memory
    /// (memfds), so `makeBuffer` must allocate them there.
    public var needsSharedBuffers: Bool { self == .processesShm }

    /// How `initialize` places an input's pages when the engine differs from
    /// "each pinned worker writes its own chunk first" (first-touch in this
    /// process), for the memory line of reports; nil when it does not.
    public var firstTouchNote: String? {
        self == .processesShm
            ? "each worker process allocates (posix_fallocate) and writes its own chunks first; this process never touches them"
            : nil
    }

    /// The engine in its threads' names (`ukw-<role>-<n>`, `workerThreadName`):
    /// at most 6 characters, so 4,096 workers keep names of at most 15 that
    /// no cut makes repeat (`spawn`, whose blocks count up to 100,000, at most 5).
    package var threadRole: String {
        switch self {
        case .sequential: "seq"
        case .spawn: "spawn"
        case .gil: "gil"
        case .lockedPool: "locked"
        case .lockfreePool: "lfree"
        case .tasks: "tasks"
        case .gcd: "gcd"
        case .processesShm: "pshm"
        case .processesPipe: "ppipe"
        case .auto: "auto"
        case .isolated: "iso"
        case .openmp: "omp"
        }
    }
}

/// What an engine is built with.
public struct EngineConfiguration: Sendable {
    public var kind: EngineKind
    /// One entry per worker; its count is the worker count.
    public var placement: PlacementPlan
    /// Elements per chunk; nil chooses from the size and worker count.
    public var chunk: Int?
    /// Threads (blocks) per job of `spawn`.
    public var blocks: Int
    /// The `unlocked` executable process workers run in worker mode; nil means
    /// this process's own executable (tests pass the built CLI).
    public var workerExecutable: String?
    /// Extra environment of worker processes (test hooks).
    public var workerEnvironment: [String: String]

    public init(kind: EngineKind, placement: PlacementPlan, chunk: Int? = nil, blocks: Int = 100,
                workerExecutable: String? = nil, workerEnvironment: [String: String] = [:]) {
        self.kind = kind
        self.placement = placement
        self.chunk = chunk
        self.blocks = blocks
        self.workerExecutable = workerExecutable
        self.workerEnvironment = workerEnvironment
    }

    public var workers: Int { placement.workers.count }

    /// Checks what a user could have typed wrong, naming the flag.
    public func validate() throws(UnlockedError) {
        guard (1...PlacementPlan.maximumWorkers).contains(workers) else {
            throw .usage("--workers \(workers): must be a whole number in 1...\(PlacementPlan.maximumWorkers)")
        }
        if let chunk, chunk < 1 { throw .usage("--chunk \(chunk): must be at least 1 element") }
        guard (1...100_000).contains(blocks) else { throw .usage("--blocks \(blocks): accepted 1...100000") }
    }
}

/// One job: a kernel over `[0, count)` of `input`.
public struct EngineJob: Sendable {
    public var kernel: Kernel
    public var input: JobBuffer
    /// Map kernels only: where the output goes.
    public var output: JobBuffer?
    public var count: Int
    public var params: uk_params

    public init(kernel: Kernel, input: JobBuffer, output: JobBuffer?, count: Int, params: uk_params) {
        self.kernel = kernel
        self.input = input
        self.output = output
        self.count = count
        self.params = params
    }

    /// Refuses buffers too small for `count` (a kernel would read past them).
    package func validate() throws(UnlockedError) {
        guard count >= 0 else { throw .internal("job of \(count) elements") }
        guard input.byteCount >= count * kernel.inputType.byteWidth else {
            throw .internal("input buffer of \(input.byteCount) bytes is too small for \(count) \(kernel.inputType.rawValue) elements")
        }
        if let type = kernel.outputType {
            guard let output, output.byteCount >= count * type.byteWidth else {
                throw .internal("map kernel \(kernel.name) needs an output buffer of \(count) \(type.rawValue) elements")
            }
        }
    }
}

/// The parameters a kernel is called with over `count` elements: `params`
/// plus the streaming-store hint when its output exceeds the last-level
/// cache (stores that bypass the cache leave it to the input). Every engine
/// and measurement decides the hint here.
package func callParameters(_ params: uk_params, kernel: Kernel, count: Int) -> uk_params {
    var params = params
    if let type = kernel.outputType, count * type.byteWidth > lastLevelCacheBytes {
        params.flags |= UK_FLAG_STREAMING_STORES
    }
    return params
}

/// What one job did, beyond its result.
public struct EngineStatistics: Sendable, Equatable {
    /// The engine that ran the job (`auto` reports the one it chose).
    public var engine: EngineKind
    public var workers: Int
    public var chunkSize: Int
    public var chunkCount: Int
    /// Time spent creating threads inside this job (`spawn`); zero for engines
    /// whose workers exist before the job (their start-up is `EngineStartup`).
    public var startupNanoseconds: UInt64 = 0
    /// Wall time of the job, from call to result.
    public var computeNanoseconds: UInt64 = 0
    public var chunksPerWorker: [Int]
    /// Chunks a worker took from another worker's share.
    public var steals: Int = 0
    /// Acquisitions of a lock guarding work or a kernel (`gil`, `locked-pool`, SERIAL plugins).
    public var lockAcquisitions: Int = 0
    /// Time workers waited to acquire that lock.
    public var lockWaitNanoseconds: UInt64 = 0
    /// Bytes written to or read from pipes between processes.
    public var bytesCopied: Int = 0
    /// Blocking waits of the workers: futex parks (`lockfree-pool`, `gil`) or
    /// condition-variable waits (`locked-pool`).
    public var futexWaits: Int = 0
    /// Futex wake calls made to end parks (`lockfree-pool`, `gil`).
    public var futexWakes: Int = 0
    /// Time workers waited actively (spinning or yielding) and blocked.
    public var spinNanoseconds: UInt64 = 0
    public var parkedNanoseconds: UInt64 = 0
    /// Claims that found no chunk left.
    public var failedClaims: Int = 0
    /// One line each: choices and caveats a reader of the numbers needs.
    public var notes: [String] = []
    /// What `auto` chose for this job and the estimates it chose from.
    public var autoDecision: AutoDecision?
}

/// `auto`'s choice for one job, from its calibrations (all in nanoseconds).
public struct AutoDecision: Sendable, Equatable {
    /// `.sequential` or `.lockfreePool`.
    public var chosen: EngineKind
    public var sequentialEstimateNanoseconds: Double
    public var poolEstimateNanoseconds: Double
    /// The pool's calibrated empty-job round trip.
    public var roundTripNanoseconds: Double
    public var nanosecondsPerElement: Double
}

/// What creating an engine cost and where its workers ended up.
public struct EngineStartup: Sendable, Equatable {
    /// From the start of engine creation until every worker was ready.
    public var nanoseconds: UInt64
    /// Per worker, where it really ran (empty for engines whose threads are not ours).
    public var bindings: [BindingObservation]
    /// Per worker process, the kernel variant it selected (empty for engines
    /// whose workers are threads of this process, which share its selection).
    public var workerISAs: [ISA]

    public init(nanoseconds: UInt64, bindings: [BindingObservation], workerISAs: [ISA] = []) {
        self.nanoseconds = nanoseconds
        self.bindings = bindings
        self.workerISAs = workerISAs
    }
}

/// The result of one job.
public struct EngineResult: Sendable {
    /// The merged accumulator of a reduction (zero for map kernels).
    public var acc: uk_acc
    public var statistics: EngineStatistics
}

/// Where an engine is in its life. Jobs run only while it is `running`; a
/// failure that leaves its workers unusable (a worker process died) makes it
/// `failed`, and `close` makes it `closed`. Neither comes back.
public enum EngineState: Sendable, Equatable {
    case running
    case failed(UnlockedError)
    case closed

    /// Returns while running; otherwise throws the error every job (`run`,
    /// `initialize`, `makeBuffer`) of an engine of `kind` gets in this state.
    package func checkRunning(_ kind: EngineKind) throws(UnlockedError) {
        switch self {
        case .running: return
        case .failed(let error): throw .internal("the \(kind.rawValue) engine failed and runs no more jobs: \(error.message)")
        case .closed: throw .internal("the \(kind.rawValue) engine is closed and runs no more jobs")
        }
    }
}

/// Runs kernels over shared buffers with a fixed set of workers.
///
/// Create one with `makeEngine(_:)`; allocate buffers with `makeBuffer`, fill
/// input with `initialize` (each worker writes the chunks it will later
/// process, so first-touch places pages next to it), then `run` jobs and
/// `close` it. Every engine has the lifecycle of `EngineState`: after a
/// failure or `close`, each of those calls throws that error instead of
/// running, and `close` may be called again.
///
/// One job at a time, from one thread: `run`, `initialize`, `makeBuffer` and
/// `close` must not be called concurrently. Those that wait for workers are
/// `noasync`.
public protocol Engine: AnyObject {
    var kind: EngineKind { get }
    var workerCount: Int { get }
    var startup: EngineStartup { get }
    var state: EngineState { get }

    /// Writes `generator`'s elements `[0, count)` of `dtype` into `buffer`,
    /// each chunk by the worker that owns it in `run`.
    @available(*, noasync, message: "blocks until the workers finish")
    func initialize(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator) throws(UnlockedError)

    @available(*, noasync, message: "blocks until the workers finish")
    func run(_ job: EngineJob) throws(UnlockedError) -> EngineResult

    /// Stops and joins every worker; later calls do nothing. Also done on deinit.
    @available(*, noasync, message: "blocks until the workers exit")
    func close()

    /// Where `buffer`'s pages are, as the processes that touched them see
    /// them: this process's page tables, or for `processes-shm` what each
    /// worker located in its own chunks when it filled them in `initialize`.
    func pageLocations(of buffer: JobBuffer) -> PageLocationReport

    /// Gives the calling thread back the affinity it had before this engine
    /// pinned it (engines whose caller computes as worker 0 pin it on their
    /// first job). Call it when control passes to other code, as a sweep does
    /// between cells: a thread left pinned confines every thread and process
    /// it starts to one CPU. The next job pins it again. Call it on the thread
    /// that ran the jobs; engines that never pin the caller do nothing.
    func releaseCallingThread()
}

extension Engine {
    public func releaseCallingThread() {}

    public func pageLocations(of buffer: JobBuffer) -> PageLocationReport { buffer.pageLocations() }
}

extension Engine {
    /// A buffer this engine's workers can read and write: shared memory when
    /// its kind `needsSharedBuffers`, private memory otherwise. Pass
    /// `forInitialize` when the next call on the buffer is `initialize`:
    /// shared memory is then left unallocated for the workers to allocate,
    /// each its own chunks (see `JobBuffer(sharedCount:allocatingPages:)`).
    public func makeBuffer(count: Int, width: Int, forInitialize: Bool = false) throws(UnlockedError) -> JobBuffer {
        try state.checkRunning(kind)
        return kind.needsSharedBuffers
            ? try JobBuffer(sharedCount: count, width: width, allocatingPages: !forInitialize)
            : try JobBuffer(count: count, width: width)
    }

    /// `run`, then the kernel's value of the merged accumulator (`.none` for maps).
    @available(*, noasync, message: "blocks until the workers finish")
    public func value(of job: EngineJob) throws(UnlockedError) -> (KernelValue, EngineStatistics) {
        let result = try run(job)
        return (job.kernel.isMap ? .none : job.kernel.value(of: result.acc), result.statistics)
    }
}

/// Builds the engine `configuration` names, with its workers started and ready.
public func makeEngine(_ configuration: EngineConfiguration) throws(UnlockedError) -> any Engine {
    try configuration.validate()
    switch configuration.kind {
    case .sequential: return SequentialEngine(configuration)
    case .spawn: return SpawnEngine(configuration)
    case .gil: return try LockFreePool(configuration, globalLock: CountingMutex())
    case .lockedPool: return try LockedPool(configuration)
    case .lockfreePool, .isolated: return try LockFreePool(configuration, globalLock: nil)
    case .tasks, .gcd: return try RuntimeEngine(configuration)
    case .processesShm, .processesPipe: return try ProcessEngine(configuration)
    case .auto: return try AutoEngine(configuration)
    case .openmp: return try OpenMPEngine(configuration)
    }
}
