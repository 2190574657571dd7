#if os(Linux)
import UnlockedCore

extension Topology {
    /// The allowed CPUs of share `part.index` when `part.count` processes (MPI ranks on
    /// one node, started without binding) split this topology's allowed cores: whole
    /// cores, in contiguous blocks as even as possible, each with its allowed PUs.
    ///
    /// With more processes than cores each still gets one core, and processes whose
    /// index maps to the same core share it: `oversubscribed` is then true. Pure, so a
    /// plan for another node's XML is the plan its ranks will make.
    public func share(_ part: ArrayPart) -> (cpus: [Int], oversubscribed: Bool) {
        let cores = allowedCores
        guard !cores.isEmpty else { return ([], false) }
        var range = part.range(of: cores.count)
        if range.isEmpty { range = range.lowerBound..<range.lowerBound + 1 }
        return (cores[range].flatMap { $0.pus.map(\.osIndex) }, part.count > cores.count)
    }
}

/// A job's ranks on one node, planned without running anything: `K` ranks spread over
/// the node's NUMA nodes as `mpirun --map-by ppr:K/numa-count:numa` places them (with
/// fewer ranks than NUMA nodes, each rank spans neighbouring nodes), each rank given its
/// NUMA node's cores split evenly, and `workers` workers per rank planned inside that
/// share by a pinning policy. What `unlocked topo --ranks-per-node K` prints.
///
/// A value: any thread may read it.
public struct RankLayout: Sendable {
    public struct Rank: Sendable {
        /// The rank's index on the node (its local rank).
        public var index: Int
        /// OS numbers of the NUMA nodes its share lies on.
        public var numaNodes: [Int]
        /// OS numbers of the PUs it may use: the cpuset a launcher should bind it to.
        public var cpus: [Int]
        /// Whole cores in `cpus`.
        public var cores: Int
        /// Its workers inside `cpus`.
        public var plan: PlacementPlan
    }

    public var topology: Topology
    public var ranks: [Rank]
    /// Things a job script's author must know: oversubscription, unused cores.
    public var warnings: [String]

    /// Plans `ranksPerNode` ranks of `workers` workers each (default: one per core of
    /// the rank's share) on `topology` with `policy`. Fewer ranks than cores' worth of
    /// shares, or more workers than a share has PUs, plan anyway and say so in `warnings`.
    public init(topology: Topology, ranksPerNode: Int, workers: Int?, policy: PinPolicy) throws(UnlockedError) {
        guard ranksPerNode >= 1 else { throw .usage("--ranks-per-node \(ranksPerNode): must be a whole number ≥ 1") }
        let cores = topology.allowedCores
        guard !cores.isEmpty else { throw .usage("no allowed CPU in the topology \(topology.source)") }
        // NUMA nodes that hold allowed cores, in the topology's order; one domain without NUMA information.
        var domains: [(node: Int?, pus: [Int])] = []
        for core in cores {
            let node = core.pus[0].numaNode
            if let index = domains.firstIndex(where: { $0.node == node }) {
                domains[index].pus += core.pus.map(\.osIndex)
            } else {
                domains.append((node, core.pus.map(\.osIndex)))
            }
        }
        var ranks: [Rank] = []
        var warnings: [String] = []
        for rank in 0..<ranksPerNode {
            // Ranks fill NUMA nodes in order (ppr:K/N:numa); fewer ranks than nodes span several.
            let spanned: Range<Int>, position: ArrayPart
            if ranksPerNode >= domains.count {
                let node = (0..<domains.count).first { ArrayPart(index: $0, of: domains.count).range(of: ranksPerNode).contains(rank) }!
                let onNode = ArrayPart(index: node, of: domains.count).range(of: ranksPerNode)
                (spanned, position) = (node..<node + 1, ArrayPart(index: rank - onNode.lowerBound, of: onNode.count))
            } else {
                (spanned, position) = (ArrayPart(index: rank, of: ranksPerNode).range(of: domains.count), .whole)
            }
            let domainTopology = try topology.restricted(to: spanned.flatMap { domains[$0].pus })
            let (cpus, _) = domainTopology.share(position)
            let share = try topology.restricted(to: cpus)
            let plan = try PlacementPlan(policy: policy, workers: workers, topology: share, oversubscribe: true)
            warnings += plan.warnings.map { "rank \(rank): \($0)" }
            ranks.append(Rank(index: rank, numaNodes: spanned.compactMap { domains[$0].node }, cpus: cpus,
                              cores: share.allowedCores.count, plan: plan))
        }
        for rank in ranks {
            let others = ranks.filter { $0.index != rank.index && !Set($0.cpus).isDisjoint(with: rank.cpus) }.map(\.index)
            if !others.isEmpty {
                warnings.append("oversubscribed: rank \(rank.index) shares CPUs with rank\(others.count == 1 ? "" : "s") "
                    + "\(others.map(String.init).joined(separator: ", ")): more ranks than cores")
            }
        }
        let used = Set(ranks.flatMap(\.plan.workers).compactMap(\.core))
        let idle = cores.filter { !used.contains($0.core) }.flatMap { $0.pus.map(\.osIndex) }
        if !idle.isEmpty { warnings.append("cores of CPUs \(CPUList.format(idle)) run no worker") }
        self.topology = topology
        self.ranks = ranks
        self.warnings = warnings
    }

    /// The launcher options that give each rank this layout's cpuset, when one exists:
    /// shares of one size that do not overlap, and as many ranks on every NUMA node
    /// (or, with fewer ranks than NUMA nodes, K ranks per node).
    public var launcherOptions: (mpirun: String, srun: String)? {
        let sizes = Set(ranks.map { [$0.cpus.count, $0.cores] })
        let perNode = Dictionary(grouping: ranks, by: \.numaNodes).mapValues(\.count)
        let used = Set(ranks.flatMap(\.cpus))
        guard sizes.count == 1, let size = sizes.first, Set(perNode.values).count == 1, used.count == ranks.count * size[0] else {
            return nil
        }
        let map = ranks.allSatisfy({ $0.numaNodes.count <= 1 }) ? "ppr:\(perNode.values.first!):numa" : "ppr:\(ranks.count):node"
        // mpirun counts PE in cores (with --bind-to core), srun counts CPUs (hardware threads).
        return (mpirun: "mpirun --map-by \(map):PE=\(size[1]) --bind-to core",
                srun: "srun --ntasks-per-node=\(ranks.count) --cpus-per-task=\(size[0]) --cpu-bind=cores")
    }
}
#endif
