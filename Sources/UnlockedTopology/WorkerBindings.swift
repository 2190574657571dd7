#if os(Linux)
import UnlockedCore

/// Where the worker threads of a placement ended up, as each reports it
/// when it starts: the thread pools and the placement probe collect their
/// workers' bindings here and wait for all of them.
///
/// Each worker thread calls `bindCurrentThread` once; any thread may `wait`.
package final class WorkerBindings: Sendable {
    private let reports = LockedValue<[Int: Result<BindingObservation, UnlockedError>]>([:])

    package init() {}

    /// Binds the calling thread as worker `worker` of `plan` and reports the
    /// outcome; returns whether it succeeded.
    @discardableResult
    package func bindCurrentThread(worker: Int, plan: PlacementPlan) -> Bool {
        let outcome = Result { () throws(UnlockedError) in try plan.bindCurrentThread(worker: worker) }
        reports.withLockNotifying { $0[worker] = outcome }
        if case .success = outcome { return true }
        return false
    }

    /// Waits until every worker of `workers` has reported, then returns their
    /// observations in worker order, or throws the failure of the first that
    /// could not bind.
    package func wait(for workers: Range<Int>) throws(UnlockedError) -> [BindingObservation] {
        let outcomes = reports.withLock(waitingUntil: { reports in workers.allSatisfy { reports[$0] != nil } }) { reports in
            workers.map { reports[$0]! }
        }
        var observations: [BindingObservation] = []
        for outcome in outcomes { observations.append(try outcome.get()) }
        return observations
    }
}
#endif
