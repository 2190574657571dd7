import CKernels
import Foundation
import Testing
@testable import Unlocked

/// The `openmp` engine under the real libgomp: a real team of the requested
/// size, each thread on its planned PU, and the same results as `sequential`
/// under both schedules. Not in the thread-sanitized suite (the Makefile's
/// TSan line skips `OpenMP`): libgomp is not instrumented.
@Suite("OpenMP engine", .serialized) struct OpenMPEngineTests {
    /// Jobs of `count` i32 elements through an `openmp` engine of `workers` threads on `plan`.
    static func engine(_ plan: PlacementPlan, chunk: Int?) throws -> OpenMPEngine {
        let engine = try makeEngine(EngineConfiguration(kind: .openmp, placement: plan, chunk: chunk))
        return try #require(engine as? OpenMPEngine)
    }

    /// `omp_get_num_threads()` read inside the region equals the workers, the
    /// team is that many distinct threads, and each ran on the PU its plan
    /// names: one worker per allowed CPU, and twice as many (oversubscribed).
    @Test(arguments: [1, 2])
    func teamIsTheWorkersEachOnItsPlannedPU(perCPU: Int) throws {
        let allowed = try #require(initialAffinity).sorted()
        let pus = Array(repeatElement(allowed, count: perCPU).joined())
        let plan = PlacementPlan(workers: pus.enumerated().map { PlacementPlan.Worker(index: $0.offset, osPU: $0.element) })
        let problems: [String] = try EngineFixture.onOwnThread {
            let engine = try Self.engine(plan, chunk: 100)
            defer { engine.close() }
            var problems: [String] = []
            let job = try EngineFixture.sumJob(engine, count: 100_003)
            for round in 0..<3 {
                _ = try engine.run(job)
                let team = engine.lastTeam
                if team.map(\.team) != Array(repeating: pus.count, count: pus.count) {
                    problems.append("round \(round): omp_get_num_threads() \(team.map(\.team)) for \(pus.count) workers")
                }
                if Set(team.map(\.threadID)).count != pus.count { problems.append("round \(round): threads \(team.map(\.threadID))") }
                for (thread, report) in team.enumerated() {
                    let observed = report.binding?.observedCPU
                    if report.binding?.bound != true || observed != pus[thread] {
                        problems.append("round \(round): thread \(thread) planned on \(pus[thread]) ran on \(observed.map(String.init) ?? "?")")
                    }
                }
            }
            return problems
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    /// Every dtype and kernel, `schedule(static)` and `schedule(dynamic, 1000)`,
    /// at lengths that are not multiples of the chunk or of the workers:
    /// integer sums and map output bit-identical to `sequential`'s, float sums
    /// within twice the kernels' documented bound of it. Unbound workers:
    /// tests run in parallel.
    @Test(arguments: [nil, 1000] as [Int?])
    func sameResultsAsSequential(chunk: Int?) throws {
        let sequential = try makeEngine(EngineFixture.configuration(.sequential, workers: 1))
        defer { sequential.close() }
        let generator = DataGenerator(seed: 11, low: -1000, high: 1000)
        for workers in [2, 3] {
            let engine = try Self.engine(.unbound(workers), chunk: chunk)
            defer { engine.close() }
            for dtype in DType.allCases {
                for name in ["absdist.sum", "absdist.map", "stream.sum"] {
                    let kernel = try KernelCatalog().kernel(named: name, dtype: dtype)
                    for count in [1, 2, 999, 1001, 4_099, 25_013, 100_003] {
                        let input = try engine.makeBuffer(count: count, width: dtype.byteWidth)
                        try engine.initialize(input, dtype: dtype, count: count, generator: generator)
                        let outputs = try kernel.outputType.map { type in
                            try (engine.makeBuffer(count: count, width: type.byteWidth), sequential.makeBuffer(count: count, width: type.byteWidth))
                        }
                        let params = EngineFixture.params(dtype, center: "37")
                        let result = try engine.run(EngineJob(kernel: kernel, input: input, output: outputs?.0, count: count, params: params))
                        let expected = try sequential.run(EngineJob(kernel: kernel, input: input, output: outputs?.1, count: count, params: params))
                        let label = "\(engine.scheduleDescription) \(workers) workers \(name) \(dtype) n=\(count)"
                        if let (output, expectedOutput) = outputs, let type = kernel.outputType {
                            #expect(memcmp(output.base, expectedOutput.base, count * type.byteWidth) == 0, "\(label) map output")
                        } else if dtype.isInteger {
                            #expect(result.acc.lo == expected.acc.lo && result.acc.hi == expected.acc.hi, "\(label)")
                        } else {
                            let magnitude = (0..<count).reduce(0.0) { sum, i in
                                sum + 37 + (dtype == .f32 ? Double(abs(input.base.load(fromByteOffset: i * 4, as: Float.self)))
                                                          : abs(input.base.load(fromByteOffset: i * 8, as: Double.self)))
                            }
                            #expect(abs(result.acc.f - expected.acc.f) <= 2 * Double(count) * 0x1p-53 * magnitude,
                                    "\(label): \(result.acc.f) vs \(expected.acc.f)")
                        }
                        let statistics = result.statistics
                        let chunks = chunk.map { (count + $0 - 1) / $0 } ?? min(count, workers)
                        #expect(statistics.engine == .openmp && statistics.chunkCount == chunks
                                && statistics.chunksPerWorker.reduce(0, +) == chunks, "\(label): \(statistics.chunksPerWorker)")
                        if chunk == nil {
                            // schedule(static) over one block per thread: each thread exactly its own.
                            #expect(statistics.chunksPerWorker.allSatisfy { $0 <= 1 }, "\(label): \(statistics.chunksPerWorker)")
                        }
                    }
                }
            }
        }
    }

