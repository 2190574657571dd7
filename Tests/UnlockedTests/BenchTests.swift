import Foundation
import Testing
@testable import Unlocked

/// A runner whose cells return scripted timings, so the sweep's bookkeeping
/// (order, failures, repetition policy) can be checked exactly.
final class ScriptedRunner: CellRunner {
    /// Engine → wall time of each repetition, in ns.
    var wallNanoseconds: [String: Double] = [:]
    /// Engines that refuse to prepare, and engines that fail on their n-th run.
    var refuse: Set<String> = []
    var failOnRun: [String: Int] = [:]
    /// Engines whose value changes between runs.
    var unstable: Set<String> = []
    /// Engine → wall time of a job that follows a hand-back (workers parked).
    var wakeNanoseconds: [String: Double] = [:]
    /// Engines whose wall time alternates 20% below and above the script, forever imprecise.
    var noisy: Set<String> = []
    /// Creation time of a fresh engine (nil: nothing to start).
    var freshStartupNanoseconds: Double?
    /// Hand-backs, per engine.
    var handBacks: [String: Int] = [:]
    /// Every run, in order, as "engine/workers"; every input fill as "mem/pin/workers".
    var log: [String] = []
    var fills: [String] = []

    func fillInput(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator,
                   mem: String, pin: String, workers: Int) throws(UnlockedError) {
        fills.append("\(mem)/\(pin)/\(workers)")
        generator.fill(buffer.base, dtype: dtype, range: 0..<count)
    }

    var engineNames: [String] { ["a", "b", "c"] }
    func ceilingEngine(workers: Int) -> String { workers == 1 ? "sequential" : "a" }

    func prepare(_ cell: BenchCell, kernel: Kernel, data: CellData) throws(UnlockedError) -> any PreparedCell {
        if refuse.contains(cell.engine) { throw .usage("engine \(cell.engine) refuses, with a reason") }
        return Cell(runner: self, cell: cell)
    }

    final class Cell: PreparedCell {
        let runner: ScriptedRunner
        let cell: BenchCell
        var runs = 0
        init(runner: ScriptedRunner, cell: BenchCell) {
            self.runner = runner
            self.cell = cell
        }
        var parked = true
        var startupNanoseconds: Double? { 42 }
        var placement: String { "scripted" }
        func sampleStartup() throws(UnlockedError) -> Double? { runner.freshStartupNanoseconds }
        func handBack() {
            runner.handBacks[cell.engine, default: 0] += 1
            parked = true
        }
        func runOnce() throws(UnlockedError) -> CellSample {
            runs += 1
            runner.log.append("\(cell.engine)/\(cell.workers)")
            if runner.failOnRun[cell.engine] == runs { throw .internal("\(cell.engine) crashed on run \(runs)") }
            var wall = (runner.wallNanoseconds[cell.engine] ?? 1000) * (cell.kernel == "stream.sum" ? 0.5 : 1) / Double(cell.workers)
            if parked, let wake = runner.wakeNanoseconds[cell.engine] { wall = wake }
            if runner.noisy.contains(cell.engine) { wall *= runs % 2 == 0 ? 0.8 : 1.2 }
            parked = false
            let value = KernelValue.unsigned(runner.unstable.contains(cell.engine) ? UInt128(runs) : 7)
            return CellSample(wallNanoseconds: wall, bytesExchanged: cell.engine == "b" ? 128 : nil, value: value)
        }
    }
}

func plan(_ engines: [String], workers: [Int] = [1], sizes: [Int] = [1000], kernels: [String] = ["absdist.sum"],
          repetitions: RepetitionPolicy = .count(3), warmup: Int = 1, visits: VisitPolicy = .single) -> SweepPlan {
    SweepPlan(cells: SweepPlan.cells(engines: engines, kernels: kernels, dtypes: [.i32], sizes: sizes, workers: workers,
                                     pins: ["compact"], mems: ["first-touch"]),
              warmup: warmup, repetitions: repetitions, visits: visits, seed: 1, center: "50")
}

