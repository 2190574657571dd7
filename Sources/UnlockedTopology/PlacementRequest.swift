#if os(Linux)
import Foundation
import UnlockedCore

/// Everything `--workers --pin --mem --topology --oversubscribe
/// --pin-best-effort --huge-pages` ask for, before it meets a topology.
/// A value: any thread may use it.
public struct PlacementRequest: Sendable, Equatable {
    public var workers: Int?
    public var pin: PinPolicy
    public var memory: MemoryPolicy
    public var topology: Topology.Source
    /// Restricts the usable PUs further (OS numbers), to plan as under a job allocation.
    public var allowed: [Int]?
    public var oversubscribe: Bool
    public var bestEffort: Bool
    public var hugePages: HugePageMode

    public init(workers: Int? = nil, pin: PinPolicy = .compact, memory: MemoryPolicy = .firstTouch,
                topology: Topology.Source = .host, allowed: [Int]? = nil,
                oversubscribe: Bool = false, bestEffort: Bool = false, hugePages: HugePageMode = .auto) {
        self.workers = workers
        self.pin = pin
        self.memory = memory
        self.topology = topology
        self.allowed = allowed
        self.oversubscribe = oversubscribe
        self.bestEffort = bestEffort
        self.hugePages = hugePages
    }

    /// Loads the topology, checks the memory policy's node, and plans.
    public func resolve() throws(UnlockedError) -> ResolvedPlacement {
        let topology = try Topology.load(self.topology, allowed: allowed)
        if case .node(let k) = memory, !topology.numaNodes.contains(where: { $0.osIndex == k }) {
            throw .usage("--mem node:\(k): no NUMA node \(k) (this topology has nodes \(CPUList.format(topology.numaNodes.map(\.osIndex))))")
        }
        let context = PlacementContext(topology: topology)
        let plan = try PlacementPlan(policy: pin, workers: workers, topology: topology, oversubscribe: oversubscribe,
                                     bestEffort: bestEffort, cpuQuota: context.cgroupCPUQuota)
        return ResolvedPlacement(topology: topology, plan: plan, memory: memory, hugePages: hugePages, context: context)
    }
}

/// A request met with its topology: what engines run with.
public struct ResolvedPlacement: Sendable {
    public var topology: Topology
    public var plan: PlacementPlan
    public var memory: MemoryPolicy
    public var hugePages: HugePageMode
    public var context: PlacementContext

    /// Refuses a plan for another machine where `command` would run workers:
    /// its CPU and node numbers mean nothing here.
    public func requireThisMachine(for command: String) throws(UnlockedError) {
        guard topology.isThisMachine else {
            throw .usage("--topology: \(command) runs on this machine, not on \(topology.source) (to plan for it: unlocked topo --topology ...)")
        }
    }

    /// Allocates a buffer placed as requested (see `place`).
    public func allocate(byteCount: Int) throws(UnlockedError) -> (buffer: AlignedBuffer, outcomes: [MemoryOutcome]) {
        let buffer = try AlignedBuffer(byteCount: byteCount)
        return (buffer, try place(buffer))
    }

    /// Carries out the huge-page mode, then the memory policy, on `buffer`
    /// before any page is touched. The outcomes say what was really applied,
    /// huge pages first; first-touch is left to the workers.
    public func place(_ buffer: some MappedMemory) throws(UnlockedError) -> [MemoryOutcome] {
        [buffer.applyHugePages(hugePages), try buffer.apply(memory, topology: topology)]
    }

    /// The plan as JSON rows: worker, planned PU (OS), core (logical), NUMA node (OS).
    public var planJSON: [String: Any] {
        var object: [String: Any] = [
            "policy": plan.policy,
            "memory": memory.description,
            "huge_pages": hugePages.description,
            "workers": plan.workers.map { worker -> [String: Any] in
                var row: [String: Any] = ["worker": worker.index]
                row["os_pu"] = worker.osPU
                row["core_logical"] = worker.core
                row["numa_node"] = worker.numaNode
                return row
            },
            "warnings": plan.warnings,
        ]
        object["binding_skipped"] = plan.bindingSkipped
        return object
    }
}
#endif
