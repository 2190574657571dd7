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

    /// Names stay whole within the kernel's 15 characters and differ for
    /// every worker an engine may have (4096; `spawn` blocks up to 100,000):
    /// cut names used to make worker 100 of lockfree-pool `ukw-lockfree-10`.
    @Test(arguments: EngineKind.allCases)
    func namesAreUniqueAndFit(kind: EngineKind) {
        let count = kind == .spawn ? 100_000 : 4_096
        let names = (0..<count).map { workerThreadName(kind.threadRole, $0) }
        #expect(names.allSatisfy { $0.utf8.count <= maximumThreadNameLength }, "\(names.last ?? "")")
        #expect(Set(names).count == count)
    }

    /// The threads of a pool of 101 workers carry those names.
    @Test func poolThreadsCarryTheirNames() throws {
        let engine = try makeEngine(EngineFixture.configuration(.lockfreePool, workers: 101))
        defer { engine.close() }
        let names = Set(((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).map {
            procFile("/proc/self/task/\($0)/comm").trimmingCharacters(in: .whitespacesAndNewlines)
        })
        #expect(names.isSuperset(of: ["ukw-lfree-1", "ukw-lfree-10", "ukw-lfree-100"]))
    }
}
