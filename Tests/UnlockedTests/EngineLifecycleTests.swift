import Foundation
import Testing
@testable import Unlocked

@Suite struct EngineLifecycleTests {
    /// Every engine: after `close` (twice: it is idempotent) each kind of job
    /// is the same clear error naming the engine, never a result or a hang
    /// (the tasks engine used to queue work on its joined threads and wait).
    @Test(.timeLimit(.minutes(1)), arguments: EngineFixture.sanitizableKinds)
    func jobsAfterCloseAreAClearError(kind: EngineKind) throws {
        let engine = try makeEngine(EngineFixture.configuration(kind, workers: 2))
        let job = try EngineFixture.sumJob(engine)
        _ = try engine.run(job)
        #expect(engine.state == .running)
        engine.close()
        engine.close()
        #expect(engine.state == .closed)
        let closed = UnlockedError.internal("the \(kind.rawValue) engine is closed and runs no more jobs")
        #expect(throws: closed) { try engine.run(job) }
        #expect(throws: closed) { try engine.initialize(job.input, dtype: .i32, count: 10, generator: DataGenerator(seed: 1)) }
        #expect(throws: closed) { try engine.makeBuffer(count: 10, width: 4) }
    }
}
