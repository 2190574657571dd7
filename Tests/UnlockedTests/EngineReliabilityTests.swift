import CKernels
import Foundation
import Testing
@testable import Unlocked

/// Whether `pid` is gone (or a zombie waiting for a reaper that is not us).
private func processIsGone(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return errno == ESRCH }
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
}

private func waitUntilGone(_ pids: [pid_t], seconds: Double = 5) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if pids.allSatisfy(processIsGone) { return true }
        usleep(10_000)
    }
    return false
}

/// Waits up to 20 s for `condition`.
private func settle(_ condition: () -> Bool) {
    let deadline = Date().addingTimeInterval(20)
    while !condition(), Date() < deadline { usleep(50_000) }
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
        #expect(error?.message.contains("worker 0") == true, "\(error?.message ?? "")")
    }

    /// Ctrl-C during a run of the CLI: exit status 130 and no worker left.
    @Test func interruptStopsEveryWorkerAndExits130() throws {
        let process = Process()
        process.executableURL = CommandLineTool.executable
        process.arguments = ["run", "--engine", "processes-shm", "--workers", "2", "--size", "4Mi", "--reps", "1000000", "--warmup", "0"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        var children: [pid_t] = []
        let deadline = Date().addingTimeInterval(60)
        while children.count < 2, Date() < deadline, process.isRunning {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
            children = text.split(separator: " ").compactMap { pid_t($0) }
            usleep(20_000)
        }
        #expect(children.count == 2)
        usleep(200_000)  // let the jobs run
        process.interrupt()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 130)
        // Killed and reaped before the exit: not even a zombie is left.
        #expect(children.allSatisfy { kill($0, 0) == -1 && errno == ESRCH })
    }
}

@Suite(.serialized) struct EngineLeakTests {
    /// Thousands of pools and jobs: no thread, file descriptor or memory left
    /// behind. Other suites run in parallel and hold threads and pipes of
    /// their own, so 64 of slack are allowed; a leak per pool would show as
    /// at least 2,000.
    @Test func poolsAndJobsLeakNothing() throws {
        let kinds: [EngineKind] = [.lockfreePool, .lockedPool, .gil, .auto]
        for kind in kinds { _ = try sumThrough(kind, jobs: 1) }  // warm caches and runtime pools
        let threads = ProcessCounts.threads, fds = ProcessCounts.fileDescriptors, memory = ProcessCounts.residentKilobytes
        for round in 0..<2_000 { _ = try sumThrough(kinds[round % kinds.count], jobs: 2) }
        _ = try sumThrough(.lockfreePool, jobs: 5_000)
        _ = try sumThrough(.lockedPool, jobs: 5_000)
        // Suites running in parallel hold threads and pipes for a while; a
        // leak never goes away, so wait for the transient ones to.
        settle { ProcessCounts.threads - threads <= 64 && ProcessCounts.fileDescriptors - fds <= 64 }
        #expect(ProcessCounts.threads - threads <= 64, "threads \(threads) → \(ProcessCounts.threads)")
        #expect(ProcessCounts.fileDescriptors - fds <= 64, "fds \(fds) → \(ProcessCounts.fileDescriptors): \(ProcessCounts.fileDescriptorTargets)")
        #expect(ProcessCounts.residentKilobytes - memory < 64 << 10, "RSS \(memory) kB → \(ProcessCounts.residentKilobytes) kB")
    }

    /// 40 process engines of two workers (four pipe ends each): a leak per
    /// engine would show as 160 descriptors; 32 of slack for other suites.
    @Test func processEnginesLeaveNoProcessOrDescriptor() throws {
        _ = try sumThrough(.processesShm, jobs: 1)
        let fds = ProcessCounts.fileDescriptors
        var pids: [pid_t] = []
        for round in 0..<40 {
            let engine = try #require(try makeEngine(EngineFixture.configuration(round % 2 == 0 ? .processesShm : .processesPipe, workers: 2)) as? ProcessEngine)
            pids += engine.workerProcessIDs
            let job = try EngineFixture.sumJob(engine)
            for _ in 0..<3 { _ = try engine.run(job) }
            engine.close()
        }
        #expect(waitUntilGone(pids))
        settle { ProcessCounts.fileDescriptors - fds <= 32 }
        #expect(ProcessCounts.fileDescriptors - fds <= 32, "fds \(fds) → \(ProcessCounts.fileDescriptors): \(ProcessCounts.fileDescriptorTargets)")
    }

    private func sumThrough(_ kind: EngineKind, jobs: Int) throws -> KernelValue {
        let engine = try makeEngine(EngineFixture.configuration(kind, workers: 2, chunk: 256))
        defer { engine.close() }
        let job = try EngineFixture.sumJob(engine, count: 1_000)
        var value = KernelValue.none
        for _ in 0..<jobs { value = try engine.value(of: job).0 }
        return value
    }
}
