import Foundation
import UnlockedCore

/// What a reader needs to trust a number: which CPUs the process could use,
/// whether a parent had bound it, and the scheduler/OpenMP variables it
/// inherited. Reports embed `jsonObject`. A value: any thread may read it.
public struct PlacementContext: Sendable, Codable, Equatable {
    /// The topology's source (`this machine`, `synthetic '…'`, `XML …`).
    public var topology: String
    public var isThisMachine: Bool
    /// OS CPU numbers this process may use, as a CPU list.
    public var allowedCPUs: String
    /// OS CPU numbers of the whole machine.
    public var machineCPUs: String
    /// Allowed set smaller than the machine: bound by a parent (taskset,
    /// numactl, hwloc-bind, srun) or a cgroup cpuset.
    public var alreadyBound: Bool
    public var allowedCores: Int
    public var numaNodes: Int
    /// Whether hwloc knows more than one NUMA node.
    public var hasNUMAInformation: Bool
    /// This process's affinity mask as the kernel reports it (the main
    /// thread's `Cpus_allowed_list`), on this machine only.
    public var affinity: String?
    /// The cgroup CPU quota in CPUs, when one is set.
    public var cgroupCPUQuota: Double?
    /// The cgroup cpuset as read from the cgroup files, when readable.
    public var cgroupCpuset: String?
    /// OMP_*, GOMP_*, KMP_* and SLURM_* variables present, and their values.
    public var environment: [String: String]
    /// The SIMD variant kernel dispatch selected.
    public var simd: String

    /// Gathers the context of `topology`; the environment and cgroup readings
    /// default to this process's and are parameters for tests.
    public init(topology: Topology,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                cgroupCPUQuota: Double? = CgroupLimits.cpuQuota(),
                cgroupCpuset: [Int]? = CgroupLimits.cpuset(),
                affinity: [Int]? = PlacementContext.affinity(),
                simd: ISA = .selected) {
        self.topology = topology.source.description
        isThisMachine = topology.isThisMachine
        allowedCPUs = CPUList.format(topology.allowedPUs)
        machineCPUs = CPUList.format(topology.pus.map(\.osIndex))
        alreadyBound = topology.isRestricted
        allowedCores = topology.allowedCores.count
        numaNodes = topology.numaNodes.count
        hasNUMAInformation = topology.hasNUMAInformation
        self.affinity = topology.isThisMachine ? affinity.map { CPUList.format($0) } : nil
        self.cgroupCPUQuota = topology.isThisMachine ? cgroupCPUQuota : nil
        self.cgroupCpuset = topology.isThisMachine ? cgroupCpuset.map { CPUList.format($0) } : nil
        self.environment = environment.filter { key, _ in
            ["OMP_", "GOMP_", "KMP_", "SLURM_"].contains { key.hasPrefix($0) }
        }
        self.simd = simd.rawValue
    }

    /// The affinity mask in `statusPath` (`Cpus_allowed_list:`), nil when unreadable.
    public static func affinity(statusPath: String = "/proc/self/status") -> [Int]? {
        guard let status = try? String(contentsOfFile: statusPath, encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
        return try? CPUList.parse(line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces))
    }

}
