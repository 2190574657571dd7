import ArgumentParser
import Glibc
import Unlocked

/// Options that choose how the work is run in parallel.
struct EngineOptions: ParsableArguments {
    @Option(help: "Engine: \(EngineKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var engine: EngineKind = .auto

    @Option(help: "Workers (default: every online CPU).")
    var workers: Int?

    @Option(help: "Elements per chunk, e.g. 16Ki (default: chosen from the size and workers).")
    var chunk: String?

    @Option(help: "Threads started per job by the spawn engine (the seed's 100 threads).")
    var blocks = 100

    @Flag(help: "Measure the round trip of empty jobs (no elements) through the engine instead of running the kernel.")
    var roundTrip = false

    /// The engine configuration, or a usage error naming the flag.
    ///
    /// Until the placement options are merged, workers are bound compactly:
    /// worker i to online CPU i mod n.
    func configuration() throws(UnlockedError) -> EngineConfiguration {
        let online = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let count = workers ?? online
        guard count >= 1 else { throw .usage("--workers \(count): must be at least 1") }
        var chunkSize: Int?
        if let chunk {
            guard let parsed = parseCount(chunk) else {
                throw .usage("--chunk \(chunk): not a positive element count (accepted: 4096, 16Ki, 1e5)")
            }
            chunkSize = parsed
        }
        let plan = PlacementPlan(workers: (0..<count).map { PlacementPlan.Worker(index: $0, osPU: $0 % online) })
        let configuration = EngineConfiguration(kind: engine, placement: plan, chunk: chunkSize, blocks: blocks)
        try configuration.validate()
        return configuration
    }
}

extension EngineKind: ExpressibleByArgument {}
