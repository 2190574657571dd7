#if os(Linux)
import Glibc
#else
import Darwin
#endif

/// Nanoseconds from CLOCK_MONOTONIC: cheap, never steps back, and the same
/// clock in every thread and worker process of the machine.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
