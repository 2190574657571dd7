#if os(Linux)
import UnlockedCore
import UnlockedTopology
/// How an engine runs, in the words of the seed's table.
public struct EngineProfile: Sendable, Equatable {
    public var name: String
    public var model: String
    /// "parallel" (on several cores at once), "concurrent" (interleaved, one at a time) or "sequential".
    public var execution: String
    /// How data reaches the workers.
    public var exchange: String
    /// Whether workers outlive a job and wait for the next (pools, runtimes,
    /// worker processes): their first job after a pause pays a wake-up.
    public var persistentWorkers: Bool

    public init(name: String, model: String, execution: String, exchange: String, persistentWorkers: Bool) {
        self.name = name
        self.model = model
        self.execution = execution
        self.exchange = exchange
        self.persistentWorkers = persistentWorkers
    }

    /// The engines of the engines issue, in the order the table lists them.
    public static let all: [EngineProfile] = [
        .init(name: "sequential", model: "plain loop", execution: "sequential", exchange: "none", persistentWorkers: false),
        .init(name: "spawn", model: "thread per block", execution: "parallel", exchange: "shared memory", persistentWorkers: false),
        .init(name: "gil", model: "threads + global lock", execution: "concurrent", exchange: "shared memory", persistentWorkers: true),
        .init(name: "locked-pool", model: "pool, mutex queue", execution: "parallel", exchange: "shared memory", persistentWorkers: true),
        .init(name: "lockfree-pool", model: "pool, atomics", execution: "parallel", exchange: "shared memory", persistentWorkers: true),
        .init(name: "tasks", model: "coroutines, task group", execution: "parallel", exchange: "shared memory", persistentWorkers: true),
        .init(name: "gcd", model: "GCD concurrentPerform", execution: "parallel", exchange: "shared memory", persistentWorkers: true),
        .init(name: "processes-shm", model: "processes", execution: "parallel", exchange: "shared memfd", persistentWorkers: true),
        .init(name: "processes-pipe", model: "processes", execution: "parallel", exchange: "pipe, copied", persistentWorkers: true),
        .init(name: "isolated", model: "sub-interpreters (dlmopen)", execution: "parallel", exchange: "shared memory", persistentWorkers: true),
        .init(name: "auto", model: "loop or lock-free pool", execution: "parallel", exchange: "shared memory", persistentWorkers: true),
        .init(name: "openmp", model: "OpenMP (libgomp)", execution: "parallel", exchange: "shared memory", persistentWorkers: true),
    ]

    public static func named(_ name: String) -> EngineProfile? { all.first { $0.name == name } }
}

/// The defaults of `unlocked compare`: the seed's workload and one large size.
public struct SeedWorkload: Sendable, Equatable {
    /// The seed's 100,000 integers.
    public var smallSize = 100_000
    /// Elements of the large size (int32).
    public var largeSize: Int
    public var dtype = DType.i32
    public var center = "50"
    public var seed: UInt64 = 42

    public init(largeSize: Int) {
        self.largeSize = largeSize
    }

    /// The smaller of 1 GiB and an eighth of the memory budget (MemAvailable
    /// or the cgroup limit, whichever is smaller), but at least 4× the
    /// last-level cache (STREAM's rule, so caches cannot hold it) unless that
    /// is more than half the budget; in bytes rounded down to whole pages.
    public static func largeBytes(memoryBudget: Int, lastLevelCache: Int) -> Int {
        let bytes = min(max(min(1 << 30, memoryBudget / 8), 4 * lastLevelCache), memoryBudget / 2)
        return bytes / 4096 * 4096
    }
}

/// The workers every engine but `sequential` gets: all allowed CPUs.
public struct SeedTablePlan: Sendable {
    public var workload: SeedWorkload
    public var engines: [String]
    public var workers: Int
    public var pin: String
    public var mem: String
    public var hugePages: HugePageMode = .auto
    /// The engine that runs `stream.sum` for each worker count in use.
    public var ceilingEngines: [Int: String]

    public init(workload: SeedWorkload, engines: [String], workers: Int, pin: String = "compact", mem: String = "first-touch",
                runner: any CellRunner) {
        self.workload = workload
        self.engines = engines
        self.workers = workers
        self.pin = pin
        self.mem = mem
        self.ceilingEngines = [1: runner.ceilingEngine(workers: 1), workers: runner.ceilingEngine(workers: workers)]
    }

    package func ceilingEngine(_ workers: Int) -> String { ceilingEngines[workers] ?? "sequential" }

    package func workers(of engine: String) -> Int { engine == "sequential" ? 1 : workers }

    package func cell(_ engine: String, kernel: String = "absdist.sum", size: Int, workers: Int? = nil) -> BenchCell {
        BenchCell(engine: engine, kernel: kernel, dtype: workload.dtype, size: size,
                  workers: workers ?? self.workers(of: engine), pin: pin, mem: mem)
    }

    /// The ceiling cells: `stream.sum` over the large size for each worker count in use.
    package var ceilingCells: [BenchCell] {
        let counts = Array(Set(engines.map(workers(of:)))).sorted()
        return counts.map { cell(ceilingEngine($0), kernel: "stream.sum", size: workload.largeSize, workers: $0) }
    }

