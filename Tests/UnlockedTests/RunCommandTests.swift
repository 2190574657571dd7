import Foundation
import Testing

@Suite struct RunCommandTests {
    @Test(arguments: [
        (["--size", "0"], "--size 0"), (["--size", "abc"], "--size abc"), (["--reps", "0"], "--reps 0"),
        (["--center", "x"], "--center x: not a number"), (["--center", ""], "not a number"),
        (["--center", "3000000000"], "out of range"), (["--kernel", "nope"], "nope"), (["--dtype", "u8"], "u8"),
        (["--workers", "4294967296"], "--workers 4294967296: must be a whole number in 1...4096"),
        (["--reps", "9223372036854775807"], "--reps 9223372036854775807: must be a whole number in 1...1000000"),
        (["--warmup", "9223372036854775807"], "--warmup 9223372036854775807: must be a whole number in 0...1000000"),
        (["--pin", "-1"], "invalid CPU list '-1'"),
    ])
    func badInputIsOneLineAndExit64(arguments: [String], message: String) throws {
        let outcome = try CommandLineTool.run(["run"] + arguments)
        #expect(outcome.status == 64)
        #expect(outcome.stderr.contains(message), "\(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1)
        #expect(!outcome.stderr.contains("Fatal error"))
    }

    /// Negative numbers read as people type them, with a space.
    @Test func negativeCentreWithASpace() throws {
        let spaced = try CommandLineTool.run(["run", "--center", "-5", "--size", "1000", "--json", "--reps", "1"])
        let joined = try CommandLineTool.run(["run", "--center=-5", "--size", "1000", "--json", "--reps", "1"])
        #expect(spaced.status == 0, "\(spaced.stderr)")
        #expect(try result(spaced.stdout) == result(joined.stdout))
    }

    /// A chunk wider than the job is one chunk, not an overflow in the workers.
    @Test func hugeChunkIsOneChunk() throws {
        let common = ["run", "--size", "10000", "--json", "--reps", "1"]
        let huge = try CommandLineTool.run(common + ["--engine", "processes-pipe", "--workers", "2", "--chunk", "9223372036854775807"])
        let sequential = try CommandLineTool.run(common + ["--engine", "sequential"])
        #expect(huge.status == 0, "\(huge.stderr)")
        #expect(try result(huge.stdout) == result(sequential.stdout))
    }

    private func result(_ json: String) throws -> String? {
        try (JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["result"] as? String
    }
}