@Suite struct BenchTests {
    @Test func repetitionsAreInterleavedRoundRobin() throws {
        let runner = ScriptedRunner()
        let results = try BenchSweep(plan: plan(["a", "b"], workers: [1, 2]), runner: runner).run()
        #expect(results.map(\.cell.engine) == ["a", "a", "b", "b"])
        // One warm-up round then three timed rounds, each visiting every cell
        // once, in each round's own order.
        let rounds = stride(from: 0, to: runner.log.count, by: 4).map { Array(runner.log[$0..<$0 + 4]) }
        #expect(rounds.count == 4)
        #expect(rounds.allSatisfy { Set($0) == ["a/1", "a/2", "b/1", "b/2"] })
        let names = ["a/1", "a/2", "b/1", "b/2"]
        let expected: [[String]] = (0..<4).map { round in visitOrder(count: 4, round: round).map { names[$0] } }
        #expect(expected == rounds)
        #expect(results.allSatisfy { $0.status == .ok && $0.samples.count == 3 && $0.startupNanoseconds == 42 })
        #expect(results[1].statistics?.median == 500)
    }

    @Test func visitOrdersArePermutationsThatVary() {
        let orders = (0..<20).map { visitOrder(count: 10, round: $0) }
        #expect(orders.allSatisfy { $0.sorted() == Array(0..<10) })
        // Over 20 rounds, every cell is preceded by more than one neighbour.
        for cell in 0..<10 {
            let predecessors = Set(orders.compactMap { order in order.firstIndex(of: cell).flatMap { $0 > 0 ? order[$0 - 1] : nil } })
            #expect(predecessors.count > 1)
        }
    }

    @Test func eachMemoryPolicyGetsItsOwnInputFilledByTheRunner() throws {
        let runner = ScriptedRunner()
        let cells = SweepPlan.cells(engines: ["a"], kernels: ["absdist.sum"], dtypes: [.i32], sizes: [1000, 2000], workers: [1, 2],
                                    pins: ["compact"], mems: ["first-touch", "interleave"])
        let p = SweepPlan(cells: cells, warmup: 0, repetitions: .count(1), visits: .single, seed: 1, center: "50")
        _ = try BenchSweep(plan: p, runner: runner).run()
        #expect(runner.fills == ["first-touch/compact/2", "interleave/compact/2", "first-touch/compact/2", "interleave/compact/2"])
    }

    @Test func failingCellsAreReportedAndTheSweepCarriesOn() throws {
        let runner = ScriptedRunner()
        runner.refuse = ["c"]
        runner.failOnRun = ["b": 3]
        runner.unstable = ["u"]
        let results = try BenchSweep(plan: plan(["a", "b", "c", "u"]), runner: runner).run()
        #expect(results[0].status == .ok && results[0].samples.count == 3)
        #expect(results[1].status == .failed("b crashed on run 3") && results[1].samples.isEmpty)
        #expect(results[2].status == .failed("engine c refuses, with a reason"))
        guard case .failed(let reason) = results[3].status else { Issue.record("unstable values accepted"); return }
        #expect(reason.contains("repetition 2 gave 3, the first gave 2"))
        #expect(runner.log.filter { $0 == "a/1" }.count == 4)
    }

    @Test func unknownKernelForATypeFailsOnlyItsCell() throws {
        var p = plan(["a"], kernels: ["absdist.sum"])
        p.cells.append(BenchCell(engine: "a", kernel: "no.such", dtype: .i32, size: 1000, workers: 1, pin: "compact", mem: "first-touch"))
        let results = try BenchSweep(plan: p, runner: ScriptedRunner()).run()
        #expect(results[0].status == .ok)
        guard case .failed(let reason) = results[1].status else { Issue.record("unknown kernel ran"); return }
        #expect(reason.contains("unknown kernel"))
    }

    @Test func minTimeStopsAtTheTargetWithinBounds() throws {
        let runner = ScriptedRunner()
        runner.wallNanoseconds = ["a": 1_000_000, "b": 10]
        let policy = RepetitionPolicy.minTime(seconds: 0.01, minimumReps: 2, maximumReps: 50)
        var updates: [SweepProgress] = []
        let results = try BenchSweep(plan: plan(["a", "b"], repetitions: policy, warmup: 0), runner: runner).run { updates.append($0) }
        #expect(results[0].samples.count == 10)  // 10 × 1 ms
        #expect(results[1].samples.count == 50)  // capped
        #expect(updates.last.map { $0.done == $0.planned && $0.fraction == 1 } == true)
        #expect(updates.count == 1 + 60 + 2)  // one before the group, one per repetition, one per cell leaving
    }

