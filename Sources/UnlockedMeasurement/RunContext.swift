#if os(Linux)
import CKernels
import Foundation
import Glibc
import UnlockedCore
import UnlockedKernels
import UnlockedTopology

/// What the machine looked like while a measurement ran: enough to tell
/// whether two reports can be compared.
public struct RunContext: Sendable {
    public var cpuModel: String
    public var isa: ISA
    public var isaReason: String
    public var onlineCPUs: Int
    public var physicalCores: Int?
    public var sockets: Int?
    public var numaNodes: Int?
    public var lastLevelCacheBytes: Int
    /// The affinity mask the process started with, as the kernel lists it (`0-3,8`).
    public var allowedCPUs: String
    public var allowedCPUCount: Int
    /// 1, 5 and 15 minute load averages.
    public var loadAverage: [Double]
    public var memoryAvailableBytes: Int?
    /// The tightest memory limit of the process's cgroups, when one is set.
    public var memoryLimitBytes: Int?
    /// The tightest CPU quota of the process's cgroups, in CPUs, when one is set.
    public var cpuQuota: Double?
    /// The placement context (topology and policies actually applied), filled
    /// by the placement layer when it is present; nil otherwise.
    public var placement: [String: any Sendable]?
    public var startedAt: Date

    /// Reads the context of the current process from /proc and /sys.
    public static func current(procRoot: String = "/proc", sysRoot: String = "/sys") -> RunContext {
        let cpuinfo = (try? String(contentsOfFile: "\(procRoot)/cpuinfo", encoding: .utf8)) ?? ""
        let meminfo = (try? String(contentsOfFile: "\(procRoot)/meminfo", encoding: .utf8)) ?? ""
        let allowed = PlacementContext.affinity(statusPath: "\(procRoot)/self/status")
        var load = [Double](repeating: 0, count: 3)
        let loaded = getloadavg(&load, 3)
        let nodes = try? FileManager.default.contentsOfDirectory(atPath: "\(sysRoot)/devices/system/node")
            .filter { $0.hasPrefix("node") && Int($0.dropFirst(4)) != nil }.count
        return RunContext(
            cpuModel: procField("model name", in: cpuinfo) ?? procField("Model", in: cpuinfo) ?? "unknown",
            isa: .selected, isaReason: ISA.selectionReason,
            onlineCPUs: sysconf(Int32(_SC_NPROCESSORS_ONLN)),
            physicalCores: physicalCoreCount(cpuinfo: cpuinfo),
            sockets: Set(procValues("physical id", in: cpuinfo)).count.nonZero,
            numaNodes: nodes?.nonZero,
            lastLevelCacheBytes: UnlockedTopology.lastLevelCacheBytes,
            allowedCPUs: allowed.map { CPUList.format($0) } ?? "unknown",
            allowedCPUCount: allowed?.count ?? sysconf(Int32(_SC_NPROCESSORS_ONLN)),
            loadAverage: loaded == 3 ? load : [],
            memoryAvailableBytes: procField("MemAvailable", in: meminfo).flatMap { kibibytes($0) },
            memoryLimitBytes: CgroupLimits.memoryLimit(cgroupFile: "\(procRoot)/self/cgroup", mountRoot: "\(sysRoot)/fs/cgroup"),
            cpuQuota: CgroupLimits.cpuQuota(cgroupFile: "\(procRoot)/self/cgroup", mountRoot: "\(sysRoot)/fs/cgroup"),
            placement: nil, startedAt: Date())
    }

    /// What the process may fill: the tightest of MemAvailable and the cgroup limit.
    public var memoryBudget: MemoryBudget {
        MemoryBudget(available: memoryAvailableBytes, cgroupLimit: memoryLimitBytes)
    }

    /// Workers when none are asked for: the allowed CPUs, capped by the CPU
    /// quota rounded up, as `Topology.defaultWorkerCount` does for plans.
    public var defaultWorkerCount: Int {
        Topology.workers(allowedCPUCount, cappedBy: cpuQuota)
    }
}

/// Distinct (physical id, core id) pairs; nil when cpuinfo does not say (ARM).
package func physicalCoreCount(cpuinfo: String) -> Int? {
    var cores = Set<String>()
    for block in cpuinfo.components(separatedBy: "\n\n") {
        guard let core = procField("core id", in: block) else { continue }
        cores.insert("\(procField("physical id", in: block) ?? "0")/\(core)")
    }
    return cores.count.nonZero
}

extension Int {
    fileprivate var nonZero: Int? { self > 0 ? self : nil }
}
#endif
