#if os(Linux)
import CHwloc
import CSupport
import Glibc
import UnlockedCore

/// Where each worker of a run should execute.
///
/// Built by a pinning policy from a topology (`PlacementPlan(policy:…)` or
/// `PlacementRequest.resolve()`); engines call `bindCurrentThread(worker:)`
/// once at the start of each worker thread or process. Immutable, so any
/// thread may read it.
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
    /// The policy the plan came from, as the user wrote it.
    public var policy: String
    /// Why threads are not bound although PUs are planned (the topology is
    /// not this machine's); nil when binding applies.
    public var bindingSkipped: String?
    /// Things a reader of the results must know (oversubscription).
    public var warnings: [String]

    public init(workers: [Worker], bestEffort: Bool = false, policy: String = "explicit",
                bindingSkipped: String? = nil, warnings: [String] = []) {
        self.workers = workers
        self.bestEffort = bestEffort
        self.policy = policy
        self.bindingSkipped = bindingSkipped
        self.warnings = warnings
    }

    /// `count` workers with no binding (`--pin none`).
    public static func unbound(_ count: Int) -> PlacementPlan {
        PlacementPlan(workers: (0..<count).map { Worker(index: $0, osPU: nil) }, policy: "none")
    }
}

/// Where a worker really ran, as it reported after binding.
public struct BindingObservation: Sendable, Equatable {
    public var worker: Int
    public var plannedPU: Int?
    /// The CPU the thread ran on right after binding (`hwloc_get_last_cpu_location`).
    public var observedCPU: Int
    /// Whether the thread was bound to `plannedPU`.
    public var bound: Bool
    /// Non-nil when binding failed and the plan allowed best effort, or was skipped.
    public var warning: String?
    /// The thread's kernel id (`gettid`), nil when not observed on the thread itself.
    public var threadID: Int32?

    public init(worker: Int, plannedPU: Int?, observedCPU: Int, bound: Bool = false, warning: String? = nil, threadID: Int32? = nil) {
        self.worker = worker
        self.plannedPU = plannedPU
        self.observedCPU = observedCPU
        self.bound = bound
        self.warning = warning
        self.threadID = threadID
    }
}

extension PlacementPlan {
    /// Binds the calling thread to worker `worker`'s PU with hwloc and reports
    /// where it runs. A failed bind throws unless the plan is best-effort: a
    /// worker never runs unbound silently. Any thread may call it, once per
    /// worker. The corresponding C function is `hwloc_set_cpubind`.
    public func bindCurrentThread(worker: Int) throws(UnlockedError) -> BindingObservation {
        var observation = try _bindCurrentThread(worker: worker)
        observation.threadID = uk_thread_id()
        return observation
    }

    private func _bindCurrentThread(worker: Int) throws(UnlockedError) -> BindingObservation {
        let planned = workers.indices.contains(worker) ? workers[worker].osPU : nil
        _ = initialAffinity  // captured before this thread's affinity changes
        guard let pu = planned else {
            return BindingObservation(worker: worker, plannedPU: nil, observedCPU: currentCPU())
        }
        if let bindingSkipped {
            return BindingObservation(worker: worker, plannedPU: pu, observedCPU: currentCPU(), warning: bindingSkipped)
        }
        switch _bindCurrentThread(to: pu) {
        case .success:
            return BindingObservation(worker: worker, plannedPU: pu, observedCPU: currentCPU(), bound: true)
        case .failure(let error):
            let message = "worker \(worker): cannot bind to CPU \(pu): \(error)"
            guard bestEffort else { throw .usage(message) }
            return BindingObservation(worker: worker, plannedPU: pu, observedCPU: currentCPU(), warning: message)
        }
    }

    package func _bindCurrentThread(to pu: Int) -> Result<Void, UnlockedError> {
        let topology: HwlocTopology
        switch HwlocTopology.host {
        case .success(let host): topology = host
        case .failure(let error): return .failure(error)
        }
        guard let set = hwloc_bitmap_alloc() else { return .failure(.internal("out of memory")) }
        defer { hwloc_bitmap_free(set) }
        hwloc_bitmap_only(set, UInt32(pu))
        return valueOrErrno { hwloc_set_cpubind(topology.raw, set, Int32(HWLOC_CPUBIND_THREAD.rawValue)) }
            .map { _ in () }
            .mapError { .usage($0.description) }
    }
}

/// The CPU the calling thread last ran on, -1 when unknown.
/// The corresponding C function is `hwloc_get_last_cpu_location`.
public func currentCPU() -> Int {
    guard case .success(let host) = HwlocTopology.host, let set = hwloc_bitmap_alloc() else { return Int(uk_current_cpu()) }
    defer { hwloc_bitmap_free(set) }
    guard hwloc_get_last_cpu_location(host.raw, set, Int32(HWLOC_CPUBIND_THREAD.rawValue)) == 0 else { return Int(uk_current_cpu()) }
    return Int(hwloc_bitmap_first(set))
}
#endif
