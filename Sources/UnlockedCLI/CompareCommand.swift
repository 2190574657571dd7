import ArgumentParser
import Unlocked

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "The talk's table, measured here: every engine on the talk's 100,000 ints and on one large size.",
        discussion: """
        Each engine runs absdist.sum over int32 uniform in [0, 100) with centre 50, at 100,000 elements \
        and at the large size: the smaller of 1 GiB and an eighth of the memory this process may use \
        (MemAvailable or its cgroup's limit), at least 4× the last-level cache. The bandwidth ceiling \
        is stream.sum over the same bytes with the same workers, measured in the same run.
        """
    )

    @Option(help: "Engines, comma-separated (default: every engine this build runs).")
    var engines: String?

    @Option(help: "Workers of every engine but sequential (default: all allowed CPUs, capped by a cgroup CPU quota).")
    var workers: Int?

    @Option(name: .customLong("size-large"), help: "Elements of the large size instead of the default (tests use a small one).")
    var sizeLarge: String?

    @Option(help: "Pinning policy (applied by the engine).")
    var pin = "compact"

    @Option(help: "Memory policy (applied by the engine).")
    var mem = "first-touch"

    @Option(name: .customLong("min-time"), help: "Seconds of timed repetitions per cell (5 to 1000 reps).")
    var minTime = 0.25

    @OptionGroup var output: OutputOptions
}

extension CompareCommand {
    func run() throws {
        try reportingErrors {
            try ISA.initializeDispatch()
            let context = RunContext.current()
            let runner = defaultCellRunner()
            let large = try sizeLarge.map { text throws(UnlockedError) in
                guard let count = parseCount(text) else {
                    throw .usage("--size-large \(text): not a positive element count (accepted: 1e6, 64Mi, 1Gi)")
                }
                return count
            } ?? SeedWorkload.largeBytes(memoryBudget: context.memoryBudget.bytes,
                                         lastLevelCache: context.lastLevelCacheBytes) / DType.i32.byteWidth
            let count = workers ?? context.defaultWorkerCount
            guard (1...context.allowedCPUCount).contains(count) else {
                throw UnlockedError.usage("--workers \(count): accepted 1...\(context.allowedCPUCount) (the allowed CPUs)")
            }
            let plan = SeedTablePlan(
                workload: SeedWorkload(largeSize: large),
                engines: try parseNameList(engines ?? runner.engineNames.joined(separator: ","), option: "--engines",
                                           accepted: EngineProfile.all.map(\.name)),
                workers: count, pin: pin, mem: mem, runner: runner)
            let sweepPlan = SweepPlan(cells: plan.cells, warmup: 1, repetitions: .minTime(seconds: minTime),
                                      seed: plan.workload.seed, center: plan.workload.center)
            let progress = TerminalProgress(label: "measuring")
            let results = try BenchSweep(plan: sweepPlan, runner: runner).run(progress: progress.update)
            progress.finish()
            let table = SeedTable(plan: plan, results: results)
            let report = BenchReport(context: context, plan: sweepPlan, results: results)
            try output.writePlot(BenchPlot(results: results).svg)
            let cacheWarning = large * DType.i32.byteWidth < 4 * context.lastLevelCacheBytes
                ? "\nnote: the large size is under 4× the last-level cache, so it measures cache, not memory bandwidth." : ""
            switch output.format {
            case .table:
                print("\(context.cpuModel), \(context.topologySummary); allowed CPUs \(context.allowedCPUs); ISA \(context.isa.rawValue)")
                print(table.table.text)
                print(table.legend + cacheWarning)
            case .markdown: print(table.table.markdown + "\n\n" + table.legend + cacheWarning)
            case .csv: print(table.csv, terminator: "")
            case .json:
                var object = report.jsonObject
                object["seed_table"] = table.rowsJSON
                print(jsonString(object))
            }
        }
    }
}
