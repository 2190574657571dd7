#if os(Linux)
import UnlockedCore
import UnlockedEngines
import UnlockedTopology

/// A chunk size of `unlocked contention`: a fixed number of elements, or
/// one chunk per worker (the job cut into as many chunks as workers).
public enum ContentionChunk: Sendable, Hashable {
    case elements(Int)
    case perWorker

    /// Elements per chunk for `size` elements and `workers` workers.
    public func elements(size: Int, workers: Int) -> Int {
        switch self {
        case .elements(let count): count
        case .perWorker: max(1, (size + workers - 1) / workers)
        }
    }
}

/// `unlocked contention` as typed. `plan` decides what it means.
public struct ContentionRequest: Sendable {
    /// 3 repetitions per cell instead of repeating for precision.
    public var quick = false
    /// Element counts to use instead of the talk's and the large one (tests, exploration).
    public var sizes: String?
    public var seed = RunRequest.defaultSeed

    public init() {}

    /// The engines the map compares, the chunk sizes and the worker counts
    /// (1, the allowed CPUs, 2× and 4× them) at the talk's 100,000 elements
    /// and the large size. By default each cell repeats until its median is
    /// within ±5% at 95% confidence, 75 s for the whole sweep at most; with
    /// `quick`, 3 repetitions each.
    public func plan(allowedCPUs: Int, lastLevelCache: Int = lastLevelCacheBytes) throws(UnlockedError) -> ContentionPlan {
        let sizes = try sizes.map { text throws(UnlockedError) in try parseSizeList(text) }
            ?? [100_000, ContentionPlan.largeSize(exceeding: 4 * lastLevelCache)]
        let repetitions: RepetitionPolicy = quick ? .count(3)
            : .precision(PrecisionTarget(relativeHalfWidth: 0.05, minimumReps: 6, budgetSeconds: 75))
        return ContentionPlan(sizes: sizes, allowedCPUs: allowedCPUs, repetitions: repetitions, seed: seed)
    }
}

/// The cells of the lock-based against lock-free map: every engine ×
/// chunk size × worker count × size, each once (a chunk that coincides with
/// another of its row is measured once and stands in both columns).
public struct ContentionPlan: Sendable {
    public static let engines = [EngineKind.gil, .lockedPool, .lockfreePool, .tasks, .openmp].map(\.rawValue)
    public static let chunks: [ContentionChunk] = [.elements(1 << 10), .elements(16 << 10), .elements(256 << 10), .perWorker]
    public static let pin = "compact", mem = "first-touch"

    public var sizes: [Int]
    /// 1, the allowed CPUs, 2× and 4× them, each once.
    public var workerCounts: [Int]
    public var allowedCPUs: Int
    public var sweep: SweepPlan

    public init(sizes: [Int], allowedCPUs: Int, repetitions: RepetitionPolicy, seed: UInt64) {
        self.sizes = sizes
        self.allowedCPUs = allowedCPUs
        var counts: [Int] = []
        for count in [1, allowedCPUs, 2 * allowedCPUs, 4 * allowedCPUs] where !counts.contains(count) { counts.append(count) }
        workerCounts = counts
        var cells: [BenchCell] = []
        var seen = Set<BenchCell>()
        for size in sizes {
            for engine in Self.engines {
                for workers in counts {
                    for chunk in Self.chunks {
                        let cell = Self.cell(engine: engine, size: size, workers: workers, chunk: chunk, allowedCPUs: allowedCPUs)
                        if seen.insert(cell).inserted { cells.append(cell) }
                    }
                }
            }
        }
        // Steady state only: jobs back to back in 1 ms batches, no wake-up or start-up samples.
        sweep = SweepPlan(cells: cells, warmup: 1, repetitions: repetitions,
                          visits: VisitPolicy(batchNanoseconds: 1e6, idleNanoseconds: 0, startupSamples: 0),
                          seed: seed, center: "50")
    }