    /// `close` hands libgomp's threads (which outlive the engine) back the
    /// process's CPUs and takes the engine's name off them.
    @Test func closeUnpinsLibgompThreads() throws {
        let allowed = try #require(initialAffinity)
        try #require(allowed.count > 1, "needs two allowed CPUs to tell pinned from unpinned")
        let cpu = try #require(allowed.min())
        let plan = PlacementPlan(workers: (0..<3).map { PlacementPlan.Worker(index: $0, osPU: cpu) })
        typealias Seen = [(name: String, cpus: Set<Int>)]
        let (during, after): (Seen, Seen) = try EngineFixture.onOwnThread {
            let engine = try Self.engine(plan, chunk: nil)
            _ = try engine.run(try EngineFixture.sumJob(engine))
            let helpers = engine.lastTeam.dropFirst().map(\.threadID)  // thread 0 is this thread
            let during = helpers.map(Self.thread)
            engine.close()
            return (during, helpers.map(Self.thread))
        }
        #expect(during.count == 2 && during.allSatisfy { $0.name.hasPrefix("ukw-omp-") && $0.cpus == [cpu] }, "\(during)")
        #expect(after.count == 2 && after.allSatisfy { $0.name == "uk-omp-idle" && $0.cpus == allowed }, "\(after)")
    }

    /// Thread `id`'s name and CPUs, from /proc.
    static func thread(_ id: Int32) -> (name: String, cpus: Set<Int>) {
        let status = procFile("/proc/self/task/\(id)/status").split(separator: "\n")
        let field = { (key: String) in status.first { $0.hasPrefix(key) }.map { $0.dropFirst(key.count).trimmingCharacters(in: .whitespaces) } ?? "" }
        return (field("Name:"), Set((try? CPUList.parse(field("Cpus_allowed_list:"))) ?? []))
    }

    /// A region object that does not load is one line naming it, exit 66.
    @Test func unloadableRegionIsAClearError() {
        let result = loadOpenMPRegion(image: [0x7f, 0x45, 0x4c, 0x46, 1, 2, 3])
        guard case .failure(let error) = result else {
            Issue.record("a 7-byte image loaded")
            return
        }
        #expect(error.kind == .noInput)
        #expect(error.message.hasPrefix("openmp: cannot load its OpenMP region") && !error.message.contains("\n"), "\(error.message)")
    }
}
