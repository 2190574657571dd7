#if os(Linux)
import CSupport
import Glibc

private final class ThreadStart {
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}

/// Starts a joinable POSIX thread named `name` running `body`. The engines
/// and the placement probe own their threads directly so they can bind,
/// name and join them. `name` must fit the kernel's 15 characters: a cut
/// name could repeat another thread's. The corresponding C function is
/// `pthread_create`.
///
/// The thread starts on the process's CPUs from before any binding of ours,
/// not on its creator's: a caller pinned to worker 0's CPU by one engine
/// would otherwise confine every thread it starts (a task executor's, a
/// pipe conversation's) to that CPU.
package func startThread(name: String, _ body: @escaping @Sendable () -> Void) throws(UnlockedError) -> pthread_t {
    precondition(name.utf8.count <= maximumThreadNameLength, "thread name \(name) is longer than \(maximumThreadNameLength) bytes")
    _ = initialAffinityMask  // captured on this thread before any new one reads it
    let start = Unmanaged.passRetained(ThreadStart(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, { raw in
        let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
        _ = uk_set_thread_name(start.name)
        unpinCurrentThread()
        start.body()
        return nil
    }, start)
    guard status == 0 else {
        Unmanaged<ThreadStart>.fromOpaque(start).release()
        throw .internal("cannot start thread \(name): \(SystemCallError(code: status))")
    }
    return thread
}

package func joinThread(_ thread: pthread_t) {
    pthread_join(thread, nil)
}

/// A raw pointer passed into worker closures: whoever starts the workers
/// guarantees the memory outlives them and that they touch disjoint ranges.
package struct UncheckedPointer: @unchecked Sendable {
    package let pointer: UnsafeMutableRawPointer
    package init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}

/// The longest thread name Linux keeps (`TASK_COMM_LEN` minus the NUL).
package let maximumThreadNameLength = 15

/// The name of worker `index` of a pool of threads with the role `role`
/// (an engine's abbreviation, `probe`): `ukw-<role>-<index>`, so `top` and
/// `perf` tell the workers apart. A role of at most 6 characters keeps
/// every index below 10,000 whole within the kernel's 15 characters.
package func workerThreadName(_ role: String, _ index: Int) -> String {
    "ukw-\(role)-\(index)"
}
#endif
