import UnlockedCore
#if os(Linux)
import Glibc
#else
import Darwin
#endif

/// Page-aligned memory from `mmap`, released in `deinit`.
///
/// Pages are untouched until first written, so the thread that writes a
/// page first decides its NUMA node (first-touch). Owned by one thread at a
/// time; workers get raw pointers into it for the duration of a job.
public final class AlignedBuffer {
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int

    /// Maps `byteCount` bytes (at least one page). Refuses more than the
    /// process's memory budget (MemAvailable, cgroup limits): with overcommit
    /// mmap would succeed and the run would die later in the OOM killer
    /// instead of with a clear error.
    public init(byteCount: Int, budget: MemoryBudget = .current()) throws(UnlockedError) {
        try budget.check(byteCount)
        let length = max(byteCount, 1)
        switch mapOrErrno({ mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) }) {
        case .success(let pointer): self.base = pointer
        case .failure(let error): throw .usage("cannot allocate \(byteCount) bytes: \(error) (reduce --size)")
        }
        self.byteCount = byteCount
    }

    /// Maps `count` elements of `width` bytes, refusing counts whose size overflows.
    public convenience init(count: Int, width: Int, budget: MemoryBudget = .current()) throws(UnlockedError) {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow else { throw .usage("cannot allocate \(count) elements of \(width) bytes: the size overflows (reduce --size)") }
        try self.init(byteCount: bytes, budget: budget)
    }

    deinit { munmap(base, max(byteCount, 1)) }
}

// The buffer itself is immutable; what workers write through `base` is
// coordinated by the engine that owns the job.
extension AlignedBuffer: @unchecked Sendable {}
