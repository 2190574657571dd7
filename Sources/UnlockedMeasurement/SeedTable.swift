#if os(Linux)
import UnlockedCore
/// How an engine runs, in the words of the seed's table.
public struct EngineProfile: Sendable, Equatable {
    public var name: String
    public var model: String
    /// "parallel" (on several cores at once), "concurrent" (interleaved, one at a time) or "sequential".
    public var execution: String
    /// How data reaches the workers.
    public var exchange: String

    /// The engines of the engines issue, in the order the table lists them.
    public static let all: [EngineProfile] = [
        .init(name: "sequential", model: "plain loop", execution: "sequential", exchange: "none"),
        .init(name: "spawn", model: "thread per block", execution: "parallel", exchange: "shared memory"),
        .init(name: "gil", model: "threads + global lock", execution: "concurrent", exchange: "shared memory"),
        .init(name: "locked-pool", model: "pool, mutex queue", execution: "parallel", exchange: "shared memory"),
        .init(name: "lockfree-pool", model: "pool, atomics", execution: "parallel", exchange: "shared memory"),
        .init(name: "tasks", model: "coroutines (task group)", execution: "parallel", exchange: "shared memory"),
        .init(name: "gcd", model: "GCD concurrentPerform", execution: "parallel", exchange: "shared memory"),
        .init(name: "processes-shm", model: "processes", execution: "parallel", exchange: "shared memory (memfd)"),
        .init(name: "processes-pipe", model: "processes", execution: "parallel", exchange: "pipe, serialized"),
        .init(name: "auto", model: "sequential or lock-free pool", execution: "parallel", exchange: "shared memory"),
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
}

/// One row of the measured seed table.
public struct SeedTableRow: Sendable {
    public var profile: EngineProfile
    public var workers: Int
    /// Failure reasons of this engine's cells, empty when both ran.
    public var failure: String?
    public var startupNanoseconds: Double?
    public var bytesExchanged: Double?
    public var smallNanoseconds: Double?
    public var largeNanoseconds: Double?
    public var smallSpeedup: Double?
    public var largeSpeedup: Double?
    public var noisy: Bool
    /// Throughput at the large size over `stream.sum`'s with the same workers.
    public var ceilingFraction: Double?

    /// Parallel efficiency at the large size: speedup per worker.
    public var efficiency: Double? { largeSpeedup.map { $0 / Double(workers) } }

    /// One line a user can act on, from the measured figures only.
    public var verdict: String {
        if let failure { return "could not run: \(failure)" }
        if profile.name == "sequential" { return "the baseline: one core, no start-up, no exchange" }
        var parts: [String] = []
        if let small = smallSpeedup {
            parts.append(small < 0.95 ? String(format: "%.1f× slower than a plain loop on small data", 1 / small)
                         : small > 1.05 ? String(format: "%.1f× faster on small data", small) : "as fast as a plain loop on small data")
        }
        if let fraction = ceilingFraction, fraction >= 0.9 {
            parts.append(String(format: "reaches %.0f%% of memory bandwidth on large data", fraction * 100))
        } else if let efficiency, workers > 1 {
            parts.append(efficiency >= 0.8 ? String(format: "scales (%.0f%% efficiency)", efficiency * 100)
                         : efficiency < 1.2 / Double(workers) ? "does not scale: no faster than one core"
                         : String(format: "scales poorly (%.0f%% efficiency)", efficiency * 100))
        }
        if noisy { parts.append("noisy, rerun to trust") }
        return parts.joined(separator: "; ")
    }
}

/// The seed's table, measured.
public struct SeedTable: Sendable {
    public var plan: SeedTablePlan
    public var rows: [SeedTableRow]
    public var results: [CellResult]

    /// Builds the rows from a sweep over `plan.cells`.
    public init(plan: SeedTablePlan, results: [CellResult]) {
        self.plan = plan
        self.results = results
        let byCell = Dictionary(results.map { ($0.cell, $0) }, uniquingKeysWith: { first, _ in first })
        func median(_ cell: BenchCell) -> Double? { byCell[cell]?.statistics?.median }
        let small = plan.workload.smallSize, large = plan.workload.largeSize
        let baseSmall = median(plan.cell("sequential", size: small)), baseLarge = median(plan.cell("sequential", size: large))
        rows = plan.engines.map { engine in
            let workers = plan.workers(of: engine)
            let cells = [plan.cell(engine, size: small), plan.cell(engine, size: large)].compactMap { byCell[$0] }
            let failures = cells.compactMap { if case .failed(let reason) = $0.status { reason } else { nil } }
            let smallTime = median(plan.cell(engine, size: small)), largeTime = median(plan.cell(engine, size: large))
            let ceiling = byCell[plan.cell(plan.ceilingEngine(workers), kernel: "stream.sum", size: large, workers: workers)]?.bytesPerSecond
            let throughput = byCell[plan.cell(engine, size: large)]?.bytesPerSecond
            let startups = cells.compactMap { $0.median(\.startupNanoseconds) ?? $0.startupNanoseconds }
            return SeedTableRow(
                profile: EngineProfile.named(engine) ?? EngineProfile(name: engine, model: engine, execution: "?", exchange: "?"),
                workers: workers,
                failure: failures.first,
                startupNanoseconds: startups.max() ?? (failures.isEmpty ? 0 : nil),
                bytesExchanged: cells.compactMap(\.medianBytesExchanged).max() ?? (failures.isEmpty ? 0 : nil),
                smallNanoseconds: smallTime, largeNanoseconds: largeTime,
                smallSpeedup: ratio(baseSmall, smallTime), largeSpeedup: ratio(baseLarge, largeTime),
                noisy: cells.contains { $0.statistics?.isNoisy == true },
                ceilingFraction: ratio(throughput, ceiling))
        }
    }
}

private func ratio(_ numerator: Double?, _ denominator: Double?) -> Double? {
    guard let numerator, let denominator, denominator > 0 else { return nil }
    return numerator / denominator
}
#endif
