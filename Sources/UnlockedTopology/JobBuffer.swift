#if os(Linux)
import CSupport
import Glibc
import Synchronization
import UnlockedCore

/// Memory a job reads or writes: private pages, or a shared-memory file that
/// worker processes can map too.
///
/// Owned by one thread at a time; workers get its pointer for a job's duration.
public final class JobBuffer {
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    /// The memfd behind a shared buffer (what `processes-shm` workers map), nil for private memory.
    public let sharedFileDescriptor: Int32?
    /// Unique per process, so a worker process can tell a new buffer from one it already mapped.
    package let id: UInt64
    /// Keeps private or borrowed memory alive; nil for shared buffers, which this class unmaps itself.
    private let owner: AnyObject?

    private static let nextID = Atomic<UInt64>(1)

    /// Private, page-aligned memory (first-touch placement applies).
    public init(count: Int, width: Int, budget: MemoryBudget = .current()) throws(UnlockedError) {
        let memory = try AlignedBuffer(count: count, width: width, budget: budget)
        base = memory.base
        byteCount = memory.byteCount
        owner = memory
        sharedFileDescriptor = nil
        id = Self.nextID.add(1, ordering: .relaxed).oldValue
    }

    /// A memfd of `count × width` bytes mapped shared. Its pages are allocated
    /// now (posix_fallocate), so running out of memory is this clear error and
    /// never a SIGBUS when a worker later touches a page; more than the memory
    /// budget is refused first: past a cgroup limit the fallocate would wake
    /// the OOM killer instead.
    ///
    /// With `allocatingPages` false the file only gets its size: whoever
    /// writes it first must posix_fallocate its range before touching it.
    /// `processes-shm` workers do that, each for its own chunks, so the pages
    /// are allocated under the worker's binding and memory policy (first
    /// touch), not under this thread's.
    public init(sharedCount count: Int, width: Int, budget: MemoryBudget = .current(),
                allocatingPages: Bool = true) throws(UnlockedError) {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow else { throw .usage("cannot allocate \(count) elements of \(width) bytes: the size overflows (reduce --size)") }
        try budget.check(bytes)
        let fd: Int32
        switch valueOrErrno({ uk_memfd_create("unlocked-job") }) {
        case .success(let created): fd = created
        case .failure(let error): throw .internal("cannot create shared memory (memfd_create): \(error)")
        }
        let length = max(bytes, 1)
        if allocatingPages {
            let status = posix_fallocate(fd, 0, off_t(length))
            guard status == 0 else {
                close(fd)
                throw .usage("cannot allocate \(bytes) bytes of shared memory: \(SystemCallError(code: status)) (reduce --size)")
            }
        } else if case .failure(let error) = valueOrErrno({ ftruncate(fd, off_t(length)) }) {
            close(fd)
            throw .usage("cannot size \(bytes) bytes of shared memory: \(error) (reduce --size)")
        }
        let pointer: UnsafeMutableRawPointer
        switch mapOrErrno({ mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) }) {
        case .success(let mapped): pointer = mapped
        case .failure(let error):
            close(fd)
            throw .usage("cannot map \(bytes) bytes of shared memory: \(error) (reduce --size)")
        }
        base = pointer
        byteCount = bytes
        owner = nil
        sharedFileDescriptor = fd
        id = Self.nextID.add(1, ordering: .relaxed).oldValue
    }

    /// Memory someone else owns (a mapped input file, an output file being
    /// written), kept alive by holding `owner`. Private: process engines that
    /// need shared memory copy it into a buffer of their own.
    public init(borrowing base: UnsafeMutableRawPointer, byteCount: Int, owner: AnyObject) {
        self.base = base
        self.byteCount = byteCount
        self.owner = owner
        sharedFileDescriptor = nil
        id = Self.nextID.add(1, ordering: .relaxed).oldValue
    }

    deinit {
        if let fd = sharedFileDescriptor {
            munmap(base, max(byteCount, 1))
            close(fd)
        }
    }
}

// The pointer and size never change; what workers write through `base` is
// coordinated by the engine running the job.
extension JobBuffer: @unchecked Sendable {}
#endif
