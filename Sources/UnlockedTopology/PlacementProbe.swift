#if os(Linux)
import Glibc
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
        let bindings = WorkerBindings()
        let plan = self.plan
        let base = UncheckedPointer(buffer.base)
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (max(byteCount, 1) + pageSize - 1) / pageSize
        let count = plan.workers.count
        do {
            var threads: [pthread_t] = []
            defer { threads.forEach(joinThread) }
            for worker in 0..<count {
                let first = min(pages * worker / count * pageSize, byteCount)
                let end = min(pages * (worker + 1) / count * pageSize, byteCount)
                threads.append(try startThread(name: workerThreadName("probe", worker)) {
                    if bindings.bindCurrentThread(worker: worker, plan: plan), end > first { memset(base.pointer + first, 0, end - first) }
                })
            }
        }
        let observations = try bindings.wait(for: 0..<count)
        return PlacementVerification(plan: plan, byteCount: byteCount, observations: observations, memory: outcomes, pages: buffer.pageLocations())
    }
}
#endif