    public static func cell(engine: String, size: Int, workers: Int, chunk: ContentionChunk, allowedCPUs: Int) -> BenchCell {
        BenchCell(engine: engine, kernel: "absdist.sum", dtype: .i32, size: size, workers: workers, pin: pin, mem: mem,
                  chunk: chunk.elements(size: size, workers: workers), oversubscribe: workers > allowedCPUs)
    }

    /// The smallest whole number of Mi int32 elements whose bytes exceed
    /// `bytes` (4× the last-level cache: no cache holds it), at most 1 GiB.
    public static func largeSize(exceeding bytes: Int) -> Int {
        let mebi = 1 << 20
        let elements = (bytes / DType.i32.byteWidth / mebi + 1) * mebi
        return min(elements, (1 << 30) / DType.i32.byteWidth)
    }
}

/// One regime of the map: a size, a worker count and a chunk size, with
/// every engine's cell there.
public struct ContentionRegime: Sendable {
    public var size: Int
    public var workers: Int
    public var chunk: ContentionChunk
    /// The elements per chunk the cells asked for.
    public var chunkElements: Int
    /// By engine name, in `ContentionPlan.engines` order.
    public var results: [(engine: String, result: CellResult)]

    /// Engines with a median, fastest first.
    public var ranking: [(engine: String, median: Double)] {
        results.compactMap { entry in entry.result.statistics.map { (entry.engine, $0.median) } }.sorted { $0.median < $1.median }
    }

    public var winner: String? { ranking.first?.engine }

    /// The runner-up's median over the winner's: how much faster the winner is.
    public var margin: Double? {
        let ranking = ranking
        guard ranking.count >= 2, ranking[0].median > 0 else { return nil }
        return ranking[1].median / ranking[0].median
    }

    public func median(_ engine: EngineKind) -> Double? {
        results.first { $0.engine == engine.rawValue }?.result.statistics?.median
    }

    /// `lockfree-pool`'s median over `locked-pool`'s: below 1 the lock-free pool is faster.
    public var lockFreeOverLocked: Double? {
        guard let lockFree = median(.lockfreePool), let locked = median(.lockedPool), locked > 0 else { return nil }
        return lockFree / locked
    }
}

/// The measured map: the plan and, per regime, every engine's result.
public struct ContentionMap: Sendable {
    public var plan: ContentionPlan
    public var regimes: [ContentionRegime]

    /// Groups `results` (of `plan.sweep.cells`, in any order) into regimes,
    /// size by size, workers, then chunk.
    public init(plan: ContentionPlan, results: [CellResult]) {
        self.plan = plan
        let byCell = Dictionary(results.map { ($0.cell, $0) }, uniquingKeysWith: { first, _ in first })
        var regimes: [ContentionRegime] = []
        for size in plan.sizes {
            for workers in plan.workerCounts {
                for chunk in ContentionPlan.chunks {
                    let entries = ContentionPlan.engines.compactMap { engine -> (engine: String, result: CellResult)? in
                        let cell = ContentionPlan.cell(engine: engine, size: size, workers: workers, chunk: chunk, allowedCPUs: plan.allowedCPUs)
                        return byCell[cell].map { (engine, $0) }
                    }
                    regimes.append(ContentionRegime(size: size, workers: workers, chunk: chunk,
                                                    chunkElements: chunk.elements(size: size, workers: workers), results: entries))
                }
            }
        }
        self.regimes = regimes
    }

    /// Runs the plan's sweep and maps its results.
    @available(*, noasync, message: "blocks while the sweep runs")
    public static func measure(_ plan: ContentionPlan, runner: any CellRunner = defaultCellRunner(),
                               progress: @escaping (SweepProgress) -> Void = { _ in }) throws(UnlockedError) -> ContentionMap {
        let results = try BenchSweep(plan: plan.sweep, runner: runner).run(progress: progress)
        return ContentionMap(plan: plan, results: results)
    }
}
#endif