    /// Every cell the table needs: each engine at both sizes, `sequential`
    /// always (the baseline of speedups), and the ceilings.
    public var cells: [BenchCell] {
        let names = engines.contains("sequential") ? engines : ["sequential"] + engines
        var seen = Set<BenchCell>()
        let all = [workload.smallSize, workload.largeSize].flatMap { size in names.map { cell($0, size: size) } } + ceilingCells
        return all.filter { seen.insert($0).inserted }
    }

    /// How the table is measured: one warm-up round, then every cell until
    /// its median is within `target` or the budget is spent; small jobs in
    /// batches (steady state) with a wake-up job after idling.
    public func sweepPlan(_ target: PrecisionTarget) -> SweepPlan {
        SweepPlan(cells: cells, warmup: 1, repetitions: .precision(target), visits: .steadyAndWake,
                  seed: workload.seed, center: workload.center, hugePages: hugePages)
    }
}

/// One row of the measured seed table: numbers only (the words are the
/// report's).
public struct SeedTableRow: Sendable {
    public var profile: EngineProfile
    public var workers: Int
    /// Failure reasons of this engine's cells, nil when both ran.
    public var failure: String?
    /// Creating the engine (workers started and ready), over fresh engines.
    public var startup: SampleStatistics?
    /// Threads started inside each job (`spawn`'s blocks, `processes-pipe`'s
    /// conversation threads), median per job; nil when a job starts none.
    public var jobStartupNanoseconds: Double?
    /// Bytes copied between processes per job at the large size (0: none).
    public var bytesExchanged: Double?
    /// The small size, jobs back to back (steady state).
    public var small: SampleStatistics?
    /// The small size, one job arriving at parked workers.
    public var smallWake: SampleStatistics?
    public var large: SampleStatistics?
    /// Speedups over `sequential`: steady state at the small size.
    public var smallSpeedup: Double?
    public var largeSpeedup: Double?
    /// Throughput at the large size over `stream.sum`'s with the same workers.
    public var ceilingFraction: Double?
    /// Whether each size's median reached the precision target.
    public var smallPrecise: Bool
    public var largePrecise: Bool

    /// Parallel efficiency at the large size: speedup per worker.
    public var efficiency: Double? { largeSpeedup.map { $0 / Double(workers) } }
    /// The wake-up job over the steady-state one at the small size.
    public var wakePenalty: Double? { ratio(smallWake?.median, small?.median) }
}

/// The seed's table, measured.
public struct SeedTable: Sendable {
    public var plan: SeedTablePlan
    public var rows: [SeedTableRow]
    public var results: [CellResult]
    /// The half-width of the 95% interval each median was held to (0.03: ±3%).
    public var target: Double

    /// Builds the rows from a sweep over `plan.cells`.
    public init(plan: SeedTablePlan, results: [CellResult], target: Double = 0.03) {
        self.plan = plan
        self.results = results
        self.target = target
        let byCell = Dictionary(results.map { ($0.cell, $0) }, uniquingKeysWith: { first, _ in first })
        func median(_ cell: BenchCell) -> Double? { byCell[cell]?.statistics?.median }
        let small = plan.workload.smallSize, large = plan.workload.largeSize
        let baseSmall = median(plan.cell("sequential", size: small)), baseLarge = median(plan.cell("sequential", size: large))
        rows = plan.engines.map { engine in
            let workers = plan.workers(of: engine)
            let smallCell = byCell[plan.cell(engine, size: small)], largeCell = byCell[plan.cell(engine, size: large)]
            let cells = [smallCell, largeCell].compactMap { $0 }
            let failures = cells.compactMap { if case .failed(let reason) = $0.status { reason } else { nil } }
            let ceiling = byCell[plan.cell(plan.ceilingEngine(workers), kernel: "stream.sum", size: large, workers: workers)]?.bytesPerSecond
            let smallStatistics = smallCell?.statistics, largeStatistics = largeCell?.statistics
            return SeedTableRow(
                profile: EngineProfile.named(engine)
                    ?? EngineProfile(name: engine, model: engine, execution: "?", exchange: "?", persistentWorkers: false),
                workers: workers,
                failure: failures.first,
                startup: SampleStatistics(cells.flatMap(\.startupSamples)),
                jobStartupNanoseconds: smallCell?.median(\.startupNanoseconds) ?? largeCell?.median(\.startupNanoseconds),
                bytesExchanged: failures.isEmpty ? (largeCell?.medianBytesExchanged ?? 0) : nil,
                small: smallStatistics, smallWake: smallCell?.wakeStatistics, large: largeStatistics,
                smallSpeedup: ratio(baseSmall, smallStatistics?.median), largeSpeedup: ratio(baseLarge, largeStatistics?.median),
                ceilingFraction: ratio(largeCell?.bytesPerSecond, ceiling),
                smallPrecise: smallStatistics?.isPrecise(within: target) ?? true,
                largePrecise: largeStatistics?.isPrecise(within: target) ?? true)
        }
    }

    /// The ceiling's throughput at the large size with `workers` workers, bytes per second.
    public func ceilingBytesPerSecond(workers: Int) -> Double? {
        let cell = plan.cell(plan.ceilingEngine(workers), kernel: "stream.sum", size: plan.workload.largeSize, workers: workers)
        return results.first { $0.cell == cell }?.bytesPerSecond
    }
}

private func ratio(_ numerator: Double?, _ denominator: Double?) -> Double? {
    guard let numerator, let denominator, denominator > 0 else { return nil }
    return numerator / denominator
}
#endif
