import Foundation
import Testing
@testable import Unlocked

/// Several engines on one calling thread, as Python keeps them (a runtime
/// per thread and options beside a `Pool`): each job runs where its own
/// engine's plan says, and the thread gets its CPUs back when the last
/// engine that pinned it closes. Affinities are read, not timed.
@Suite("Caller binding") struct CallerBindingTests {
    /// `kind` with its calling thread (worker 0) planned on `cpu`, or unbound.
    static func engine(_ kind: EngineKind, callerOn cpu: Int?) throws -> any Engine {
        var configuration = EngineFixture.configuration(kind, workers: kind == .sequential ? 1 : 2)
        configuration.placement.workers[0].osPU = cpu
        return try makeEngine(configuration)
    }

    /// One small job, and the CPUs the calling thread may use after it.
    static func job(_ engine: any Engine) throws -> Set<Int>? {
        let count = 1_000
        let input = try engine.makeBuffer(count: count, width: DType.i32.byteWidth)
        try engine.initialize(input, dtype: .i32, count: count, generator: DataGenerator(seed: 3))
        let kernel = try KernelCatalog().kernel(named: "absdist.sum", dtype: .i32)
        _ = try engine.run(EngineJob(kernel: kernel, input: input, output: nil, count: count, params: EngineFixture.params(.i32)))
        return currentThreadCPUs()
    }

    @Test func anUnpinnedEngineKeepsNoOtherEnginesPin() throws {
        let allowed = try #require(initialAffinity)
        let cpu = allowed.min()!
        let (whilePinned, afterClose) = try EngineFixture.onOwnThread { () throws -> (Set<Int>?, Set<Int>?) in
            let pool = try Self.engine(.lockfreePool, callerOn: cpu)
            _ = try Self.job(pool)
            let unpinned = try Self.engine(.sequential, callerOn: nil)
            defer { unpinned.close() }
            let whilePinned = try Self.job(unpinned)
            pool.close()
            return (whilePinned, currentThreadCPUs())
        }
        #expect(whilePinned == [cpu], "an unpinned engine leaves the pool's pin alone")
        #expect(afterClose == allowed, "the pool closed: the thread has its CPUs back")
    }

    @Test(.enabled(if: (initialAffinity?.count ?? 0) >= 2, "two pinned engines need two allowed CPUs"))
    func alternatingPinnedEnginesEachRunOnTheirOwnCPU() throws {
        let allowed = try #require(initialAffinity).sorted()
        let seen = try EngineFixture.onOwnThread { () throws -> [Set<Int>?] in
            let first = try Self.engine(.sequential, callerOn: allowed[0])
            let second = try Self.engine(.lockfreePool, callerOn: allowed[1])
            var seen = [try Self.job(first), try Self.job(second), try Self.job(first)]
            second.close()
            seen.append(try Self.job(first))
            first.close()
            seen.append(currentThreadCPUs())
            return seen
        }
        #expect(seen == [[allowed[0]], [allowed[1]], [allowed[0]], [allowed[0]], Set(allowed)])
    }
}
