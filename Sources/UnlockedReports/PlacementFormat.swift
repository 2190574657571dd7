#if os(Linux)
import Foundation
import UnlockedCore
import UnlockedTopology

// Text and JSON for the placement layer's plain values: formatting lives above
// the values it formats.

extension MemoryOutcome {
    public var jsonObject: [String: Any] {
        var object: [String: Any] = ["requested": requested, "applied": applied]
        object["note"] = note
        object["advice"] = advice
        return object
    }
}

extension MemoryOutcome {
    /// One report line: `memory      interleave: NOT applied (why)`.
    public var line: String {
        "memory      \(requested): \(applied ? "applied" : "NOT applied")" + (note.map { " (\($0))" } ?? "")
    }
}

extension PageLocationReport {
    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "page_size": pageSize, "total_pages": totalPages, "not_present": notPresent, "unknown": unknown,
            "pages_per_node": Dictionary(uniqueKeysWithValues: pagesPerNode.map { ("\($0.key)", $0.value) }),
            "share_per_node": Dictionary(uniqueKeysWithValues: pagesPerNode.keys.map { ("\($0)", share(ofNode: $0)) }),
        ]
        object["error"] = error
        return object
    }
}

extension PageLocationReport {
    /// One line: `node 0: 100.0%` per node, plus untouched pages.
    public var summary: String {
        if let error { return "page locations unknown: \(error)" }
        var parts = pagesPerNode.keys.sorted().map { node in
            "node \(node): \(String(format: "%.1f", 100 * share(ofNode: node)))%"
        }
        if notPresent > 0 { parts.append("not touched: \(notPresent) pages") }
        if unknown > 0 { parts.append("unknown: \(unknown) pages") }
        return parts.joined(separator: ", ") + " of \(totalPages) pages"
    }
}

extension PlacementContext {
    /// Human lines for reports.
    public var lines: [String] {
        var lines = [
            "topology    \(topology)",
            "allowed     CPUs \(allowedCPUs) (OS numbers) of \(machineCPUs), \(allowedCores) core\(allowedCores == 1 ? "" : "s")"
                + (alreadyBound ? "; already bound by a parent or cgroup" : ""),
            "NUMA        " + (hasNUMAInformation ? "\(numaNodes) nodes"
                : "one node: no NUMA information, memory placement has no effect here"),
            "SIMD        \(simd)",
        ]
        if let affinity { lines.append("affinity    \(affinity)") }
        if let cgroupCPUQuota { lines.append("cgroup      CPU quota \(String(format: "%.2f", cgroupCPUQuota)) CPUs") }
        if let cgroupCpuset { lines.append("cgroup      cpuset \(cgroupCpuset)") }
        for key in environment.keys.sorted() { lines.append("env         \(key)=\(environment[key]!)") }
        return lines
    }
}

extension PlacementContext {
    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "topology": topology, "is_this_machine": isThisMachine,
            "allowed_cpus": allowedCPUs, "machine_cpus": machineCPUs, "already_bound": alreadyBound,
            "allowed_cores": allowedCores, "numa_nodes": numaNodes, "has_numa_information": hasNUMAInformation,
            "environment": environment, "simd": simd,
        ]
        object["affinity"] = affinity
        object["cgroup_cpu_quota"] = cgroupCPUQuota
        object["cgroup_cpuset"] = cgroupCpuset
        return object
    }
}

extension PlacementVerification {
    public var jsonObject: [String: Any] {
        [
            "bytes": byteCount,
            "workers": plan.rows(observations: observations),
            "memory": memory.map(\.jsonObject),
            "pages": pages.jsonObject,
        ]
    }
}

extension PlacementVerification {
    public var text: String {
        var lines = ["verify      \(binaryBytes(byteCount)) buffer, \(observations.count) worker\(observations.count == 1 ? "" : "s"), \(landed) on their planned CPU"]
        lines += plan.lines(observations: observations)
        lines += memory.map(\.line)
        lines.append("pages       \(pages.summary)")
        return lines.joined(separator: "\n")
    }
}

extension PlacementPlan {
    /// The same as text lines: `worker 0    planned PU P#0  core L#0  NUMA node P#0  observed CPU 0  ok`.
    public func lines(observations: [BindingObservation]) -> [String] {
        observations.map { observation in
            let planned = workers.indices.contains(observation.worker) ? workers[observation.worker] : nil
            let pu = observation.plannedPU.map { "PU P#\($0)" } ?? "unbound"
            let core = planned?.core.map { "  core L#\($0)" } ?? ""
            let node = planned?.numaNode.map { "  NUMA node P#\($0)" } ?? ""
            let state = observation.warning
                ?? (observation.bound ? (observation.observedCPU == observation.plannedPU ? "ok" : "MOVED") : "not bound")
            return "worker \(observation.worker)".padding(toLength: 12, withPad: " ", startingAt: 0)
                + "planned \(pu)\(core)\(node)  observed CPU \(observation.observedCPU)  \(state)"
        }
    }
}

extension PlacementPlan {
    /// Per worker, what a run's report lists: planned PU (OS), core
    /// (logical), NUMA node (OS), observed CPU, whether it was bound, and any
    /// binding warning. `observations` come from `bindCurrentThread`.
    public func rows(observations: [BindingObservation]) -> [[String: Any]] {
        observations.map { observation in
            var row: [String: Any] = ["worker": observation.worker, "observed_cpu": observation.observedCPU, "bound": observation.bound]
            let planned = workers.indices.contains(observation.worker) ? workers[observation.worker] : nil
            row["planned_pu"] = observation.plannedPU
            row["core_logical"] = planned?.core
            row["numa_node"] = planned?.numaNode
            row["warning"] = observation.warning
            return row
        }
    }
}
#endif
