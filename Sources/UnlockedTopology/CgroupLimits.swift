import Foundation

/// The CPU and memory limits of this process's own cgroup, read the way
/// swift-nio's `Linux.coreCount` reads the root's: cgroup v2 `cpu.max`, v1
/// CFS quota/period. Batch schedulers nest cgroups (SLURM's v1
/// `cpu:/slurm/uid_0/job_7/step_0`, v2 `/system.slice/…/job_7/step_0`), and a
/// limit set on any ancestor binds too, so each reader follows the path that
/// `/proc/self/cgroup` gives from the process's cgroup up to the mount root
/// and keeps the tightest value. A directory missing on the way (a container
/// that mounts its own cgroup as the root) is skipped.
///
/// Every reader takes `/proc/self/cgroup` and the cgroup mount root as
/// defaulted parameters, so tests pass fixture trees. Pure file reads: any
/// thread may call them.
public enum CgroupLimits {
    /// CPUs' worth of time the tightest quota allows (`50000 100000` → 0.5),
    /// nil when no cgroup on the path sets one (`max`, `-1`) or none is readable.
    public static func cpuQuota(cgroupFile: String = "/proc/self/cgroup",
                                mountRoot: String = "/sys/fs/cgroup") -> Double? {
        let paths = CgroupPaths(cgroupFile: cgroupFile, mountRoot: mountRoot)
        let v2 = paths.unifiedChain.compactMap { directory -> Double? in
            guard let fields = firstLine("\(directory)/cpu.max")?.split(separator: " "), fields.count == 2,
                  let quota = Double(fields[0]), let period = Double(fields[1]), quota > 0, period > 0 else { return nil }
            return quota / period
        }
        let v1 = paths.chain(controller: "cpu").compactMap { directory -> Double? in
            guard let quota = firstLine("\(directory)/cpu.cfs_quota_us").flatMap({ Double($0) }), quota > 0,
                  let period = firstLine("\(directory)/cpu.cfs_period_us").flatMap({ Double($0) }), period > 0 else { return nil }
            return quota / period
        }
        return (v2 + v1).min()
    }

    /// Bytes the tightest memory limit on the path allows (v2 `memory.max`,
    /// v1 `memory.limit_in_bytes`, which is how SLURM's `--mem` arrives), nil
    /// when none is set. v1's "unlimited" is a huge number; callers take the
    /// minimum with the machine's memory, so it needs no special case.
    public static func memoryLimit(cgroupFile: String = "/proc/self/cgroup",
                                   mountRoot: String = "/sys/fs/cgroup") -> Int? {
        let paths = CgroupPaths(cgroupFile: cgroupFile, mountRoot: mountRoot)
        let v2 = paths.unifiedChain.compactMap { firstLine("\($0)/memory.max").flatMap { Int($0) } }
        let v1 = paths.chain(controller: "memory").compactMap { firstLine("\($0)/memory.limit_in_bytes").flatMap { Int($0) } }
        return (v2 + v1).filter { $0 > 0 }.min()
    }

    /// The cpuset of the process's cgroup (OS CPU numbers): v2
    /// `cpuset.cpus.effective`, then v1 `cpuset.effective_cpus` or
    /// `cpuset.cpus`, from the deepest cgroup that has the file; nil when
    /// none is readable or valid.
    public static func cpuset(cgroupFile: String = "/proc/self/cgroup",
                              mountRoot: String = "/sys/fs/cgroup") -> [Int]? {
        let paths = CgroupPaths(cgroupFile: cgroupFile, mountRoot: mountRoot)
        let candidates = paths.unifiedChain.map { "\($0)/cpuset.cpus.effective" }
            + paths.chain(controller: "cpuset").flatMap { ["\($0)/cpuset.effective_cpus", "\($0)/cpuset.cpus"] }
        for path in candidates {
            if let line = firstLine(path), !line.isEmpty, let cpus = try? CPUList.parse(line) { return cpus }
        }
        return nil
    }

    private static func firstLine(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}

/// Where this process's cgroups sit under the mount root, from
/// `/proc/self/cgroup`: `0::/path` is the v2 (unified) hierarchy, and
/// `N:cpu,cpuacct:/path` a v1 hierarchy mounted at `root/cpu,cpuacct` (or at
/// `root/cpu`, its usual symlink).
package struct CgroupPaths {
    /// The process's path in the v2 hierarchy.
    package var unified: String?
    /// The process's path in each v1 hierarchy, with that hierarchy's controllers.
    package var hierarchies: [(controllers: Substring, path: String)] = []
    package let mountRoot: String

    package init(cgroupFile: String, mountRoot: String) {
        self.mountRoot = mountRoot
        let text = (try? String(contentsOfFile: cgroupFile, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            // hierarchy-ID:controller-list:path; the path may itself hold ':'.
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[2].hasPrefix("/") else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                unified = String(fields[2])
            } else {
                hierarchies.append((fields[1], String(fields[2])))
            }
        }
    }

    /// Existing directories from the process's v2 cgroup up to the v2 mount
    /// (`root`, or `root/unified` on hybrid systems).
    package var unifiedChain: [String] {
        guard let unified else { return [] }
        let mount = FileManager.default.fileExists(atPath: "\(mountRoot)/cgroup.controllers") ? mountRoot : "\(mountRoot)/unified"
        return Self.chain(mount: mount, path: unified)
    }

    /// Existing directories from the process's cgroup in the v1 hierarchy of
    /// `controller` up to that hierarchy's mount.
    package func chain(controller: String) -> [String] {
        guard let hierarchy = hierarchies.first(where: { $0.controllers.split(separator: ",").contains(Substring(controller)) }),
              let mount = ["\(mountRoot)/\(hierarchy.controllers)", "\(mountRoot)/\(controller)"].first(where: Self.isDirectory)
        else { return [] }
        return Self.chain(mount: mount, path: hierarchy.path)
    }

    /// `mount + path`, then each ancestor up to `mount` itself, keeping those that exist.
    private static func chain(mount: String, path: String) -> [String] {
        var components = path.split(separator: "/").filter { $0 != "." && $0 != ".." }.map(String.init)
        var result: [String] = []
        while true {
            let directory = ([mount] + components).joined(separator: "/")
            if isDirectory(directory) { result.append(directory) }
            guard !components.isEmpty else { return result }
            components.removeLast()
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}
