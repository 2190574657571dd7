import Foundation
import Testing
@testable import Unlocked

@Suite struct CompareTests {
    @Test func largeSizeFollowsTheRules() {
        #expect(SeedWorkload.largeBytes(memoryBudget: 24 << 30, lastLevelCache: 32 << 20) == 1 << 30)
        #expect(SeedWorkload.largeBytes(memoryBudget: 2 << 30, lastLevelCache: 32 << 20) == 256 << 20)
        // An eighth of memory would fit in 4× the cache: the cache rule wins.
        #expect(SeedWorkload.largeBytes(memoryBudget: 1 << 30, lastLevelCache: 64 << 20) == 256 << 20)
        // A 64 MiB cgroup limit: 4× a 32 MiB cache would not fit, half the budget is the most.
        #expect(SeedWorkload.largeBytes(memoryBudget: 64 << 20, lastLevelCache: 32 << 20) == 32 << 20)
    }

    /// The large size follows a cgroup limit tighter than MemAvailable (SLURM's --mem).
    @Test func largeSizeFollowsTheCgroupMemoryLimit() {
        var context = RunContext.current()
        context.memoryAvailableBytes = 24 << 30
        context.memoryLimitBytes = 1 << 30
        #expect(context.memoryBudget == MemoryBudget(bytes: 1 << 30, source: "the cgroup memory limit"))
        #expect(SeedWorkload.largeBytes(memoryBudget: context.memoryBudget.bytes, lastLevelCache: 1 << 20) == 128 << 20)
    }

    @Test func rowsFromScriptedEngines() throws {
        let runner = ScriptedRunner()
        runner.wallNanoseconds = ["sequential": 1000, "a": 1200, "b": 3000]
        runner.refuse = ["c"]
        let plan = SeedTablePlan(workload: SeedWorkload(largeSize: 4096), engines: ["sequential", "a", "b", "c"], workers: 2,
                                 runner: runner)
        // Each engine at both sizes, plus stream.sum by `sequential` (1 worker) and by `a` (2 workers).
        #expect(plan.cells.count == 4 * 2 + 2)
        let sweep = SweepPlan(cells: plan.cells, warmup: 0, repetitions: .count(3), seed: 1, center: "50")
        let table = SeedTable(plan: plan, results: try BenchSweep(plan: sweep, runner: runner).run())
        let rows = Dictionary(uniqueKeysWithValues: table.rows.map { ($0.profile.name, $0) })
        let sequential = try #require(rows["sequential"]), a = try #require(rows["a"]), b = try #require(rows["b"])
        #expect(sequential.smallSpeedup == 1 && sequential.workers == 1 && sequential.ceilingFraction == 0.5)
        #expect(sequential.verdict.hasPrefix("the baseline"))
        // a: 1200 ns / 2 workers = 600 ns against 1000; its ceiling (stream.sum by a, 2 workers) takes 300 ns.
        #expect(a.smallSpeedup == 1000.0 / 600 && a.efficiency == 1000.0 / 600 / 2 && a.ceilingFraction == 0.5)
        #expect(a.startupNanoseconds == 42 && a.bytesExchanged == 0)
        #expect(a.verdict == "1.7× faster on small data; scales (83% efficiency)")
        #expect(b.bytesExchanged == 128)
        #expect(b.verdict == "1.5× slower than a plain loop on small data; does not scale: no faster than one core")
        #expect(rows["c"]?.verdict == "could not run: engine c refuses, with a reason")
        let lines = table.table.text.split(separator: "\n")
        #expect(lines.count == 2 + 4 && lines[0].contains("speedup @4Ki"))
        #expect(parseCSV(table.csv).count == 5)
    }

    /// `unlocked` with no arguments is `compare`; run end to end on a small large size.
    @Test func defaultCommandEndToEnd() throws {
        let outcome = try CommandLineTool.run(["--size-large", "256Ki", "--min-time", "0.01", "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.isEmpty)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let rows = try #require(object["seed_table"] as? [[String: Any]])
        #expect(rows.map { $0["engine"] as? String } == EngineKind.allCases.map(\.rawValue))
        #expect(rows[0]["large_bandwidth_ceiling_fraction"] as? Double ?? 0 > 0)
        #expect(rows[0]["small_speedup_over_sequential"] as? Double == 1)
        let cells = try #require(object["cells"] as? [[String: Any]])
        let sizes = Set(cells.compactMap { $0["size_elements"] as? Int })
        #expect(sizes == [100_000, 256 << 10])
        #expect(cells.contains { $0["kernel"] as? String == "stream.sum" && $0["status"] as? String == "ok" })
    }

    @Test func tableNamesEveryColumnAndWarnsAboutCacheSizedRuns() throws {
        let outcome = try CommandLineTool.run(["compare", "--engines", "sequential,lockfree-pool", "--size-large", "64Ki",
                                               "--min-time", "0.01"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        for column in ["model", "execution", "start-up", "exchange", "bytes moved", "time @100k", "speedup @64Ki", "efficiency",
                       "% bandwidth", "verdict"] {
            #expect(outcome.stdout.contains(column), "missing column \(column)")
        }
        #expect(outcome.stdout.split(separator: "\n").contains { $0.hasPrefix("lockfree-pool") && !$0.contains("could not run") })
        #expect(outcome.stdout.contains("under 4× the last-level cache"))
    }
}
