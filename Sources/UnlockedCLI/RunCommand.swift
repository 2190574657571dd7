import ArgumentParser
import Unlocked

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one kernel over generated or .npy data through one engine, and report time, throughput and placement."
    )

    @OptionGroup var workload: WorkloadOptions

    @OptionGroup var plugins: PluginOptions

    @OptionGroup var engine: EngineOptions

    @OptionGroup var placement: PlacementOptions

    @Option(help: "Timed repetitions (the median is reported).")
    var reps = 5

    @Option(help: "Untimed warm-up repetitions.")
    var warmup = 1

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    @Flag(help: "Print CSV instead of the table: one line, or under MPI one line per rank.")
    var csv = false
}

extension RunCommand {
    func run() throws {
        if let launch = try mpiLaunch() { return try runAcrossRanks(launch) }
        try reportingErrors {
            try validateFormat()
            try ISA.initializeDispatch()
            try stopCleanlyOnSignals()
            let placement = try placement.resolve()
            try placement.requireThisMachine(for: "run")
            let configuration = try engine.configuration(placement: placement.plan)
            if engine.roundTrip {
                let report = try measureEmptyJobRoundTrip(configuration, reps: reps)
                return print(json ? jsonString(report.jsonObject) : report.text)
            }
            let request = RunRequest(kernel: workload.kernel, dtype: workload.dtype, size: workload.size,
                                     center: workload.data.center, seed: workload.data.seed,
                                     input: workload.input, output: workload.output, warmup: warmup, reps: reps)
            let report = try runBenchmark(try request.resolve(catalog: try plugins.catalog()), engine: configuration, placement: placement)
            print(json ? jsonString(report.jsonObject) : csv ? report.csv : report.text, terminator: csv ? "" : "\n")
        }
    }
}
