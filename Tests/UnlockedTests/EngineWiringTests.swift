import Foundation
import Testing
@testable import Unlocked

/// `unlocked run` wired to the real placement and to plugin kernels in worker processes.
@Suite("Engine wiring") struct EngineWiringTests {
    /// A plugin kernel computed by worker processes over shared memory
    /// gives the same exact sum as the calling thread alone.
    @Test func pluginKernelRunsInWorkerProcesses() throws {
        let common = ["run", "--json", "--reps", "1", "--warmup", "0", "--size", "100003", "--center", "37", "--workers", "2",
                      "--plugin", try PluginFixtures.path("sqdist"), "--kernel", "sqdist.sum"]
        let processes = try CommandLineTool.run(common + ["--engine", "processes-shm"])
        let sequential = try CommandLineTool.run(common + ["--engine", "sequential"])
        #expect(processes.status == 0, "\(processes.stderr)")
        #expect(sequential.status == 0, "\(sequential.stderr)")
        let got = try #require(try object(processes.stdout)["result"] as? String)
        #expect(got == (try object(sequential.stdout)["result"] as? String))
        let engine = try #require(try object(processes.stdout)["engine"] as? [String: Any])
        #expect(engine["name"] as? String == "processes-shm")
    }

    /// `--pin 0` binds worker 0 to CPU 0, and the report shows the plan next to what was observed.
    @Test func pinnedWorkerIsObservedOnItsCPU() throws {
        let outcome = try CommandLineTool.run(["run", "--pin", "0", "--workers", "1", "--engine", "lockfree-pool", "--json",
                                               "--size", "4096", "--reps", "1"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let placement = try #require(try object(outcome.stdout)["placement"] as? [String: Any])
        let workers = try #require(placement["workers"] as? [[String: Any]])
        #expect(workers.count == 1)
        #expect(workers.first?["worker"] as? Int == 0)
        #expect(workers.first?["planned_pu"] as? Int == 0)
        #expect(workers.first?["observed_cpu"] as? Int == 0)
        #expect(workers.first?["bound"] as? Bool == true)
        let memory = try #require(placement["memory"] as? [[String: Any]])
        #expect(memory.compactMap { $0["requested"] as? String } == ["huge-pages auto", "first-touch"])
        let pages = try #require(placement["pages"] as? [String: Any])
        #expect(pages["total_pages"] as? Int ?? 0 >= 4)
        #expect(pages["not_present"] as? Int == 0, "the input was filled before its pages were located")
        #expect((placement["context"] as? [String: Any])?["is_this_machine"] as? Bool == true)
    }

    /// Placement the user got wrong is one line and exit 64, before any work.
    @Test(arguments: [["--workers", "2", "--pin", "0"], ["--mem", "node:"], ["--mem", "everywhere"],
                      ["--topology", "pack:2 core:2 pu:1"]])
    func badPlacementIsAUsageError(arguments: [String]) throws {
        let outcome = try CommandLineTool.run(["run", "--size", "1000", "--reps", "1"] + arguments)
        #expect(outcome.status == 64, "\(outcome.stderr)")
        #expect(outcome.stdout.isEmpty)
        #expect(outcome.stderr.hasPrefix("unlocked: "))
        #expect(outcome.stderr.filter { $0 == "\n" }.count == 1, "\(outcome.stderr)")
    }

    /// Real data runs through the engine named, worker processes included.
    @Test(arguments: ["lockfree-pool", "processes-shm", "processes-pipe"])
    func fileInputRunsThroughTheEngine(engine: String) throws {
        let common = ["run", "--input", NpyFixtures.path("i4_v1.npy"), "--kernel", "absdist.sum", "--reps", "2", "--json"]
        let reference = try CommandLineTool.run(common + ["--engine", "sequential"])
        let outcome = try CommandLineTool.run(common + ["--engine", engine])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(try object(outcome.stdout)["result"] as? String == object(reference.stdout)["result"] as? String)
        #expect((try object(outcome.stdout)["engine"] as? [String: Any])?["name"] as? String == engine)
    }

    /// Engines pin the calling thread to worker 0's CPU; a later cell's
    /// placement must still see every allowed CPU (it saw one, and failed).
    @Test func pinnedCallerDoesNotShrinkTheAllowedSet() throws {
        let outcome = try CommandLineTool.run(["bench", "--engines", "sequential,lockfree-pool", "--workers", "1,max",
                                               "--sizes", "1000", "--reps", "3", "--csv"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(!outcome.stdout.contains("FAILED"), "\(outcome.stdout)")
    }

    private func object(_ json: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }
}
