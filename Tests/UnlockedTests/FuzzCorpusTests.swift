import Foundation
import Testing
import UnlockedFuzzHarnesses

/// Every committed fuzz input (Tests/Fuzz/corpus/<harness>/: seeds, inputs
/// the fuzzer kept, inputs that once crashed) through the same harness
/// function the libFuzzer driver calls, so a fixed bug stays fixed.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus")

    @Test(arguments: FuzzHarness.allCases)
    func corpusReplaysCleanly(harness: FuzzHarness) throws {
        let directory = Self.corpus.appendingPathComponent(harness.rawValue)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(files.count >= 5, "the corpus of \(harness.rawValue) has \(files.count) inputs")
        for file in files {
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            do {
                try data.withUnsafeBytes { try harness.run($0) }
            } catch {
                Issue.record("\(harness.rawValue)/\(file): \(error)")
            }
        }
    }
}
