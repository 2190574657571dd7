import Foundation
import Testing

/// `run --input` honours every engine and placement flag as generated data
/// does, and refuses the flags a file decides itself. Each test would fail
/// if its flag were ignored: it reads the report's own fields.
@Suite struct RunInputTests {
    static let input = NpyFixtures.path("i4_v1.npy")

    /// `unlocked run --input <fixture> --json` plus `arguments`, parsed.
    static func report(_ arguments: [String]) throws -> [String: Any] {
        let outcome = try CommandLineTool.run(["run", "--input", input, "--json", "--reps", "1"] + arguments)
        #expect(outcome.status == 0, "\(arguments): \(outcome.stderr)")
        return try #require(JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
    }

    static func engine(_ report: [String: Any]) throws -> [String: Any] { try #require(report["engine"] as? [String: Any]) }
    static func placement(_ report: [String: Any]) throws -> [String: Any] { try #require(report["placement"] as? [String: Any]) }
    static func memoryRequests(_ report: [String: Any]) throws -> [String] {
        try #require(placement(report)["memory"] as? [[String: Any]]).compactMap { $0["requested"] as? String }
    }

    @Test func engineAndWorkers() throws {
        let baseline = try Self.report(["--engine", "sequential"])
        let report = try Self.report(["--engine", "lockfree-pool", "--workers", "2"])
        #expect(try Self.engine(report)["name"] as? String == "lockfree-pool")
        #expect(try Self.engine(report)["workers"] as? Int == 2)
        #expect(report["result"] as? String == baseline["result"] as? String)
        #expect(report["input"] as? String == Self.input)
        #expect(report["seed"] == nil)
    }

    @Test func chunk() throws {
        let engine = try Self.engine(try Self.report(["--engine", "lockfree-pool", "--workers", "2", "--chunk", "2"]))
        #expect(engine["chunk_size"] as? Int == 2)
        #expect(engine["chunk_count"] as? Int == 5)
    }

    @Test func blocks() throws {
        let engine = try Self.engine(try Self.report(["--engine", "spawn", "--blocks", "3"]))
        #expect(engine["chunk_count"] as? Int == 3)
    }

    @Test func pin() throws {
        let workers = try #require(Self.placement(try Self.report(["--engine", "lockfree-pool", "--workers", "1", "--pin", "1"]))["workers"]
                                   as? [[String: Any]])
        #expect(workers.first?["planned_pu"] as? Int == 1)
    }

    @Test(arguments: [(["--mem", "interleave"], "interleave"), (["--huge-pages", "on"], "huge-pages on"), ([], "huge-pages auto")])
    func memory(flags: [String], requested: String) throws {
        #expect(try Self.memoryRequests(try Self.report(flags)).contains(requested))
    }

    @Test func oversubscribe() throws {
        let refused = try CommandLineTool.run(["run", "--input", Self.input, "--engine", "lockfree-pool", "--workers", "4"])
        #expect(refused.status == 64)
        let report = try Self.report(["--engine", "lockfree-pool", "--workers", "4", "--oversubscribe"])
        #expect(try Self.engine(report)["workers"] as? Int == 4)
    }

    @Test func pinBestEffort() throws {
        #expect(try Self.placement(try Self.report([]))["best_effort"] as? Bool == false)
        #expect(try Self.placement(try Self.report(["--pin-best-effort"]))["best_effort"] as? Bool == true)
    }

    @Test(arguments: [(["--size", "10"], "--size 10: does not apply to --input"),
                      (["--seed", "1"], "--seed 1: does not apply to --input"),
                      (["--dtype", "i64"], "--dtype i64: does not apply to")])
    func flagsAFileDecidesAreRefused(flags: [String], message: String) throws {
        let outcome = try CommandLineTool.run(["run", "--input", Self.input] + flags)
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains(message))
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }

    @Test func rawFilesTakeTheirTypeFromDType() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("raw-\(UUID().uuidString).bin").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let values: [Int64] = [-3, 0, 50, 1 << 40]
        try values.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: path))
        let outcome = try CommandLineTool.run(["run", "--input", path, "--dtype", "i64", "--json", "--reps", "1"])
        #expect(outcome.status == 0)
        let report = try #require(JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        #expect(report["dtype"] as? String == "i64")
        #expect(report["result"] as? String == "\(values.map { ($0 - 50).magnitude }.reduce(0, +))")
    }

    @Test func roundTripReportsEmptyJobs() throws {
        let outcome = try CommandLineTool.run(["run", "--engine", "lockfree-pool", "--workers", "2", "--round-trip", "--reps", "1", "--json"])
        #expect(outcome.status == 0)
        let report = try #require(JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        #expect(report["engine"] as? String == "lockfree-pool")
        #expect(report["jobs"] as? Int == 2_000)
        #expect((report["round_trip_median_ns"] as? Double ?? 0) > 0)
        let text = try CommandLineTool.run(["run", "--engine", "locked-pool", "--round-trip", "--reps", "1"])
        #expect(text.stdout.hasPrefix("empty-job round trip through locked-pool"))
    }
}
