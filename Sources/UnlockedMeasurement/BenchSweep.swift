#if os(Linux)
import Glibc
#endif
import UnlockedCore
import UnlockedEngines
import UnlockedKernels
import UnlockedTopology

/// How many timed repetitions each cell gets.
public enum RepetitionPolicy: Sendable, Equatable {
    /// Exactly this many.
    case count(Int)
    /// Until the cell's timed repetitions add up to `seconds`, with at least
    /// `minimumReps` and at most `maximumReps` (so a 40 µs cell stops at the cap
    /// instead of running 25,000 times for one second).
    case minTime(seconds: Double, minimumReps: Int = 5, maximumReps: Int = 1000)
    /// Until the cell's median is known precisely enough, or the sweep's time
    /// budget is spent (see `PrecisionTarget`).
    case precision(PrecisionTarget)
}

/// Repeat each cell until the 95% confidence interval of its median lies
/// within ±`relativeHalfWidth` of it, after at least `minimumReps` timed
/// repetitions and `minimumSeconds` of them; stop every cell once the sweep
/// has run `budgetSeconds`. Groups of cells (one input each) run one after
/// the other, each with a share of what is left in proportion to its cells;
/// time a group does not use goes to the next. Within a group the budget
/// goes to the cells it can make precise (`cellsToVisit`). Every cell gets
/// one timed repetition, however late.
public struct PrecisionTarget: Sendable, Equatable {
    /// 0.03 asks for ±3%.
    public var relativeHalfWidth: Double
    /// The interval of the median needs 6 samples at 95%.
    public var minimumReps: Int
    public var minimumSeconds: Double
    /// The whole sweep's wall time, data generation and engine start-up included.
    public var budgetSeconds: Double

    public init(relativeHalfWidth: Double = 0.03, minimumReps: Int = 6, minimumSeconds: Double = 0, budgetSeconds: Double = 30) {
        self.relativeHalfWidth = relativeHalfWidth
        self.minimumReps = minimumReps
        self.minimumSeconds = minimumSeconds
        self.budgetSeconds = budgetSeconds
    }
}

/// What one visit to a cell measures, besides its timed sample.
///
/// Jobs shorter than `batchNanoseconds` are timed in batches of back-to-back
/// jobs lasting about that long, so the workers stay awake between jobs as
/// they do in a loop calling the engine (OpenMP's EPCC benchmarks time
/// batches the same way): the steady state. Such a visit first idles
/// `idleNanoseconds`, long enough for every engine's workers to stop spinning
/// and park (and for the previous cell's to), then times one job alone: the
/// wake-up, a job arriving at parked workers. Longer jobs are timed one per
/// visit, where waking costs under a percent.
///
/// Start-up gets samples too, `startupSamples` per cell: the creation of the
/// cell's engine, then one fresh engine like it (created and closed) in each
/// visit until there are that many.
public struct VisitPolicy: Sendable, Equatable {
    /// 0: one job per sample.
    public var batchNanoseconds: Double
    /// 0: no wake-up samples.
    public var idleNanoseconds: Double
    public var startupSamples: Int
    /// The most jobs one batch runs, however short they are.
    public static let maximumBatch = 10_000

    public init(batchNanoseconds: Double, idleNanoseconds: Double, startupSamples: Int) {
        self.batchNanoseconds = batchNanoseconds
        self.idleNanoseconds = idleNanoseconds
        self.startupSamples = startupSamples
    }

    /// Batches of 1 ms after 1 ms idle (20× the lock-free pool's 50 µs of
    /// spinning), five start-up samples per cell.
    public static let steadyAndWake = VisitPolicy(batchNanoseconds: 1e6, idleNanoseconds: 1e6, startupSamples: 5)
    /// One job per sample, nothing else.
    public static let single = VisitPolicy(batchNanoseconds: 0, idleNanoseconds: 0, startupSamples: 0)

    /// Jobs per sample for a cell whose job took `nanoseconds`.
    public func jobsPerSample(jobNanoseconds nanoseconds: Double) -> Int {
        guard batchNanoseconds > 0, nanoseconds < batchNanoseconds else { return 1 }
        return Swift.min(Self.maximumBatch, Int((batchNanoseconds / Swift.max(nanoseconds, 1)).rounded(.up)))
    }
}

/// Everything a sweep measures: the cells and how to repeat them.
public struct SweepPlan: Sendable {
    public var cells: [BenchCell]
    public var warmup: Int
    public var repetitions: RepetitionPolicy
    public var visits: VisitPolicy
    public var seed: UInt64
    /// The centre `c` as typed, parsed per element type.
    public var center: String
    /// Carried out on every input and output buffer before it is filled.
    public var hugePages: HugePageMode

