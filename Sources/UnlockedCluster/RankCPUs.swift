#if os(Linux)
import Unlocked

/// The CPUs a rank plans its workers on: the cpuset its launcher gave it, never widened,
/// and when several ranks on a node got the same cpuset (the launcher did not bind
/// them: `mpirun` beyond two ranks, `--bind-to none`, srun without `--cpu-bind`), only
/// its share of it, so no two ranks' workers share a core. Inside an srun step, the
/// share is also capped at the CPUs SLURM gave the task (`SRUN_CPUS_PER_TASK`, else
/// `SLURM_CPUS_PER_TASK`), for nodes whose cpuset is wider than the allocation.
public struct RankCPUs: Sendable, Codable, Equatable {
    /// OS CPUs the process may use as launched (affinity mask and cgroup cpuset).
    public var launcher: [Int]
    /// OS CPUs this rank plans on: `launcher`, or its share of it.
    public var share: [Int]
    /// This rank's index among the ranks of its node that were launched with the same
    /// cpuset, and their count; nil when no other rank had it.
    public var splitIndex: Int?
    public var splitCount: Int?
    /// More ranks split the cpuset than it has cores: some share a core.
    public var oversubscribed: Bool
    /// The variable that capped the share (`SLURM_CPUS_PER_TASK=2`), when one did.
    public var cappedBy: String?

    /// Gathers every rank's host and cpuset and decides this rank's share; every rank
    /// calls it at the same point.
    static func decide(_ job: ClusterJob) throws(UnlockedError) -> RankCPUs {
        let topology = try job.step { () throws(UnlockedError) in try Topology.load() }
        let launcher = topology.allowedPUs
        let all = try job.allGather("\(job.host)\n\(CPUList.format(launcher))")
        let same = all.indices.filter { all[$0] == all[job.rank] }
        var cpus = RankCPUs(launcher: launcher, share: launcher, splitIndex: nil, splitCount: nil, oversubscribed: false)
        if same.count > 1 {
            let index = same.firstIndex(of: job.rank)!
            (cpus.share, cpus.oversubscribed) = topology.share(ArrayPart(index: index, of: same.count))
            (cpus.splitIndex, cpus.splitCount) = (index, same.count)
        }
        if let (name, limit) = slurmCPUsPerTask(job.launch.variables), cpus.share.count > limit {
            cpus.share = Array(cpus.share.prefix(limit))
            cpus.cappedBy = "\(name)=\(limit)"
        }
        return cpus
    }

    /// The CPUs SLURM gave each task of this step, when this process is one.
    static func slurmCPUsPerTask(_ variables: [String: String]) -> (String, Int)? {
        guard variables["SLURM_STEP_ID"] != nil else { return nil }
        for name in ["SRUN_CPUS_PER_TASK", "SLURM_CPUS_PER_TASK"] {
            if let value = variables[name].flatMap({ Int($0) }), value >= 1 { return (name, value) }
        }
        return nil
    }
}
#endif
