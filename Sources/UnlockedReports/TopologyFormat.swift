import Foundation
import UnlockedTopology

extension Topology {
    /// The compact tree `unlocked topo` prints: per core its PUs, NUMA
    /// memory, cache sizes. `P#` is the OS number, `L#` hwloc's logical index.
    public var treeText: String {
        var lines: [String] = []
        render(root, depth: 0, prefix: [], into: &lines)
        return lines.joined(separator: "\n")
    }

    /// The tree and PU list for `--json`.
    public var jsonObject: [String: Any] {
        func object(_ node: Object) -> [String: Any] {
            var result: [String: Any] = ["type": node.type, "logical_index": node.logicalIndex]
            result["os_index"] = node.osIndex
            result["cache_bytes"] = node.cacheBytes
            result["memory_bytes"] = node.memoryBytes
            result["allowed"] = node.allowed
            if !node.children.isEmpty { result["children"] = node.children.map(object) }
            return result
        }
        return [
            "source": source.description,
            "is_this_machine": isThisMachine,
            "tree": object(root),
            "pus": pus.map { pu -> [String: Any] in
                var row: [String: Any] = ["os_index": pu.osIndex, "logical_index": pu.logicalIndex,
                                          "core_logical": pu.core, "package_logical": pu.package, "allowed": pu.allowed]
                row["numa_node"] = pu.numaNode
                return row
            },
            "numa_nodes": numaNodes.map { ["os_index": $0.osIndex, "memory_bytes": $0.memoryBytes, "cpus": CPUList.format($0.pus)] },
            "allowed_cpus": CPUList.format(allowedPUs),
            "allowed_cores": allowedCores.count,
        ]
    }

    private func label(_ object: Object) -> String {
        switch object.type {
        case "Machine":
            let memory = numaNodes.reduce(0) { $0 + $1.memoryBytes }
            return "Machine (\(binaryBytes(memory)), \(numaNodes.count) NUMA node\(numaNodes.count == 1 ? "" : "s"))"
        case "NUMANode":
            let cpus = numaNodes.first { $0.osIndex == object.osIndex }.map { " CPUs \(CPUList.format($0.pus))" } ?? ""
            return "NUMANode P#\(object.osIndex.map(String.init) ?? "?") (\(binaryBytes(object.memoryBytes ?? 0)))\(cpus)"
        case "PU":
            return "PU P#\(object.osIndex.map(String.init) ?? "?") L#\(object.logicalIndex)" + (object.allowed == false ? " (not allowed)" : "")
        default:
            if let bytes = object.cacheBytes { return "\(object.type) \(binaryBytes(bytes))" }
            return "\(object.type) L#\(object.logicalIndex)"
        }
    }

    /// Chains of single children (L2 + L1d + Core) share one line; a core's
    /// PUs go on its line.
    private func render(_ object: Object, depth: Int, prefix: [String], into lines: inout [String]) {
        let indent = String(repeating: "  ", count: depth)
        let chain = prefix + [label(object)]
        if object.type == "Core" || (object.type != "PU" && object.children.allSatisfy { $0.type == "PU" } && !object.children.isEmpty) {
            let pus = object.children.map(label).joined(separator: ", ")
            lines.append(indent + chain.joined(separator: " + ") + ": " + pus)
            return
        }
        if object.children.count == 1, object.cacheBytes != nil || object.type == "Core" {
            render(object.children[0], depth: depth, prefix: chain, into: &lines)
            return
        }
        lines.append(indent + chain.joined(separator: " + "))
        for child in object.children { render(child, depth: depth + 1, prefix: [], into: &lines) }
    }
}

extension PlacementPlan {
    /// One line per worker: worker → PU (OS), core (logical), NUMA node (OS).
    public var text: String {
        var lines = ["plan        --pin \(policy), \(workers.count) worker\(workers.count == 1 ? "" : "s")"]
        if let bindingSkipped { lines.append("note        \(bindingSkipped)") }
        for warning in warnings { lines.append("warning     \(warning)") }
        for worker in workers {
            let pu = worker.osPU.map { "PU P#\($0)" } ?? "unbound"
            let core = worker.core.map { "  core L#\($0)" } ?? ""
            let node = worker.numaNode.map { "  NUMA node P#\($0)" } ?? ""
            lines.append("worker \(worker.index)".padding(toLength: 12, withPad: " ", startingAt: 0) + "→ \(pu)\(core)\(node)")
        }
        return lines.joined(separator: "\n")
    }
}

/// Cache and memory sizes in binary units (`32 MiB`, `48 KiB`), as hardware
/// and lstopo give them; `formatBytes` is decimal, meant for throughput.
package func binaryBytes(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
    return value.rounded() == value ? "\(Int(value)) \(units[unit])" : "\(String(format: "%.1f", value)) \(units[unit])"
}
