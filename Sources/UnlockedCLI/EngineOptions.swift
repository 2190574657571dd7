import ArgumentParser
import Unlocked

/// Options that choose how the work is run in parallel.
struct EngineOptions: ParsableArguments {
    @Option(help: "Engine: \(EngineKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var engine: EngineKind = .auto

    @Option(help: "Elements per chunk, e.g. 16Ki (default: chosen from the size and workers).")
    var chunk: String?

    @Option(help: "Threads started per job by the spawn engine (the seed's 100 threads).")
    var blocks = 100

    @Flag(help: "Measure the round trip of empty jobs (no elements) through the engine instead of running the kernel.")
    var roundTrip = false

    /// The engine configuration for workers bound by `placement`
    /// (`PlacementOptions`, which owns `--workers`), or a usage error naming the flag.
    func configuration(placement: PlacementPlan) throws(UnlockedError) -> EngineConfiguration {
        var chunkSize: Int?
        if let chunk {
            guard let parsed = parseCount(chunk) else {
                throw .usage("--chunk \(chunk): not a positive element count (accepted: 4096, 16Ki, 1e5)")
            }
            chunkSize = parsed
        }
        let configuration = EngineConfiguration(kind: engine, placement: placement, chunk: chunkSize, blocks: blocks)
        try configuration.validate()
        return configuration
    }
}

extension EngineKind: ExpressibleByArgument {}
