#if os(Linux)
import Glibc

/// A value behind a pthread mutex, with `Mutex.withLock`'s shape, and a
/// condition variable for callers that wait until the value says so.
///
/// Used instead of Synchronization's `Mutex`, whose contended path on Linux
/// hands the lock over inside the kernel (PI futex), where the thread
/// sanitizer cannot see the synchronisation and reports false races.
/// Any thread may call any method.
package final class LockedValue<Value> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Broadcast by `withLockNotifying`.
    private let changed: UnsafeMutablePointer<pthread_cond_t>
    private var value: Value  // protected by mutex

    package init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        changed = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// `withLock`, then wakes every caller waiting in `withLock(waitingUntil:)` to look again.
    package func withLockNotifying<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        defer { pthread_cond_broadcast(changed) }
        return try withLock(body)
    }

    /// Waits until `ready` holds for the value (each `withLockNotifying`
    /// makes it look again), then runs `body` under the same lock.
    package func withLock<Result>(waitingUntil ready: (Value) -> Bool, _ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !ready(value) { pthread_cond_wait(changed, mutex) }
        return try body(&value)
    }
}

// `value` is only reached under the mutex.
extension LockedValue: @unchecked Sendable {}
#endif
