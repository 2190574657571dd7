import Foundation
import Testing
@testable import Unlocked

/// What MPI ranks are built on, checked in one process: blocks of a global array, data
/// generated from any global index, files mapped and written by parts, and each rank's
/// share of a node.
@Suite struct RankPartTests {
    @Test func partsCoverTheArrayInOrder() {
        for total in [0, 1, 2, 7, 100_003] {
            for count in 1...9 {
                let ranges = (0..<count).map { ArrayPart(index: $0, of: count).range(of: total) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == total)
                #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                let lengths = ranges.map(\.count)
                #expect(lengths.max()! - lengths.min()! <= 1, "\(total) in \(count)")
            }
        }
        // index × total would overflow Int; the bounds must not.
        let huge = Int.max / 2
        #expect(ArrayPart(index: 6, of: 7).range(of: huge).upperBound == huge)
        #expect(ArrayPart(index: 3, of: 7).range(of: huge).lowerBound == Int((Int128(huge) * 3 / 7)))
    }

    /// Element i of a generator advanced by k is element k + i of the original, for every type.
    @Test(arguments: [0, 1, 99_991, 1 << 40])
    func advancedGeneratorContinuesTheSequence(offset: Int) {
        let generator = DataGenerator(seed: 77, low: -1000, high: 1000)
        let advanced = generator.advanced(by: offset)
        for dtype in DType.allCases {
            let width = dtype.byteWidth
            let whole = UnsafeMutableRawPointer.allocate(byteCount: 64 * width, alignment: 8)
            let part = UnsafeMutableRawPointer.allocate(byteCount: 64 * width, alignment: 8)
            defer { whole.deallocate(); part.deallocate() }
            // The original's elements offset..<offset + 64, written from index 0.
            generator.fill(whole - offset * width, dtype: dtype, range: offset..<offset + 64)
            advanced.fill(part, dtype: dtype, range: 0..<64)
            #expect(memcmp(whole, part, 64 * width) == 0, "\(dtype) at \(offset)")
        }
    }

    /// A file of `count` int64 values 0, 1, 2, … behind a version-1 header, several pages long.
    static func int64File(count: Int, shape: [Int]? = nil) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("uk-part-\(UUID().uuidString).npy").path
        var bytes = NpyHeader.encode(type: .i64, shape: shape ?? [count])
        for value in 0..<Int64(count) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Each part maps only its elements, at any byte offset into the file's pages.
    @Test func mappedPartsReadTheirElements() throws {
        let path = try Self.int64File(count: 5003, shape: [5003])
        defer { unlink(path) }
        for count in [1, 3, 7] {
            var seen: [Int64] = []
            for index in 0..<count {
                let array = try MappedArray(path: path, part: ArrayPart(index: index, of: count))
                #expect(array.shape == [5003] && array.count == 5003)
                #expect(array.elements == ArrayPart(index: index, of: count).range(of: 5003))
                seen += elements(array, as: Int64.self)
            }
            #expect(seen == Array(0..<5003))
        }
        // Raw files too.
        let raw = FileManager.default.temporaryDirectory.appendingPathComponent("uk-part-\(UUID().uuidString).bin").path
        defer { unlink(raw) }
        try Data((0..<1000).flatMap { withUnsafeBytes(of: Int32($0).littleEndian, Array.init) }).write(to: URL(fileURLWithPath: raw))
        let last = try MappedArray(path: raw, rawType: .i32, part: ArrayPart(index: 2, of: 3))
        #expect(elements(last, as: Int32.self) == Array(666..<1000))
    }

    /// A run over each part of generated data gives partial sums that add up to the one
    /// run over the whole, exactly.
    @Test func partsOfARunAddUpToTheWhole() throws {
        let placement = try PlacementRequest(workers: 1, pin: .none).resolve()
        let configuration = EngineConfiguration(kind: .sequential, placement: placement.plan)
        func value(_ part: ArrayPart) throws -> Int128 {
            let spec = try RunRequest(dtype: .i64, size: "100003", seed: 5, reps: 1).resolve(catalog: KernelCatalog(), part: part)
            #expect(spec.firstIndex == part.range(of: 100_003).lowerBound && spec.count == part.range(of: 100_003).count)
            guard case .unsigned(let sum) = try runBenchmark(spec, engine: configuration, placement: placement).value else {
                Issue.record("absdist.sum gives an unsigned value")
                return 0
            }
            return Int128(sum)
        }
        let whole = try value(.whole)
        for count in [2, 3, 5] {
            #expect(try (0..<count).map { try value(ArrayPart(index: $0, of: count)) }.reduce(0, +) == whole)
        }
        expectError(.usage, containing: "--size 2: fewer elements than the 3 ranks") {
            _ = try RunRequest(size: "2").resolve(catalog: KernelCatalog(), part: ArrayPart(index: 0, of: 3))
        }
    }

