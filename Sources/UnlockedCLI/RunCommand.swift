import ArgumentParser
import Unlocked

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one kernel over generated or .npy data through one engine, and report time, throughput and placement."
    )

    @OptionGroup var workload: WorkloadOptions
    @OptionGroup var data: DataOptions

    @OptionGroup var plugins: PluginOptions

    @OptionGroup var engine: EngineOptions

    @OptionGroup var placement: PlacementOptions

    @Option(help: "Timed repetitions (the median is reported).")
    var reps = 5

    @Option(help: "Untimed warm-up repetitions.")
    var warmup = 1

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false
}

extension RunCommand {
    func run() throws {
        try reportingErrors {
            guard reps > 0 else { throw UnlockedError.usage("--reps \(reps): must be a whole number ≥ 1") }
            guard warmup >= 0 else { throw UnlockedError.usage("--warmup \(warmup): must be a whole number ≥ 0") }
            try ISA.initializeDispatch()
            try stopOnInterrupt()
            let placement = try placement.resolve()
            try placement.requireThisMachine(for: "run")
            let configuration = try engine.configuration(placement: placement.plan)
            if engine.roundTrip {
                let jobs = reps * 2_000
                let summary = try measureEmptyJobRoundTrip(configuration, jobs: jobs)
                print(json ? jsonString(["engine": configuration.kind.rawValue, "workers": configuration.workers, "jobs": jobs,
                                         "round_trip_median_ns": summary.median, "round_trip_min_ns": summary.min,
                                         "round_trip_mad_ns": summary.mad])
                           : "empty-job round trip through \(configuration.kind.rawValue), \(configuration.workers) workers: "
                             + "median \(formatSeconds(summary.median * 1e-9)), min \(formatSeconds(summary.min * 1e-9)), "
                             + "MAD \(formatSeconds(summary.mad * 1e-9)) (\(jobs) jobs)")
                return
            }
            let catalog = try plugins.catalog()
            if var fileRun = try data.fileRun(workload: workload, catalog: catalog, warmup: warmup, reps: reps) {
                // Real data goes through the same engine and placement as generated data.
                fileRun.engine = configuration.kind.rawValue
                fileRun.workers = configuration.workers
                fileRun.pin = self.placement.pin ?? "compact"
                fileRun.mem = self.placement.mem
                return try data.printRun(fileRun, json: json)
            }
            let kernel = try catalog.kernel(named: workload.kernel, dtype: workload.dtype)
            let spec = RunSpec(kernel: kernel, count: try workload.count(),
                               params: try workload.dtype.parseCenter(workload.center),
                               seed: workload.seed, warmup: warmup, reps: reps)
            let report = try runBenchmark(spec, engine: configuration, placement: placement)
            print(json ? jsonString(report.jsonObject) : report.text)
        }
    }
}
