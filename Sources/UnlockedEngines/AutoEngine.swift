#if os(Linux)
import CKernels
import UnlockedCore
import UnlockedKernels
import UnlockedTopology

/// Chooses per job between one call on the calling thread and the lock-free
/// pool, from two calibrations: the pool's empty-job round trip (measured
/// once at creation) and the kernel's speed (measured once per kernel on a
/// prefix of the first job's input, on the calling thread).
///
/// The pool is chosen only when its estimate, with a 25% margin, beats the
/// sequential estimate, so small inputs are never slower than `sequential`.
package final class AutoEngine: Engine {
    package let kind = EngineKind.auto
    // Read on every job by the one thread running jobs: no dynamic exclusivity check.
    @exclusivity(unchecked) package private(set) var state = EngineState.running
    private let pool: LockFreePool
    private let userChunk: Int?
    /// Median round trip of an empty pool job, in nanoseconds.
    package let roundTripNanoseconds: Double
    /// Nanoseconds per element of each kernel measured so far.
    private var speeds: [UnsafePointer<uk_kernel>: Double] = [:]
    /// The last decision and the report notes of a sequential run, kept whole
    /// so a repeated small job costs one comparison, not new strings.
    private var lastDecision: (kernel: UnsafePointer<uk_kernel>, count: Int, decision: AutoDecision, sequentialNotes: [String])?
    private var contexts = WorkerKernelContexts(worker: 0)

    package init(_ configuration: EngineConfiguration) throws(UnlockedError) {
        var poolConfiguration = configuration
        poolConfiguration.kind = .lockfreePool
        pool = try LockFreePool(poolConfiguration, globalLock: nil)
        userChunk = configuration.chunk
        roundTripNanoseconds = quantile(sorted: try emptyJobRoundTrips(pool, jobs: 200).sorted(), 0.5)
    }

    deinit { close() }

    package var workerCount: Int { pool.workerCount }
    package var startup: EngineStartup { pool.startup }

    package func initialize(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator) throws(UnlockedError) {
        try state.checkRunning(kind)
        try pool.initialize(buffer, dtype: dtype, count: count, generator: generator)
    }

    package func run(_ job: EngineJob) throws(UnlockedError) -> EngineResult {
        try state.checkRunning(kind)
        try job.validate()
        let start = monotonicNanoseconds()
        // The caller calibrates and computes as the pool's worker 0, pinned like it.
        try pool.bindCallingThread()
        let perElement = try speed(of: job)
        let decision = decide(job, perElement: perElement)
        guard decision.decision.chosen == .lockfreePool else {
            var result = try runOnCallingThread(job, contexts: &contexts, notes: decision.sequentialNotes, start: start)
            result.statistics.autoDecision = decision.decision
            return result
        }
        // Four chunks per worker for balance, each worth at least 2 µs of work
        // so claiming one stays negligible.
        let chunk = userChunk ?? {
            let minimum = Int((2_000 / max(perElement, 1e-3)).rounded(.up))
            let balanced = (job.count + workerCount * 4 - 1) / (workerCount * 4)
            return (min(max(balanced, minimum), 1 << 20) + 15) / 16 * 16
        }()
        var result = try pool.run(job, chunk: chunk)
        result.statistics.autoDecision = decision.decision
        result.statistics.computeNanoseconds = monotonicNanoseconds() - start
        return result
    }

    /// Sequential unless the pool's estimate, with a 25% margin, is faster.
    private func decide(_ job: EngineJob, perElement: Double) -> (decision: AutoDecision, sequentialNotes: [String]) {
        if let last = lastDecision, last.kernel == job.kernel.descriptor, last.count == job.count {
            return (last.decision, last.sequentialNotes)
        }
        let sequential = perElement * Double(job.count)
        let parallel = roundTripNanoseconds + sequential / Double(workerCount)
        // The calibrated round trip is warm; workers that parked on a futex
        // between jobs take tens of µs to wake, so below this much work the
        // pool cannot reliably win and sequential is never slower.
        let chosen = workerCount > 1 && parallel * 1.25 < sequential && sequential > Self.minimumParallelWorkNanoseconds
        let decision = AutoDecision(chosen: chosen ? .lockfreePool : .sequential,
                                    sequentialEstimateNanoseconds: sequential, poolEstimateNanoseconds: parallel,
                                    roundTripNanoseconds: roundTripNanoseconds, nanosecondsPerElement: perElement)
        let sequentialNotes = KernelInvoker.notes(for: job.kernel)
        lastDecision = (job.kernel.descriptor, job.count, decision, sequentialNotes)
        return (decision, sequentialNotes)
    }

    /// Work below which `auto` stays sequential whatever the calibration says.
    package static let minimumParallelWorkNanoseconds = 50_000.0

    package func close() {
        if state == .closed { return }
        state = .closed
        pool.close()
        contexts.releaseAll()
    }

    package func releaseCallingThread() { pool.releaseCallingThread() }

    /// Nanoseconds per element of the job's kernel: the fastest of three
    /// calls over 64Ki generated elements in a scratch buffer, measured once
    /// per kernel (so calibrating never costs a multiple of a small job).
    private func speed(of job: EngineJob) throws(UnlockedError) -> Double {
        if let known = speeds[job.kernel.descriptor] { return known }
        let count = 64 << 10
        let input = try JobBuffer(count: count, width: job.kernel.inputType.byteWidth)
        let output = try job.kernel.outputType.map { type throws(UnlockedError) in try JobBuffer(count: count, width: type.byteWidth) }
        DataGenerator(seed: 1).fill(input.base, dtype: job.kernel.inputType, range: 0..<count)
        var best = Double.infinity
        try withKernelInvoker(job.kernel, input: input.base, output: output?.base, params: job.params) { invoker throws(UnlockedError) in
            var tally = WorkerTally()
            for _ in 0..<3 {
                var acc = uk_acc()
                let start = monotonicNanoseconds()
                try invoker.run(0..<count, acc: &acc, contexts: &contexts, tally: &tally)
                best = min(best, Double(monotonicNanoseconds() - start))
            }
        }
        let perElement = best / Double(count)
        speeds[job.kernel.descriptor] = perElement
        return perElement
    }
}

/// Round trips of empty jobs (no elements) through `engine`: what
/// dispatching a job and collecting its completion costs, nothing else.
/// Timed in batches of 100 back-to-back jobs, after 100 untimed ones, as
/// EPCC's syncbench (and bench/openmp_absdist.c) time OpenMP; each sample is
/// a batch's wall time per job, in nanoseconds.
@available(*, noasync, message: "blocks until the jobs finish")
public func emptyJobRoundTrips(_ engine: any Engine, jobs: Int) throws(UnlockedError) -> [Double] {
    let kernel = try KernelCatalog().kernel(named: "absdist.sum", dtype: .i32)
    let buffer = try engine.makeBuffer(count: 1, width: DType.i32.byteWidth)
    var params = uk_params()
    params.size = UInt32(MemoryLayout<uk_params>.size)
    let job = EngineJob(kernel: kernel, input: buffer, output: nil, count: 0, params: params)
    let batch = min(100, max(1, jobs))
    for _ in 0..<batch { _ = try engine.run(job) }
    var samples: [Double] = []
    for _ in 0..<max(1, jobs / batch) {
        let start = monotonicNanoseconds()
        for _ in 0..<batch { _ = try engine.run(job) }
        samples.append(Double(monotonicNanoseconds() - start) / Double(batch))
    }
    return samples
}
#endif
