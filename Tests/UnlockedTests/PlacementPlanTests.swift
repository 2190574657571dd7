import Foundation
import Testing
@testable import Unlocked

/// Exact worker → PU plans on synthetic topologies. In hwloc synthetic
/// topologies OS numbers equal logical ones, so PU P#n is the n-th PU.
@Suite struct PlacementPlanTests {
    static let big = "pack:2 numa:2 core:8 pu:2"

    func pus(_ policy: String, workers: Int? = nil, on description: String = big, allowed: [Int]? = nil,
             oversubscribe: Bool = false) throws -> [Int] {
        let topology = try Topology.load(.synthetic(description), allowed: allowed)
        let plan = try PlacementPlan(policy: PinPolicy(parsing: policy), workers: workers, topology: topology,
                                     oversubscribe: oversubscribe)
        return plan.workers.map { $0.osPU ?? -1 }
    }

    @Test func onePackageWithoutSMT() throws {
        let topology = try Topology.load(.synthetic("pack:1 core:4 pu:1"))
        #expect(topology.defaultWorkerCount() == 4)
        #expect(!topology.hasNUMAInformation)
        #expect(try pus("compact", on: "pack:1 core:4 pu:1") == [0, 1, 2, 3])
        #expect(try pus("spread", on: "pack:1 core:4 pu:1") == [0, 1, 2, 3])
        #expect(try pus("compact", workers: 2, on: "pack:1 core:4 pu:1") == [0, 1])
        #expect(try pus("numa:0", on: "pack:1 core:4 pu:1") == [0, 1, 2, 3])
    }

    @Test func compactFillsEveryCoreBeforeSMTSiblings() throws {
        let topology = try Topology.load(.synthetic(Self.big))
        #expect(topology.pus.count == 64 && topology.allowedCores.count == 32 && topology.numaNodes.count == 4)
        #expect(try pus("compact") == Array(stride(from: 0, to: 64, by: 2)))
        #expect(try pus("compact", workers: 64) == Array(stride(from: 0, to: 64, by: 2)) + Array(stride(from: 1, to: 64, by: 2)))
    }

