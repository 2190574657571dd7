import Foundation
import Testing
@testable import Unlocked

@Suite("Plugin verify") struct PluginVerifyTests {
    /// A kernel that crashes, aborts, hangs or computes wrong results becomes
    /// a verdict naming it and the check; the host exits 65 with one line.
    @Test(arguments: [
        ("SEGV", "crashed with SIGSEGV (segmentation fault)"),
        ("ABORT", "crashed with SIGABRT (aborted)"),
        ("LOOP", "no progress for 5 s, killed (an endless loop?)"),
        ("WRONG", "got 203416, expected 203428"),
    ])
    func misbehavingKernelIsAVerdict(fixture: String, failure: String) throws {
        let path = try PluginFixtures.path(fixture)
        // 5 s: in the ASan build the first check alone takes ~1 s at a load of 11, 2 s at 21.
        let outcome = try CommandLineTool.run(["plugins", "verify", "--timeout", "5", "--threads", "4", path])
        #expect(outcome.status == 65)
        #expect(outcome.stderr == "unlocked: plugin \(path): 1 of 2 kernels failed verification; first bad.sum (i32): whole array: [0, 8191): \(failure)\n"
                || outcome.stderr == "unlocked: plugin \(path): 1 of 2 kernels failed verification; first bad.sum (i32): whole array: \(failure)\n",
                "\(outcome.stderr)")
        #expect(outcome.stdout.contains("ok   good.sum i32: concurrency THREAD_SAFE, 4 threads"))
        #expect(outcome.stdout.contains("FAIL bad.sum i32: whole array: "))
    }

    @Test func wrongTailIsCaughtByTheTailCheck() throws {
        let outcome = try CommandLineTool.run(["plugins", "verify", "--threads", "2", try PluginFixtures.path("WRONG")])
        #expect(outcome.stdout.contains("FAIL bad.sum i32: every tail length 0...130: [0, 9): got 225, expected 255"))
        #expect(outcome.stdout.contains("FAIL bad.sum i32: chunked equals whole"))
    }

    @Test func invalidPluginFailsVerifyWithTheLoaderError() throws {
        let path = try PluginFixtures.path("ABI_MAJOR")
        let outcome = try CommandLineTool.run(["plugins", "verify", path])
        #expect(outcome.status == 65)
        #expect(outcome.stderr.hasPrefix("unlocked: plugin \(path): built for plugin ABI 99.0"))
        let missing = try CommandLineTool.run(["plugins", "verify", "/nonexistent/libnothing.so"])
        #expect(missing.status == 66)
    }

    @Test(arguments: PluginFixtures.examples)
    func examplePluginPassesVerify(example: String) throws {
        let outcome = try CommandLineTool.run(["plugins", "verify", try PluginFixtures.path(example)])
        #expect(outcome.status == 0, "\(outcome.stdout)\(outcome.stderr)")
        #expect(!outcome.stdout.contains("FAIL"))
        #expect(outcome.stdout.contains("kernels passed"))
    }

    /// `bench` takes a plugin kernel by its qualified name, which is the only
    /// way to name one that reuses a built-in name; under `locked-pool` and
    /// `lockfree-pool` the SERIAL scratch plugin gives the built-in's sum.
    /// (Not `isolated`: this suite also runs under ASan, whose runtime a
    /// dlmopen namespace does not have.)
    @Test func benchRunsAQualifiedPluginKernel() throws {
        let common = ["bench", "--json", "--reps", "2", "--sizes", "100003", "--workers", "2", "--center", "37"]
        let plugin = try CommandLineTool.run(common + ["--plugin", try PluginFixtures.path("scratch"), "--kernel", "scratch:absdist.sum",
                                                      "--engines", "locked-pool,lockfree-pool"])
        let builtin = try CommandLineTool.run(common + ["--kernel", "absdist.sum", "--engines", "sequential"])
        #expect(plugin.status == 0, "\(plugin.stderr)")
        func cells(_ json: String) throws -> [[String: Any]] {
            try #require((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["cells"] as? [[String: Any]])
        }
        let want = try #require(try cells(builtin.stdout).first?["result"] as? String)
        let got = try cells(plugin.stdout)
        #expect(got.map { $0["engine"] as? String } == ["locked-pool", "lockfree-pool"])
        #expect(got.allSatisfy { $0["kernel"] as? String == "scratch:absdist.sum" && $0["result"] as? String == want }, "\(got)")
    }

    /// The blocked (per-worker) and scratch (serial) examples reimplement
    /// built-in kernels: `run` must give the built-in result.
    @Test(arguments: [("perworker", "blocked:absdist.sum", "absdist.sum", "i32"),
                      ("perworker", "blocked:absdist.sum", "absdist.sum", "f64"),
                      ("scratch", "scratch:absdist.map", "absdist.map", "i32"),
                      ("scratch", "scratch:absdist.map", "absdist.map", "f64")])
    func exampleRunMatchesBuiltin(example: String, kernel: String, builtin: String, dtype: String) throws {
        let common = ["run", "--json", "--reps", "1", "--size", "100003", "--dtype", dtype, "--center", "37"]
        let plugin = try CommandLineTool.run(common + ["--plugin", try PluginFixtures.path(example), "--kernel", kernel])
        let reference = try CommandLineTool.run(common + ["--kernel", builtin])
        #expect(plugin.status == 0, "\(plugin.stderr)")
        let (got, want) = (try result(plugin.stdout), try result(reference.stdout))
        if dtype.hasPrefix("f"), let got = Double(got), let want = Double(want) {
            // Float sums may add in another order: the documented bound, for both sides.
            let count = 100_003.0
            #expect(abs(got - want) <= 2 * (count - 1) * 0x1p-53 * want)
        } else {
            #expect(got == want)
        }
    }

    @Test func sqdistRunMatchesASwiftSum() throws {
        let count = 100_003
        let outcome = try CommandLineTool.run(["run", "--json", "--reps", "1", "--size", "\(count)", "--center", "37",
                                               "--plugin", try PluginFixtures.path("sqdist"), "--kernel", "sqdist.sum"])
        var data = [Int32](repeating: 0, count: count)
        data.withUnsafeMutableBytes { DataGenerator(seed: 42).fill($0.baseAddress!, dtype: .i32, range: 0..<count) }
        let expected = data.reduce(UInt64(0)) { $0 + UInt64((Int64($1) - 37) * (Int64($1) - 37)) }
        #expect(try result(outcome.stdout) == "\(expected)")
    }

    /// The checks themselves pass on the built-in reference kernels.
    @Test func builtinKernelsConform() throws {
        try ISA.initializeDispatch()
        for kernel in PluginInstance.builtin.kernels where kernel.inputType == .i32 || kernel.inputType == .f64 {
            var failures: [String] = []
            PluginConformance(kernel: kernel, threads: 2).run { event in
                if case .fail(let check, let reason) = event { failures.append("\(kernel.name) \(check): \(reason)") }
            }
            #expect(failures.isEmpty, "\(failures)")
        }
    }

    private func result(_ json: String) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return try #require(object?["result"] as? String)
    }
}
