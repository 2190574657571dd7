import CKernels
import Foundation
import Testing
@testable import Unlocked

/// The `isolated` engine: each worker its own copy of a plugin in a link-map
/// namespace of its own, so a SERIAL plugin with process-global state runs in
/// parallel, without a lock, and still gives the sequential result.
/// Serialized: the copy count is process-wide, and a test of this suite
/// running beside another would load copies in the middle of its check.
@Suite("Isolated engine", .serialized) struct IsolatedEngineTests {
    /// `scratch:absdist.sum` keeps its running total in one global variable.
    static func serialSum() throws -> (KernelCatalog, Kernel) {
        let catalog = try KernelCatalog.loading(explicit: [try PluginFixtures.path("scratch")], searchPath: nil)
        let kernel = try catalog.kernel(named: "scratch:absdist.sum", dtype: .i32)
        #expect(kernel.plugin.concurrency == UK_CONCURRENCY_SERIAL)
        return (catalog, kernel)
    }

    static func sum(_ kind: EngineKind, workers: Int, kernel: Kernel, count: Int) throws -> (uk_acc, EngineStatistics) {
        let engine = try makeEngine(EngineFixture.configuration(kind, workers: workers, chunk: 4096))
        defer { engine.close() }
        let input = try engine.makeBuffer(count: count, width: 4)
        try engine.initialize(input, dtype: .i32, count: count, generator: DataGenerator(seed: 7))
        let job = EngineJob(kernel: kernel, input: input, output: nil, count: count, params: EngineFixture.params(.i32, center: "37"))
        var last: EngineResult?
        for _ in 0..<5 { last = try engine.run(job) }  // the copies are reused across jobs
        return (last!.acc, last!.statistics)
    }

    @Test(arguments: [2, 4])
    func serialPluginWithGlobalStateEqualsSequential(workers: Int) throws {
        let (_, kernel) = try Self.serialSum()
        let count = 1 << 20
        let (expected, _) = try Self.sum(.sequential, workers: 1, kernel: kernel, count: count)
        let (got, statistics) = try Self.sum(.isolated, workers: workers, kernel: kernel, count: count)
        #expect(got.lo == expected.lo && got.hi == expected.hi)
        #expect(statistics.engine == .isolated)
        #expect(statistics.lockAcquisitions == 0, "each worker calls its own copy: no lock")
        #expect(IsolatedPlugins.loadedCount >= workers, "each worker took a copy of its own")
        #expect(statistics.notes.contains { $0.contains("its own copy") })
    }

    /// Under the locked pool the same plugin is serialised: the contrast the engine exists for.
    @Test func lockedPoolSerialisesTheSamePlugin() throws {
        let (_, kernel) = try Self.serialSum()
        let (_, statistics) = try Self.sum(.lockedPool, workers: 2, kernel: kernel, count: 1 << 16)
        #expect(statistics.lockAcquisitions > 0)
    }

    @Test func builtInKernelsRunAsInTheLockFreePool() throws {
        let kernel = try KernelCatalog().kernel(named: "absdist.sum", dtype: .i32)
        let (expected, _) = try Self.sum(.sequential, workers: 1, kernel: kernel, count: 100_003)
        let (got, _) = try Self.sum(.isolated, workers: 3, kernel: kernel, count: 100_003)
        #expect(got.lo == expected.lo && got.hi == expected.hi)
    }

    /// Copies are leased per worker and returned when the engine closes, so
    /// engines one after the other reuse them instead of loading new ones.
    @Test func copiesAreReusedAcrossEngines() throws {
        let (_, kernel) = try Self.serialSum()
        _ = try Self.sum(.isolated, workers: 2, kernel: kernel, count: 1 << 16)
        let loaded = IsolatedPlugins.loadedCount
        for _ in 0..<3 { _ = try Self.sum(.isolated, workers: 2, kernel: kernel, count: 1 << 16) }
        #expect(IsolatedPlugins.loadedCount == loaded)
    }

    /// More workers than glibc has namespaces: one line, exit 64, naming the way out.
    @Test func namespaceExhaustionIsAClearError() throws {
        let outcome = try CommandLineTool.run(["run", "--plugin", try PluginFixtures.path("scratch"), "--kernel", "scratch:absdist.sum",
                                               "--engine", "isolated", "--workers", "40", "--oversubscribe", "--size", "1e6", "--reps", "1"])
        #expect(outcome.status == 64)
        let lines = outcome.stderr.split(separator: "\n").filter { !$0.contains("warning: oversubscribed") }
        #expect(lines.count == 1)
        #expect(lines.first?.contains("isolated: no link-map namespace of its own for another copy of plugin scratch") == true)
        #expect(lines.first?.contains("use fewer workers, or --engine locked-pool") == true)
    }
}
