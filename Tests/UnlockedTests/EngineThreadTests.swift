import Foundation
import Testing
@testable import Unlocked

/// The engines' own threads: where they are bound and what they are called.
@Suite struct EngineThreadTests {
    /// A worker thread that cannot bind fails the engine's creation with the
    /// binding's own error, whichever pool collected it.
    @Test(arguments: [EngineKind.lockfreePool, .gil, .lockedPool, .tasks, .auto])
    func aWorkerThatCannotBindFailsCreation(kind: EngineKind) {
        let error = #expect(throws: UnlockedError.self) { try makeEngine(EngineFixture.unbindable(kind)) }
        #expect(error?.kind == .usage)
        #expect(error?.message.hasPrefix("worker 1: cannot bind to CPU \(EngineFixture.missingCPU): ") == true, "\(error?.message ?? "")")
    }

    /// Each thread engine reports one binding per worker, in worker order.
    @Test(arguments: [EngineKind.sequential, .lockfreePool, .gil, .lockedPool, .tasks, .auto])
    func bindingsComeInWorkerOrder(kind: EngineKind) throws {
        let engine = try makeEngine(EngineFixture.configuration(kind, workers: 3))
        defer { engine.close() }
        _ = try engine.run(EngineFixture.sumJob(engine))
        #expect(engine.startup.bindings.map(\.worker) == Array(0..<engine.workerCount))
    }
}
