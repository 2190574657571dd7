import Foundation
import Testing
@testable import Unlocked

/// cgroup readers and the placement context, on fixture files.
@Suite struct TopologyContextTests {
    func fixture(_ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("unlocked-cgroup-\(UUID())")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// A cgroup fixture: `/proc/self/cgroup` with `lines`, and a mount root
    /// holding `files` (path relative to the root → contents).
    struct CgroupTree {
        let root: URL
        var cgroupFile: String { root.appendingPathComponent("proc-self-cgroup").path }
        var mountRoot: String { root.appendingPathComponent("cgroup").path }

        init(_ lines: String, _ files: [String: String]) throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("unlocked-cgroup-\(UUID())")
            try FileManager.default.createDirectory(at: root.appendingPathComponent("cgroup"), withIntermediateDirectories: true)
            try lines.write(toFile: cgroupFile, atomically: true, encoding: .utf8)
            for (path, contents) in files {
                let url = root.appendingPathComponent("cgroup").appendingPathComponent(path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try contents.write(to: url, atomically: true, encoding: .utf8)
            }
        }

        var cpuQuota: Double? { CgroupLimits.cpuQuota(cgroupFile: cgroupFile, mountRoot: mountRoot) }
        var memoryLimit: Int? { CgroupLimits.memoryLimit(cgroupFile: cgroupFile, mountRoot: mountRoot) }
        var cpuset: [Int]? { CgroupLimits.cpuset(cgroupFile: cgroupFile, mountRoot: mountRoot) }
    }

    /// SLURM under cgroup v2: the job's quota binds its step, whose own file says `max`.
    @Test func cgroupV2QuotaOnAnAncestorOfTheProcessCgroup() throws {
        let job = "system.slice/slurmstepd.scope/job_7"
        let tree = try CgroupTree("0::/\(job)/step_0\n", [
            "cgroup.controllers": "cpu memory cpuset\n",
            "system.slice/cpu.max": "max 100000\n",
            "\(job)/cpu.max": "50000 100000\n",
            "\(job)/step_0/cpu.max": "max 100000\n",
        ])
        #expect(tree.cpuQuota == 0.5)
    }

    @Test func cgroupV2TightestQuotaWins() throws {
        let tree = try CgroupTree("0::/a/b\n", [
            "cgroup.controllers": "cpu\n",
            "a/cpu.max": "400000 100000\n",
            "a/b/cpu.max": "150000 100000\n",
        ])
        #expect(tree.cpuQuota == 1.5)
        let unlimited = try CgroupTree("0::/a/b\n", ["cgroup.controllers": "cpu\n", "a/b/cpu.max": "max 100000\n"])
        #expect(unlimited.cpuQuota == nil)
    }

    /// SLURM under cgroup v1: `cpu,cpuacct:/slurm/uid_0/job_7/step_0`, quota on the job.
    @Test func cgroupV1QuotaOnAnAncestorOfTheProcessCgroup() throws {
        let job = "cpu,cpuacct/slurm/uid_0/job_7"
        let tree = try CgroupTree("""
            11:memory:/slurm/uid_0/job_7/step_0
            4:cpu,cpuacct:/slurm/uid_0/job_7/step_0
            1:name=systemd:/
            0::/
            """, [
            "cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n",
            "\(job)/cpu.cfs_quota_us": "50000\n", "\(job)/cpu.cfs_period_us": "100000\n",
            "\(job)/step_0/cpu.cfs_quota_us": "-1\n", "\(job)/step_0/cpu.cfs_period_us": "100000\n",
        ])
        #expect(tree.cpuQuota == 0.5)
        // The hierarchy reached through the `cpu` symlink name works the same.
        let plain = try CgroupTree("3:cpu:/job/step\n", [
            "cpu/job/cpu.cfs_quota_us": "300000\n", "cpu/job/cpu.cfs_period_us": "100000\n",
            "cpu/job/step/cpu.cfs_quota_us": "150000\n", "cpu/job/step/cpu.cfs_period_us": "100000\n",
        ])
        #expect(plain.cpuQuota == 1.5)
        let none = try CgroupTree("3:cpu:/job\n", ["cpu/job/cpu.cfs_quota_us": "-1\n", "cpu/job/cpu.cfs_period_us": "100000\n"])
        #expect(none.cpuQuota == nil)
    }

    /// A container that mounts its own cgroup as the root: the path from
    /// /proc/self/cgroup does not exist below the mount, the root's file applies.
    @Test func cgroupPathMissingBelowTheMountFallsBackToTheMount() throws {
        let tree = try CgroupTree("2:cpu:/docker/0123abcd\n", [
            "cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n",
        ])
        #expect(tree.cpuQuota == 2)
        #expect(try CgroupTree("", [:]).cpuQuota == nil)
    }

    @Test func memoryLimitIsTheTightestOnThePath() throws {
        let v2 = try CgroupTree("0::/job_7/step_0\n", [
            "cgroup.controllers": "memory\n",
            "job_7/memory.max": "4294967296\n",
            "job_7/step_0/memory.max": "max\n",
        ])
        #expect(v2.memoryLimit == 4 << 30)
        let v1 = try CgroupTree("9:memory:/slurm/job_7/step_0\n0::/\n", [
            "memory/memory.limit_in_bytes": "9223372036854771712\n",
            "memory/slurm/job_7/memory.limit_in_bytes": "2147483648\n",
            "memory/slurm/job_7/step_0/memory.limit_in_bytes": "3221225472\n",
        ])
        #expect(v1.memoryLimit == 2 << 30)
        #expect(try CgroupTree("0::/\n", ["cgroup.controllers": "memory\n"]).memoryLimit == nil)
    }

    @Test func cpusetOfTheProcessCgroup() throws {
        let v2 = try CgroupTree("0::/job/step\n", [
            "cgroup.controllers": "cpuset\n",
            "cpuset.cpus.effective": "0-7\n",
            "job/step/cpuset.cpus.effective": "4-7,12\n",
        ])
        #expect(v2.cpuset == [4, 5, 6, 7, 12])
        let v1 = try CgroupTree("5:cpuset:/job\n", ["cpuset/cpuset.cpus": "0-7\n", "cpuset/job/cpuset.cpus": "0-1\n"])
        #expect(v1.cpuset == [0, 1])
        #expect(try CgroupTree("0::/\n", [:]).cpuset == nil)
    }

    /// The default worker count follows the nested quota (the 0.5-CPU step).
    @Test func defaultWorkersFollowTheNestedQuota() throws {
        let tree = try CgroupTree("4:cpu,cpuacct:/job/step\n", [
            "cpu,cpuacct/job/cpu.cfs_quota_us": "50000\n", "cpu,cpuacct/job/cpu.cfs_period_us": "100000\n",
        ])
        let topology = try Topology.load(.synthetic("pack:1 core:2 pu:1"))
        #expect(try PlacementPlan(policy: .compact, topology: topology, cpuQuota: tree.cpuQuota).workers.count == 1)
    }

    @Test func affinityFromProcStatus() throws {
        let status = try fixture("Name:\tunlocked\nCpus_allowed:\t0c\nCpus_allowed_list:\t2-3\nMems_allowed_list:\t0\n")
        #expect(PlacementContext.affinity(statusPath: status) == [2, 3])
        #expect(PlacementContext.affinity(statusPath: "/nonexistent") == nil)
    }

    @Test func contextKeepsSchedulerAndOpenMPVariablesOnly() throws {
        let topology = try Topology.load(.synthetic("pack:1 core:4 pu:2"), allowed: [2, 3, 4, 5])
        let context = PlacementContext(topology: topology, environment: [
            "SLURM_CPUS_ON_NODE": "4", "OMP_NUM_THREADS": "4", "OMP_PROC_BIND": "close", "PATH": "/bin", "HOME": "/root",
        ], cgroupCPUQuota: 2, cgroupCpuset: [0, 1])
        #expect(context.environment == ["SLURM_CPUS_ON_NODE": "4", "OMP_NUM_THREADS": "4", "OMP_PROC_BIND": "close"])
        #expect(context.allowedCPUs == "2-5")
        #expect(context.machineCPUs == "0-7")
        #expect(context.alreadyBound)
        #expect(context.allowedCores == 2)
        #expect(!context.hasNUMAInformation)
        // cgroup readings describe this machine only, not a synthetic one.
        #expect(context.cgroupCPUQuota == nil && context.cgroupCpuset == nil)
        let decoded = try JSONDecoder().decode(PlacementContext.self, from: JSONEncoder().encode(context))
        #expect(decoded == context)
        #expect(JSONSerialization.isValidJSONObject(context.jsonObject))
    }
}
