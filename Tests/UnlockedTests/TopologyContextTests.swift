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

    @Test func cgroupV2Quota() throws {
        #expect(CgroupLimits.cpuQuota(cpuMax: try fixture("200000 100000\n")) == 2)
        #expect(CgroupLimits.cpuQuota(cpuMax: try fixture("150000 100000\n")) == 1.5)
        #expect(CgroupLimits.cpuQuota(cpuMax: try fixture("max 100000\n")) == nil)
    }

    @Test func cgroupV1Quota() throws {
        let missing = "/nonexistent/cpu.max"
        #expect(CgroupLimits.cpuQuota(cpuMax: missing, cfsQuota: try fixture("50000\n"), cfsPeriod: try fixture("100000\n")) == 0.5)
        #expect(CgroupLimits.cpuQuota(cpuMax: missing, cfsQuota: try fixture("-1\n"), cfsPeriod: try fixture("100000\n")) == nil)
        #expect(CgroupLimits.cpuQuota(cpuMax: missing, cfsQuota: missing, cfsPeriod: missing) == nil)
    }

    @Test func cgroupCpuset() throws {
        #expect(CgroupLimits.cpuset(v2: try fixture("4-7,12\n"), v1: "/nonexistent") == [4, 5, 6, 7, 12])
        #expect(CgroupLimits.cpuset(v2: "/nonexistent", v1: try fixture("0-1\n")) == [0, 1])
        #expect(CgroupLimits.cpuset(v2: "/nonexistent", v1: "/nonexistent") == nil)
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
