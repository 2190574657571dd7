import ArgumentParser
import Foundation
import Unlocked

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Sweep engines × kernels × types × sizes × workers × chunks × placements, with statistics per cell.",
        discussion: """
        Repetitions of cells over the same data are interleaved round-robin, so drift hits them alike. \
        Each cell reports median, min, max, p5/p95 (type-7 quantiles) and the spread MAD/median; \
        cells whose spread exceeds 5% are flagged NOISY. A cell that cannot run is reported as failed \
        and the sweep carries on. With --compare A.json B.json, compares two earlier --json runs instead.
        """
    )

    @Option(help: "Engines, comma-separated (default: every engine this build runs).")
    var engines: String?

    @Option(name: .customLong("kernel"), help: "Kernels, comma-separated.")
    var kernels = "absdist.sum"

    @Option(name: .customLong("dtype"), help: "Element types, comma-separated: i32, i64, f32, f64.")
    var dtypes = "i32"

    @Option(help: "Element counts, comma-separated: 1e5,64Mi,1Gi.")
    var sizes = "100000"

    @Option(help: ArgumentHelp("Worker counts: 1,2,4 or 1..max or max (sequential always runs on 1).", discussion: """
        max is the allowed CPUs; Kx is K times them, so 1..4x runs every count up to four times the CPUs \
        and 1,max,2x,4x just those. Counts above max share CPUs: give them with x or add --oversubscribe.
        """))
    var workers = "1..max"

    @Flag(help: "Accept worker counts above the allowed CPUs written as plain numbers (workers share CPUs).")
    var oversubscribe = false

    @Option(help: ArgumentHelp("Elements per chunk, comma-separated: 1Ki,16Ki,256Ki,auto (auto: the engine's own choice).", discussion: """
        sequential and spawn take no chunk size: they run once, as auto, whatever the list.
        """))
    var chunk = "auto"

    @Option(help: "Pinning policies, comma-separated (applied by the engine).")
    var pin = "compact"

    @Option(help: "Memory policies, comma-separated (applied by the engine).")
    var mem = "first-touch"

    @Option(help: "Untimed warm-up repetitions per cell.")
    var warmup = 1

    @Option(help: "Timed repetitions per cell (default 10 unless --min-time is given).")
    var reps: Int?

    @Option(name: .customLong("min-time"), help: "Instead of --reps: repeat each cell until its timed repetitions add up to this many seconds (5 to 1000 reps).")
    var minTime: Double?

    @OptionGroup var data: DataSeedOptions

    @OptionGroup var hugePages: HugePagesOption

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Compare two --json reports cell by cell (ratio of medians, Mann-Whitney U).", valueName: "A.json B.json"))
    var compare: [String] = []

    @OptionGroup var output: OutputOptions

    @OptionGroup var plugins: PluginOptions

    @OptionGroup var ranks: RankSweepOptions
}

extension BenchCommand {
    func run() throws {
        if let launch = try mpiLaunch() { return try benchAcrossRanks(launch) }
        try reportingErrors {
            try ranks.requireLauncher()
            if !compare.isEmpty { return try printComparison() }
            try ISA.initializeDispatch()
            try stopCleanlyOnSignals()
            let context = RunContext.current()
            let runner = defaultCellRunner()
            let catalog = try plugins.catalog()
            let plan = try benchRequest.plan(context: context, catalog: catalog, runner: runner)
            let progress = TerminalProgress(label: "bench")
            let results = try BenchSweep(plan: plan, catalog: catalog, runner: runner).run(progress: progress.update)
            progress.finish()
            let report = BenchReport(context: context, plan: plan, results: results)
            try output.writePlot(BenchPlot(results: results).svg)
            switch output.format {
            case .table: print(report.text)
            case .markdown: print(report.markdown)
            case .csv: print(report.csv, terminator: "")
            case .json: print(jsonString(report.jsonObject))
            }
        }
    }

    /// The sweep the options describe.
    var benchRequest: BenchRequest {
        var request = BenchRequest()
        request.engines = engines
        request.kernels = kernels
        request.dtypes = dtypes
        request.sizes = sizes
        request.workers = workers
        request.oversubscribe = oversubscribe
        request.chunks = chunk
        request.pins = pin
        request.mems = mem
        request.warmup = warmup
        request.reps = reps
        request.minTime = minTime
        request.seed = data.seed ?? RunRequest.defaultSeed
        request.center = data.center
        request.hugePages = hugePages.text
        request.withBandwidthCeiling = output.plot != nil
        return request
    }

    func printComparison() throws(UnlockedError) {
        guard compare.count == 2 else {
            throw .usage("--compare \(compare.joined(separator: " ")): needs exactly two files, the baseline then the candidate")
        }
        let comparison = try BenchComparison(baselinePath: compare[0], candidatePath: compare[1])
        switch output.format {
        case .table: print(comparison.text)
        case .markdown: print(comparison.table.markdown)
        case .csv: print(comparison.csv, terminator: "")
        case .json: print(jsonString(comparison.jsonObject))
        }
    }
}
