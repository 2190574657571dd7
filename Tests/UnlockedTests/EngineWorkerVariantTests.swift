import Foundation
import Testing
@testable import Unlocked

/// Worker processes run the kernel variant of the process that started them
/// (before, they ran the scalar one while the parent ran AVX-512), and the
/// run report says which variant each one used.
@Suite struct EngineWorkerVariantTests {
    @Test(arguments: [EngineKind.processesShm, .processesPipe])
    func workersRunTheParentsVariant(kind: EngineKind) throws {
        let engine = try makeEngine(EngineFixture.configuration(kind, workers: 2))
        defer { engine.close() }
        #expect(engine.startup.workerISAs == [ISA.selected, ISA.selected])
    }

    /// A worker that selected another variant (here forced through its
    /// environment) fails the start, naming both variants.
    @Test func aWorkerOnAnotherVariantFailsTheStart() throws {
        // Scalar is always supported, so another variant exists unless this process already runs scalar.
        let other = try #require(ISA.allCases.first { $0.isSupported && $0 != ISA.selected },
                                 "no second kernel variant runs on this CPU")
        let configuration = EngineFixture.configuration(.processesShm, workers: 2, environment: ["UNLOCKED_ISA": other.rawValue])
        let error = try #require(throws: UnlockedError.self) { try makeEngine(configuration) }
        #expect(error.kind == .internal)
        #expect(error.message.contains("runs the \(other.rawValue) kernels, this process the \(ISA.selected.rawValue) ones"))
    }

    @Test func runReportsEachWorkersVariant() throws {
        let json = try CommandLineTool.run(["run", "--engine", "processes-shm", "--workers", "2", "--size", "1000", "--reps", "1", "--json"])
        #expect(json.status == 0)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let reported = (object?["engine"] as? [String: Any])?["worker_isas"] as? [String]
        let isa = object?["isa"] as? String
        #expect(isa != nil)
        #expect(reported == [isa, isa].compactMap { $0 })
        let text = try CommandLineTool.run(["run", "--engine", "processes-pipe", "--workers", "2", "--size", "1000", "--reps", "1"])
        #expect(text.stdout.contains("variants    w0 \(isa ?? "?"), w1 \(isa ?? "?") (worker processes)"))
    }
}
