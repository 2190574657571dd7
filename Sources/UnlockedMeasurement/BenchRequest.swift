import UnlockedCore
import UnlockedKernels
import UnlockedTopology

/// `unlocked bench` as typed: comma lists and counts. `plan` decides what
/// they mean, so the CLI only parses and prints.
public struct BenchRequest: Sendable {
    /// nil: every engine the runner has.
    public var engines: String?
    public var kernels = "absdist.sum"
    public var dtypes = "i32"
    public var sizes = "100000"
    public var workers = "1..max"
    /// Counts above the allowed CPUs in `workers` without the `Kx` form.
    public var oversubscribe = false
    /// `--chunk`: element counts and `auto`.
    public var chunks = "auto"
    public var pins = "compact"
    public var mems = "first-touch"
    public var warmup = 1
    /// nil: 10, unless `minTime` is given.
    public var reps: Int?
    public var minTime: Double?
    public var seed = RunRequest.defaultSeed
    public var center = "50"
    /// `--huge-pages` as typed.
    public var hugePages = "auto"
    /// Also measure `stream.sum`, the bandwidth ceiling a throughput chart draws.
    public var withBandwidthCeiling = false

    public init() {}

    /// The cells and repetitions, every list checked against what is accepted.
    public func plan(context: RunContext, catalog: KernelCatalog, runner: any CellRunner) throws(UnlockedError) -> SweepPlan {
        var kernelNames = try parseNameList(kernels, option: "--kernel", accepted: catalog.acceptedKernelNames)
        if withBandwidthCeiling && !kernelNames.contains("stream.sum") { kernelNames.append("stream.sum") }
        let cells = SweepPlan.cells(
            engines: try parseNameList(engines ?? runner.engineNames.joined(separator: ","), option: "--engines",
                                       accepted: EngineProfile.all.map(\.name)),
            kernels: kernelNames,
            dtypes: try parseNameList(dtypes, option: "--dtype", accepted: DType.allCases.map(\.rawValue)).map { DType(rawValue: $0)! },
            sizes: try parseSizeList(sizes),
            workers: try parseWorkerList(workers, maximum: context.allowedCPUCount, oversubscribe: oversubscribe),
            pins: pins.split(separator: ",").map(String.init), mems: mems.split(separator: ",").map(String.init),
            chunks: try parseChunkList(chunks), allowedCPUs: context.allowedCPUCount)
        let repetitions: RepetitionPolicy
        switch (reps, minTime) {
        case (.some, .some): throw .usage("--reps and --min-time: give one or the other")
        case (_, .some(let seconds)): repetitions = .minTime(seconds: seconds)
        case (let count, nil): repetitions = .count(count ?? 10)
        }
        let plan = SweepPlan(cells: cells, warmup: warmup, repetitions: repetitions, seed: seed, center: center,
                             hugePages: try HugePageMode(parsing: hugePages))
        try BenchSweep(plan: plan, catalog: catalog, runner: runner).validate()
        return plan
    }
}
