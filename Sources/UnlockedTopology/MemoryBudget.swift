import Foundation
import UnlockedCore

/// The memory this process may fill without being OOM-killed: the tightest of
/// the kernel's `MemAvailable` and the memory limits of the process's cgroups
/// (`memory.max`, v1 `memory.limit_in_bytes`, which is where SLURM's `--mem`
/// lands); the machine's physical memory when neither is readable. Every
/// size default and the "more than memory" check use it. A value: any thread
/// may use it.
public struct MemoryBudget: Sendable, Equatable {
    public var bytes: Int
    /// What set the budget, for messages: `MemAvailable`, `the cgroup memory limit`
    /// or `physical memory`.
    public var source: String

    public init(bytes: Int, source: String) {
        self.bytes = bytes
        self.source = source
    }

    /// Reads the budget now; the readings are parameters for tests.
    public static func current(meminfo: String = "/proc/meminfo",
                               cgroupLimit: Int? = CgroupLimits.memoryLimit()) -> MemoryBudget {
        let text = (try? String(contentsOfFile: meminfo, encoding: .utf8)) ?? ""
        return MemoryBudget(available: procField("MemAvailable", in: text).flatMap { kibibytes($0) },
                            cgroupLimit: cgroupLimit)
    }

    /// The tightest of the readings that exist.
    public init(available: Int?, cgroupLimit: Int?) {
        let physical = sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE))
        let readings = [(available, "MemAvailable"), (cgroupLimit, "the cgroup memory limit")]
            .compactMap { value, source in value.map { (bytes: $0, source: source) } }
        let tightest = readings.min { $0.bytes < $1.bytes } ?? (physical, "physical memory")
        self.init(bytes: tightest.bytes, source: tightest.source)
    }

    /// A usage error when `byteCount` bytes do not fit: with overcommit, mmap
    /// would succeed and the run would die later in the OOM killer instead.
    public func check(_ byteCount: Int) throws(UnlockedError) {
        guard byteCount <= bytes else {
            throw .usage("cannot allocate \(byteCount) bytes: more than the \(bytes) bytes \(source) allows (reduce --size)")
        }
    }
}
