import Foundation
import Testing

@Suite struct RunCommandTests {
    @Test(arguments: [["--size", "0"], ["--size", "abc"], ["--reps", "0"], ["--center", "x"],
                      ["--center", "3000000000"], ["--kernel", "nope"], ["--dtype", "u8"]])
    func badInputIsOneLineAndExit64(arguments: [String]) throws {
        let outcome = try CommandLineTool.run(["run"] + arguments)
        #expect(outcome.status == 64)
        #expect(!outcome.stderr.isEmpty)
        #expect(!outcome.stderr.contains("Fatal error"))
    }
}
