import Foundation
import CNuma
import Glibc
import Testing
@testable import Unlocked

@Suite struct MemoryPlacementTests {
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// A SLURM job with --mem=1M (or a container's memory.max) under a roomy
    /// MemAvailable: more than the limit is refused before mmap, private or shared.
    @Test func buffersAboveTheCgroupLimitAreRefused() throws {
        let budget = MemoryBudget(available: 64 << 30, cgroupLimit: 1 << 20)
        #expect(budget == MemoryBudget(bytes: 1 << 20, source: "the cgroup memory limit"))
        expectError(.usage, containing: "cannot allocate 2097152 bytes: more than the 1048576 bytes the cgroup memory limit allows") {
            _ = try AlignedBuffer(byteCount: 2 << 20, budget: budget)
        }
        expectError(.usage, containing: "more than the 1048576 bytes the cgroup memory limit allows") {
            _ = try JobBuffer(sharedCount: 1 << 20, width: 2, budget: budget)
        }
        #expect(try AlignedBuffer(byteCount: 1 << 20, budget: budget).byteCount == 1 << 20)
    }

    @Test func budgetIsTheTightestReading() throws {
        let meminfo = FileManager.default.temporaryDirectory.appendingPathComponent("meminfo-\(UUID())")
        defer { try? FileManager.default.removeItem(at: meminfo) }
        try "MemTotal:       4194304 kB\nMemAvailable:    2097152 kB\n".write(to: meminfo, atomically: true, encoding: .utf8)
        #expect(MemoryBudget.current(meminfo: meminfo.path, cgroupLimit: 1 << 30) == MemoryBudget(bytes: 1 << 30, source: "the cgroup memory limit"))
        #expect(MemoryBudget.current(meminfo: meminfo.path, cgroupLimit: 8 << 30) == MemoryBudget(bytes: 2 << 30, source: "MemAvailable"))
        #expect(MemoryBudget.current(meminfo: meminfo.path, cgroupLimit: nil).bytes == 2 << 30)
        let physical = sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE))
        #expect(MemoryBudget.current(meminfo: "/nonexistent", cgroupLimit: nil) == MemoryBudget(bytes: physical, source: "physical memory"))
    }

    @Test func untouchedPagesHaveNoNodeYet() throws {
        let buffer = try AlignedBuffer(byteCount: 16 * Self.pageSize)
        let report = buffer.pageLocations()
        #expect(report.error == nil)
        #expect(report.totalPages == 16)
        #expect(report.notPresent == 16)
        #expect(report.locatedPages == 0)
    }

    /// After first touch, the report locates every page of the buffer on a
    /// node of this machine.
    @Test(arguments: [1, 3, 1000, 40_000])
    func reportCoversEveryPageOnceTouched(pages: Int) throws {
        let host = try Topology.load()
        let buffer = try AlignedBuffer(byteCount: pages * Self.pageSize - 7)  // a partial last page counts too
        memset(buffer.base, 1, buffer.byteCount)
        let report = buffer.pageLocations()
        #expect(report.error == nil)
        #expect(report.totalPages == pages)
        #expect(report.locatedPages == pages)
        #expect(report.notPresent == 0 && report.unknown == 0)
        let nodes = Set(host.numaNodes.map(\.osIndex))
        #expect(report.pagesPerNode.keys.allSatisfy(nodes.contains))
        let shares = report.pagesPerNode.keys.map(report.share(ofNode:)).reduce(0, +)
        #expect(abs(shares - 1) < 1e-9)
    }

    /// Interleave and node:K are applied with mbind before touching, or
    /// reported as not applied with the kernel's reason; when applied, the
    /// pages really are where the policy says.
    @Test(arguments: ["interleave", "node:0"])
    func policyIsAppliedOrReportedNotApplied(policy: String) throws {
        let host = try Topology.load()
        let buffer = try AlignedBuffer(byteCount: 64 * Self.pageSize)
        let outcome = try buffer.apply(MemoryPolicy(parsing: policy), topology: host)
        memset(buffer.base, 1, buffer.byteCount)
        let report = buffer.pageLocations()
        if outcome.applied {
            if policy == "node:0" { #expect(report.pagesPerNode == [0: 64]) }
            let allowedNodes = Set(host.pus.filter(\.allowed).compactMap(\.numaNode))
            #expect(report.pagesPerNode.keys.allSatisfy(allowedNodes.contains))
        } else {
            #expect(outcome.note?.isEmpty == false)
        }
    }

    /// Node numbers past 63 land in later words of the mask (machines with
    /// more than 64 NUMA nodes, or sparse node numbers).
    @Test func nodeMaskHasAWordPer64Nodes() {
        #expect(nodeMask([0]) == [1])
        #expect(nodeMask([0, 63, 64, 70, 130]) == [1 | 1 << 63, 1 | 1 << 6, 1 << 2] as [UInt])
        #expect(nodeMask([1023]).count == 16)
    }

    /// A two-word mask reaches the kernel: interleave over node 0 and node 100
    /// is accepted (the kernel keeps the nodes that exist), where a node above
    /// 63 used to be refused before mbind was called.
    @Test func mbindTakesNodesAbove63() throws {
        let buffer = try AlignedBuffer(byteCount: 16 * Self.pageSize)
        switch buffer.bind(toNodes: [0, 100], mode: Int32(MPOL_INTERLEAVE)) {
        case .success:
            memset(buffer.base, 1, buffer.byteCount)
            #expect(buffer.pageLocations().pagesPerNode == [0: 16])
            // A mask with no node of this machine is the kernel's EINVAL, not ours.
            #expect(buffer.bind(toNodes: [100], mode: Int32(MPOL_BIND)) == .failure(SystemCallError(code: EINVAL)))
        case .failure(let error):
            // Containers may forbid memory policies (seccomp's EPERM); nothing else is acceptable.
            #expect(error.isPermissionDenied, "mbind refused: \(error)")
        }
    }

    @Test func aMissingNodeIsAUsageError() throws {
        let host = try Topology.load()
        let buffer = try AlignedBuffer(byteCount: Self.pageSize)
        let missing = (host.numaNodes.map(\.osIndex).max() ?? 0) + 1
        expectError(.usage, containing: "no NUMA node") { try buffer.apply(.node(missing), topology: host) }
    }

    @Test func policiesOnAnotherMachinesTopologyAreNotApplied() throws {
        let synthetic = try Topology.load(.synthetic("pack:2 numa:2 core:2 pu:1"))
        let buffer = try AlignedBuffer(byteCount: Self.pageSize)
        let outcome = try buffer.apply(.interleave, topology: synthetic)
        #expect(!outcome.applied)
        #expect(outcome.note?.contains("not this machine") == true)
    }

    @Test(arguments: [("first-touch", MemoryPolicy.firstTouch), ("interleave", .interleave), ("node:3", .node(3)), ("none", .none)])
    func parsesPolicies(text: String, policy: MemoryPolicy) throws {
        #expect(try MemoryPolicy(parsing: text) == policy)
        #expect(policy.description == text)
    }

    @Test(arguments: ["node:", "node:-1", "node:x", "firsttouch", ""])
    func rejectsPolicies(text: String) {
        expectError(.usage, containing: "not a memory policy (accepted: first-touch, interleave, node:K, none)") { try MemoryPolicy(parsing: text) }
    }
}
