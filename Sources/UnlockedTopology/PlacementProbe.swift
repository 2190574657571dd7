#if os(Linux)
import Foundation
import Synchronization
import UnlockedCore

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
package final class ProbeResults: Sendable {
    package let items = Mutex<[Result<BindingObservation, UnlockedError>]>([])  // protected by its own lock

    package func append(_ outcome: Result<BindingObservation, UnlockedError>) {
        items.withLock { $0.append(outcome) }
    }
}
#endif
