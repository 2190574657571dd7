import Foundation
import Testing
@testable import Unlocked

/// `unlocked contention`: the plan covers every engine × chunk × worker count
/// × size once, a real tiny run names a winner per regime consistent with
/// the medians, and its JSON and SVG have the documented shape.
@Suite(.serialized) struct ContentionMapTests {
    @Test func largeSizeIsTheSmallestWholeMiOverTheBoundCappedAt1GiB() {
        #expect(ContentionPlan.largeSize(exceeding: 4 * (32 << 20)) == 33 << 20)
        #expect(ContentionPlan.largeSize(exceeding: (32 << 20) - 1) == 8 << 20)
        #expect(ContentionPlan.largeSize(exceeding: 4 << 30) == 256 << 20)
    }

    @Test func planCoversEveryRegimeOnce() throws {
        let plan = try ContentionRequest().plan(allowedCPUs: 2, lastLevelCache: 32 << 20)
        #expect(plan.sizes == [100_000, 33 << 20])
        #expect(plan.workerCounts == [1, 2, 4, 8])
        #expect(Set(plan.sweep.cells.map(\.engine)) == ["gil", "locked-pool", "lockfree-pool", "tasks", "openmp"])
        #expect(plan.sweep.cells.allSatisfy { $0.oversubscribe == ($0.workers > 2) })
        // One chunk per worker: the size divided by the workers.
        let perWorker = ContentionPlan.cell(engine: "gil", size: 100_000, workers: 4, chunk: .perWorker, allowedCPUs: 2)
        #expect(perWorker.chunk == 25_000 && plan.sweep.cells.contains(perWorker))
        #expect(Set(plan.sweep.cells).count == plan.sweep.cells.count && plan.sweep.cells.count == 2 * 5 * 4 * 4)
        let quick = try { var request = ContentionRequest(); request.quick = true; return try request.plan(allowedCPUs: 1, lastLevelCache: 32 << 20) }()
        #expect(quick.sizes == [100_000, 33 << 20] && quick.workerCounts == [1, 2, 4])
        #expect(quick.sweep.repetitions == .count(3))
        var bad = ContentionRequest()
        bad.sizes = "12,zebra"
        #expect(throws: UnlockedError.self) { try bad.plan(allowedCPUs: 2) }
    }

    /// A real run at two tiny sizes through the CLI: every regime has a
    /// winner whose median is the lowest, the margin and the lock-free ÷
    /// locked ratio are those of the medians, and the SVG names both panels.
    @Test func tinyRunThroughTheCLI() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("contention-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let svg = directory.appendingPathComponent("map.svg").path
        let run = try CommandLineTool.run(["contention", "--quick", "--sizes", "20000,40000", "--json", "--plot", svg])
        #expect(run.status == 0, "\(run.stderr)")
        let json = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(json["schema"] as? String == ContentionReport.schema)
        let regimes = try #require(json["regimes"] as? [[String: Any]])
        let cpus = RunContext.current().allowedCPUCount
        let workerCounts = Set([1, cpus, 2 * cpus, 4 * cpus]).count
        #expect(regimes.count == 2 * workerCounts * 4)
        for regime in regimes {
            let engines = try #require(regime["engines"] as? [String: [String: Any]])
            #expect(Set(engines.keys) == Set(ContentionPlan.engines))
            let medians = engines.compactMapValues { ($0["statistics"] as? [String: Any])?["median_ns"] as? Double }
            #expect(medians.count == 5, "\(regime)")
            let sorted = medians.sorted { $0.value < $1.value }
            let winner = try #require(regime["fastest"] as? String)
            #expect(winner == sorted[0].key)
            let margin = try #require(regime["fastest_margin"] as? Double)
            #expect(abs(margin - sorted[1].value / sorted[0].value) <= 1e-9 * margin)
            let ratio = try #require(regime["lockfree_over_locked"] as? Double)
            #expect(abs(ratio - medians["lockfree-pool"]! / medians["locked-pool"]!) <= 1e-9 * ratio)
            let tasks = try #require(engines["tasks"]?["contention_per_job"] as? [String: Any])
            #expect(tasks["lock_acquisitions"] is NSNull && tasks["chunks_claimed"] is Double)
            let locked = try #require(engines["locked-pool"]?["contention_per_job"] as? [String: Any])
            #expect(locked["lock_acquisitions"] is Double && locked["chunks_stolen"] is NSNull)
            #expect(regime["oversubscription_ratio"] as? Double == Double(regime["workers"] as! Int) / Double(cpus))
        }

        let text = try String(contentsOfFile: svg, encoding: .utf8)
        let parsed = try parseSVG(text)
        #expect(parsed.panels.map(\.title) == ["20k elements (80.00 kB)", "40k elements (160.00 kB)"])
        #expect(text.components(separatedBy: "class=\"cell\"").count - 1 == 2 * workerCounts * 4)
        #expect(text.contains("<g class=\"legend\">") && text.contains("lock-free time ÷ locked time"))
        // librsvg draws it as a browser would.
        let render = try SVGRenderer.render(svg, to: directory.appendingPathComponent("map.png").path)
        #expect(render.status == 0, "rsvg-convert: \(render.stderr)")
    }

    @Test(arguments: [["--sizes", "0"], ["--sizes", "1e5,abc"], ["--seed", "-3"], ["--frobnicate"]])
    func badInputExitsWithUsage(arguments: [String]) throws {
        let run = try CommandLineTool.run(["contention", "--quick"] + arguments)
        #expect(run.status == 64, "\(arguments): \(run.stderr)")
        #expect(run.stdout.isEmpty)
    }

    @Test func colourScaleIsWhiteAtEvenAndSaturatesBeyond16() {
        #expect(ContentionPlot.color(1) == "#ffffff")
        #expect(ContentionPlot.color(1.0 / 16) == ContentionPlot.color(1.0 / 1000))
        #expect(ContentionPlot.color(16) == ContentionPlot.color(1000) && ContentionPlot.color(16) != ContentionPlot.color(4))
    }
}
