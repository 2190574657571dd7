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
}

/// Everything a sweep measures: the cells and how to repeat them.
public struct SweepPlan: Sendable {
    public var cells: [BenchCell]
    public var warmup: Int
    public var repetitions: RepetitionPolicy
    public var seed: UInt64
    /// The centre `c` as typed, parsed per element type.
    public var center: String

    public init(cells: [BenchCell], warmup: Int, repetitions: RepetitionPolicy, seed: UInt64, center: String) {
        self.cells = cells
        self.warmup = warmup
        self.repetitions = repetitions
        self.seed = seed
        self.center = center
    }

    /// Every combination, in the order the options list them, each once.
    /// `sequential` gets one worker whatever `workers` says.
    public static func cells(engines: [String], kernels: [String], dtypes: [DType], sizes: [Int], workers: [Int],
                             pins: [String], mems: [String]) -> [BenchCell] {
        var cells: [BenchCell] = []
        var seen = Set<BenchCell>()
        for size in sizes {
            for dtype in dtypes {
                for kernel in kernels {
                    for engine in engines {
                        // `sequential` is one worker by definition: measured once, not per count.
                        for count in engine == "sequential" ? [1] : workers {
                            for pin in pins {
                                for mem in mems {
                                    let cell = BenchCell(engine: engine, kernel: kernel, dtype: dtype, size: size,
                                                         workers: count, pin: pin, mem: mem)
                                    if seen.insert(cell).inserted { cells.append(cell) }
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
    /// Timed repetitions, in the order they ran (warm-up excluded).
    public var samples: [CellSample]
    public var startupNanoseconds: Double?
    public var placement: String?

    public var wallNanoseconds: [Double] { samples.map(\.wallNanoseconds) }
    public var statistics: SampleStatistics? { status == .ok ? SampleStatistics(wallNanoseconds) : nil }
    /// The result of the first repetition (all must agree, see `BenchSweep`).
    public var value: KernelValue? { samples.first?.value }

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

/// Progress of a sweep in repetitions: `done` of an estimated `planned`.
public struct SweepProgress: Sendable, Equatable {
    public var done: Int
    public var planned: Int
    public var fraction: Double { planned > 0 ? min(1, Double(done) / Double(planned)) : 0 }

    public init(done: Int, planned: Int) {
        self.done = done
        self.planned = planned
    }
}

/// Runs a plan and collects per-cell results.
///
/// Cells over the same data (element type, size and memory policy) are prepared together and
/// their repetitions interleaved round-robin — one repetition of each cell per
/// round — so drift (frequency, a neighbour's load, thermal) hits every cell
/// compared at that size alike. Groups of different sizes run one after the
/// other, so only one input array lives at a time; the runner fills it
/// (`CellRunner.fillInput`), so first-touch placement can follow the workers. A cell that fails to
/// prepare or to run is recorded with its reason and leaves the rotation; the
/// others carry on. Repetitions whose value differs from the first fail the cell.
///
/// Runs on the calling thread; `progress` is called on it after each repetition.
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
        for group in groups {
            for result in try runGroup(group, tracker: &tracker) { results[result.cell] = result }
        }
        return plan.cells.map { results[$0]! }
    }

    private func runGroup(_ group: [BenchCell], tracker: inout ProgressTracker) throws(UnlockedError) -> [CellResult] {
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

        // Worker processes map shared memory; every other engine reads it as well.
        let shared = group.contains { $0.engine == EngineKind.processesShm.rawValue }
        func buffer(width: Int) throws(UnlockedError) -> JobBuffer {
            shared ? try JobBuffer(sharedCount: count, width: width) : try JobBuffer(count: count, width: width)
        }
        let input = try buffer(width: dtype.byteWidth)
        let widest = group.max { $0.workers < $1.workers }!
        try runner.fillInput(input, dtype: dtype, count: count, generator: DataGenerator(seed: plan.seed),
                             mem: widest.mem, pin: widest.pin, workers: widest.workers)
        var outputs: [Int: JobBuffer] = [:]  // by output width
        let params = try dtype.parseCenter(plan.center)

        var prepared: [(any PreparedCell)?] = []
        for index in results.indices {
            guard let kernel = kernels[index] else { prepared.append(nil); continue }
            do throws(UnlockedError) {
                var output: JobBuffer?
                if let width = kernel.outputType?.byteWidth {
                    if outputs[width] == nil { outputs[width] = try buffer(width: width) }
                    output = outputs[width]
                }
                let data = CellData(input: input, output: output, count: count, params: params)
                let cell = try runner.prepare(group[index], kernel: kernel, data: data)
                results[index].startupNanoseconds = cell.startupNanoseconds
                results[index].placement = cell.placement
                prepared.append(cell)
            } catch {
                results[index].status = .failed(error.message)
                prepared.append(nil)
                tracker.finish(cell: index, of: group)
            }
        }

        // Round-robin: warm-up rounds, then timed rounds until every cell is done.
        var timedNanoseconds = [Double](repeating: 0, count: group.count)
        var round = 0
        while prepared.contains(where: { $0 != nil }) {
            for index in visitOrder(count: prepared.count, round: round) {
                guard let cell = prepared[index] else { continue }
                do throws(UnlockedError) {
                    let sample = try cell.runOnce()
                    if round >= plan.warmup {
                        if let first = results[index].samples.first?.value, first != sample.value {
                            throw .internal("repetition \(results[index].samples.count + 1) gave \(sample.value), the first gave \(first)")
                        }
                        results[index].samples.append(sample)
                        timedNanoseconds[index] += sample.wallNanoseconds
                    }
                    tracker.advance(cell: index, of: group, samples: results[index].samples)
                    if isComplete(reps: results[index].samples.count, timedNanoseconds: timedNanoseconds[index]) {
                        prepared[index] = nil
                        tracker.finish(cell: index, of: group)
                    }
                } catch {
                    results[index].status = .failed(error.message)
                    results[index].samples = []
                    prepared[index] = nil
                    tracker.finish(cell: index, of: group)
                }
            }
            round += 1
        }
        return results
    }

    private func isComplete(reps: Int, timedNanoseconds: Double) -> Bool {
        switch plan.repetitions {
        case .count(let target): reps >= target
        case .minTime(let seconds, let minimum, let maximum):
            reps >= maximum || (reps >= minimum && timedNanoseconds >= seconds * 1e9)
        }
    }
}

/// Counts repetitions done against an estimate that improves as samples arrive.
package struct ProgressTracker {
    package let plan: SweepPlan
    package let progress: (SweepProgress) -> Void
    /// Planned and done repetitions per cell key.
    package var planned: [BenchCell: Int] = [:]
    package var done: [BenchCell: Int] = [:]

    package init(plan: SweepPlan, progress: @escaping (SweepProgress) -> Void) {
        self.plan = plan
        self.progress = progress
        for cell in plan.cells { planned[cell] = plan.warmup + initialEstimate }
    }

    package var initialEstimate: Int {
        switch plan.repetitions {
        case .count(let reps): reps
        case .minTime(_, let minimum, _): minimum
        }
    }

    package mutating func advance(cell index: Int, of group: [BenchCell], samples: [CellSample]) {
        let cell = group[index]
        done[cell, default: 0] += 1
        if case .minTime(let seconds, let minimum, let maximum) = plan.repetitions, let last = samples.last {
            let estimate = Int((seconds * 1e9 / max(last.wallNanoseconds, 1)).rounded(.up))
            planned[cell] = plan.warmup + Swift.min(maximum, Swift.max(minimum, estimate))
        }
        report()
    }

    /// A cell left the rotation (done or failed): what it did is all it will do.
    package mutating func finish(cell index: Int, of group: [BenchCell]) {
        let cell = group[index]
        planned[cell] = done[cell, default: 0]
        report()
    }

    package func report() {
        progress(SweepProgress(done: done.values.reduce(0, +), planned: planned.values.reduce(0, +)))
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
