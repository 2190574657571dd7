#if os(Linux)
import CHwloc
import Glibc

/// Where each worker of a run should execute.
///
/// Built by a pinning policy from a topology; engines call
/// `bindCurrentThread(worker:)` once at the start of each worker thread or
/// process. Immutable, so any thread may read it.
public struct PlacementPlan: Sendable, Equatable {
    public struct Worker: Sendable, Equatable {
        public var index: Int
        /// OS index of the PU (what `taskset` and /proc use), nil when unbound.
        public var osPU: Int?
        /// hwloc logical index of the core holding that PU.
        public var core: Int?
        /// OS index of the NUMA node next to that PU.
        public var numaNode: Int?

        public init(index: Int, osPU: Int?, core: Int? = nil, numaNode: Int? = nil) {
            self.index = index
            self.osPU = osPU
            self.core = core
            self.numaNode = numaNode
        }
    }

    public var workers: [Worker]
    /// A failed bind is a warning instead of an error (`--pin-best-effort`).
    public var bestEffort: Bool

    public init(workers: [Worker], bestEffort: Bool = false) {
        self.workers = workers
        self.bestEffort = bestEffort
    }

    /// `count` workers with no binding (`--pin none`).
    public static func unbound(_ count: Int) -> PlacementPlan {
        PlacementPlan(workers: (0..<count).map { Worker(index: $0, osPU: nil) })
    }
}

/// Where a worker really ran, as it reported after binding.
public struct BindingObservation: Sendable, Equatable {
    public var worker: Int
    public var plannedPU: Int?
    /// `sched_getcpu()` after binding.
    public var observedCPU: Int
    /// Non-nil when binding failed and the plan allowed best effort.
    public var warning: String?
}

extension PlacementPlan {
    /// Binds the calling thread to worker `worker`'s PU and reports where it runs.
    /// A failed bind throws unless the plan is best-effort: a worker never runs
    /// unbound silently.
    public func bindCurrentThread(worker: Int) throws(UnlockedError) -> BindingObservation {
        let planned = workers.indices.contains(worker) ? workers[worker].osPU : nil
        var warning: String?
        if let pu = planned {
            if uk_bind_self_to_cpu(Int32(pu)) != 0 {
                let message = "worker \(worker): cannot bind to CPU \(pu): \(String(cString: strerror(errno)))"
                guard bestEffort else { throw .usage(message) }
                warning = message
            }
        }
        return BindingObservation(worker: worker, plannedPU: planned, observedCPU: Int(uk_current_cpu()), warning: warning)
    }
}
#endif
