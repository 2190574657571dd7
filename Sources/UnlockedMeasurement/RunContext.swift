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
            placement: nil, startedAt: Date())
    }
}

/// The value after `name :` on the first line that starts with `name`.
package func procField(_ name: String, in text: String) -> String? {
    procValues(name, in: text).first
}

package func procValues(_ name: String, in text: String) -> [String] {
    text.split(separator: "\n").compactMap { line in
        guard line.hasPrefix(name), let colon = line.firstIndex(of: ":"),
              line[..<colon].trimmingCharacters(in: .whitespaces) == name else { return nil }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
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

/// "23761 kB" → bytes.
package func kibibytes(_ text: String) -> Int? {
    text.split(separator: " ").first.flatMap { Int($0) }.map { $0 * 1024 }
}

extension Int {
    fileprivate var nonZero: Int? { self > 0 ? self : nil }
}
#endif