    /// Short jobs: timed in batches back to back after a wake-up job that
    /// follows an idle pause; long jobs one per visit; the calling thread
    /// handed back after every preparation and visit; fresh start-up samples.
    @Test func shortJobsAreBatchedAfterAWakeUpJob() throws {
        let runner = ScriptedRunner()
        runner.wallNanoseconds = ["a": 100_000, "b": 5_000_000]
        runner.wakeNanoseconds = ["a": 700_000, "b": 5_000_000]
        runner.freshStartupNanoseconds = 7
        let visits = VisitPolicy(batchNanoseconds: 1e6, idleNanoseconds: 1e5, startupSamples: 3)
        let results = try BenchSweep(plan: plan(["a", "b"], visits: visits), runner: runner).run()
        let a = results[0], b = results[1]
        // The warm-up probes three jobs (the first woke the workers): 100 µs → batches of 10.
        #expect(a.jobsPerSample == 10 && a.wallNanoseconds == [100_000, 100_000, 100_000])
        #expect(a.wakeNanoseconds == [700_000, 700_000, 700_000])
        #expect(runner.log.filter { $0 == "a/1" }.count == 3 + 3 * (1 + 10))
        // 5 ms: one job per sample, no wake-up samples.
        #expect(b.jobsPerSample == 1 && b.wakeNanoseconds.isEmpty && b.samples.count == 3)
        #expect(runner.log.filter { $0 == "b/1" }.count == 3 + 3)
        // The preparation's creation, then one fresh engine in each of the first two visits.
        #expect(a.startupSamples == [42, 7, 7] && a.startupNanoseconds == 7)
        #expect(runner.handBacks == ["a": 1 + 4, "b": 1 + 4])
        #expect(a.wakeStatistics?.median == 700_000 && a.statistics?.median == 100_000)
    }

    /// Precision: a steady cell stops once its median's interval is within
    /// ±3% (six identical samples), a noisy one runs until the budget is spent
    /// and keeps what it measured.
    @Test func precisionStopsPreciseCellsAndTheBudgetStopsTheRest() throws {
        let runner = ScriptedRunner()
        runner.wallNanoseconds = ["a": 1000, "n": 1000]
        runner.noisy = ["n"]
        let target = PrecisionTarget(relativeHalfWidth: 0.03, minimumReps: 6, budgetSeconds: 0.3)
        var updates: [SweepProgress] = []
        let start = monotonicNanoseconds()
        let results = try BenchSweep(plan: plan(["a", "n"], repetitions: .precision(target)), runner: runner).run { updates.append($0) }
        let elapsed = Double(monotonicNanoseconds() - start) * 1e-9
        #expect(results[0].samples.count == 6 && results[0].statistics?.isPrecise(within: 0.03) == true)
        let noisy = try #require(results[1].statistics)
        #expect(results[1].status == .ok && noisy.count > 6 && !noisy.isPrecise(within: 0.03))
        #expect(elapsed >= 0.3 && elapsed < 10, "the budget of 0.3 s ended the sweep after \(elapsed) s")
        #expect(updates.last?.budgetSeconds == 0.3 && updates.last?.cellsDone == 2 && updates.last?.cells == 2)
    }

    @Test func precisionBoundsAreUsageErrors() {
        for target in [PrecisionTarget(budgetSeconds: 0), PrecisionTarget(minimumSeconds: -1), PrecisionTarget(minimumSeconds: 5, budgetSeconds: 1)] {
            #expect(throws: UnlockedError.self) { try BenchSweep(plan: plan(["a"], repetitions: .precision(target)), runner: ScriptedRunner()).run() }
        }
    }

    @Test func sequentialIsMeasuredOnceWhateverTheWorkers() {
        let cells = SweepPlan.cells(engines: ["sequential", "a"], kernels: ["k"], dtypes: [.i32], sizes: [1], workers: [1, 2],
                                    pins: ["p"], mems: ["m"])
        #expect(cells.map { "\($0.engine)/\($0.workers)" } == ["sequential/1", "a/1", "a/2"])
    }

