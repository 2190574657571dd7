#if os(Linux)
import CKernels
import Glibc
import UnlockedCore
import UnlockedEngines
import UnlockedKernels
import UnlockedTopology

/// Runs `bench` and `compare` cells through the real engines, each placed by
/// its cell's `--pin` and `--mem` policies on this machine's topology.
public struct EngineCellRunner: CellRunner {
    /// The `unlocked` binary process engines start; nil is this executable
    /// (a program embedding the library names the CLI here).
    public var workerExecutable: String?
    /// The OS CPUs cells may use, within this process's allowed set: nil for all of them,
    /// an MPI rank's share of its node otherwise.
    public var allowedCPUs: [Int]?

    public init(workerExecutable: String? = nil, allowedCPUs: [Int]? = nil) {
        self.workerExecutable = workerExecutable
        self.allowedCPUs = allowedCPUs
    }

    public var engineNames: [String] { EngineKind.allCases.map(\.rawValue) }

    /// The bandwidth ceiling is `stream.sum` through the same kind of pool
    /// that runs the kernels, so the percentage compares like with like.
    public func ceilingEngine(workers: Int) -> String {
        workers > 1 ? EngineKind.lockfreePool.rawValue : EngineKind.sequential.rawValue
    }

    /// The cell's engine configuration, or a usage error naming what is wrong.
    package func configuration(engine name: String, workers: Int, pin: String, mem: String, chunk: Int? = nil,
                               oversubscribe: Bool = false) throws(UnlockedError) -> (EngineConfiguration, ResolvedPlacement) {
        guard let kind = EngineKind(rawValue: name) else {
            throw .usage("engine \(name): unknown (accepted: \(EngineKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let request = PlacementRequest(workers: workers, pin: try PinPolicy(parsing: pin), memory: try MemoryPolicy(parsing: mem),
                                       allowed: allowedCPUs, oversubscribe: oversubscribe)
        let placement = try request.resolve()
        return (EngineConfiguration(kind: kind, placement: placement.plan, chunk: chunk, workerExecutable: workerExecutable),
                placement)
    }

    /// Applies the cell's memory policy before any page is touched, then has
    /// each pinned worker of a pool placed like the widest cell write the
    /// chunks it will read (first-touch). `none` is filled by the calling thread.
    public func fillInput(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator,
                          mem: String, pin: String, workers: Int) throws(UnlockedError) {
        let policy = try MemoryPolicy(parsing: mem)
        // A placement that cannot be made here fails its cells in `prepare`,
        // with the reason; the input is then written by the calling thread.
        guard policy != .none,
              let (configuration, placement) = try? configuration(engine: EngineKind.lockfreePool.rawValue, workers: workers,
                                                                  pin: pin, mem: mem) else {
            generator.fill(buffer.base, dtype: dtype, range: 0..<count)
            return
        }
        _ = try buffer.apply(policy, topology: placement.topology)
        let pool = try makeEngine(configuration)
        defer { pool.close() }
        try pool.initialize(buffer, dtype: dtype, count: count, generator: generator)
    }

    public func prepare(_ cell: BenchCell, kernel: Kernel, data: CellData) throws(UnlockedError) -> any PreparedCell {
        let (configuration, placement) = try configuration(engine: cell.engine, workers: cell.workers, pin: cell.pin, mem: cell.mem,
                                                           chunk: cell.chunk, oversubscribe: cell.oversubscribe)
        let (engine, startup) = try makeEngineTimed(configuration)
        return try EnginePreparedCell(engine: engine, configuration: configuration, kernel: kernel, data: data,
                                      startup: startup, placement: placement)
    }
}

/// Creates the engine `configuration` names and times it: from the call
/// until its workers are started, bound and ready for the first job (`auto`'s
/// calibration included). The one definition of start-up that `run`, `bench`
/// and `unlocked` report, each as the median of several fresh engines.
@available(*, noasync, message: "blocks until the workers are ready")
public func makeEngineTimed(_ configuration: EngineConfiguration) throws(UnlockedError) -> (any Engine, Double) {
    let start = monotonicNanoseconds()
    let engine = try makeEngine(configuration)
    return (engine, Double(monotonicNanoseconds() - start))
}

/// One cell's engine, alive while the sweep repeats it; closed on release.
package final class EnginePreparedCell: PreparedCell {
    package let engine: any Engine
    package let configuration: EngineConfiguration
    package let kernel: Kernel
    package let data: CellData
    package let job: EngineJob
    /// Set when the engine needs shared memory and the cell's output is not:
    /// results are copied back after each timed run.
    package let outputCopy: (from: JobBuffer, to: JobBuffer)?
    package let startupNanoseconds: Double?
    package let resolved: ResolvedPlacement
    /// Who wrote the input this cell's engine reads, when not the sweep's buffer.
    package let inputNote: String?
    package let ownInputHugePages: MemoryOutcome?
    /// What the engine reported for the last repetition.
    package private(set) var lastStatistics: EngineStatistics?
    package private(set) var lastContention: [ContentionCounter: Double]?
    /// Whether batches read their workers' context switches (sweeps do; `run`,
    /// which times every job alone, does not: reading /proc between two jobs
    /// outlasts a pool's spinning, and every job would time a wake-up).
    private let countsContextSwitches: Bool

    package init(engine: any Engine, configuration: EngineConfiguration, kernel: Kernel, data: CellData, startup: Double,
                 placement: ResolvedPlacement, countsContextSwitches: Bool = true) throws(UnlockedError) {
        self.engine = engine
        self.countsContextSwitches = countsContextSwitches
        self.configuration = configuration
        self.kernel = kernel
        self.data = data
        startupNanoseconds = startup
        // processes-shm maps only shared memory: its workers write their own
        // chunks of generated input (first-touch, as in `run`); other input
        // is copied in once.
        var input = data.input
        var output = data.output
        var outputCopy: (from: JobBuffer, to: JobBuffer)?
        var inputNote: String?
        var ownInputHugePages: MemoryOutcome?
        if engine.kind.needsSharedBuffers {
            if input.sharedFileDescriptor == nil, let generator = data.generator, placement.memory != .none {
                input = try engine.makeBuffer(count: data.count, width: kernel.inputType.byteWidth, forInitialize: true)
                ownInputHugePages = input.applyHugePages(data.hugePages)
                _ = try input.apply(placement.memory, topology: placement.topology)
                try engine.initialize(input, dtype: kernel.inputType, count: data.count, generator: generator)
                inputNote = engine.kind.firstTouchNote.map { "own input: \($0)" }
            } else if input.sharedFileDescriptor == nil {
                input = try engine.makeBuffer(count: data.count, width: kernel.inputType.byteWidth)
                ownInputHugePages = input.applyHugePages(data.hugePages)
                input.base.copyMemory(from: data.input.base, byteCount: data.count * kernel.inputType.byteWidth)
                inputNote = "own input: copied into shared memory by this process"
            }
            if let cellOutput = data.output, cellOutput.sharedFileDescriptor == nil, let type = kernel.outputType {
                let shared = try engine.makeBuffer(count: data.count, width: type.byteWidth)
                output = shared
                outputCopy = (shared, cellOutput)
            }
        }
        self.outputCopy = outputCopy
        self.inputNote = inputNote
        self.ownInputHugePages = ownInputHugePages
        job = EngineJob(kernel: kernel, input: input, output: output, count: data.count, params: data.params)
        resolved = placement
    }

    deinit { engine.close() }

    /// The policy, then what the engine did: where each worker ran, which
    /// threads are not bound, and what it starts per job.
    package var placement: String {
        "\(resolved.plan.policy), mem \(resolved.memory): "
            + engine.placementWords(workers: configuration.workers, bindings: engine.startup.bindings)
            + (inputNote.map { "; \($0)" } ?? "")
    }

    package func runOnce() throws(UnlockedError) -> CellSample {
        try runBatch(jobs: 1)
    }

    package func runBatch(jobs: Int) throws(UnlockedError) -> CellSample {
        precondition(jobs >= 1, "a batch of no jobs")
        var threadStartup: UInt64 = 0
        // Read outside the timed jobs: one file per worker thread.
        let threads = countsContextSwitches ? engine.workerThreads : nil
        let switchesBefore = threads.flatMap { ThreadContextSwitches.read(callingThread: $0.callingThread, threads: $0.ids) }
        // Reading /proc outlasts a pool's spinning: one untimed job wakes the
        // workers again, so a batch is timed in steady state from its first job.
        let untimed = jobs > 1 && switchesBefore != nil ? 1 : 0
        if untimed > 0 { _ = try engine.run(job) }
        let start = monotonicNanoseconds()
        var result = try engine.run(job)
        threadStartup += result.statistics.startupNanoseconds
        var counted = result.statistics
        for _ in 1..<jobs {
            result = try engine.run(job)
            threadStartup += result.statistics.startupNanoseconds
            counted.addJob(result.statistics)
        }
        let wall = Double(monotonicNanoseconds() - start) / Double(jobs)
        let switchesAfter = threads.flatMap { ThreadContextSwitches.read(callingThread: $0.callingThread, threads: $0.ids) }
        lastContention = contentionPerJob(counted, jobs: jobs, switchedJobs: jobs + untimed, switches: switchesBefore.flatMap { before in
            switchesAfter.map { (before, $0) }
        })
        if let (from, to) = outputCopy, let type = kernel.outputType {
            to.base.copyMemory(from: from.base, byteCount: data.count * type.byteWidth)
        }
        let statistics = result.statistics
        lastStatistics = statistics
        let value = kernel.result(acc: result.acc, output: data.output?.base, count: data.count)
        return CellSample(wallNanoseconds: wall,
                          startupNanoseconds: threadStartup > 0 ? Double(threadStartup) / Double(jobs) : nil,
                          bytesExchanged: statistics.bytesCopied > 0 ? statistics.bytesCopied : nil,
                          value: value, chunkSize: statistics.chunkSize)
    }

    package func sampleStartup() throws(UnlockedError) -> Double? {
        let (fresh, nanoseconds) = try makeEngineTimed(configuration)
        fresh.close()
        return nanoseconds
    }

    package func handBack() { engine.releaseCallingThread() }
}

extension EnginePreparedCell: ContentionReporting {}

/// Per job, the counters a batch of `jobs` jobs reported (summed in
/// `statistics`) and the context switches of the workers over the
/// `switchedJobs` jobs between the two readings.
private func contentionPerJob(_ statistics: EngineStatistics, jobs: Int, switchedJobs: Int,
                              switches: (before: ThreadContextSwitches, after: ThreadContextSwitches)?) -> [ContentionCounter: Double] {
    var counters: [ContentionCounter: Double] = [:]
    for counter in ContentionCounter.allCases {
        if let value = statistics.count(counter) { counters[counter] = value / Double(jobs) }
    }
    if let (before, after) = switches {
        counters[.voluntaryContextSwitches] = Double(after.voluntary - before.voluntary) / Double(switchedJobs)
        counters[.involuntaryContextSwitches] = Double(after.involuntary - before.involuntary) / Double(switchedJobs)
    }
    return counters
}

extension Engine {
    /// Where the threads doing the work run, in words: the observed CPU of
    /// each bound worker (the caller's among them when it computes as worker
    /// 0), or that the threads are not bound, and what each job starts.
    package func placementWords(workers: Int, bindings: [BindingObservation]) -> String {
        let observed = bindings.map { "w\($0.worker)→cpu \($0.observedCPU)" + ($0.bound ? "" : " (not bound)") }.joined(separator: " ")
        switch kind {
        case .sequential:
            return bindings.isEmpty ? "calling thread, not bound" : "calling thread pinned, \(observed)"
        case .spawn:
            return "\(workerCount) threads per job, bound round-robin to the plan's \(workers) CPUs"
        case .lockfreePool, .gil, .lockedPool, .auto, .isolated:
            let caller = kind == .lockedPool ? "" : " (w0 is the calling thread)"
            return observed.isEmpty ? "workers not bound" : observed + caller
        case .tasks:
            return "task executor threads " + (observed.isEmpty ? "not bound" : observed)
        case .openmp:
            return "libgomp threads, bound inside each region " + (observed.isEmpty ? "(not bound)" : observed) + " (w0 is the calling thread)"
        case .gcd:
            return "\(workers) GCD threads (the caller among them), not bound: all allowed CPUs"
        case .processesShm:
            return "worker processes " + observed
        case .processesPipe:
            return "worker processes " + observed + "; per job a conversation thread per worker, not bound"
        }
    }
}
#endif
