#if os(Linux)
import Foundation
import UnlockedTopology

extension RankLayout {
    /// `topo --ranks-per-node`: per rank its NUMA nodes and cpuset, then per worker the
    /// PU, core and NUMA node, and the launcher options that give this layout.
    public var text: String {
        var lines = ["ranks       \(ranks.count) per node on \(topology.source), spread over NUMA nodes in order (--map-by ppr:K/numa-count:numa)"]
        for rank in ranks {
            let nodes = rank.numaNodes.isEmpty ? "no NUMA information" : "NUMA node\(rank.numaNodes.count == 1 ? "" : "s") " + CPUList.format(rank.numaNodes)
            lines.append("rank \(rank.index)".padding(toLength: 12, withPad: " ", startingAt: 0)
                + "\(nodes), CPUs \(CPUList.format(rank.cpus)) (\(rank.cores) core\(rank.cores == 1 ? "" : "s")), "
                + "\(rank.plan.workers.count) worker\(rank.plan.workers.count == 1 ? "" : "s") \(rank.plan.policy)")
            for worker in rank.plan.workers {
                lines.append("  worker \(worker.index)".padding(toLength: 12, withPad: " ", startingAt: 0)
                    + "PU P#\(worker.osPU.map(String.init) ?? "-")"
                    + (worker.core.map { "  core L#\($0)" } ?? "") + (worker.numaNode.map { "  NUMA node P#\($0)" } ?? ""))
            }
        }
        if let options = launcherOptions {
            lines.append("mpirun      \(options.mpirun)")
            lines.append("srun        \(options.srun)")
        } else {
            lines.append("launchers   no single ppr/PE option gives these cpusets (the shares differ in size or overlap)")
        }
        lines += warnings.map { "warning     \($0)" }
        return lines.joined(separator: "\n")
    }

    public var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "ranks_per_node": ranks.count,
            "topology": topology.source.description,
            "ranks": ranks.map { rank -> [String: Any] in
                [
                    "local_rank": rank.index, "numa_nodes": rank.numaNodes, "cpus": CPUList.format(rank.cpus), "cores": rank.cores,
                    "policy": rank.plan.policy,
                    "workers": rank.plan.workers.map { worker -> [String: Any] in
                        var row: [String: Any] = ["worker": worker.index]
                        row["os_pu"] = worker.osPU
                        row["core_logical"] = worker.core
                        row["numa_node"] = worker.numaNode
                        return row
                    },
                ]
            },
            "warnings": warnings,
        ]
        if let options = launcherOptions { object["launcher_options"] = ["mpirun": options.mpirun, "srun": options.srun] }
        return object
    }
}
#endif
