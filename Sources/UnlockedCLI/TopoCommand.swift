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
}

extension TopoCommand {
    func run() throws {
        try reportingErrors {
            try ISA.initializeDispatch()
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
