#if os(Linux)
import Foundation
import Unlocked
import UnlockedMPI

/// How a sweep across ranks grows the problem with the rank count.
public enum Scaling: String, Sendable, CaseIterable {
    /// The cell's size is the global element count, split across the ranks.
    case strong
    /// The cell's size is each rank's element count; the global count grows with the ranks.
    case weak
}

/// `unlocked bench` as typed, for every rank.
public struct ClusterBenchInputs {
    public var request: BenchRequest
    public var scaling: Scaling
    /// Rank counts to measure, as typed (`1,2,4`, `1..max`, `max`); nil: 1, 2, 4, … and
    /// the job's rank count.
    public var ranks: String?
    public var catalog: () throws(UnlockedError) -> KernelCatalog

    public init(request: BenchRequest, scaling: Scaling, ranks: String?,
                catalog: @escaping () throws(UnlockedError) -> KernelCatalog) {
        self.request = request
        self.scaling = scaling
        self.ranks = ranks
        self.catalog = catalog
    }
}

extension ClusterJob {
    /// Sweeps the cells of `inputs` once per rank count: every rank runs the same cells
    /// in the same order, each repetition behind a barrier, ranks beyond the count
    /// taking part in the barriers and reductions only. Returns the report on rank 0,
    /// nil elsewhere. A cell that fails on any rank fails on all and the sweep carries
    /// on; any other failure ends every rank with one line.
    @available(*, noasync, message: "blocks until every rank finishes")
    public func bench(_ inputs: () throws(UnlockedError) -> ClusterBenchInputs) -> ClusterBenchReport? {
        run { job throws(UnlockedError) in try job.benchRanks(try job.step(inputs)) }
    }

    private func benchRanks(_ inputs: ClusterBenchInputs) throws(UnlockedError) -> ClusterBenchReport? {
        var request = inputs.request
        try requireSameCommand([request.engines ?? "-", request.kernels, request.dtypes, request.sizes, request.workers,
                                request.pins, request.mems, String(request.warmup), request.reps.map { String($0) } ?? "-",
                                request.minTime.map { String($0) } ?? "-", String(request.seed), request.center,
                                inputs.scaling.rawValue, inputs.ranks ?? "-"])
        let cpus = try RankCPUs.decide(self)
        // `--workers max` is the smallest share, so every rank plans the same cells.
        let smallestShare = try allGather(Int64(cpus.share.count)).min()!
        let base = EngineCellRunner(allowedCPUs: cpus.share)
        let (catalog, plan, rankCounts) = try step { () throws(UnlockedError) in
            let catalog = try inputs.catalog()
            let threadEngines = base.engineNames.filter { EngineKind(rawValue: $0).map { !isProcessEngine($0) } ?? true }
            for name in (request.engines ?? "").split(separator: ",") {
                if let kind = EngineKind(rawValue: String(name)) { try refuseProcessEngines(kind) }
            }
            request.engines = request.engines ?? threadEngines.joined(separator: ",")
            var context = RunContext.current()
            context.allowedCPUCount = Int(smallestShare)
            context.allowedCPUs = CPUList.format(cpus.share)
            let plan = try request.plan(context: context, catalog: catalog, runner: base)
            // Every rank must end every cell after the same repetition: counts and times the
            // ranks share decide that; a wall-clock budget of each rank's own would not.
            if case .precision = plan.repetitions {
                throw .usage("a time budget per sweep is not run across ranks: each rank would end cells at its own repetition")
            }
            let powers = sequence(first: 1) { $0 * 2 }.prefix { $0 < size }.map(String.init) + ["max"]
            let rankCounts = try parseCountList(inputs.ranks ?? powers.joined(separator: ","), maximum: size, option: "--ranks",
                                                noun: "rank", limit: "ranks of this job")
            if inputs.scaling == .strong, let smallest = plan.cells.map(\.size).min(), smallest < rankCounts.max()! {
                throw .usage("--sizes: \(smallest) elements cannot be split over \(rankCounts.max()!) ranks (strong scaling needs at least one per rank)")
            }
            return (catalog, plan, rankCounts)
        }
        // The cells and which of them this rank's plugins can run decide every collective
        // of the sweep: they must be the same on every rank.
        let cellKeys = plan.cells.map { cell in
            cell.key + ((try? catalog.kernel(named: cell.kernel, dtype: cell.dtype)) == nil ? "|missing" : "")
        }
        try requireSameCommand(cellKeys)

        var runs: [ClusterBenchReport.Run] = []
        for count in rankCounts {
            let runner = RankCellRunner(job: self, base: base, active: count, scaling: inputs.scaling, warmup: plan.warmup)
            let results = try BenchSweep(plan: plan, catalog: catalog, runner: runner).run()
            runs.append(ClusterBenchReport.Run(ranks: count, results: results, computeByRank: runner.computeByRank,
                                               reduction: runner.reduction))
        }
        let hosts = try gather("\(host)\n\(localRank)\n\(CPUList.format(cpus.launcher))\n\(CPUList.format(cpus.share))")
        guard let hosts else { return nil }
        return ClusterBenchReport(
            context: RunContext.current(), plan: plan, scaling: inputs.scaling, runs: runs, launch: launch, threadLevel: threadLevel,
            ranks: hosts.enumerated().map { rank, text in
                let fields = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                return ClusterBenchReport.Rank(rank: rank, host: fields[0], localRank: Int(fields[1]) ?? 0,
                                               launcherCPUs: fields[2], plannedCPUs: fields[3])
            })
    }
}

