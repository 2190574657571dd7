#if os(Linux)
import CKernels
import UnlockedCore
import UnlockedKernels
import UnlockedTopology

/// Chooses per job between one call on the calling thread and the lock-free
/// pool, from what it measured: the pool's empty-job round trip (once at
/// creation), the kernel's speed on 64Ki in-cache elements (once per kernel),
/// and the time of every job it ran, per kernel and size class (a power of
/// two of input bytes). A kernel's speed in L2 says little about the same
/// kernel streaming from the LLC or memory, so a size class the engine has
/// run sequentially is estimated from those runs, an unseen one from the
/// largest smaller class seen (cost per element only grows with size), and
/// the pool's cost from its own runs once it has some.
///
/// Before the pool has run a size class it is chosen only when its estimate,
/// with a 25% margin, beats the sequential one, so small inputs are never
/// slower than `sequential`; once both ways ran a class, the faster wins. A
/// pool job after a sequential one or after its workers stopped spinning
/// (they parked) is not recorded, so a cold wake-up does not rule the pool out; now and then the
/// way not chosen runs twice, so one lucky run never decides a class for
/// good: every 64 repeats, or rarer so that rechecking costs about 2% of
/// the work.
/// Oversubscribed, the pool's estimate divides the work by the CPUs its
/// workers share, not by the workers.
package final class AutoEngine: Engine {
    package let kind = EngineKind.auto
    // Read on every job by the one thread running jobs: no dynamic exclusivity check.
    @exclusivity(unchecked) package private(set) var state = EngineState.running
    private let pool: LockFreePool
    private let userChunk: Int?
    /// Fastest batch of empty pool jobs, per job, in nanoseconds: the
    /// median would carry whatever else ran on the CPUs at creation.
    package let roundTripNanoseconds: Double
    /// Workers that can compute at once: the workers, or fewer CPUs.
    private let parallelism: Int
    /// Nanoseconds per element of each kernel measured in cache.
    private var speeds: [UnsafePointer<uk_kernel>: Double] = [:]
    /// Per kernel, indexed by size class: what its jobs really cost.
    private var learned: [UnsafePointer<uk_kernel>: [Observed]] = [:]
    // Read and written on every job by the one thread running jobs: no dynamic exclusivity check.
    /// The last decision, kept whole so a repeated small job costs one
    /// comparison, not new strings.
    @exclusivity(unchecked) private var lastDecision: Decided?
    /// Until when the pool's workers still spin after its last job (0 after
    /// a sequential one): a pool job started later pays their wake-up.
    @exclusivity(unchecked) private var poolWarmUntil: UInt64 = 0
    private var contexts = WorkerKernelContexts(worker: 0)

    package init(_ configuration: EngineConfiguration) throws(UnlockedError) {
        var poolConfiguration = configuration
        poolConfiguration.kind = .lockfreePool
        pool = try LockFreePool(poolConfiguration, globalLock: nil)
        userChunk = configuration.chunk
        parallelism = min(pool.workerCount, concurrentCPUs(configuration.placement))
        roundTripNanoseconds = try emptyJobRoundTrips(pool, jobs: 300).min()!
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
        let choice = try decide(job)
        guard choice.decision.chosen == .lockfreePool else {
            var result = try runOnCallingThread(job, contexts: &contexts, notes: choice.sequentialNotes, start: start)
            // A job that calibrated took that time too: not a sequential run's cost.
            if !choice.calibrated { learn(job, nanoseconds: result.statistics.computeNanoseconds, pool: false) }
            poolWarmUntil = 0
            result.statistics.autoDecision = choice.decision
            return result
        }
        // Four chunks per worker for balance, each worth at least 2 µs of work
        // so claiming one stays negligible.
        let chunk = userChunk ?? {
            let minimum = Int((2_000 / max(choice.decision.nanosecondsPerElement, 1e-3)).rounded(.up))
            let balanced = (job.count + workerCount * 4 - 1) / (workerCount * 4)
            return (min(max(balanced, minimum), 1 << 20) + 15) / 16 * 16
        }()
        var result = try pool.run(job, chunk: chunk)
        if start < poolWarmUntil { learn(job, nanoseconds: result.statistics.computeNanoseconds, pool: true) }
        let end = monotonicNanoseconds()
        poolWarmUntil = end + LockFreeCore.spinNanoseconds
        result.statistics.autoDecision = choice.decision
        result.statistics.computeNanoseconds = end - start
        return result
    }

    /// The fastest run of each way seen in one size class, in nanoseconds per element.
    private struct Observed {
        var sequential = Double.infinity
        var pool = Double.infinity
    }

    /// A decision for one kernel and count, what it was based on, and how
    /// many jobs repeated it since.
    private final class Decided {
        let kernel: UnsafePointer<uk_kernel>
        let count: Int
        let decision: AutoDecision
        let sequentialNotes: [String]
        // Used on every job by the one thread running jobs: no dynamic exclusivity checks.
        @exclusivity(unchecked) var observed: Observed
        @exclusivity(unchecked) var uses: Int
        /// The way not chosen runs again when `uses` modulo this is one of the last two.
        let recheckEvery: Int
        /// A run since was the fastest of its way: decide again.
        @exclusivity(unchecked) var stale = false

        init(kernel: UnsafePointer<uk_kernel>, count: Int, decision: AutoDecision, sequentialNotes: [String],
             observed: Observed, recheckEvery: Int, uses: Int) {
            self.recheckEvery = recheckEvery
            self.kernel = kernel
            self.count = count
            self.decision = decision
            self.sequentialNotes = sequentialNotes
            self.observed = observed
            self.uses = uses
        }
    }

    /// A job's size class: the bit length of its input's byte count.
    private static func sizeClass(_ job: EngineJob) -> Int {
        let bytes = max(job.count * job.kernel.inputType.byteWidth, 1)
        return Int.bitWidth - bytes.leadingZeroBitCount
    }

    /// Sequential unless the pool is faster: by its observed runs once both
    /// ways ran this size class, else by its estimate with a 25% margin.
    /// Also says whether this call calibrated the kernel's speed. A job
    /// repeating the last one costs a comparison and a count: at 1,000
    /// elements the whole job takes about 400 ns.
    private func decide(_ job: EngineJob) throws(UnlockedError)
        -> (decision: AutoDecision, sequentialNotes: [String], calibrated: Bool) {
        let last: Decided
        var calibrated = false
        if let previous = lastDecision, previous.kernel == job.kernel.descriptor, previous.count == job.count, !previous.stale {
            previous.uses &+= 1
            last = previous
        } else {
            let speed = try speed(of: job)
            calibrated = speed.calibrated
            // Repeats count on across new fastest runs, so rechecks come on time.
            let uses = lastDecision.map { $0.kernel == job.kernel.descriptor && $0.count == job.count ? $0.uses &+ 1 : 0 } ?? 0
            last = makeDecision(job, perElement: speed.perElement, uses: uses)
        }
        lastDecision = last
        if last.uses % last.recheckEvery >= last.recheckEvery - 2, last.observed.sequential.isFinite, last.observed.pool.isFinite {
            var other = last.decision
            other.chosen = other.chosen == .lockfreePool ? .sequential : .lockfreePool
            return (other, last.sequentialNotes, calibrated)
        }
        return (last.decision, last.sequentialNotes, calibrated)
    }

    private func makeDecision(_ job: EngineJob, perElement calibrated: Double, uses: Int) -> Decided {
        let classes = learned[job.kernel.descriptor] ?? []
        let size = Self.sizeClass(job)
        let observed = size < classes.count ? classes[size] : Observed()
        // Unseen sizes cost per element at least what the largest smaller seen one did.
        let perElement = observed.sequential.isFinite ? observed.sequential
            : classes.prefix(size).last(where: { $0.sequential.isFinite }).map { max($0.sequential, calibrated) } ?? calibrated
        let count = Double(job.count)
        let sequential = perElement * count
        let parallel = observed.pool.isFinite ? observed.pool * count : roundTripNanoseconds + sequential / Double(parallelism)
        // The calibrated round trip is warm; workers that parked on a futex
        // between jobs take tens of µs to wake, so below this much estimated
        // work the pool cannot reliably win and sequential is never slower.
        // Sequential runs seen in this class make the estimate worth one try.
        let chosen = observed.sequential.isFinite && observed.pool.isFinite ? parallel < sequential
            : workerCount > 1 && parallel * 1.25 < sequential
                && (observed.sequential.isFinite || sequential > Self.minimumParallelWorkNanoseconds)
        let decision = AutoDecision(chosen: chosen ? .lockfreePool : .sequential,
                                    sequentialEstimateNanoseconds: sequential, poolEstimateNanoseconds: parallel,
                                    roundTripNanoseconds: roundTripNanoseconds, nanosecondsPerElement: perElement)
        // Two runs of the other way (the pool's first after a wake-up), against 2% of the chosen way's work.
        let recheck = 2 * (chosen ? sequential : parallel + Self.minimumParallelWorkNanoseconds)
        let recheckEvery = Int(min(max(recheck / (0.02 * (chosen ? parallel : sequential)), 64), 1e6))
        return Decided(kernel: job.kernel.descriptor, count: job.count, decision: decision,
                       sequentialNotes: KernelInvoker.notes(for: job.kernel), observed: observed,
                       recheckEvery: recheckEvery, uses: uses)
    }

    /// Records a run of `job` that took `nanoseconds`, sequential or in the
    /// pool; a new fastest one is decided on from the next job on.
    private func learn(_ job: EngineJob, nanoseconds: UInt64, pool: Bool) {
        guard job.count > 0, let last = lastDecision else { return }
        let run = Double(nanoseconds) / Double(job.count)
        // The common case, a run no faster than the best seen, costs one comparison.
        guard run < (pool ? last.observed.pool : last.observed.sequential) else { return }
        if pool { last.observed.pool = run } else { last.observed.sequential = run }
        let size = Self.sizeClass(job)
        var classes = learned.removeValue(forKey: job.kernel.descriptor) ?? []
        if classes.count <= size { classes += Array(repeating: Observed(), count: size + 1 - classes.count) }
        classes[size] = last.observed
        learned[job.kernel.descriptor] = classes
        last.stale = true
    }

    /// Estimated work below which `auto` stays sequential until it has run
    /// the size class sequentially.
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
    /// Also says whether this call calibrated.
    private func speed(of job: EngineJob) throws(UnlockedError) -> (perElement: Double, calibrated: Bool) {
        if let known = speeds[job.kernel.descriptor] { return (known, false) }
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
        return (perElement, true)
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
