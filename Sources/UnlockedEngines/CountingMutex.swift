#if os(Linux)
import Glibc
import UnlockedCore

/// A pthread mutex that counts its acquisitions and the time spent waiting
/// for it into the acquiring worker's tally: the `gil` engine's global lock,
/// the lock every call of a SERIAL plugin goes through, and the locked
/// pool's queue lock (whose condition variables wait on it).
///
/// Any thread may lock it. The corresponding C type is `pthread_mutex_t`.
package final class CountingMutex {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    package init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Acquires the lock, adding the acquisition and any wait to `tally`.
    /// An uncontended acquisition reads no clock.
    @inline(__always)
    package func lock(_ tally: inout WorkerTally) {
        tally.lockAcquisitions += 1
        if pthread_mutex_trylock(mutex) == 0 { return }
        let start = monotonicNanoseconds()
        pthread_mutex_lock(mutex)
        tally.lockWaitNanoseconds += monotonicNanoseconds() - start
    }

    /// Acquires the lock without counting (an engine's own bookkeeping).
    @inline(__always)
    package func lock() { pthread_mutex_lock(mutex) }

    @inline(__always)
    package func unlock() { pthread_mutex_unlock(mutex) }

    /// Waits on `condition`, releasing the lock meanwhile; the caller holds it.
    /// The corresponding C function is `pthread_cond_wait`.
    @inline(__always)
    package func wait(_ condition: UnsafeMutablePointer<pthread_cond_t>) { pthread_cond_wait(condition, mutex) }
}

// The pthread mutex is the synchronisation; the pointer never changes.
extension CountingMutex: @unchecked Sendable {}

/// The single lock of every SERIAL plugin's kernel calls, as the plugin ABI
/// promises: one for the process, like CPython's GIL.
package let serialPluginLock = CountingMutex()
#endif
