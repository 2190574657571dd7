import ArgumentParser
import Unlocked

struct TopoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topo",
        abstract: "Show the topology, the allowed CPUs and, with --workers or --pin, the placement plan (nothing runs)."
    )

    @OptionGroup var placement: PlacementOptions

    @Option(help: "Also run the plan here: bind each worker, let it first-touch its chunk of a buffer of this size (64Mi, 1Gi), and report observed CPUs and where the pages are.")
    var verify: String?

    @Flag(help: "Print one JSON object instead of the tree.")
    var json = false

    @Option(help: "Plan K MPI ranks per node instead: each rank's cpuset (ranks spread over NUMA nodes as --map-by ppr:K/numa-count:numa) and its --workers inside it. Nothing runs.")
    var ranksPerNode: Int?
}

extension TopoCommand {
    func run() throws {
        try reportingErrors {
            try ISA.initializeDispatch()
            if let ranksPerNode { return try printRankLayout(ranksPerNode) }
            let resolved = try placement.resolve()
            let showPlan = placement.workers != nil || placement.pin != nil || verify != nil
            let verification = try verify.map { size throws(UnlockedError) in
                guard let bytes = parseCount(size) else {
                    throw UnlockedError.usage("--verify \(size): not a positive byte count (accepted: 4096, 64Mi, 1Gi)")
                }
                return try resolved.verify(byteCount: bytes)
            }
            if json {
                var object: [String: Any] = ["topology": resolved.topology.jsonObject, "context": resolved.context.jsonObject]
                if showPlan { object["plan"] = resolved.planJSON }
                object["verify"] = verification?.jsonObject
                print(jsonString(object))
                return
            }
            print(resolved.topology.treeText)
            print("")
            print(resolved.context.lines.joined(separator: "\n"))
            if showPlan {
                print("")
                print(resolved.plan.text)
            }
            if let verification {
                print("")
                print(verification.text)
            }
        }
    }
}

extension TopoCommand {
    /// `--ranks-per-node K`: the rank × worker plan of one node, for a job script.
    func printRankLayout(_ ranksPerNode: Int) throws(UnlockedError) {
        if verify != nil { throw .usage("--verify: runs one process's plan here; it does not apply to --ranks-per-node") }
        let request = try placement.request()
        let layout = try RankLayout(topology: try Topology.load(request.topology), ranksPerNode: ranksPerNode,
                                    workers: request.workers, policy: request.pin)
        print(json ? jsonString(layout.jsonObject) : layout.text)
    }
}