func isProcessEngine(_ kind: EngineKind) -> Bool { kind == .processesShm || kind == .processesPipe }

/// Runs cells as one of the job's ranks: this rank's block of each cell's elements, each
/// repetition behind a barrier and reduced across ranks, the job's time (the slowest
/// rank's, reduction included) as the sample. Ranks from `active` on hold no elements
/// and only take part in the collectives. Used by the sweep's thread, the one that joined.
final class RankCellRunner: CellRunner {
    let job: ClusterJob
    let base: EngineCellRunner
    let active: Int
    let scaling: Scaling
    let warmup: Int
    /// Per cell, each timed repetition's kernel time on every rank, and its reduction's
    /// cost (the last rank's wait for the job's value).
    private(set) var computeByRank: [BenchCell: [[Double]]] = [:]
    private(set) var reduction: [BenchCell: [Double]] = [:]

    init(job: ClusterJob, base: EngineCellRunner, active: Int, scaling: Scaling, warmup: Int) {
        self.job = job
        self.base = base
        self.active = active
        self.scaling = scaling
        self.warmup = warmup
    }

    var engineNames: [String] { base.engineNames }

    func ceilingEngine(workers: Int) -> String { base.ceilingEngine(workers: workers) }

    func elements(ofCellSize size: Int) -> Range<Int> {
        guard job.rank < active else { return 0..<0 }
        switch scaling {
        case .strong: return ArrayPart(index: job.rank, of: active).range(of: size)
        case .weak: return job.rank * size..<(job.rank + 1) * size
        }
    }

    func fillInput(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator,
                   mem: String, pin: String, workers: Int) throws(UnlockedError) {
        guard count > 0 else { return }
        try base.fillInput(buffer, dtype: dtype, count: count, generator: generator, mem: mem, pin: pin, workers: workers)
    }

    /// Prepares this rank's part and agrees on it: a cell that cannot run on one rank
    /// fails on every rank, with that rank's reason.
    func prepare(_ cell: BenchCell, kernel: Kernel, data: CellData) throws(UnlockedError) -> any PreparedCell {
        let local = Result { () throws(UnlockedError) -> (any PreparedCell)? in
            data.count == 0 ? nil : try base.prepare(cell, kernel: kernel, data: data)
        }
        if case .failure(let error) = local { try job.agree(error) } else { try job.agree() }
        return RankPreparedCell(runner: self, cell: cell, local: try local.get())
    }

    func record(_ cell: BenchCell, computeTimes: [Double], reduction cost: Double) {
        computeByRank[cell, default: []].append(computeTimes)
        reduction[cell, default: []].append(cost)
    }
}

/// One cell on one rank: `local` is nil when this rank holds none of its elements.
/// Used by the sweep's thread.
final class RankPreparedCell: PreparedCell {
    let runner: RankCellRunner
    let cell: BenchCell
    let local: (any PreparedCell)?
    private var runs = 0

    init(runner: RankCellRunner, cell: BenchCell, local: (any PreparedCell)?) {
        self.runner = runner
        self.cell = cell
        self.local = local
    }

    var startupNanoseconds: Double? { local?.startupNanoseconds }
    var placement: String { local?.placement ?? "no elements on rank \(runner.job.rank)" }

    // Neither calls MPI, so ranks may differ in them; but a sample that fails on one rank
    // must not fail the cell there alone (the others would wait in its collectives).
    func sampleStartup() throws(UnlockedError) -> Double? { (try? local?.sampleStartup()) ?? nil }
    func handBack() { local?.handBack() }

    func runOnce() throws(UnlockedError) -> CellSample {
        let local = self.local
        let (sample, repetition) = try runner.job.repetition { () throws(UnlockedError) -> CellSample? in try local?.runOnce() }
        // Every rank takes the slowest rank's time, so all decide alike when a cell has run
        // long enough; and the smallest wait for the value, the last rank's (as −max(−wait)).
        let maxima = try runner.job.maximum([sample.wallNanoseconds, -repetition.reduce])
        if runs >= runner.warmup { runner.record(cell, computeTimes: repetition.computeByRank, reduction: -maxima[1]) }
        runs += 1
        return CellSample(wallNanoseconds: maxima[0], startupNanoseconds: sample.startupNanoseconds,
                          bytesExchanged: sample.bytesExchanged, value: sample.value)
    }
}

/// What `unlocked bench` prints under MPI, built on rank 0.
public struct ClusterBenchReport {
    public struct Run {
        /// Ranks that held elements.
        public var ranks: Int
        public var results: [CellResult]
        /// Per cell, each timed repetition's kernel time on every rank of the job, and the
        /// reduction's cost (the last rank's wait for the job's value).
        public var computeByRank: [BenchCell: [[Double]]]
        public var reduction: [BenchCell: [Double]]
    }

    public struct Rank {
        public var rank: Int
        public var host: String
        public var localRank: Int
        public var launcherCPUs: String
        public var plannedCPUs: String
    }

    public var context: RunContext
    public var plan: SweepPlan
    public var scaling: Scaling
    public var runs: [Run]
    public var launch: MPILaunch
    public var threadLevel: MPIThreadLevel
    public var ranks: [Rank]
}
#endif
