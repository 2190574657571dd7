import CKernels
import Foundation
import Testing
@testable import Unlocked

/// Polls `condition` until it holds or `seconds` pass; returns whether it held.
private func eventually(within seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

@Suite struct EngineProcessFailureTests {
    /// A worker killed between jobs fails the next job with its index and
    /// signal, every worker is reaped before the error returns, and from then
    /// on every job of the engine is the same clear error.
    @Test(arguments: [EngineKind.processesShm, .processesPipe])
    func killedWorkerFailsTheEngineNamingIt(kind: EngineKind) throws {
        let engine = try #require(try makeEngine(EngineFixture.configuration(kind, workers: 2)) as? ProcessEngine)
        defer { engine.close() }
        let job = try EngineFixture.sumJob(engine)
        _ = try engine.run(job)
        let pids = engine.workerProcessIDs
        kill(pids[1], SIGKILL)
        let died = UnlockedError.internal("worker 1 (pid \(pids[1])) died while running a job: killed by SIGKILL (killed)")
        #expect(throws: died) { try engine.run(job) }
        #expect(engine.state == .failed(died))
        #expect(pids.allSatisfy(processIsReaped), "workers \(pids) not reaped")

        let failed = UnlockedError.internal("the \(kind.rawValue) engine failed and runs no more jobs: \(died.message)")
        #expect(throws: failed) { try engine.run(job) }
        #expect(throws: failed) { try engine.initialize(job.input, dtype: .i32, count: 10, generator: DataGenerator(seed: 1)) }
        #expect(throws: failed) { try engine.makeBuffer(count: 10, width: 4) }
        engine.close()
        #expect(engine.state == .closed)
    }

    /// A worker that crashes in the middle of a job (the hidden test hook
    /// makes worker 0 raise SIGSEGV) fails that job, naming it.
    @Test(arguments: [EngineKind.processesShm, .processesPipe])
    func crashingWorkerFailsTheRunNamingIt(kind: EngineKind) throws {
        let configuration = EngineFixture.configuration(kind, workers: 2, environment: ["UNLOCKED_TEST_WORKER_CRASH": "0"])
        let engine = try #require(try makeEngine(configuration) as? ProcessEngine)
        defer { engine.close() }
        let pids = engine.workerProcessIDs
        let job = try EngineFixture.sumJob(engine)
        #expect(throws: UnlockedError.internal("worker 0 (pid \(pids[0])) died while running a job: killed by SIGSEGV (segmentation fault)")) {
            try engine.run(job)
        }
        #expect(pids.allSatisfy(processIsReaped), "workers \(pids) not reaped")
    }

    @Test func aWorkerThatIsNotUnlockedIsAClearError() throws {
        var configuration = EngineFixture.configuration(.processesShm, workers: 1)
        configuration.workerExecutable = "/bin/false"
        let error = #expect(throws: UnlockedError.self) { try makeEngine(configuration) }
        #expect(error?.kind == .internal)
        let message = error?.message ?? ""
        #expect(message.hasPrefix("worker 0 (pid ") && message.hasSuffix(") died while starting: exited with status 1"), "\(message)")
    }

    /// Ctrl-C during a run of the CLI: exit status 130 and no worker left.
    /// SIGINT comes once both workers have mapped the job's input, so jobs are under way.
    @Test func interruptStopsEveryWorkerAndExits130() throws {
        let process = CommandLineTool.process(["run", "--engine", "processes-shm", "--workers", "2", "--size", "4Mi", "--reps", "1000000", "--warmup", "0"])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }  // a failed expectation must not leave a million repetitions running
        let pid = process.processIdentifier
        var children: [pid_t] = []
        let working = eventually(within: 60) {
            children = workerProcesses(of: pid)
            return children.count == 2 && children.allSatisfy { child in
                procFile("/proc/\(child)/maps").contains("memfd:unlocked-job")
            }
        }
        #expect(working, "workers \(children) never mapped the job's input")
        process.interrupt()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 130)
        // Killed and reaped before the exit: not even a zombie is left.
        #expect(children.allSatisfy(processIsReaped))
    }
}

/// Bytes `pid` has read (`rchar` in /proc/<pid>/io): a pipe worker reads each job's input.
private func bytesRead(by pid: pid_t) -> Int {
    let line = procFile("/proc/\(pid)/io").split(separator: "\n").first { $0.hasPrefix("rchar:") } ?? ""
    return Int(line.split(separator: " ").last ?? "") ?? 0
}

@Suite struct EngineLeakTests {
    /// Thousands of engines of every kind, their jobs, closes and failed
    /// starts, in a process of their own where no other test runs: after
    /// them the process holds exactly the engine threads, descriptors,
    /// memfds and child processes it held before, and at most 4 MiB more
    /// resident memory (about 0.4 MiB measured; 16 MiB under the thread
    /// sanitizer, which keeps state for every address ever used as a mutex:
    /// about 5 MiB measured).
    @Test func enginesLeakNothing() async throws {
        // The child reports a leak or error on stderr and exits normally, so the message reaches this process.
        let result = try #require(await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            do {
                if let leak = try LeakProbe.churn() { FileHandle.standardError.write(Data(leak.utf8)) }
            } catch {
                FileHandle.standardError.write(Data("\(error)".utf8))
            }
        })
        #expect(String(decoding: result.standardErrorContent, as: UTF8.self) == "")
    }
}

