#if os(Linux)
import CHwloc
import CSupport
import Glibc
import UnlockedCore
import UnlockedTopology

private final class ThreadStart {
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}

/// Starts a joinable POSIX thread named `name` (cut to 15 characters, the
/// kernel's limit) running `body`. The engines own their threads directly
/// so they can bind, name and join them.
///
/// The thread starts on the process's CPUs from before any binding of ours,
/// not on its creator's: a caller pinned to worker 0's CPU by one engine
/// would otherwise confine every thread it starts (a task executor's, a
/// pipe conversation's) to that CPU.
package func startThread(name: String, _ body: @escaping @Sendable () -> Void) throws(UnlockedError) -> pthread_t {
    _ = initialAffinityMask  // captured on this thread before any new one reads it
    let start = Unmanaged.passRetained(ThreadStart(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, { raw in
        let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
        _ = uk_set_thread_name(String(start.name.prefix(15)))
        unpinCurrentThread()
        start.body()
        return nil
    }, start)
    guard status == 0 else {
        Unmanaged<ThreadStart>.fromOpaque(start).release()
        throw .internal("cannot start thread \(name): \(String(cString: strerror(status)))")
    }
    return thread
}

package func joinThread(_ thread: pthread_t) {
    pthread_join(thread, nil)
}

/// Thread names of the engines: `ukw-<engine>-<n>`, at most 15 characters.
package func workerThreadName(_ engine: String, _ index: Int) -> String {
    String("ukw-\(engine)-\(index)".prefix(15))
}
#endif

#if os(Linux)
/// Binds the thread that calls an engine to worker 0's PU, once per thread:
/// engines whose caller computes (sequential, lockfree-pool's worker 0) pin
/// it like OpenMP pins its master thread. When the last engine bound to a
/// thread closes, the thread gets the affinity it had before the first:
/// left bound, the process would look confined to one CPU to every later
/// topology query and engine.
///
/// Owned by the engine; used only by the thread running a job.
package struct CallerBinding {
    private var boundThread: pthread_t?
    package private(set) var observation: BindingObservation?

    /// Per thread: how many engines hold it bound, and its affinity before the first.
    private static let holds = LockedValue([UInt: (count: Int, original: uk_affinity)]())

    package mutating func bind(_ plan: PlacementPlan) throws(UnlockedError) {
        if let boundThread, pthread_equal(boundThread, pthread_self()) != 0 { return }
        restore()
        _ = initialAffinity  // captured before the caller's affinity changes
        let thread = UInt(pthread_self())
        let saved: Bool = Self.holds.withLock { holds in
            if var hold = holds[thread] {
                hold.count += 1
                holds[thread] = hold
                return true
            }
            var original = uk_affinity()
            guard uk_get_thread_affinity(&original) == 0 else { return false }
            holds[thread] = (1, original)
            return true
        }
        guard saved else { throw .internal("cannot read the calling thread's CPU affinity: \(String(cString: strerror(errno)))") }
        boundThread = pthread_self()
        observation = try plan.bindCurrentThread(worker: 0)
    }

    /// Releases this engine's hold on the bound caller, when called on that thread.
    package mutating func restore() {
        guard let boundThread, pthread_equal(boundThread, pthread_self()) != 0 else { return }
        self.boundThread = nil
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
