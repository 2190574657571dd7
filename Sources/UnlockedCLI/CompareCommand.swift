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

    @OptionGroup var hugePages: HugePagesOption

    @Option(name: .customLong("min-time"), help: "Seconds of timed repetitions every cell gets, even once precise.")
    var minTime = 0.0

    @Option(name: .customLong("max-time"), help: "Seconds the whole run may take; medians not yet within ±3% by then are marked.")
    var maxTime = 30.0

    @Flag(help: "Every column on one line per engine, verdict last (for wide terminals and grep).")
    var wide = false

    @OptionGroup var output: OutputOptions
}

extension CompareCommand {
    func run() throws {
        try reportingErrors {
            try ISA.initializeDispatch()
            try stopCleanlyOnSignals()
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
            var plan = SeedTablePlan(
                workload: SeedWorkload(largeSize: large),
                engines: try parseNameList(engines ?? runner.engineNames.joined(separator: ","), option: "--engines",
                                           accepted: EngineProfile.all.map(\.name)),
                workers: count, pin: pin, mem: mem, runner: runner)
            plan.hugePages = try hugePages.mode()
            let target = PrecisionTarget(minimumSeconds: minTime, budgetSeconds: maxTime)
            let sweepPlan = plan.sweepPlan(target)
            let progress = TerminalProgress(label: "measuring")
            let results = try BenchSweep(plan: sweepPlan, runner: runner).run(progress: progress.update)
            progress.finish()
            let table = SeedTable(plan: plan, results: results, target: target.relativeHalfWidth)
            let report = BenchReport(context: context, plan: sweepPlan, results: results)
            try output.writePlot(SeedTablePlot(table: table).svg)
            let cacheWarning = large * DType.i32.byteWidth < 4 * context.lastLevelCacheBytes
                ? "note: the large size is under 4× the last-level cache, so it measures cache, not memory bandwidth." : nil
            switch output.format {
            case .table:
                let layout = wide ? SeedTableLayout.wide : .fitting(terminalColumns: terminalColumns())
                let width = if case .width(let width) = layout { width } else { Int.max }
                let heading = "\(context.cpuModel), \(context.topologySummary); allowed CPUs \(context.allowedCPUs); ISA \(context.isa.rawValue)"
                print(wrapped(heading, width: width, indent: 2) + "\n")
                print(table.text(layout: layout))
                print("\n" + wrapped(report.hugePageSummary, width: width))
                if let cacheWarning { print("\n" + wrapped(cacheWarning, width: width)) }
            case .markdown: print(table.markdown + (cacheWarning.map { "\n\n" + $0 } ?? ""))
            case .csv: print(table.csv, terminator: "")
            case .json:
                var object = report.jsonObject
                object["seed_table"] = table.rowsJSON
                print(jsonString(object))
            }
        }
    }
}
