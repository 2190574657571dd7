import UnlockedCore
extension PlacementPlan {
    /// The most workers any engine runs.
    public static let maximumWorkers = 4096

    /// Plans `workers` workers (default: one per allowed core, or per PU the
    /// policy names) on `topology` with `policy`. Pure: the same inputs give
    /// the same plan on any machine, which is what makes plans of a cluster
    /// node's XML checkable on a laptop.
    ///
    /// More workers than the policy's PUs is a usage error unless
    /// `oversubscribe`, which wraps around and records a warning. On a
    /// topology that is not this machine's, binding is skipped and the plan
    /// says so in `bindingSkipped`.
    public init(policy: PinPolicy, workers requested: Int? = nil, topology: Topology,
                oversubscribe: Bool = false, bestEffort: Bool = false, cpuQuota: Double? = nil) throws(UnlockedError) {
        // Checked before anything is sized by it: 2^32 workers would allocate a plan of 240 GB.
        if let requested, !(1...Self.maximumWorkers).contains(requested) {
            throw .usage("--workers \(requested): must be a whole number in 1...\(Self.maximumWorkers)")
        }
        if policy == .none {
            self = .unbound(requested ?? topology.defaultWorkerCount(cpuQuota: cpuQuota))
            self.bestEffort = bestEffort
            return
        }
        let sequence = try topology.puSequence(for: policy)
        let count = requested ?? {
            switch policy {
            case .compact, .spread: topology.defaultWorkerCount(cpuQuota: cpuQuota)
            case .numa: Set(sequence.map(\.core)).count
            default: sequence.count
            }
        }()
        var warnings: [String] = []
        if count > sequence.count {
            let what = "--workers \(count) is more than the \(sequence.count) CPUs --pin \(policy) allows (\(CPUList.format(sequence.map(\.osIndex))))"
            guard oversubscribe else { throw .usage("\(what); add --oversubscribe to share CPUs") }
            warnings.append("oversubscribed: \(what); workers share CPUs and timings suffer")
        }
        let planned = (0..<count).map { index in
            let pu = sequence[index % sequence.count]
            return Worker(index: index, osPU: pu.osIndex, core: pu.core, numaNode: pu.numaNode)
        }
        self.init(workers: planned, bestEffort: bestEffort, policy: policy.description,
                  bindingSkipped: topology.isThisMachine ? nil : "binding skipped: the topology is \(topology.source), not this machine",
                  warnings: warnings)
    }
}

extension Topology {
    /// The default worker count: one per allowed core, capped by a cgroup CPU
    /// quota (rounded up) when one applies; never the host's CPU count.
    public func defaultWorkerCount(cpuQuota: Double? = nil) -> Int {
        Self.workers(max(allowedCores.count, 1), cappedBy: cpuQuota)
    }

    /// `cpus` workers, at most the CPU quota rounded up (0.5 → 1, 1.5 → 2).
    public static func workers(_ cpus: Int, cappedBy cpuQuota: Double?) -> Int {
        guard let cpuQuota, cpuQuota > 0 else { return cpus }
        return min(cpus, max(Int(cpuQuota.rounded(.up)), 1))
    }

    /// Allowed PUs in compact order: the first PU of every core, then the
    /// second of every core, and so on.
    package func compactOrder(_ cores: [(core: Int, pus: [PU])]) -> [PU] {
        let depth = cores.map(\.pus.count).max() ?? 0
        return (0..<depth).flatMap { level in cores.compactMap { $0.pus.count > level ? $0.pus[level] : nil } }
    }

