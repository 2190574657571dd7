#if os(Linux)
import CSupport
import Glibc
import Synchronization
import UnlockedCore
import UnlockedTopology

/// Binds the thread that calls an engine to worker 0's PU, once per thread:
/// engines whose caller computes (sequential, lockfree-pool's worker 0) pin
/// it like OpenMP pins its master thread. When the last engine bound to a
/// thread closes, the thread gets the affinity it had before the first:
/// left bound, the process would look confined to one CPU to every later
/// topology query and engine.
///
/// Several engines may share a calling thread (Python keeps a runtime per
/// thread and options beside a `Pool`): a pinned engine whose thread another
/// engine re-pinned since takes its PU back at its next job, and an engine
/// with no planned PU never touches the affinity, so it neither holds the
/// thread nor keeps another engine's pin after that engine closes.
///
/// Owned by the engine; used only by the thread running a job.
package struct CallerBinding {
    private var boundThread: pthread_t?
    /// Whether this engine pins its caller (and holds the thread's original affinity).
    private var pins = false
    package private(set) var observation: BindingObservation?
    /// Names this binding as the thread's last pinner (`uk_caller_pin_owner`).
    private let token = Self.tokens.wrappingAdd(1, ordering: .relaxed).newValue

    private static let tokens = Atomic<UInt64>(0)
    /// Per thread: how many engines hold it bound, and its affinity before the first.
    private static let holds = LockedValue([UInt: (count: Int, original: uk_affinity)]())

    package mutating func bind(_ plan: PlacementPlan) throws(UnlockedError) {
        if let boundThread, pthread_equal(boundThread, pthread_self()) != 0 {
            if pins && uk_caller_pin_owner() != token {
                observation = try plan.bindCurrentThread(worker: 0)
                uk_set_caller_pin_owner(token)
            }
            return
        }
        restore()
        _ = initialAffinity  // captured before the caller's affinity changes
        pins = plan.workers.first?.osPU != nil
        if pins {
            let thread = UInt(pthread_self())
            let saved: Result<Int32, SystemCallError> = Self.holds.withLock { holds in
                if var hold = holds[thread] {
                    hold.count += 1
                    holds[thread] = hold
                    return .success(0)
                }
                var original = uk_affinity()
                return valueOrErrno { uk_get_thread_affinity(&original) }.map { status in
                    holds[thread] = (1, original)
                    return status
                }
            }
            if case .failure(let error) = saved { throw .internal("cannot read the calling thread's CPU affinity: \(error)") }
        }
        boundThread = pthread_self()
        observation = try plan.bindCurrentThread(worker: 0)
        if pins { uk_set_caller_pin_owner(token) }
    }

    /// Releases this engine's hold on the bound caller, when called on that thread.
    package mutating func restore() {
        guard let boundThread, pthread_equal(boundThread, pthread_self()) != 0 else { return }
        self.boundThread = nil
        guard pins else { return }
        if uk_caller_pin_owner() == token { uk_set_caller_pin_owner(0) }
        let thread = UInt(pthread_self())
        Self.holds.withLock { holds in
            guard var hold = holds[thread] else { return }
            hold.count -= 1
            if hold.count == 0 {
                _ = uk_set_thread_affinity(&hold.original)
                holds[thread] = nil
            } else {
                holds[thread] = hold
            }
        }
    }
}
#endif
