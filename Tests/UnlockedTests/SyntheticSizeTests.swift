import Testing
@testable import Unlocked

/// The size check on hwloc synthetic descriptions, before hwloc builds them.
@Suite struct SyntheticSizeTests {
    @Test func aritiesAreScannedAsHwlocScansThem() {
        #expect(SyntheticSize.arities("pack:2 numa:2 core:8 pu:2") == [2, 2, 8, 2])
        #expect(SyntheticSize.arities("pack:2core:0x10 pu:010") == [2, 16, 8])
        #expect(SyntheticSize.arities("(memory=1GB) pack:2(memory=1GB indexes=0,1) [numa(memory=2GB)] core:4 pu:2") == [2, 4, 2])
        #expect(SyntheticSize.arities("2 4") == [2, 4])
        #expect(SyntheticSize.arities("pack:x pu:2").isEmpty)
        #expect(SyntheticSize.arities("").isEmpty)
        #expect(SyntheticSize.arities("pack:2 core:4294967296 pu:2") == [2])
    }

    /// The scan agrees with what hwloc builds: the arities' product is its PU count.
    @Test(arguments: ["pack:2 numa:2 core:8 pu:2", "pack:2core:0x10 pu:010", "numa:2 pack:3 l2:2 core:1 pu:2",
                      "(memory=1GB) pack:2(memory=1GB indexes=0,1) [numa(memory=2GB)] core:4 pu:2", "2 4", "group:3 pu:5"])
    func productOfAritiesIsHwlocsPUCount(description: String) throws {
        let topology = try Topology.load(.synthetic(description))
        #expect(topology.pus.count == SyntheticSize.arities(description).reduce(1, *))
    }

    @Test func tooManyPUsIsOneUsageLine() {
        expectError(.usage, containing: "--topology 'core:16384 pu:2': describes 32768 PUs, more than the 8192 a synthetic topology may have") {
            _ = try Topology.load(.synthetic("core:16384 pu:2"))
        }
        expectError(.usage, containing: "describes more than 2^63 PUs") {
            _ = try Topology.load(.synthetic("pack:4294967295 numa:4294967295 core:4294967295 pu:4294967295"))
        }
    }

    /// 125 group levels made hwloc 2.9 overflow a heap buffer (glibc aborted
    /// the process); the level count is checked before hwloc sees the text.
    @Test func tooManyLevelsIsOneUsageLine() {
        let deep = String(repeating: "group:1 ", count: 125) + "pu:1"
        expectError(.usage, containing: "126 levels, more than the 32 a synthetic topology may have") {
            _ = try Topology.load(.synthetic(deep))
        }
        #expect(throws: Never.self) { try Topology.load(.synthetic(String(repeating: "group:1 ", count: 31) + "pu:2")) }
    }

    /// 8192 PUs in one flat level would take hwloc about half a minute.
    @Test func tooCostlyIsOneUsageLine() {
        expectError(.usage, containing: "--topology 'pu:8192': hwloc would take about 35 s to build it (up to 8192 objects under one parent)") {
            _ = try Topology.load(.synthetic("pu:8192"))
        }
        expectError(.usage, containing: "hwloc would take about") { _ = try Topology.load(.synthetic("pack:16 core:256 pu:2")) }
    }

    /// The largest machines still plan: 8192 PUs in a realistic shape.
    @Test func largeRealisticShapesLoad() throws {
        #expect(try Topology.load(.synthetic("pack:16 numa:4 core:64 pu:2")).pus.count == 8192)
        #expect(try Topology.load(.synthetic("pack:8 numa:2 core:64 pu:8")).pus.count == 8192)
    }
}
