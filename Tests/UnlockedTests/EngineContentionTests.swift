import Foundation
import Testing
@testable import Unlocked

/// Every contention counter an engine claims moves where it must, and the
/// others are absent (nil), not zero. Counters that depend on a race (a
/// stolen chunk, a failed claim, a wait for a lock) get jobs until they move,
/// 10 s at most: a counter that never moves fails.
@Suite struct EngineContentionTests {
    static let cpus = concurrentCPUs(.unbound(1))

    /// Sums of `count(counter)` over jobs of `engine`, running more (with a
    /// pause every few, so workers go idle and park) until every counter of
    /// `mustMove` is above zero or 10 s have passed.
    static func totals(_ engine: any Engine, job: EngineJob, mustMove: Set<ContentionCounter>) throws -> [ContentionCounter: Double] {
        var totals: [ContentionCounter: Double] = [:]
        let deadline = monotonicNanoseconds() + 10_000_000_000
        var jobs = 0
        repeat {
            let statistics = try engine.run(job).statistics
            for counter in ContentionCounter.allCases {
                if let value = statistics.count(counter) { totals[counter, default: 0] += value }
            }
            jobs += 1
            if jobs % 8 == 0 { usleep(2_000) }
        } while jobs < 32 || (!mustMove.allSatisfy { (totals[$0] ?? 0) > 0 } && monotonicNanoseconds() < deadline)
        return totals
    }