    @Test func compactPlanNamesCoreAndNode() throws {
        let topology = try Topology.load(.synthetic(Self.big))
        let plan = try PlacementPlan(policy: .compact, workers: 3, topology: topology)
        #expect(plan.workers == [
            .init(index: 0, osPU: 0, core: 0, numaNode: 0),
            .init(index: 1, osPU: 2, core: 1, numaNode: 0),
            .init(index: 2, osPU: 4, core: 2, numaNode: 0),
        ])
        let last = try PlacementPlan(policy: .compact, workers: 32, topology: topology).workers[31]
        #expect(last == .init(index: 31, osPU: 62, core: 31, numaNode: 3))
    }

    @Test func spreadAlternatesPackagesAndNodes() throws {
        #expect(try pus("spread", workers: 8) == [0, 32, 16, 48, 2, 34, 18, 50])
        let all = try pus("spread", workers: 64)
        #expect(Set(all) == Set(0..<64))
        #expect(all[32] == 1)  // SMT siblings only after all 32 cores
    }

    /// One NUMA node holding two packages (`numa:2 pack:2`): the first two
    /// workers go to different nodes, the first four to different packages.
    /// Packages 0-1 (PUs 0-7) share node 0, packages 2-3 (PUs 8-15) node 1.
    @Test func spreadPutsNodesBeforePackagesWhenANodeHoldsSeveralPackages() throws {
        #expect(try pus("spread", workers: 16, on: "numa:2 pack:2 core:4 pu:1")
            == [0, 8, 4, 12, 1, 9, 5, 13, 2, 10, 6, 14, 3, 11, 7, 15])
        #expect(try pus("spread", workers: 16, on: "numa:2 pack:2 core:2 pu:2")
            == [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15])
    }

    /// A package spanning two NUMA nodes (`pack:2 numa:2`, sub-NUMA clustering):
    /// nodes take turns on alternating packages, n0 n2 n1 n3.
    @Test func spreadAlternatesPackagesWhenAPackageSpansSeveralNodes() throws {
        #expect(try pus("spread", workers: 16, on: "pack:2 numa:2 core:4 pu:1")
            == [0, 8, 4, 12, 1, 9, 5, 13, 2, 10, 6, 14, 3, 11, 7, 15])
    }

    /// Both shapes from XML that lstopo writes: the first workers cover every
    /// NUMA node before any repeats, then every package, and the plan is the
    /// synthetic one.
    @Test(arguments: ["numa:2 pack:2 core:4 pu:2", "pack:2 numa:2 core:4 pu:2", "numa:2 pack:3 core:2 pu:1"])
    func spreadFromLstopoXMLCoversNodesThenPackages(description: String) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("unlocked-spread-\(UUID()).xml")
        defer { try? FileManager.default.removeItem(at: url) }
        let lstopo = Process()
        lstopo.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        lstopo.arguments = ["lstopo-no-graphics", "--input", description, "--of", "xml", "-f", url.path]
        lstopo.standardError = FileHandle.nullDevice
        try lstopo.run()
        lstopo.waitUntilExit()
        try #require(lstopo.terminationStatus == 0, "lstopo-no-graphics (package hwloc) must be installed")
        let xml = try Topology.load(.xml(path: url.path))
        let plan = try PlacementPlan(policy: .spread, topology: xml).workers
        #expect(plan == (try PlacementPlan(policy: .spread, topology: Topology.load(.synthetic(description))).workers))
        let byOS = Dictionary(uniqueKeysWithValues: xml.pus.map { ($0.osIndex, $0) })
        let nodes = Set(xml.pus.compactMap(\.numaNode)).count, packages = Set(xml.pus.map(\.package)).count
        #expect(Set(plan.prefix(nodes).map { byOS[$0.osPU!]!.numaNode }).count == nodes)
        #expect(Set(plan.prefix(packages).map { byOS[$0.osPU!]!.package }).count == packages)
        #expect(Set(plan.map(\.core)).count == plan.count)  // one worker per core, siblings unused
    }

    @Test func numaOneStaysOnNodeOne() throws {
        #expect(try pus("numa:1") == Array(stride(from: 16, to: 32, by: 2)))
        #expect(try pus("numa:1", workers: 16) == Array(stride(from: 16, to: 32, by: 2)) + Array(stride(from: 17, to: 32, by: 2)))
        expectError(.usage, containing: "--workers 17 is more than the 16 CPUs --pin numa:1 allows") { try pus("numa:1", workers: 17) }
    }

    /// As under `taskset -c 8-24`: cores 4-11 whole, and one PU of core 12.
    @Test func allowedSubset() throws {
        let allowed = Array(8...24)
        let topology = try Topology.load(.synthetic(Self.big), allowed: allowed)
        #expect(topology.allowedPUs == allowed)
        #expect(topology.isRestricted)
        #expect(topology.defaultWorkerCount() == 9)
        #expect(try pus("compact", allowed: allowed) == [8, 10, 12, 14, 16, 18, 20, 22, 24])
        #expect(try pus("compact", workers: 17, allowed: allowed) == [8, 10, 12, 14, 16, 18, 20, 22, 24, 9, 11, 13, 15, 17, 19, 21, 23])
        #expect(try pus("spread", workers: 17, allowed: allowed) == [8, 16, 10, 18, 12, 20, 14, 22, 24, 9, 17, 11, 19, 13, 21, 15, 23])
        #expect(try pus("numa:0", allowed: allowed) == [8, 10, 12, 14])
        expectError(.usage, containing: "--pin numa:2: no allowed CPU on NUMA node 2") { try pus("numa:2", allowed: allowed) }
        expectError(.usage, containing: "--pin: CPU 0 is outside the allowed set 8-24") { try pus("0-3", allowed: allowed) }
        #expect(try pus("N:0-1", allowed: allowed) == [8, 10])
        #expect(PlacementContext(topology: topology, environment: [:]).alreadyBound)
    }

    @Test func explicitListsAreOSNumbersInOrder() throws {
        #expect(try pus("3,0-1") == [3, 0, 1])
        #expect(try pus("0-10:5") == [0, 5, 10])
        #expect(try pus("0xf0") == [4, 5, 6, 7])
        #expect(try pus("0-3", workers: 2) == [0, 1])
        #expect(try pus("0-1", workers: 3, oversubscribe: true) == [0, 1, 0])
    }

    @Test func domainIndicesCountInsideTheDomain() throws {
        #expect(try pus("S1:0-3") == [32, 34, 36, 38])
        #expect(try pus("N1:0-1") == [16, 18])
        #expect(try pus("M3:0") == [48])
        #expect(try pus("S0:16") == [1])  // index 16 of package 0: after its 16 cores, the first SMT sibling
        #expect(try pus("S0:0-1@S1:0-1") == [0, 2, 32, 34])
    }

    @Test(arguments: ["numa:4", "S2:0", "N7:0", "S0:32", "64", "0-1@", "S0:0@S0:0", "numa:x", "Q0:1"])
    func rejectsWhatTheTopologyDoesNotHave(policy: String) {
        #expect {
            try pus(policy)
        } throws: { error in
            (error as? UnlockedError)?.kind == .usage
        }
    }

    @Test func moreWorkersThanCPUsNeedsOversubscribe() throws {
        let topology = try Topology.load(.synthetic("pack:1 core:2 pu:1"))
        #expect {
            try PlacementPlan(policy: .compact, workers: 3, topology: topology)
        } throws: { error in
            (error as? UnlockedError)?.message.contains("--oversubscribe") == true
        }
        let plan = try PlacementPlan(policy: .compact, workers: 3, topology: topology, oversubscribe: true)
        #expect(plan.workers.map(\.osPU) == [0, 1, 0])
        #expect(plan.warnings.count == 1)
    }

    @Test func bindingIsSkippedOnAnotherMachinesTopology() throws {
        let topology = try Topology.load(.synthetic("pack:1 core:2 pu:1"))
        let plan = try PlacementPlan(policy: .compact, topology: topology)
        #expect(plan.bindingSkipped != nil)
        let observation = try plan.bindCurrentThread(worker: 0)
        #expect(!observation.bound)
        #expect(observation.warning == plan.bindingSkipped)
    }

    @Test func noneIsUnbound() throws {
        let topology = try Topology.load(.synthetic(Self.big))
        let plan = try PlacementPlan(policy: .none, workers: 5, topology: topology)
        #expect(plan.workers.allSatisfy { $0.osPU == nil } && plan.workers.count == 5)
    }

    @Test func cgroupQuotaCapsTheDefaultWorkerCount() throws {
        let topology = try Topology.load(.synthetic(Self.big))
        #expect(topology.defaultWorkerCount(cpuQuota: 1.5) == 2)
        #expect(topology.defaultWorkerCount(cpuQuota: 100) == 32)
        #expect(try PlacementPlan(policy: .spread, topology: topology, cpuQuota: 3.2).workers.count == 4)
    }

    /// A cluster node's plan can be checked on a laptop from its XML.
    @Test(arguments: ["compact", "spread", "numa:1", "S1:0-5", "0-7"])
    func xmlExportedByHwlocGivesTheSamePlan(policy: String) throws {
        let synthetic = try Topology.load(.synthetic(Self.big))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("unlocked-topo-\(UUID()).xml")
        try Topology.exportXML(.synthetic(Self.big)).write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let xml = try Topology.load(.xml(path: url.path))
        #expect(xml.pus == synthetic.pus)
        #expect(xml.numaNodes == synthetic.numaNodes)
        let pin = try PinPolicy(parsing: policy)
        #expect(try PlacementPlan(policy: pin, workers: 6, topology: xml).workers
            == PlacementPlan(policy: pin, workers: 6, topology: synthetic).workers)
    }
}
