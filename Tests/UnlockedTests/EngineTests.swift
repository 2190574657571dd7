import CKernels
import Foundation
import Testing
@testable import Unlocked

@Suite struct EngineEquivalenceTests {
    static let kernels = ["absdist.sum", "absdist.map", "stream.sum"]
    /// Empty, one element, odd sizes, exactly a chunk (1000), around it, many chunks.
    static let sizes = [0, 1, 17, 999, 1000, 1001, 4099, 25_013]

    /// Every engine, every type, map and reduce: integers bit-identical to one
    /// scalar call over the whole range, float sums within twice the kernels'
    /// documented bound (both sides are within it of the exact sum), map
    /// output bit-identical; and `initialize` writes exactly what one thread would.
    @Test(arguments: EngineFixture.sanitizableKinds)
    func sameResultsAsOneScalarCall(kind: EngineKind) throws {
        let engine = try makeEngine(EngineFixture.configuration(kind))
        defer { engine.close() }
        let generator = DataGenerator(seed: 7, low: -1000, high: 1000)
        for dtype in DType.allCases {
            for name in Self.kernels {
                let kernel = try KernelCatalog().kernel(named: name, dtype: dtype)
                for count in Self.sizes {
                    let input = try engine.makeBuffer(count: count, width: dtype.byteWidth)
                    try engine.initialize(input, dtype: dtype, count: count, generator: generator)
                    let expectedInput = try JobBuffer(count: count, width: dtype.byteWidth)
                    generator.fill(expectedInput.base, dtype: dtype, range: 0..<count)
                    #expect(memcmp(input.base, expectedInput.base, count * dtype.byteWidth) == 0, "\(kind) initialize \(dtype) n=\(count)")

                    let output = try kernel.outputType.map { try engine.makeBuffer(count: count, width: $0.byteWidth) }
                    let params = EngineFixture.params(dtype, center: "37")
                    let result = try engine.run(EngineJob(kernel: kernel, input: input, output: output, count: count, params: params))
                    let (reference, referenceOutput) = try EngineFixture.reference(kernel, input: input.base, count: count, params: params)
                    let label = "\(kind.rawValue) \(name) \(dtype) n=\(count)"
                    if let output {
                        #expect(memcmp(output.base, referenceOutput, referenceOutput.count) == 0, "\(label) map output")
                    } else if dtype.isInteger {
                        #expect(result.acc.lo == reference.lo && result.acc.hi == reference.hi, "\(label)")
                    } else {
                        var magnitude = 0.0
                        let p = input.base
                        for i in 0..<count { magnitude += dtype == .f32 ? Double(abs(p.load(fromByteOffset: i * 4, as: Float.self))) + 37
                                                                         : abs(p.load(fromByteOffset: i * 8, as: Double.self)) + 37 }
                        let bound = 2 * Double(count) * 0x1p-53 * magnitude
                        #expect(abs(result.acc.f - reference.f) <= bound, "\(label): \(result.acc.f) vs \(reference.f)")
                    }
                    let s = result.statistics
                    #expect(s.chunksPerWorker.reduce(0, +) == s.chunkCount, "\(label) chunks \(s.chunksPerWorker) of \(s.chunkCount)")
                    if count == 0 { #expect(s.chunksPerWorker.allSatisfy { $0 == 0 }, "\(label)") }
                }
            }
        }
    }

    @Test func chunkPlanGivesEveryChunkToExactlyOneWorker() {
        for (count, chunk, workers) in [(0, 10, 3), (1, 10, 3), (100, 7, 3), (1000, 1000, 4), (12_345, 100, 7), (10, 1, 16)] {
            let plan = ChunkPlan(count: count, chunkSize: chunk, workers: workers)
            var covered = 0
            for worker in 0..<workers {
                for index in plan.ownedChunks(worker: worker) {
                    #expect(plan.range(ofChunk: index).lowerBound == covered)
                    covered = plan.range(ofChunk: index).upperBound
                }
            }
            #expect(covered == count)
        }
        #expect(ChunkPlan.automaticChunk(count: 100, workers: 2) == 16 << 10)
        #expect(ChunkPlan.automaticChunk(count: 1 << 30, workers: 2) == 1 << 20)
        #expect(ChunkPlan.automaticChunk(count: 3_000_001, workers: 2) % 16 == 0)
    }

    @Test func autoRunsTinyInputsSequentially() throws {
        let engine = try makeEngine(EngineFixture.configuration(.auto, workers: 2, chunk: nil))
        defer { engine.close() }
        let kernel = try KernelCatalog().kernel(named: "absdist.sum", dtype: .i32)
        let input = try engine.makeBuffer(count: 1, width: 4)
        try engine.initialize(input, dtype: .i32, count: 1, generator: DataGenerator(seed: 1))
        let result = try engine.run(EngineJob(kernel: kernel, input: input, output: nil, count: 1, params: EngineFixture.params(.i32)))
        #expect(result.statistics.engine == .sequential)
        let decision = try #require(result.statistics.autoDecision)
        #expect(decision.chosen == .sequential)
        #expect(decision.sequentialEstimateNanoseconds < AutoEngine.minimumParallelWorkNanoseconds)
    }

    @Test func autoChoosesThePoolForLargeInputs() throws {
        let engine = try makeEngine(EngineFixture.configuration(.auto, workers: 2, chunk: nil))
        defer { engine.close() }
        let kernel = try KernelCatalog().kernel(named: "absdist.sum", dtype: .i32)
        let count = 32 << 20
        let input = try engine.makeBuffer(count: count, width: 4)
        try engine.initialize(input, dtype: .i32, count: count, generator: DataGenerator(seed: 1))
        let result = try engine.run(EngineJob(kernel: kernel, input: input, output: nil, count: count, params: EngineFixture.params(.i32)))
        let decision = try #require(result.statistics.autoDecision)
        #expect(decision.chosen == .lockfreePool)
        #expect(result.statistics.engine == .lockfreePool)
        #expect(decision.poolEstimateNanoseconds * 1.25 < decision.sequentialEstimateNanoseconds)
    }

    @Test func badConfigurationsAreUsageErrors() {
        for (configuration, message) in [(EngineFixture.configuration(.lockfreePool, workers: 0), "--workers 0: must be a whole number in 1...4096"),
                                         (EngineFixture.configuration(.lockfreePool, workers: 4097), "--workers 4097: must be a whole number in 1...4096"),
                                         (EngineFixture.configuration(.lockfreePool, chunk: 0), "--chunk 0: must be at least 1 element"),
                                         (EngineFixture.configuration(.spawn, blocks: 0), "--blocks 0: accepted 1...100000")] {
            #expect(throws: UnlockedError.usage(message)) { try makeEngine(configuration) }
        }
    }

    @Test(arguments: [["--engine", "nope"], ["--workers", "0"], ["--chunk", "0"], ["--chunk", "x"], ["--blocks", "0"]])
    func badEngineFlagsAreOneLineAndExit64(arguments: [String]) throws {
        let outcome = try CommandLineTool.run(["run", "--size", "1000"] + arguments)
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains(arguments[1]), "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("Fatal error"))
    }

    /// The CLI prints the statistics, and --json carries them.
    @Test func runReportsEngineStatistics() throws {
        let text = try CommandLineTool.run(["run", "--engine", "gil", "--workers", "2", "--size", "100000", "--chunk", "10000", "--reps", "1"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("engine      gil, 2 workers, chunk 10000 (10 chunks)"))
        #expect(text.stdout.contains("locks       10 acquisitions"))
        let json = try CommandLineTool.run(["run", "--engine", "processes-pipe", "--workers", "2", "--size", "1000", "--reps", "1", "--json"])
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let engine = object?["engine"] as? [String: Any]
        #expect(engine?["name"] as? String == "processes-pipe")
        #expect((engine?["bytes_copied"] as? Int ?? 0) > 4000)
        #expect((engine?["bindings"] as? [Any])?.count == 2)
    }
}

@Suite struct CallParameterTests {
    /// Streaming stores are asked for exactly when a map's output exceeds the last-level cache.
    @Test func streamingStoresOnlyForOutputBeyondTheCache() throws {
        let map = try KernelCatalog().kernel(named: "absdist.map", dtype: .i32)
        let sum = try KernelCatalog().kernel(named: "absdist.sum", dtype: .i32)
        let width = try #require(map.outputType?.byteWidth)
        let fits = lastLevelCacheBytes / width, exceeds = fits + 1
        let params = EngineFixture.params(.i32)
        #expect(callParameters(params, kernel: map, count: exceeds).flags & UK_FLAG_STREAMING_STORES != 0)
        #expect(callParameters(params, kernel: map, count: fits).flags & UK_FLAG_STREAMING_STORES == 0)
        #expect(callParameters(params, kernel: sum, count: exceeds * 8).flags & UK_FLAG_STREAMING_STORES == 0)
    }
}

@Suite(.serialized) struct EngineConcurrencyModeTests {
    static let threadEngines: [EngineKind] = [.sequential, .spawn, .gil, .lockedPool, .lockfreePool, .tasks, .gcd, .auto]

    private func sumThrough(_ kind: EngineKind, plugin: PluginInstance, jobs: Int = 3) throws -> [EngineStatistics] {
        let kernel = try #require(plugin.kernels.first)
        let engine = try makeEngine(EngineFixture.configuration(kind, workers: 3, chunk: 100))
        defer { engine.close() }
        let count = 5_000
        let input = try engine.makeBuffer(count: count, width: 4)
        try engine.initialize(input, dtype: .i32, count: count, generator: DataGenerator(seed: 3, low: -50, high: 50))
        let x = input.base.assumingMemoryBound(to: Int32.self)
        let expected = (0..<count).reduce(Int128(0)) { $0 + Int128(x[$1]) }
        var statistics: [EngineStatistics] = []
        for _ in 0..<jobs {
            let (value, stats) = try engine.value(of: EngineJob(kernel: kernel, input: input, output: nil, count: count, params: EngineFixture.params(.i32)))
            #expect(value == .signed(expected), "\(kind)")
            statistics.append(stats)
        }
        return statistics
    }

    /// Each worker gets its own context from worker_init, uses it only on its
    /// own thread (the kernel fails otherwise), and every context is released.
    @Test(arguments: threadEngines)
    func perWorkerContextsStayOnTheirWorker(kind: EngineKind) throws {
        TestPlugin.workerInits.store(0, ordering: .relaxed)
        TestPlugin.workerFinis.store(0, ordering: .relaxed)
        _ = try sumThrough(kind, plugin: TestPlugin.make(UK_CONCURRENCY_PER_WORKER))
        let inits = TestPlugin.workerInits.load(ordering: .relaxed)
        #expect(inits >= 1)
        #expect(inits == TestPlugin.workerFinis.load(ordering: .relaxed))
    }

    /// Every call of a SERIAL plugin holds the one global lock (the kernel
    /// fails if two threads are inside it), and the report says so.
    @Test(arguments: threadEngines)
    func serialPluginCallsNeverOverlap(kind: EngineKind) throws {
        for stats in try sumThrough(kind, plugin: TestPlugin.make(UK_CONCURRENCY_SERIAL)) {
            // The locked pool also counts its own queue lock.
            let chunks = stats.chunksPerWorker.reduce(0, +)
            #expect(kind == .lockedPool ? stats.lockAcquisitions >= chunks : stats.lockAcquisitions == chunks)
            #expect(stats.notes.contains { $0.contains("SERIAL") })
        }
    }

    @Test func threadSafeKernelsTakeNoLock() throws {
        let stats = try sumThrough(.lockfreePool, plugin: TestPlugin.make(UK_CONCURRENCY_THREAD_SAFE))
        #expect(stats.allSatisfy { $0.lockAcquisitions == 0 && $0.chunkCount == 50 })
    }

    @Test(arguments: [EngineKind.processesShm, .processesPipe])
    func processEnginesRefusePluginsWithoutAFile(kind: EngineKind) throws {
        #expect(throws: UnlockedError.usage("kernel test.sum of plugin testplugin: worker processes load plugins from a file, and this one has no path")) {
            try sumThrough(kind, plugin: TestPlugin.make(UK_CONCURRENCY_THREAD_SAFE), jobs: 1)
        }
    }
}