    /// One .npy written by three "processes" at their parts, then put in place by its creator.
    @Test func sharedOutputIsOneFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("uk-shared-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let target = directory.appendingPathComponent("out.npy").path
        let parts = (0..<3).map { ArrayPart(index: $0, of: 3).range(of: 3000) }
        let creator = try SharedNpyOutput(creating: target, type: .u32, shape: [1000, 3], elements: parts[0])
        let name = URL(fileURLWithPath: creator.temporaryPath).lastPathComponent
        #expect(name.hasPrefix(".out.npy.unlocked-") && name.hasSuffix(".tmp"))
        #expect(!FileManager.default.fileExists(atPath: target))
        let others = try parts.dropFirst().map {
            try SharedNpyOutput(joining: creator.temporaryPath, path: target, type: .u32, shape: [1000, 3], elements: $0)
        }
        for output in [creator] + others {
            let base = output.base.assumingMemoryBound(to: UInt32.self)
            for index in output.elements { base[index - output.elements.lowerBound] = UInt32(index) }
            try output.flush()
        }
        try creator.commit()
        let written = try MappedArray(path: target)
        #expect(written.shape == [1000, 3] && written.elementType == .u32)
        #expect(elements(written, as: UInt32.self) == (0..<3000).map(UInt32.init))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.npy"])

        expectError(.noInput, containing: "is not the 24128-byte file the first process created") {
            let wrong = try SharedNpyOutput(creating: target, type: .u32, shape: [1000, 3], elements: 0..<1)
            _ = try SharedNpyOutput(joining: wrong.temporaryPath, path: target, type: .u64, shape: [1000, 3], elements: 0..<1)
        }
        expectError(.noInput, containing: "(the output must be on a file system every process shares)") {
            _ = try SharedNpyOutput(joining: directory.appendingPathComponent(".gone").path, path: target, type: .u32,
                                    shape: [3], elements: 0..<1)
        }
        expectError(.usage, containing: "--output /dev/null: not a regular file") {
            _ = try SharedNpyOutput(creating: "/dev/null", type: .u32, shape: [3], elements: 0..<3)
        }
        // A creator released before committing removes its hidden file; the target stays as it was.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.npy"])
    }

    /// Ranks launched on one cpuset split it by whole cores; more ranks than cores share.
    @Test func sharesSplitWholeCores() throws {
        let topology = try Topology.load(.synthetic("pack:1 core:4 pu:2"))
        #expect(topology.share(ArrayPart(index: 0, of: 2)).cpus == [0, 1, 2, 3])
        #expect(topology.share(ArrayPart(index: 1, of: 2)).cpus == [4, 5, 6, 7])
        #expect((0..<3).map { topology.share(ArrayPart(index: $0, of: 3)).cpus } == [[0, 1], [2, 3], [4, 5, 6, 7]])
        let six = (0..<6).map { topology.share(ArrayPart(index: $0, of: 6)) }
        #expect(six.map(\.cpus) == [[0, 1], [0, 1], [2, 3], [4, 5], [4, 5], [6, 7]])
        #expect(six.allSatisfy { $0.oversubscribed })
        let restricted = try topology.restricted(to: [2, 3, 4, 5])
        #expect(restricted.share(ArrayPart(index: 1, of: 2)).cpus == [4, 5])
    }