    /// The PUs a policy hands to workers 0, 1, 2…, all allowed.
    package func puSequence(for policy: PinPolicy) throws(UnlockedError) -> [PU] {
        let cores = allowedCores
        guard !cores.isEmpty else { throw .usage("no allowed CPU in the topology \(source)") }
        let nodes = numaNodes.map(\.osIndex)
        switch policy {
        case .none, .compact:
            return compactOrder(cores)
        case .spread:
            return spreadOrder(cores)
        case .numa(let node):
            guard nodes.contains(node) else {
                throw .usage("--pin numa:\(node): no NUMA node \(node) (this topology has nodes \(CPUList.format(nodes)))")
            }
            let inside = cores.filter { $0.pus.first?.numaNode == node }
            guard !inside.isEmpty else { throw .usage("--pin numa:\(node): no allowed CPU on NUMA node \(node) (allowed CPUs: \(CPUList.format(allowedPUs)))") }
            return compactOrder(inside)
        case .cpus(let list):
            let byOS = Dictionary(pus.map { ($0.osIndex, $0) }, uniquingKeysWith: { first, _ in first })
            return try list.map { cpu throws(UnlockedError) in
                guard let pu = byOS[cpu] else {
                    throw .usage("--pin: CPU \(cpu) does not exist in this topology (OS CPUs \(CPUList.format(byOS.keys)))")
                }
                guard pu.allowed else {
                    throw .usage("--pin: CPU \(cpu) is outside the allowed set \(CPUList.format(allowedPUs)) (affinity mask or cgroup cpuset)")
                }
                return pu
            }
        case .domains(let selections):
            var seen = Set<Int>()
            var sequence: [PU] = []
            for selection in selections {
                let domainCores: [(core: Int, pus: [PU])]
                switch selection.domain {
                case .machine:
                    domainCores = cores
                case .package(let k):
                    let packages = Set(pus.map(\.package))
                    guard packages.contains(k) else { throw .usage("--pin \(selection): no package \(k) (this topology has packages \(CPUList.format(packages)))") }
                    domainCores = cores.filter { $0.pus.first?.package == k }
                case .numaNode(let k):
                    guard nodes.contains(k) else { throw .usage("--pin \(selection): no NUMA node \(k) (this topology has nodes \(CPUList.format(nodes)))") }
                    domainCores = cores.filter { $0.pus.first?.numaNode == k }
                }
                let domain = compactOrder(domainCores)
                for index in selection.indices {
                    guard index < domain.count else {
                        throw .usage("--pin \(selection): index \(index) is outside the domain, which has \(domain.count) allowed CPUs (indices 0-\(domain.count - 1))")
                    }
                    guard seen.insert(domain[index].osIndex).inserted else {
                        throw .usage("--pin \(policy): CPU \(domain[index].osIndex) is selected twice")
                    }
                    sequence.append(domain[index])
                }
            }
            return sequence
        }
    }

    /// Spread: NUMA nodes take turns first, consecutive nodes on alternating
    /// packages so every socket's memory controllers work early; inside a
    /// node its packages take turns (one node may hold several packages);
    /// inside a package, cores in order; SMT siblings only after every core.
    /// Without NUMA information the packages take turns.
    package func spreadOrder(_ cores: [(core: Int, pus: [PU])]) -> [PU] {
        typealias Core = (core: Int, pus: [PU])
        // node → its packages → their cores, each in topology order.
        var nodes: [(node: Int?, packages: [(package: Int, cores: [Core])])] = []
        for core in cores {
            let first = core.pus[0]
            let n = nodes.firstIndex { $0.node == first.numaNode } ?? {
                nodes.append((first.numaNode, []))
                return nodes.count - 1
            }()
            if let p = nodes[n].packages.firstIndex(where: { $0.package == first.package }) {
                nodes[n].packages[p].cores.append(core)
            } else {
                nodes[n].packages.append((first.package, [core]))
            }
        }
        // A node's rank among the nodes of its (first) package, then that
        // package: n0 of package 0, n0 of package 1, n1 of package 0, …
        var nodesSeen: [Int: Int] = [:]
        let ranked = nodes.map { node -> (rank: Int, package: Int, cores: [Core]) in
            let package = node.packages[0].package
            let rank = nodesSeen[package, default: 0]
            nodesSeen[package] = rank + 1
            return (rank, package, Self.roundRobin(node.packages.map(\.cores)))
        }.sorted { ($0.rank, $0.package) < ($1.rank, $1.package) }
        let order = Self.roundRobin(ranked.map(\.cores))
        let depth = cores.map(\.pus.count).max() ?? 0
        return (0..<depth).flatMap { level in order.compactMap { level < $0.pus.count ? $0.pus[level] : nil } }
    }

    /// The first of every list, then the second of every list, and so on.
    private static func roundRobin<T>(_ lists: [[T]]) -> [T] {
        let width = lists.map(\.count).max() ?? 0
        return (0..<width).flatMap { slot in lists.compactMap { slot < $0.count ? $0[slot] : nil } }
    }
}