    public init(cells: [BenchCell], warmup: Int, repetitions: RepetitionPolicy, visits: VisitPolicy = .steadyAndWake,
                seed: UInt64, center: String, hugePages: HugePageMode = .auto) {
        self.cells = cells
        self.warmup = warmup
        self.repetitions = repetitions
        self.visits = visits
        self.seed = seed
        self.center = center
        self.hugePages = hugePages
    }

    /// The half-width of the median's 95% interval the report holds each cell
    /// to: the target when repeating for precision, else ±3%.
    public var precisionTarget: Double {
        if case .precision(let target) = repetitions { return target.relativeHalfWidth }
        return 0.03
    }

    /// Engines that take no chunk size: `sequential` runs one call, `spawn`
    /// cuts each job into `EngineConfiguration.blocks` blocks. Their cells run once, as `auto`,
    /// whatever `--chunk` lists, so no cell is labelled with a chunk its
    /// engine never used; the chunk they did use is reported beside it.
    public static let enginesWithoutChunks: Set<String> = [EngineKind.sequential.rawValue, EngineKind.spawn.rawValue]

    /// Every combination, in the order the options list them, each once.
    /// `sequential` gets one worker whatever `workers` says, and engines of
    /// `enginesWithoutChunks` the chunk `auto` (nil) whatever `chunks` says.
    /// Counts above `allowedCPUs` (nil: unknown, never) get `oversubscribe`.
    public static func cells(engines: [String], kernels: [String], dtypes: [DType], sizes: [Int], workers: [Int],
                             pins: [String], mems: [String], chunks: [Int?] = [nil], allowedCPUs: Int? = nil) -> [BenchCell] {
        var cells: [BenchCell] = []
        var seen = Set<BenchCell>()
        for size in sizes {
            for dtype in dtypes {
                for kernel in kernels {
                    for engine in engines {
                        // `sequential` is one worker by definition: measured once, not per count.
                        for count in engine == "sequential" ? [1] : workers {
                            for chunk in enginesWithoutChunks.contains(engine) ? [nil] : chunks {
                                for pin in pins {
                                    for mem in mems {
                                        let cell = BenchCell(engine: engine, kernel: kernel, dtype: dtype, size: size,
                                                             workers: count, pin: pin, mem: mem, chunk: chunk,
                                                             oversubscribe: allowedCPUs.map { count > $0 } ?? false)
                                        if seen.insert(cell).inserted { cells.append(cell) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return cells
    }
}

/// The outcome of one cell.
public struct CellResult: Sendable {
    public enum Status: Sendable, Equatable {
        case ok
        /// The cell could not run, and why.
        case failed(String)
    }

    public var cell: BenchCell
    public var status: Status
    /// Bytes one repetition moves through memory: input read plus output written.
    public var bytesPerRep: Int
    /// Timed samples, in the order they ran (warm-up excluded); each is one
    /// job, or the per-job mean of `jobsPerSample` jobs run back to back.
    public var samples: [CellSample]
    public var jobsPerSample = 1
    /// Wall time of single jobs that found the workers parked (see
    /// `VisitPolicy`), one per visit; empty when the cell was not batched.
    public var wakeNanoseconds: [Double] = []
    /// Creation time of the cell's engine and of fresh engines like it.
    public var startupSamples: [Double] = []
    public var placement: String?
    /// What the sweep's huge-page mode did to the cell's input buffer.
    public var hugePages: MemoryOutcome?
    /// Per timed sample, its contention counters per job (see `ContentionReporting`).
    public var contention: [[ContentionCounter: Double]] = []

    public init(cell: BenchCell, status: Status, bytesPerRep: Int, samples: [CellSample]) {
        self.cell = cell
        self.status = status
        self.bytesPerRep = bytesPerRep
        self.samples = samples
    }

    public var wallNanoseconds: [Double] { samples.map(\.wallNanoseconds) }
    public var statistics: SampleStatistics? { status == .ok ? SampleStatistics(wallNanoseconds) : nil }
    public var wakeStatistics: SampleStatistics? { status == .ok ? SampleStatistics(wakeNanoseconds) : nil }
    public var startupStatistics: SampleStatistics? { SampleStatistics(startupSamples) }
    /// The median creation time, nil when the engine starts nothing.
    public var startupNanoseconds: Double? { startupStatistics?.median }
    /// The result of the first repetition (all must agree, see `BenchSweep`).
    public var value: KernelValue? { samples.first?.value }
    /// Elements per chunk the engine used in the first repetition; nil when it does not say.
    public var chunkUsed: Int? { samples.first?.chunkSize }

    /// Workers per allowed CPU: above 1 the workers share CPUs.
    public func oversubscription(allowedCPUs: Int) -> Double { Double(cell.workers) / Double(max(allowedCPUs, 1)) }

    /// Bytes per second at the median time.
    public var bytesPerSecond: Double? {
        guard let median = statistics?.median, median > 0 else { return nil }
        return Double(bytesPerRep) / (median * 1e-9)
    }

    /// The median of per-repetition values of `key`, nil when no repetition reports it.
    public func median(_ key: KeyPath<CellSample, Double?>) -> Double? {
        SampleStatistics(samples.compactMap { $0[keyPath: key] })?.median
    }

    public var medianBytesExchanged: Double? {
        SampleStatistics(samples.compactMap { $0.bytesExchanged.map(Double.init) })?.median
    }
}

/// Progress of a sweep: repetitions `done` of an estimated `planned`, and
/// when it repeats for precision, cells done and the time budget.
public struct SweepProgress: Sendable, Equatable {
    public var done: Int
    public var planned: Int
    /// Cells that left the rotation (precise, failed or at their limit), of all.
    public var cellsDone = 0
    public var cells = 0
    public var elapsedSeconds = 0.0
    /// Nil unless a time budget bounds the sweep.
    public var budgetSeconds: Double?

    public var fraction: Double {
        let reps = planned > 0 ? min(1, Double(done) / Double(planned)) : 0
        guard let budgetSeconds, budgetSeconds > 0 else { return reps }
        return min(1, max(elapsedSeconds / budgetSeconds, cells > 0 ? Double(cellsDone) / Double(cells) : 0))
    }

    public init(done: Int, planned: Int) {
        self.done = done
        self.planned = planned
    }
}

/// Runs a plan and collects per-cell results.
///
/// Cells over the same data (element type, size and memory policy) are prepared together and
/// their repetitions interleaved round-robin — one visit to each cell per
/// round — so drift (frequency, a neighbour's load, thermal) hits every cell
/// compared at that size alike. Groups of different sizes run one after the
/// other, so only one input array lives at a time (plus, for each cell whose
/// workers map shared memory, the copy they write themselves in `prepare`);
/// the runner fills it (`CellRunner.fillInput`), so first-touch placement can
/// follow the workers. A cell that fails to
/// prepare or to run is recorded with its reason and leaves the rotation; the
/// others carry on. Repetitions whose value differs from the first fail the cell.
///
/// What a visit measures follows `SweepPlan.visits`; after each visit (and
/// each preparation) the cell hands the calling thread back, so no cell runs
/// on a thread another cell's engine left pinned.
///
/// Runs on the calling thread; `progress` is called on it after each visit.
public struct BenchSweep {
    public var plan: SweepPlan
    public var catalog: KernelCatalog
    public var runner: any CellRunner

    public init(plan: SweepPlan, catalog: KernelCatalog = KernelCatalog(), runner: any CellRunner = defaultCellRunner()) {
        self.plan = plan
        self.catalog = catalog
        self.runner = runner
    }

    /// Checks what can be checked before running anything: positive counts,
    /// and a centre valid for every element type.
    public func validate() throws(UnlockedError) {
        switch plan.repetitions {
        case .count(let reps):
            try validateRepetitions(warmup: plan.warmup, reps: reps)
        case .minTime(let seconds, let minimum, let maximum):
            try validateRepetitions(warmup: plan.warmup, reps: nil)
            guard seconds > 0, seconds <= 3_600 else { throw .usage("--min-time \(seconds): must be a number of seconds in (0, 3600]") }
            precondition(minimum >= 1 && maximum >= minimum, "repetition bounds")
        case .precision(let target):
            guard target.minimumSeconds >= 0, target.minimumSeconds.isFinite else {
                throw .usage("--min-time \(target.minimumSeconds): must be a number of seconds ≥ 0")
            }
            guard target.budgetSeconds > 0, target.budgetSeconds.isFinite else {
                throw .usage("--max-time \(target.budgetSeconds): must be a positive number of seconds")
            }
            guard target.minimumSeconds <= target.budgetSeconds else {
                throw .usage("--min-time \(target.minimumSeconds) exceeds --max-time \(target.budgetSeconds): the budget must allow the minimum")
            }
            precondition(target.relativeHalfWidth > 0 && target.minimumReps >= 1, "precision target")
        }
        for dtype in Set(plan.cells.map(\.dtype)) { _ = try dtype.parseCenter(plan.center) }
    }

    public func run(progress: @escaping (SweepProgress) -> Void = { _ in }) throws(UnlockedError) -> [CellResult] {
        try validate()
        guard Set(plan.cells).count == plan.cells.count else { throw .internal("a sweep plan lists a cell twice") }
        var results: [BenchCell: CellResult] = [:]
        var groups: [[BenchCell]] = []
        var groupIndex: [String: Int] = [:]
        for cell in plan.cells {
            let key = "\(cell.dtype.rawValue)|\(cell.size)|\(cell.mem)"
            if let index = groupIndex[key] { groups[index].append(cell) } else {
                groupIndex[key] = groups.count
                groups.append([cell])
            }
        }
        var tracker = ProgressTracker(plan: plan, progress: progress)
        let budgetEnd: UInt64? = if case .precision(let target) = plan.repetitions {
            tracker.start + UInt64(target.budgetSeconds * 1e9)
        } else { nil }
        for (index, group) in groups.enumerated() {
            let deadline = budgetEnd.map { end in
                let now = monotonicNanoseconds()
                guard end > now else { return now }
                return now + UInt64(Double(end - now) * PrecisionTarget.share(ofGroup: index, cellCounts: groups.map(\.count)))
            }
            for result in try runGroup(group, deadline: deadline, last: index == groups.count - 1, tracker: &tracker) {
                results[result.cell] = result
            }
        }
        return plan.cells.map { results[$0]! }
    }

    private func runGroup(_ group: [BenchCell], deadline: UInt64?, last: Bool, tracker: inout ProgressTracker) throws(UnlockedError) -> [CellResult] {
        let dtype = group[0].dtype, count = group[0].size
        var results = group.map { CellResult(cell: $0, status: .ok, bytesPerRep: count * dtype.byteWidth, samples: []) }
        // Resolve kernels first: a group of failing cells allocates nothing.
        var kernels: [Kernel?] = []
        for index in results.indices {
            do throws(UnlockedError) {
                let kernel = try catalog.kernel(named: group[index].kernel, dtype: dtype)
                results[index].bytesPerRep += kernel.outputType.map { count * $0.byteWidth } ?? 0
                kernels.append(kernel)
            } catch {
                results[index].status = .failed(error.message)
                kernels.append(nil)
                tracker.finish(cell: index, of: group)
            }
        }
        guard kernels.contains(where: { $0 != nil }) else { return results }
        tracker.report()  // shows the bar while the input is generated, which can take seconds

        // This process's elements of the cell: all, or an MPI rank's block.
        // Engines whose workers map shared memory make their own copy in `prepare`.
        let elements = runner.elements(ofCellSize: count)
        func buffer(width: Int) throws(UnlockedError) -> (JobBuffer, MemoryOutcome) {
            let buffer = try JobBuffer(count: elements.count, width: width)
            return (buffer, buffer.applyHugePages(plan.hugePages))
        }
        let (input, inputHugePages) = try buffer(width: dtype.byteWidth)
        for index in results.indices { results[index].hugePages = inputHugePages }
        // Oversubscribed workers would share CPUs: the widest cell that does not fills the input.
        let widest = group.filter { !$0.oversubscribe }.max { $0.workers < $1.workers } ?? group.min { $0.workers < $1.workers }!
        let generator = DataGenerator(seed: plan.seed).advanced(by: elements.lowerBound)
        try runner.fillInput(input, dtype: dtype, count: elements.count, generator: generator,
                             mem: widest.mem, pin: widest.pin, workers: widest.workers)
        var outputs: [Int: JobBuffer] = [:]  // by output width
        let params = try dtype.parseCenter(plan.center)

        var prepared: [(any PreparedCell)?] = []
        for index in results.indices {
            guard let kernel = kernels[index] else { prepared.append(nil); continue }
            do throws(UnlockedError) {
                var output: JobBuffer?
                if let width = kernel.outputType?.byteWidth {
                    if outputs[width] == nil { outputs[width] = try buffer(width: width).0 }
                    output = outputs[width]
                }
                let data = CellData(input: input, output: output, count: elements.count, params: params, generator: generator,
                                    hugePages: plan.hugePages)
                let cell = try runner.prepare(group[index], kernel: kernel, data: data)
                cell.handBack()
                if let own = cell.ownInputHugePages { results[index].hugePages = own }
                if let startup = cell.startupNanoseconds { results[index].startupSamples.append(startup) }
                prepared.append(cell)
            } catch {
                results[index].status = .failed(error.message)
                prepared.append(nil)
                tracker.finish(cell: index, of: group)
            }
        }

        // Round-robin: warm-up rounds, then timed rounds until every cell is done.
        var jobsPerSample = [Int?](repeating: nil, count: group.count)
        var timedNanoseconds = [Double](repeating: 0, count: group.count)
        var visitNanoseconds = [[Double]](repeating: [], count: group.count)
        var round = 0
        while prepared.contains(where: { $0 != nil }) {
            // Repeating for precision, the budget left goes where it buys the
            // most precise cells (`PrecisionTarget.cellsToVisit`).
            var visiting = Set(prepared.indices)
            if case .precision(let target) = plan.repetitions, let deadline, round >= plan.warmup {
                let pending = prepared.indices.filter { prepared[$0] != nil }
                let chosen = target.cellsToVisit(pending.map { index in
                    let visits = visitNanoseconds[index].sorted()
                    return PendingCell(sortedSamples: results[index].wallNanoseconds.sorted(), timedNanoseconds: timedNanoseconds[index],
                                       visitNanoseconds: visits.isEmpty ? 0 : quantile(sorted: visits, 0.5))
                }, remainingNanoseconds: Double(deadline) - Double(monotonicNanoseconds()), spendRest: last)
                visiting = Set(chosen.map { pending[$0] })
                if visiting.isEmpty {  // none fits: the time goes to the next group
                    for index in pending {
                        results[index].placement = prepared[index]!.placement
                        prepared[index] = nil
                        tracker.finish(cell: index, of: group)
                    }
                }
            }
            for index in visitOrder(count: prepared.count, round: round) where visiting.contains(index) {
                guard let cell = prepared[index] else { continue }
                // Past the deadline a cell keeps what it measured; one without
                // a timed repetition yet still gets one, warm-up or not.
                let late = deadline.map { monotonicNanoseconds() >= $0 } ?? false
                if late && !results[index].samples.isEmpty {
                    results[index].placement = cell.placement
                    prepared[index] = nil
                    tracker.finish(cell: index, of: group)
                    continue
                }
                do throws(UnlockedError) {
                    defer { cell.handBack() }
                    if jobsPerSample[index] == nil || round < plan.warmup {
                        // Warm-up, and the job time that sizes the batches: the
                        // fastest of three when jobs are short (a first job can be slow).
                        var probe = try cell.runOnce().wallNanoseconds
                        if probe < 10 * plan.visits.batchNanoseconds {
                            for _ in 0..<2 { probe = min(probe, try cell.runOnce().wallNanoseconds) }
                        }
                        jobsPerSample[index] = plan.visits.jobsPerSample(jobNanoseconds: probe)
                        results[index].jobsPerSample = jobsPerSample[index]!
                        if round < plan.warmup && !late {
                            tracker.advance(cell: index, of: group, samples: [])
                            continue
                        }
                    }
                    visitNanoseconds[index].append(try visit(cell, index: index, jobs: jobsPerSample[index]!, results: &results))
                    timedNanoseconds[index] += results[index].samples.last!.wallNanoseconds * Double(jobsPerSample[index]!)
                    tracker.advance(cell: index, of: group, samples: results[index].samples)
                    if isComplete(results[index], timedNanoseconds: timedNanoseconds[index]) {
                        results[index].placement = cell.placement
                        prepared[index] = nil
                        tracker.finish(cell: index, of: group)
                    }
                } catch {
                    results[index].status = .failed(error.message)
                    results[index].samples = []
                    results[index].wakeNanoseconds = []
                    results[index].contention = []
                    prepared[index] = nil
                    tracker.finish(cell: index, of: group)
                }
            }
            round += 1
        }
        return results
    }

    /// One timed visit: a start-up sample while the cell has too few; for
    /// batched cells an idle pause and a wake-up job; then the timed sample.
    /// Returns the wall time of the visit after the start-up sample: what
    /// each further visit will cost.
    private func visit(_ cell: any PreparedCell, index: Int, jobs: Int, results: inout [CellResult]) throws(UnlockedError) -> Double {
        if results[index].startupSamples.count < plan.visits.startupSamples, let startup = try cell.sampleStartup() {
            results[index].startupSamples.append(startup)
        }
        let start = monotonicNanoseconds()
        func checked(_ sample: CellSample) throws(UnlockedError) -> CellSample {
            if let first = results[index].samples.first?.value, first != sample.value {
                throw .internal("repetition \(results[index].samples.count + 1) gave \(sample.value), the first gave \(first)")
            }
            return sample
        }
        if jobs > 1 && plan.visits.idleNanoseconds > 0 {
            sleepNanoseconds(plan.visits.idleNanoseconds)
            results[index].wakeNanoseconds.append(try checked(try cell.runOnce()).wallNanoseconds)
        }
        results[index].samples.append(try checked(jobs > 1 ? try cell.runBatch(jobs: jobs) : try cell.runOnce()))
        if let counters = (cell as? any ContentionReporting)?.lastContention { results[index].contention.append(counters) }
        return Double(monotonicNanoseconds() - start)
    }

    private func isComplete(_ result: CellResult, timedNanoseconds: Double) -> Bool {
        let reps = result.samples.count
        switch plan.repetitions {
        case .count(let target): return reps >= target
        case .minTime(let seconds, let minimum, let maximum):
            return reps >= maximum || (reps >= minimum && timedNanoseconds >= seconds * 1e9)
        case .precision(let target):
            guard reps >= target.minimumReps, timedNanoseconds >= target.minimumSeconds * 1e9 else { return false }
            return result.statistics?.isPrecise(within: target.relativeHalfWidth) ?? false
        }
    }
}

/// Sleeps at least `nanoseconds`, resuming after signals.
private func sleepNanoseconds(_ nanoseconds: Double) {
    var request = timespec(tv_sec: Int(nanoseconds / 1e9), tv_nsec: Int(nanoseconds.truncatingRemainder(dividingBy: 1e9)))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// Counts repetitions done against an estimate that improves as samples arrive.
package struct ProgressTracker {
    package let plan: SweepPlan
    package let progress: (SweepProgress) -> Void
    package let start = monotonicNanoseconds()
    /// Planned and done repetitions per cell key.
    package var planned: [BenchCell: Int] = [:]
    package var done: [BenchCell: Int] = [:]
    package var finished = Set<BenchCell>()

    package init(plan: SweepPlan, progress: @escaping (SweepProgress) -> Void) {
        self.plan = plan
        self.progress = progress
        for cell in plan.cells { planned[cell] = plan.warmup + initialEstimate }
    }

    package var initialEstimate: Int {
        switch plan.repetitions {
        case .count(let reps): reps
        case .minTime(_, let minimum, _): minimum
        case .precision(let target): target.minimumReps
        }
    }

    package mutating func advance(cell index: Int, of group: [BenchCell], samples: [CellSample]) {
        let cell = group[index]
        done[cell, default: 0] += 1
        if case .minTime(let seconds, let minimum, let maximum) = plan.repetitions, let last = samples.last {
            let estimate = Int((seconds * 1e9 / max(last.wallNanoseconds, 1)).rounded(.up))
            planned[cell] = plan.warmup + Swift.min(maximum, Swift.max(minimum, estimate))
        }
        if case .precision = plan.repetitions { planned[cell] = Swift.max(planned[cell] ?? 0, done[cell]! + 1) }
        report()
    }

    /// A cell left the rotation (done or failed): what it did is all it will do.
    package mutating func finish(cell index: Int, of group: [BenchCell]) {
        let cell = group[index]
        planned[cell] = done[cell, default: 0]
        finished.insert(cell)
        report()
    }

    package func report() {
        var update = SweepProgress(done: done.values.reduce(0, +), planned: planned.values.reduce(0, +))
        update.cellsDone = finished.count
        update.cells = plan.cells.count
        update.elapsedSeconds = Double(monotonicNanoseconds() - start) * 1e-9
        if case .precision(let target) = plan.repetitions { update.budgetSeconds = target.budgetSeconds }
        progress(update)
    }
}

/// The order cells run in round `round`: a fixed pseudo-random permutation
/// per round (reproducible run to run), so no cell always runs right after
/// the same neighbour, whose threads, processes and cache traffic would
/// otherwise bias it in every round alike.
package func visitOrder(count: Int, round: Int) -> [Int] {
    var order = Array(0..<count)
    let generator = DataGenerator(seed: UInt64(round) &+ 0x0DE5)
    for i in stride(from: count - 1, to: 0, by: -1) {
        order.swapAt(i, Int(generator.bits(i) % UInt64(i + 1)))
    }
    return order
}
