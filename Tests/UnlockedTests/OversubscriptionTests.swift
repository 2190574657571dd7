import CKernels
import Foundation
import Testing
@testable import Unlocked

/// More workers than CPUs to run them: the lock-free pool stays correct and
/// waits by yielding and parking instead of spinning, and `auto` divides the
/// work by the CPUs, not the workers. Unbound workers (tests run in
/// parallel), so the CPUs are the process's.
@Suite struct OversubscriptionTests {
    static let cpus = concurrentCPUs(.unbound(1))

    @Test func concurrentCPUsCountsDistinctPlannedPUsOrTheProcessCPUs() throws {
        let pu = try #require(initialAffinity?.min())
        let samePU = PlacementPlan(workers: (0..<3).map { PlacementPlan.Worker(index: $0, osPU: pu) })
        #expect(concurrentCPUs(samePU) == 1)
        var skipped = samePU
        skipped.bindingSkipped = "another machine's topology"
        #expect(concurrentCPUs(skipped) == Self.cpus)
        #expect(Self.cpus <= initialAffinity?.count ?? .max)
    }

    /// Every dtype, sum and map, 2× and 4× as many workers as CPUs: the
    /// pool's results equal the sequential engine's (integers and map output
    /// bit-identical, float sums within twice the kernels' bound of each other).
    @Test(arguments: [2, 4])
    func oversubscribedPoolMatchesSequential(factor: Int) throws {
        let pool = try LockFreePool(EngineFixture.configuration(.lockfreePool, workers: factor * Self.cpus, chunk: 1000),
                                    globalLock: nil)
        defer { pool.close() }
        #expect(pool.oversubscribed)
        let sequential = try makeEngine(EngineFixture.configuration(.sequential, workers: 1, chunk: nil))
        defer { sequential.close() }
        let generator = DataGenerator(seed: 11, low: -1000, high: 1000)
        let count = 25_013
        for dtype in DType.allCases {
            let input = try pool.makeBuffer(count: count, width: dtype.byteWidth)
            try pool.initialize(input, dtype: dtype, count: count, generator: generator)
            let expectedInput = try JobBuffer(count: count, width: dtype.byteWidth)
            generator.fill(expectedInput.base, dtype: dtype, range: 0..<count)
            #expect(memcmp(input.base, expectedInput.base, count * dtype.byteWidth) == 0, "initialize \(dtype)")
            for name in ["absdist.sum", "absdist.map"] {
                let kernel = try KernelCatalog().kernel(named: name, dtype: dtype)
                let params = EngineFixture.params(dtype, center: "37")
                let outputs = try (0..<2).map { _ in try kernel.outputType.map { try JobBuffer(count: count, width: $0.byteWidth) } }
                let got = try pool.run(EngineJob(kernel: kernel, input: input, output: outputs[0], count: count, params: params))
                let want = try sequential.run(EngineJob(kernel: kernel, input: input, output: outputs[1], count: count, params: params))
                let label = "\(name) \(dtype) ×\(factor)"
                if let output = outputs[0], let reference = outputs[1] {
                    #expect(memcmp(output.base, reference.base, count * kernel.outputType!.byteWidth) == 0, "\(label) map output")
                } else if dtype.isInteger {
                    #expect(got.acc.lo == want.acc.lo && got.acc.hi == want.acc.hi, "\(label)")
                } else {
                    var magnitude = 0.0
                    for i in 0..<count {
                        magnitude += 37 + (dtype == .f32 ? Double(abs(input.base.load(fromByteOffset: i * 4, as: Float.self)))
                                                         : abs(input.base.load(fromByteOffset: i * 8, as: Double.self)))
                    }
                    #expect(abs(got.acc.f - want.acc.f) <= 2 * Double(count) * 0x1p-53 * magnitude, "\(label): \(got.acc.f) vs \(want.acc.f)")
                }
                #expect(got.statistics.chunksPerWorker.reduce(0, +) == got.statistics.chunkCount, "\(label)")
            }
        }
    }

    enum Waiting: CaseIterable, Sendable { case oversubscribed, unpinned, pinnedApart }

    /// Oversubscribed, waits yield and then park on the futex: both counters
    /// move. Unpinned with a CPU per worker, spinning yields now and then (the
    /// scheduler may have stacked a waiter on the CPU of the thread it waits
    /// for: a Python Pool with pin=None took 120 µs a job instead of 6). Pinned
    /// to PUs of their own, the threads spin without yielding, then park.
    @Test(arguments: Waiting.allCases)
    func waitsYieldOnlyWhenThreadsMayShareACPU(waiting: Waiting) throws {
        let workers = waiting == .oversubscribed ? 2 * Self.cpus : min(Self.cpus, 4)
        var configuration = EngineFixture.configuration(.lockfreePool, workers: workers, chunk: 1000)
        if waiting == .pinnedApart {
            let allowed = try #require(initialAffinity).sorted()
            try #require(allowed.count >= workers)
            for index in 0..<workers { configuration.placement.workers[index].osPU = allowed[index] }
        }
        let pool = try LockFreePool(configuration, globalLock: nil)
        defer { pool.releaseCallingThread(); pool.close() }
        #expect(pool.oversubscribed == (waiting == .oversubscribed))
        let job = try EngineFixture.sumJob(pool, count: 100_000)
        let before = pool.waitCounts
        for _ in 0..<50 { _ = try pool.run(job) }
        // After the last job every helper parks: wait for a park (10 s at most, not a timing assertion).
        let deadline = monotonicNanoseconds() + 10_000_000_000
        while workers > 1, pool.waitCounts.parks == before.parks, monotonicNanoseconds() < deadline { usleep(1000) }
        let after = pool.waitCounts
        if workers > 1 { #expect(after.parks > before.parks) }
        if waiting == .pinnedApart || workers == 1 {
            #expect(after.yields == before.yields)
        } else {
            #expect(after.yields > before.yields)
        }
    }

    /// `auto` with 4× as many workers as CPUs estimates the pool's share of
    /// the work per CPU: dividing by the workers would promise a 4× speed-up
    /// that time-sharing CPUs cannot give.
    @Test func autoDividesTheWorkByCPUsWhenOversubscribed() throws {
        let engine = try AutoEngine(EngineFixture.configuration(.auto, workers: 4 * Self.cpus, chunk: nil))
        defer { engine.close() }
        let count = 1 << 20
        let job = try EngineFixture.sumJob(engine, count: count)
        let result = try engine.run(job)
        let decision = try #require(result.statistics.autoDecision)
        let expected = decision.roundTripNanoseconds + decision.sequentialEstimateNanoseconds / Double(Self.cpus)
        #expect(abs(decision.poolEstimateNanoseconds - expected) <= 1e-9 * expected,
                "pool ≈ \(decision.poolEstimateNanoseconds) ns, expected \(expected) ns")
        #expect(result.statistics.engine == decision.chosen)
    }
}