    @Test func lockedPoolCountsLockWaitsAndEmptyWakeUps() throws {
        let pool = try makeEngine(EngineFixture.configuration(.lockedPool, workers: 4, chunk: 64))
        defer { pool.close() }
        let fine = try EngineFixture.sumJob(pool, count: 100_000)
        let claimed = EngineKind.lockedPool.contentionCounters.subtracting(ContentionCounter.contextSwitches)
        let totals = try Self.totals(pool, job: fine, mustMove: claimed.subtracting([.failedClaims]))
        for counter in claimed.subtracting([.failedClaims]) { #expect((totals[counter] ?? 0) > 0, "\(counter)") }
        #expect(Set(totals.keys) == claimed)
        // One chunk a job: the broadcast wakes every idle worker, and all but one find the queue empty.
        let single = EngineJob(kernel: fine.kernel, input: fine.input, output: nil, count: 64, params: fine.params)
        #expect(try Self.totals(pool, job: single, mustMove: [.failedClaims])[.failedClaims] ?? 0 > 0)
    }

    @Test func gilCountsOneAcquisitionPerChunk() throws {
        let gil = try makeEngine(EngineFixture.configuration(.gil, workers: 2, chunk: 1024))
        defer { gil.close() }
        let statistics = try gil.run(try EngineFixture.sumJob(gil, count: 100_000)).statistics
        #expect(statistics.count(.lockAcquisitions) == Double(statistics.chunkCount))
        #expect(statistics.count(.chunksClaimed) == Double(statistics.chunkCount))
    }

    /// Oversubscribed, the lock-free pool's waits yield (timed as spinning)
    /// and park, the owner wakes parked helpers, descheduled workers' chunks
    /// are stolen, and thieves racing for a last chunk fail a claim.
    @Test func oversubscribedLockFreePoolParksStealsAndFailsClaims() throws {
        let pool = try makeEngine(EngineFixture.configuration(.lockfreePool, workers: 4 * Self.cpus, chunk: 256))
        defer { pool.close() }
        let claimed = EngineKind.lockfreePool.contentionCounters.subtracting(ContentionCounter.contextSwitches)
        let totals = try Self.totals(pool, job: try EngineFixture.sumJob(pool, count: 100_000), mustMove: claimed)
        for counter in claimed { #expect((totals[counter] ?? 0) > 0, "\(counter)") }
        #expect(totals[.lockAcquisitions] == nil && totals[.lockWaitNanoseconds] == nil)
    }

    /// Runtime engines see no waits: only their chunks are counted.
    @Test(arguments: [EngineKind.tasks, .gcd])
    func runtimeEnginesReportOtherCountersAbsent(kind: EngineKind) throws {
        let engine = try makeEngine(EngineFixture.configuration(kind, workers: 2, chunk: 1024))
        defer { engine.close() }
        let statistics = try engine.run(try EngineFixture.sumJob(engine, count: 100_000)).statistics
        #expect(statistics.count(.chunksClaimed) == Double(statistics.chunkCount))
        for counter in ContentionCounter.allCases where counter != .chunksClaimed {
            #expect(statistics.count(counter) == nil, "\(kind) \(counter)")
        }
        #expect(engine.workerThreads == nil)
        #expect(EngineKind.openmp.contentionCounters == [.chunksClaimed])
    }

    /// Worker processes count only their chunks in a job's statistics; their
    /// context switches are those of the thread each said at start-up runs
    /// its jobs, its first one (forked, or the exec'd CLI's main thread).
    @Test(arguments: [EngineKind.processesShm, .processesPipe])
    func workerProcessesNameTheThreadsThatRunTheirJobs(kind: EngineKind) throws {
        let engine = try #require(try makeEngine(EngineFixture.configuration(kind, workers: 2)) as? ProcessEngine)
        defer { engine.close() }
        let statistics = try engine.run(try EngineFixture.sumJob(engine, count: 100_000)).statistics
        #expect(statistics.count(.chunksClaimed) == Double(statistics.chunkCount))
        for counter in ContentionCounter.allCases where counter != .chunksClaimed {
            #expect(statistics.count(counter) == nil, "\(kind) \(counter)")
        }
        #expect(kind.contentionCounters == ContentionCounter.contextSwitches.union([.chunksClaimed]))
        let threads = try #require(engine.workerThreads)
        #expect(threads.ids == engine.workerProcessIDs && !threads.callingThread)
        #expect(ThreadContextSwitches.read(callingThread: false, threads: threads.ids) != nil)
    }

    /// Through the measurement: the locked pool's workers block on their
    /// condition variable every job, worker processes in a read of their
    /// pipe (voluntary switches); oversubscribed lock-free workers yield their
    /// CPUs, and oversubscribed worker processes are preempted (involuntary ones).
    @Test func cellsCountTheWorkersContextSwitches() throws {
        try ISA.initializeDispatch()
        let kernel = try KernelCatalog().kernel(named: "absdist.sum", dtype: .i32)
        let count = 1 << 20
        let input = try JobBuffer(count: count, width: 4)
        DataGenerator(seed: 3).fill(input.base, dtype: .i32, range: 0..<count)
        let data = CellData(input: input, output: nil, count: count, params: EngineFixture.params(.i32))
        let runner = EngineCellRunner(workerExecutable: CommandLineTool.executable.path)
        for (engine, workers, counter) in [("locked-pool", 2, ContentionCounter.voluntaryContextSwitches),
                                           ("lockfree-pool", 4 * Self.cpus, .involuntaryContextSwitches),
                                           ("processes-shm", 2, .voluntaryContextSwitches),
                                           ("processes-pipe", 2, .voluntaryContextSwitches),
                                           ("processes-shm", 4 * Self.cpus, .involuntaryContextSwitches)] {
            let cell = BenchCell(engine: engine, kernel: "absdist.sum", dtype: .i32, size: count, workers: workers, pin: "none",
                                 mem: "first-touch", chunk: 4096, oversubscribe: workers > Self.cpus)
            let prepared = try #require(try runner.prepare(cell, kernel: kernel, data: data) as? any ContentionReporting)
            defer { prepared.handBack() }
            var moved = 0.0
            let deadline = monotonicNanoseconds() + 10_000_000_000
            repeat {
                _ = try prepared.runBatch(jobs: 20)
                moved += try #require(prepared.lastContention?[counter])
            } while moved == 0 && monotonicNanoseconds() < deadline
            #expect(moved > 0, "\(engine) \(workers) workers \(counter)")
        }
    }

    /// A real sweep: JSON has every counter, null where the engine cannot
    /// count it; CSV leaves those fields empty; the table summarises them.
    @Test func benchReportCarriesCountersAndNullsForAbsentOnes() throws {
        try ISA.initializeDispatch()
        let context = RunContext.current()
        let cells = SweepPlan.cells(engines: ["gcd", "locked-pool", "processes-shm"], kernels: ["absdist.sum"], dtypes: [.i32],
                                    sizes: [100_000], workers: [2], pins: ["none"], mems: ["first-touch"], chunks: [1024], allowedCPUs: context.allowedCPUCount)
        let plan = SweepPlan(cells: cells, warmup: 0, repetitions: .count(2), visits: .single, seed: 1, center: "50")
        let runner = EngineCellRunner(workerExecutable: CommandLineTool.executable.path)
        let report = BenchReport(context: context, plan: plan, results: try BenchSweep(plan: plan, runner: runner).run())
        let json = try #require(JSONSerialization.jsonObject(with: Data(jsonString(report.jsonObject).utf8)) as? [String: Any])
        let jsonCells = try #require(json["cells"] as? [[String: Any]])
        let gcd = try #require(jsonCells.first { $0["engine"] as? String == "gcd" }?["contention_per_job"] as? [String: Any])
        let locked = try #require(jsonCells.first { $0["engine"] as? String == "locked-pool" }?["contention_per_job"] as? [String: Any])
        #expect(Set(gcd.keys) == Set(ContentionCounter.allCases.map(\.rawValue)))
        #expect(gcd["lock_acquisitions"] is NSNull && gcd["futex_waits"] is NSNull && gcd["voluntary_context_switches"] is NSNull)
        #expect((gcd["chunks_claimed"] as? Double) == 98)
        #expect((locked["lock_acquisitions"] as? Double ?? 0) > 0 && locked["chunks_stolen"] is NSNull)
        let shm = try #require(jsonCells.first { $0["engine"] as? String == "processes-shm" }?["contention_per_job"] as? [String: Any])
        #expect(shm["voluntary_context_switches"] as? Double != nil && shm["involuntary_context_switches"] as? Double != nil)
        #expect(shm["futex_waits"] is NSNull && (shm["chunks_claimed"] as? Double) == 98)

        let csv = report.csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let column = try #require(csv[0].firstIndex(of: "lock_acquisitions_per_job"))
        #expect(csv[1][0] == "gcd" && csv[1][column] == "" && csv[2][0] == "locked-pool" && Double(csv[2][column])! > 0)
        let rows = report.tableRows
        #expect(rows[0].last == "chunks 98" && rows[1].last!.hasPrefix("lock ") && rows[1].last!.contains("chunks 98"))
        #expect(rows[2].last!.hasPrefix("chunks 98, switches "))
    }
}