/// The exit test's body.
enum LeakProbe {
    /// What leaked, or nil. A tenth of the work first warms what grows once
    /// (caches, runtime pools, the allocator's and a sanitizer's memory).
    static func churn() throws -> String? {
        if let failure = try exercise(rounds: 200) { return failure }
        let before = ProcessResources.current(), memory = residentKilobytes
        if let failure = try exercise(rounds: 2_000) { return failure }
        let after = ProcessResources.current(), grown = residentKilobytes - memory
        if after != before { return "before: \(before); after: \(after)" }
        if grown > memoryBoundKilobytes { return "resident memory grew by \(grown) kB (bound \(memoryBoundKilobytes) kB)" }
        return nil
    }

    /// `rounds` thread engines of every kind with two jobs each, then
    /// `rounds` × 2.5 jobs on each pool, `rounds` / 50 process engines and
    /// as many engines whose second worker cannot bind.
    private static func exercise(rounds: Int) throws -> String? {
        let threadKinds = EngineFixture.sanitizableKinds.filter { $0 != .processesShm && $0 != .processesPipe }
        for round in 0..<rounds { _ = try sumThrough(threadKinds[round % threadKinds.count], jobs: 2) }
        _ = try sumThrough(.lockfreePool, jobs: rounds * 5 / 2)
        _ = try sumThrough(.lockedPool, jobs: rounds * 5 / 2)
        for round in 0..<(rounds / 50) { _ = try sumThrough(round % 2 == 0 ? .processesShm : .processesPipe, jobs: 3) }
        let pools: [EngineKind] = [.lockfreePool, .gil, .lockedPool, .tasks, .auto]
        for round in 0..<(rounds / 50) where (try? makeEngine(EngineFixture.unbindable(pools[round % pools.count]))) != nil {
            return "a \(pools[round % pools.count].rawValue) engine whose worker cannot bind started"
        }
        return nil
    }

    private static func sumThrough(_ kind: EngineKind, jobs: Int) throws -> KernelValue {
        let engine = try makeEngine(EngineFixture.configuration(kind, workers: 2, chunk: 256))
        defer { engine.close() }
        let job = try EngineFixture.sumJob(engine, count: 1_000)
        var value = KernelValue.none
        for _ in 0..<jobs { value = try engine.value(of: job).0 }
        return value
    }

    /// 4 MiB, or 16 MiB in a process under the thread sanitizer.
    private static var memoryBoundKilobytes: Int {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") == nil ? 4 << 10 : 16 << 10
    }

    private static var residentKilobytes: Int {
        let status = procFile("/proc/self/status")
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }
}

/// Worker processes that stop, or whose kernel fails mid-stream, end the job
/// with a line that says what happened, never a hang or a bare exit status.
@Suite struct WorkerProcessFaultTests {
    @Test(arguments: ["processes-shm", "processes-pipe"])
    func aStoppedWorkerFailsTheRunInsteadOfHangingIt(engine: String) throws {
        let process = CommandLineTool.process(["run", "--engine", engine, "--workers", "2", "--size", "4Mi", "--reps", "1000000", "--warmup", "0"])
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        defer { if process.isRunning { process.terminate() } }  // a failed expectation must not leave a million repetitions running
        let pid = process.processIdentifier
        var children: [pid_t] = []
        // The run's own workers, running jobs: `run` first starts and closes four engines for its
        // start-up figure, and closing one kills its workers, stopped or not.
        let working = eventually(within: 60) {
            children = workerProcesses(of: pid)
            return children.count == 2 && children.allSatisfy { child in
                procFile("/proc/\(child)/maps").contains("memfd:unlocked-job") || bytesRead(by: child) > 1 << 20
            }
        }
        try #require(working, "workers \(children) never ran a job")
        kill(children[0], SIGSTOP)
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 70)
        #expect(stderr.contains("was stopped (SIGSTOP or a debugger)"), "\(stderr)")
        #expect(stderr.split(separator: "\n").count == 1)
    }

    @Test(arguments: ["processes-shm", "processes-pipe"])
    func aKernelErrorReachesTheUserInTheKernelsWords(engine: String) throws {
        let outcome = try CommandLineTool.run(["run", "--plugin", try PluginFixtures.path("KERNEL_ERROR"), "--kernel", "cursed.sum",
                                               "--engine", engine, "--workers", "2", "--size", "200000", "--chunk", "4096", "--reps", "1"])
        #expect(outcome.status == 65)
        #expect(outcome.stderr.contains("the third call is cursed"), "\(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }
}