    /// K ranks per node fill NUMA nodes in order, each with its node's cores split.
    @Test func rankLayoutFollowsNUMANodes() throws {
        let node = try Topology.load(.synthetic("pack:2 numa:2 core:4 pu:2"))
        let four = try RankLayout(topology: node, ranksPerNode: 4, workers: 2, policy: .compact)
        #expect(four.ranks.map(\.cpus) == [Array(0...7), Array(8...15), Array(16...23), Array(24...31)])
        #expect(four.ranks.map(\.numaNodes) == [[0], [1], [2], [3]])
        #expect(four.ranks[1].plan.workers.map(\.osPU) == [8, 10])
        #expect(four.launcherOptions?.mpirun == "mpirun --map-by ppr:1:numa:PE=4 --bind-to core")
        #expect(four.launcherOptions?.srun == "srun --ntasks-per-node=4 --cpus-per-task=8 --cpu-bind=cores")
        #expect(four.warnings == ["cores of CPUs 4-7,12-15,20-23,28-31 run no worker"])

        let eight = try RankLayout(topology: node, ranksPerNode: 8, workers: nil, policy: .compact)
        #expect(eight.ranks.map(\.cpus.count) == Array(repeating: 4, count: 8))
        #expect(eight.ranks.map(\.numaNodes) == [[0], [0], [1], [1], [2], [2], [3], [3]])
        #expect(eight.ranks.map(\.plan.workers.count) == Array(repeating: 2, count: 8))
        #expect(eight.launcherOptions?.mpirun == "mpirun --map-by ppr:2:numa:PE=2 --bind-to core")
        #expect(eight.warnings.isEmpty)

        let one = try RankLayout(topology: node, ranksPerNode: 1, workers: nil, policy: .compact)
        #expect(one.ranks[0].numaNodes == [0, 1, 2, 3] && one.ranks[0].plan.workers.count == 16)
        #expect(one.launcherOptions?.mpirun == "mpirun --map-by ppr:1:node:PE=16 --bind-to core")

        let crowded = try RankLayout(topology: try Topology.load(.synthetic("pack:1 core:2 pu:1")), ranksPerNode: 3,
                                     workers: 2, policy: .compact)
        #expect(crowded.ranks.map(\.cpus) == [[0], [0], [1]])
        #expect(crowded.launcherOptions == nil)
        #expect(crowded.warnings.contains("oversubscribed: rank 0 shares CPUs with rank 1: more ranks than cores"))
        #expect(crowded.warnings.contains { $0.hasPrefix("rank 2: oversubscribed: --workers 2 is more than the 1 CPUs") })
        expectError(.usage, containing: "--ranks-per-node 0: must be a whole number ≥ 1") {
            _ = try RankLayout(topology: node, ranksPerNode: 0, workers: nil, policy: .compact)
        }
    }

    @Test func topoPrintsTheRankPlan() throws {
        let outcome = try CommandLineTool.run(["topo", "--topology", "pack:2 numa:2 core:4 pu:2", "--ranks-per-node", "4",
                                               "--workers", "2", "--pin", "spread", "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let ranks = try #require(object["ranks"] as? [[String: Any]])
        #expect(ranks.map { $0["cpus"] as? String } == ["0-7", "8-15", "16-23", "24-31"])
        #expect(ranks.map { $0["policy"] as? String } == Array(repeating: "spread", count: 4))
        #expect((ranks[3]["workers"] as? [[String: Any]])?.map { $0["os_pu"] as? Int } == [24, 26])
        let text = try CommandLineTool.run(["topo", "--topology", "pack:2 numa:2 core:4 pu:2", "--ranks-per-node", "8"])
        #expect(text.stdout.contains("rank 7      NUMA node 3, CPUs 28-31 (2 cores), 2 workers compact"), "\(text.stdout)")
        #expect(text.stdout.contains("mpirun      mpirun --map-by ppr:2:numa:PE=2 --bind-to core"))
    }

    /// Without a launcher the rank options are refused, and run speaks CSV too.
    @Test func rankOptionsNeedALauncher() throws {
        for arguments in [["bench", "--scaling", "weak"], ["bench", "--ranks", "1,2"]] {
            let outcome = try CommandLineTool.run(arguments)
            #expect(outcome.status == 64)
            #expect(outcome.stderr.contains("needs a launch across MPI ranks"), "\(outcome.stderr)")
        }
        let csv = try CommandLineTool.run(["run", "--size", "1000", "--reps", "1", "--csv"])
        let lines = csv.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("kernel,dtype,size_elements"), "\(csv.stdout)")
        #expect(try CommandLineTool.run(["run", "--json", "--csv"]).status == 64)
    }
}
