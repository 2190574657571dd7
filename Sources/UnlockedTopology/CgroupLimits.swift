import Foundation

/// The CPU limits of this process's cgroup, read the way swift-nio's
/// `Linux.coreCount` does: cgroup v2 `cpu.max`, then v1 CFS quota/period.
/// Each reader takes its file path as a defaulted parameter so tests can
/// pass fixture files. Pure file reads: any thread may call them.
public enum CgroupLimits {
    /// CPUs' worth of time the quota allows (`200000 100000` → 2.0), nil
    /// when unlimited (`max`, `-1`) or unreadable.
    public static func cpuQuota(cpuMax: String = "/sys/fs/cgroup/cpu.max",
                                cfsQuota: String = "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                                cfsPeriod: String = "/sys/fs/cgroup/cpu/cpu.cfs_period_us") -> Double? {
        if let fields = firstLine(cpuMax)?.split(separator: " "), fields.count == 2 {
            guard let quota = Double(fields[0]), let period = Double(fields[1]), quota > 0, period > 0 else { return nil }
            return quota / period
        }
        guard let quota = firstLine(cfsQuota).flatMap({ Double($0) }), quota > 0,
              let period = firstLine(cfsPeriod).flatMap({ Double($0) }), period > 0 else { return nil }
        return quota / period
    }

    /// The cgroup cpuset (OS CPU numbers): v2 `cpuset.cpus.effective`, then
    /// v1 `cpuset.cpus`; nil when neither is readable or valid.
    public static func cpuset(v2: String = "/sys/fs/cgroup/cpuset.cpus.effective",
                              v1: String = "/sys/fs/cgroup/cpuset/cpuset.cpus") -> [Int]? {
        for path in [v2, v1] {
            if let line = firstLine(path), !line.isEmpty, let cpus = try? CPUList.parse(line) { return cpus }
        }
        return nil
    }

    private static func firstLine(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
