import ArgumentParser
import Unlocked

struct ContentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contention",
        abstract: "Map where lock-based and lock-free execution win: engines × chunk sizes × workers (up to 4× the CPUs) × two sizes.",
        discussion: """
        Engines gil, locked-pool, lockfree-pool, tasks and openmp; chunks of 1Ki, 16Ki and 256Ki elements and one per worker; \
        1 worker, the allowed CPUs, 2× and 4× them; the talk's 100,000 elements and the smallest size over 4× the last-level \
        cache (at most 1 GiB). Prints per regime the fastest engine and by how much, the lock-free pool's time over the locked \
        pool's, and both pools' counters. By default each cell repeats until its median is within ±5% (75 s in all at most); \
        --quick runs 3 repetitions per cell.
        """
    )

    @Flag(help: "3 repetitions per cell instead of repeating each until it is precise: well under 30 s instead of up to 2 minutes.")
    var quick = false

    @Option(help: "Element counts to map instead of 100000 and the large size (comma-separated).")
    var sizes: String?

    @Option(help: "Seed of the reproducible input (default \(RunRequest.defaultSeed)).")
    var seed: UInt64?

    @OptionGroup var output: OutputOptions
}

extension ContentionCommand {
    func run() throws {
        try reportingErrors {
            try ISA.initializeDispatch()
            try stopCleanlyOnSignals()
            let context = RunContext.current()
            var request = ContentionRequest()
            request.quick = quick
            request.sizes = sizes
            if let seed { request.seed = seed }
            let plan = try request.plan(allowedCPUs: context.allowedCPUCount)
            let progress = TerminalProgress(label: "contention")
            let map = try ContentionMap.measure(plan, progress: progress.update)
            progress.finish()
            try output.writePlot(ContentionPlot(map: map).svg)
            let report = ContentionReport(context: context, map: map)
            switch output.format {
            case .table: print(report.text)
            case .markdown: print(report.table.markdown)
            case .csv: print(report.csv, terminator: "")
            case .json: print(jsonString(report.jsonObject))
            }
        }
    }
}