    /// The real sequential path: results equal a plain Swift loop over the same data.
    @Test func sequentialRunnerComputesTheRightSums() throws {
        try ISA.initializeDispatch()
        let results = try BenchSweep(plan: plan(["sequential"], sizes: [1000], kernels: ["absdist.sum", "stream.sum", "absdist.map"]),
                                     runner: SequentialCellRunner()).run()
        let data = try AlignedBuffer(count: 1000, width: 4)
        DataGenerator(seed: 1).fill(data.base, dtype: .i32, range: 0..<1000)
        let values = UnsafeBufferPointer(start: data.base.assumingMemoryBound(to: Int32.self), count: 1000)
        let distances = values.reduce(0) { $0 + abs(Int($1) - 50) }
        #expect(results.map(\.value) == [.unsigned(UInt128(distances)), .signed(Int128(values.reduce(0) { $0 + Int($1) })),
                                         .unsigned(UInt128(distances))])
        #expect(results[2].bytesPerRep == 8000 && results[0].bytesPerRep == 4000)
        #expect(results.allSatisfy { $0.placement == "calling thread, unbound" })
    }

    /// The default runner: every engine, two workers, the same sums as a plain Swift loop.
    @Test func everyEngineComputesTheRightSums() throws {
        try ISA.initializeDispatch()
        let engines = EngineFixture.sanitizableKinds.map(\.rawValue)
        let results = try BenchSweep(plan: plan(engines, workers: [2], sizes: [10_007], kernels: ["absdist.sum", "absdist.map"]),
                                     runner: EngineCellRunner(workerExecutable: CommandLineTool.executable.path)).run()
        let data = try AlignedBuffer(count: 10_007, width: 4)
        DataGenerator(seed: 1).fill(data.base, dtype: .i32, range: 0..<10_007)
        let values = UnsafeBufferPointer(start: data.base.assumingMemoryBound(to: Int32.self), count: 10_007)
        let distances = KernelValue.unsigned(UInt128(values.reduce(0) { $0 + abs(Int($1) - 50) }))
        #expect(results.count == 2 * engines.count)
        for result in results {
            #expect(result.value == distances, "\(result.cell.engine) \(result.cell.kernel): \(result.status)")
        }
    }

    @Test func badPlansAreUsageErrors() {
        expectError(.usage, containing: "--reps 0: must be a whole number in 1...") { try BenchSweep(plan: plan(["a"], repetitions: .count(0))).run() }
        expectError(.usage, containing: "--warmup -1: must be a whole number in 0...") { try BenchSweep(plan: plan(["a"], warmup: -1)).run() }
        var p = plan(["a"])
        p.center = "1e20"
        expectError(.usage, containing: "--center 1e20: out of range for i32") { try BenchSweep(plan: p, runner: ScriptedRunner()).run() }
    }

    @Test func progressLineShowsBarAndEstimate() {
        let line = progressLine(SweepProgress(done: 5, planned: 10), elapsedSeconds: 4, label: "bench", width: 10)
        #expect(line == "bench [#####-----]  50%  ETA 4 s")
        #expect(!progressLine(SweepProgress(done: 0, planned: 10), elapsedSeconds: 0, label: "x").contains("ETA"))
        // Under a budget: time spent against it, and cells done.
        var budgeted = SweepProgress(done: 40, planned: 41)
        budgeted.budgetSeconds = 30
        budgeted.elapsedSeconds = 9
        budgeted.cellsDone = 3
        budgeted.cells = 21
        #expect(progressLine(budgeted, elapsedSeconds: 9, label: "measuring", width: 10)
                == "measuring [###-------]  30%  9 s of at most 30 s, 3/21 cells done")
    }

    @Test func benchCommandTableAndFailedCells() throws {
        let outcome = try CommandLineTool.run(["bench", "--engines", "sequential,lockfree-pool", "--sizes", "1000,4Ki",
                                               "--workers", "1,2", "--pin", "0", "--reps", "3"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.isEmpty)  // not a terminal: no progress bar
        let lines = outcome.stdout.split(separator: "\n")
        #expect(lines.count == 6 + 6)  // sequential runs on one worker only
        // Two workers cannot be placed on the one CPU of --pin 0: failed with the reason, the sweep carries on.
        #expect(lines.filter { $0.contains("FAILED") && $0.contains("--oversubscribe") }.count == 2)
    }

    @Test(arguments: [["bench", "--engines", "nope"], ["bench", "--workers", "0"], ["bench", "--sizes", "1e5,x"],
                      ["bench", "--reps", "2", "--min-time", "1"], ["bench", "--dtype", "u8"], ["bench", "--kernel", "nope"],
                      ["bench", "--compare", "a.json"], ["compare", "--size-large", "0"], ["compare", "--workers", "99"]])
    func badBenchInputIsOneLineAndExit64(arguments: [String]) throws {
        let outcome = try CommandLineTool.run(arguments)
        #expect(outcome.status == 64)
        #expect(outcome.stderr.split(separator: "\n").count == 1, "\(outcome.stderr)")
    }
}
