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
        let sweep = SweepPlan(cells: plan.cells, warmup: 0, repetitions: .count(6), visits: .single, seed: 1, center: "50")
        let table = SeedTable(plan: plan, results: try BenchSweep(plan: sweep, runner: runner).run())
        let rows = Dictionary(uniqueKeysWithValues: table.rows.map { ($0.profile.name, $0) })
        let sequential = try #require(rows["sequential"]), a = try #require(rows["a"]), b = try #require(rows["b"])
        #expect(sequential.smallSpeedup == 1 && sequential.workers == 1 && sequential.ceilingFraction == 0.5)
        #expect(table.verdict(sequential).hasPrefix("the baseline"))
        // a: 1200 ns / 2 workers = 600 ns against 1000; its ceiling (stream.sum by a, 2 workers) takes 300 ns.
        #expect(a.smallSpeedup == 1000.0 / 600 && a.efficiency == 1000.0 / 600 / 2 && a.ceilingFraction == 0.5)
        #expect(a.startup?.median == 42 && a.bytesExchanged == 0 && a.smallPrecise && a.largePrecise)
        #expect(table.verdict(a) == "At 100k, jobs back to back: 1.67× faster than the plain loop. At 4Ki: scales (1.67×, 83% efficiency).")
        #expect(b.bytesExchanged == 128)
        #expect(table.verdict(b) == "At 100k, jobs back to back: 1.50× slower than the plain loop. "
                + "At 4Ki: does not scale (0.67×: no faster than one core), copying 128 B between processes per job.")
        #expect(rows["c"].map(table.verdict) == "could not run: engine c refuses, with a reason")
        #expect(table.impreciseNotes.isEmpty)
        #expect(parseCSV(table.csv).count == 5)
    }

    /// The layout: within the width, each part naming the engines; verdicts
    /// below; `--wide` one line per engine; imprecise medians marked once.
    @Test func tableFitsItsWidthAndMarksImpreciseMedians() throws {
        let runner = ScriptedRunner()
        runner.wallNanoseconds = ["sequential": 1000, "a": 1200, "processes-pipe": 3000]
        runner.noisy = ["processes-pipe"]
        let plan = SeedTablePlan(workload: SeedWorkload(largeSize: 1 << 28), engines: ["sequential", "a", "processes-pipe"],
                                 workers: 2, runner: runner)
        let sweep = SweepPlan(cells: plan.cells, warmup: 0, repetitions: .count(8), visits: .single, seed: 1, center: "50")
        let table = SeedTable(plan: plan, results: try BenchSweep(plan: sweep, runner: runner).run())
        for width in [100, 80, 60] {
            let text = table.text(layout: .width(width))
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.allSatisfy { $0.count <= width }, "a line over \(width):\n\(text)")
            // Every part's rows start with the engines, in order.
            let rules = lines.indices.filter { lines[$0].hasPrefix("----") }
            #expect(rules.count >= 2)
            for rule in rules {
                #expect(lines[rule + 1].hasPrefix("sequential") && lines[rule + 3].hasPrefix("processes-pipe"))
            }
            #expect(lines.contains { $0.hasPrefix("processes-pipe  At 100k") })
        }
        // The noisy engine's medians are marked, once each, with their intervals.
        let text = table.text(layout: .width(100))
        #expect(text.contains("?") && table.impreciseNotes.count == 1)
        let note = table.impreciseNotes[0]
        #expect(note.contains("processes-pipe @100k") && note.contains("processes-pipe @256Mi") && note.contains("95% interval"))
        #expect(!note.contains("sequential @"))
        let wide = table.text(layout: .wide).split(separator: "\n")
        let row = try #require(wide.first { $0.hasPrefix("a ") })
        #expect(row.contains("At 100k") && row.contains("scales"))
        #expect(SeedTableLayout.fitting(terminalColumns: 80) == .width(80))
        #expect(SeedTableLayout.fitting(terminalColumns: 200) == .width(100))
        #expect(SeedTableLayout.fitting(terminalColumns: nil) == .width(100))
    }

    /// `unlocked` with no arguments is `compare`; run end to end on a small large size.
    @Test func defaultCommandEndToEnd() throws {
        let outcome = try CommandLineTool.run(["--size-large", "256Ki", "--max-time", "4", "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.isEmpty)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "unlocked-bench/2")
        let rows = try #require(object["seed_table"] as? [[String: Any]])
        #expect(rows.map { $0["engine"] as? String } == EngineKind.allCases.map(\.rawValue))
        #expect(rows[0]["large_bandwidth_ceiling_fraction"] as? Double ?? 0 > 0)
        #expect(rows[0]["small_speedup_over_sequential"] as? Double == 1)
        let pool = try #require(rows.first { $0["engine"] as? String == "lockfree-pool" })
        #expect(pool["small_steady_median_ns"] is Double)
        #expect((pool["startup_reps"] as? Int ?? 0) >= 2 && pool["startup_median_ns"] is Double)
        let pipe = try #require(rows.first { $0["engine"] as? String == "processes-pipe" })
        #expect(pipe["job_startup_median_ns"] as? Double ?? 0 > 0, "processes-pipe starts two threads every job")
        let cells = try #require(object["cells"] as? [[String: Any]])
        // A wake-up job exists exactly when the steady state was timed in batches; a
        // loaded machine can make even the pool's 100k job too long to batch.
        let smallPool = try #require(cells.first {
            $0["engine"] as? String == "lockfree-pool" && $0["size_elements"] as? Int == 100_000 && $0["kernel"] as? String == "absdist.sum"
        })
        #expect((pool["small_wake_median_ns"] is Double) == ((smallPool["jobs_per_sample"] as? Int ?? 1) > 1), "\(smallPool)")
        let sizes = Set(cells.compactMap { $0["size_elements"] as? Int })
        #expect(sizes == [100_000, 256 << 10])
        #expect(cells.contains { $0["kernel"] as? String == "stream.sum" && $0["status"] as? String == "ok" })
        let placements = Dictionary(cells.compactMap { cell in (cell["engine"] as? String).map { ($0, cell["placement"] as? String ?? "") } },
                                    uniquingKeysWith: { a, _ in a })
        #expect(placements["sequential"]?.contains("calling thread pinned") == true, "\(placements)")
        #expect(placements["gcd"]?.contains("not bound") == true, "\(placements)")
    }

    @Test func tableNamesEveryColumnAndWarnsAboutCacheSizedRuns() throws {
        let outcome = try CommandLineTool.run(["compare", "--engines", "sequential,lockfree-pool", "--size-large", "64Ki",
                                               "--max-time", "2"], environment: ["COLUMNS": "100"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        for column in ["model", "execution", "start-up", "exchange", "copied", "steady", "wake-up", "@64Ki", "speedup",
                       "efficiency", "bandwidth"] {
            #expect(outcome.stdout.contains(column), "missing column \(column)")
        }
        #expect(outcome.stdout.split(separator: "\n").allSatisfy { $0.count <= 100 })
        #expect(outcome.stdout.split(separator: "\n").contains { $0.hasPrefix("lockfree-pool  At 100k") })
        #expect(outcome.stdout.contains("under 4× the last-level cache"))
    }

    /// `--plot` writes the picture of the table: every engine named, both
    /// sizes, the reference lines; rendered to PNG to check it draws.
    @Test func plotNamesEveryEngineAndRenders() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let svgPath = directory.appendingPathComponent("table.svg").path
        let outcome = try CommandLineTool.run(["--size-large", "256Ki", "--max-time", "3", "--plot", svgPath])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let svg = try String(contentsOfFile: svgPath, encoding: .utf8)
        let parsed = try parseSVG(svg)
        #expect(parsed.panels.map(\.title) == ["100k elements (the talk's)", "256Ki elements (1.05 MB)"])
        #expect(parsed.engines == EngineKind.allCases.map(\.rawValue))
        #expect(parsed.references.contains("sequential") && parsed.references.contains("bandwidth ceiling"))
        #expect(svg.contains("time per job (log scale)"))
        let png = directory.appendingPathComponent("table.png").path
        let render = try SVGRenderer.render(svgPath, to: png)
        #expect(render.status == 0, "rsvg-convert: \(render.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: png))
        #expect(data.starts(with: [0x89, 0x50, 0x4E, 0x47]), "not a PNG")
        // Width and height from the IHDR chunk: the document's size.
        let width = data[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = data[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == 1040 && height > 300)
    }
}
