#if os(Linux)
import Foundation
import Synchronization

/// What a placement really gave on this machine: where each worker ran
/// after binding, which memory settings were applied, and where the pages
/// of a buffer ended up. A value: any thread may read it.
public struct PlacementVerification: Sendable {
    public var plan: PlacementPlan
    public var byteCount: Int
    public var observations: [BindingObservation]
    public var memory: [MemoryOutcome]
    public var pages: PageLocationReport

    /// Workers that run on the CPU they were planned on.
    public var landed: Int { observations.filter { $0.bound && $0.observedCPU == $0.plannedPU }.count }

    public var text: String {
        var lines = ["verify      \(binaryBytes(byteCount)) buffer, \(observations.count) worker\(observations.count == 1 ? "" : "s"), \(landed) on their planned CPU"]
        lines += plan.lines(observations: observations)
        lines += memory.map(\.line)
        lines.append("pages       \(pages.summary)")
        return lines.joined(separator: "\n")
    }

    public var jsonObject: [String: Any] {
        [
            "bytes": byteCount,
            "workers": plan.rows(observations: observations),
            "memory": memory.map(\.jsonObject),
            "pages": pages.jsonObject,
        ]
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

extension ResolvedPlacement {
    /// Runs the plan's workers on threads that do only placement work, as an
    /// engine would: each binds, then writes first the page-aligned chunk of a
    /// `byteCount` buffer it would process (first touch); then the kernel is
    /// asked where the pages are. Blocks until every worker is done.
    @available(*, noasync)
    public func verify(byteCount: Int) throws(UnlockedError) -> PlacementVerification {
        guard topology.isThisMachine else {
            throw .usage("--verify runs on this machine; it cannot check the topology \(topology.source)")
        }
        let (buffer, outcomes) = try allocate(byteCount: byteCount)
        let results = ProbeResults()
        let done = DispatchSemaphore(value: 0)
        let plan = self.plan
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (max(byteCount, 1) + pageSize - 1) / pageSize
        let count = plan.workers.count
        for worker in 0..<count {
            let first = min(pages * worker / count * pageSize, byteCount)
            let end = min(pages * (worker + 1) / count * pageSize, byteCount)
            let thread = Thread {
                let outcome = Result { () throws(UnlockedError) in try plan.bindCurrentThread(worker: worker) }
                if case .success = outcome, end > first { memset(buffer.base + first, 0, end - first) }
                results.append(outcome)
                done.signal()
            }
            thread.name = "ukw-probe-\(worker)"
            thread.start()
        }
        for _ in 0..<count { done.wait() }
        let observations = try results.items.withLock { items throws(UnlockedError) in
            try items.map { result throws(UnlockedError) in try result.get() }
        }.sorted { $0.worker < $1.worker }
        return PlacementVerification(plan: plan, byteCount: byteCount, observations: observations, memory: outcomes, pages: buffer.pageLocations())
    }
}

/// Outcomes the probe's worker threads hand back.
final class ProbeResults: Sendable {
    let items = Mutex<[Result<BindingObservation, UnlockedError>]>([])  // protected by its own lock

    func append(_ outcome: Result<BindingObservation, UnlockedError>) {
        items.withLock { $0.append(outcome) }
    }
}
#endif
