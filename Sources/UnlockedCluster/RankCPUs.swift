#if os(Linux)
import Unlocked

/// The CPUs a rank plans its workers on: the cpuset its launcher gave it, never widened,
/// and when several ranks on a node got the same cpuset (the launcher did not bind
/// them: `mpirun` beyond two ranks, `--bind-to none`, srun without `--cpu-bind`), only
/// its share of it, so no two ranks' workers share a core.
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

    /// Gathers every rank's host and cpuset and decides this rank's share; every rank
    /// calls it at the same point.
    static func decide(_ job: ClusterJob) throws(UnlockedError) -> RankCPUs {
        let topology = try job.step { () throws(UnlockedError) in try Topology.load() }
        let launcher = topology.allowedPUs
        let all = try job.allGather("\(job.host)\n\(CPUList.format(launcher))")
        let same = all.indices.filter { all[$0] == all[job.rank] }
        guard same.count > 1 else {
            return RankCPUs(launcher: launcher, share: launcher, splitIndex: nil, splitCount: nil, oversubscribed: false)
        }
        let index = same.firstIndex(of: job.rank)!
        let (share, oversubscribed) = topology.share(ArrayPart(index: index, of: same.count))
        return RankCPUs(launcher: launcher, share: share, splitIndex: index, splitCount: same.count, oversubscribed: oversubscribed)
    }
}
#endif
