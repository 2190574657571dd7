import ArgumentParser
import Unlocked

struct TopoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topo",
        abstract: "Show the topology, the allowed CPUs and, with --workers or --pin, the placement plan (nothing runs)."
    )

    @OptionGroup var placement: PlacementOptions

    @Flag(help: "Print one JSON object instead of the tree.")
    var json = false
}

extension TopoCommand {
    func run() throws {
        try reportingErrors {
            try ISA.initializeDispatch()
            let resolved = try placement.resolve()
            let showPlan = placement.workers != nil || placement.pin != nil
            if json {
                var object: [String: Any] = ["topology": resolved.topology.jsonObject, "context": resolved.context.jsonObject]
                if showPlan { object["plan"] = resolved.planJSON }
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
        }
    }
}
