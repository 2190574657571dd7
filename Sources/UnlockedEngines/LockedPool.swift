#if os(Linux)
import CKernels
import Glibc
import UnlockedCore
import UnlockedTopology

/// The state of the locked pool, all behind one counting mutex.
package final class LockedCore {
    package enum Work {
        case run(KernelInvoker)
        case fill(UncheckedPointer, DType, DataGenerator)
    }

    private let mutex = CountingMutex()
    /// Signalled when chunks are queued or the pool stops.
    private let workQueued: UnsafeMutablePointer<pthread_cond_t>
    /// Signalled when the last chunk of a job is merged.
    private let jobDone: UnsafeMutablePointer<pthread_cond_t>
    /// Where each worker thread runs, reported as it starts.
    package let bindings = WorkerBindings()

    // protected by mutex
    private var work: Work?
    private var plan = ChunkPlan(count: 0, chunkSize: 1, workers: 1)
    private var queue: [Int] = []
    private var pending = 0
    private var acc = uk_acc()
    private var tallies: [WorkerTally]
    private var error: UnlockedError?
    private var stopping = false
    /// When the current job was queued (monotonic ns): waiting before it was idleness.
    private var queuedAt: UInt64 = 0

    package init(workers: Int) {
        workQueued = .allocate(capacity: 1)
        jobDone = .allocate(capacity: 1)
        pthread_cond_init(workQueued, nil)
        pthread_cond_init(jobDone, nil)
        tallies = Array(repeating: WorkerTally(), count: workers)
    }

    deinit {
        pthread_cond_destroy(jobDone)
        pthread_cond_destroy(workQueued)
        jobDone.deallocate()
        workQueued.deallocate()
    }

    /// A worker thread: bind, then take chunks off the queue until stopped.
    package func workerMain(worker: Int, placement: PlacementPlan) {
        bindings.bindCurrentThread(worker: worker, plan: placement)
        var local = WorkerTally()
        mutex.lock(&local)
        var contexts = WorkerKernelContexts(worker: worker)
        while true {
            while queue.isEmpty && !stopping {
                let start = monotonicNanoseconds()
                mutex.wait(workQueued)
                local.futexWaits += 1
                let end = monotonicNanoseconds(), from = max(start, queuedAt)
                if end > from { local.parkedNanoseconds += end - from }
                // Woken (a broadcast wakes every worker) to find the chunks taken.
                if queue.isEmpty && !stopping { local.failedClaims += 1 }
            }
            if stopping { break }
            let chunk = queue.removeLast()
            let work = self.work!
            let range = plan.range(ofChunk: chunk)
            mutex.unlock()

            var partial = uk_acc()
            var failure: UnlockedError?
            switch work {
            case .run(let invoker):
                do throws(UnlockedError) {
                    if !range.isEmpty { try invoker.run(range, acc: &partial, contexts: &contexts, tally: &local) }
                } catch { failure = error }
            case .fill(let base, let dtype, let generator):
                generator.fill(base.pointer, dtype: dtype, range: range)
            }

            mutex.lock(&local)
            if case .run(let invoker) = work { invoker.kernel.combine(&acc, partial) }
            if let failure, error == nil { error = failure }
            tallies[worker].chunks += range.isEmpty ? 0 : 1
            tallies[worker].lockAcquisitions += local.lockAcquisitions
            tallies[worker].lockWaitNanoseconds += local.lockWaitNanoseconds
            tallies[worker].futexWaits += local.futexWaits
            tallies[worker].parkedNanoseconds += local.parkedNanoseconds
            tallies[worker].failedClaims += local.failedClaims
            local = WorkerTally()
            pending -= 1
            if pending == 0 { pthread_cond_signal(jobDone) }
        }
        mutex.unlock()
        contexts.releaseAll()
    }

    /// Queues every chunk of `plan` (one empty item for an empty job, so a
    /// job always goes through the queue), waits for all of them, and
    /// returns the merged accumulator and the workers' counters.
    package func perform(_ work: Work, plan: ChunkPlan) -> (uk_acc, [WorkerTally], UnlockedError?) {
        mutex.lock()
        self.work = work
        self.plan = plan
        queue = plan.chunkCount == 0 ? [0] : Array((0..<plan.chunkCount).reversed())
        pending = queue.count
        acc = uk_acc()
        error = nil
        queuedAt = monotonicNanoseconds()
        for index in tallies.indices { tallies[index] = WorkerTally() }
        pthread_cond_broadcast(workQueued)
        while pending > 0 { mutex.wait(jobDone) }
        let result = (acc, tallies, error)
        self.work = nil
        mutex.unlock()
        return result
    }

    package func stop() {
        mutex.lock()
        stopping = true
        pthread_cond_broadcast(workQueued)
        mutex.unlock()
    }
}

// Every mutable field is protected by the mutex.
extension LockedCore: @unchecked Sendable {}

/// The textbook thread pool: persistent pinned workers take chunk indices
/// from a queue guarded by a mutex and condition variable, and merge each
/// chunk's partial into the job's result under the same lock. The caller
/// waits on a second condition variable. Every acquisition and the time
/// spent waiting for the lock are counted, and so are the workers' waits on
/// the condition variable and wake-ups that found the queue empty.
///
/// One job at a time, from one thread at a time.
package final class LockedPool: Engine {
    package let kind = EngineKind.lockedPool
    package let workerCount: Int
    package private(set) var startup = EngineStartup(nanoseconds: 0, bindings: [])
    // Read on every job by the one thread running jobs: no dynamic exclusivity check.
    @exclusivity(unchecked) package private(set) var state = EngineState.running
    private let core: LockedCore
    private let chunk: Int?
    private var threads: [pthread_t] = []

    package init(_ configuration: EngineConfiguration) throws(UnlockedError) {
        let start = monotonicNanoseconds()
        workerCount = configuration.workers
        chunk = configuration.chunk
        core = LockedCore(workers: workerCount)
        let placement = configuration.placement
        do throws(UnlockedError) {
            for worker in 0..<workerCount {
                let core = self.core
                threads.append(try startThread(name: workerThreadName(kind.threadRole, worker)) {
                    core.workerMain(worker: worker, placement: placement)
                })
            }
            startup = EngineStartup(nanoseconds: monotonicNanoseconds() - start,
                                    bindings: try core.bindings.wait(for: 0..<workerCount))
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    package func initialize(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator) throws(UnlockedError) {
        try state.checkRunning(kind)
        _ = core.perform(.fill(UncheckedPointer(buffer.base), dtype, generator),
                         plan: ChunkPlan(count: count, chunkSize: chunk, workers: workerCount))
    }

    package func run(_ job: EngineJob) throws(UnlockedError) -> EngineResult {
        try state.checkRunning(kind)
        try job.validate()
        let start = monotonicNanoseconds()
        return try withJobInvoker(job) { invoker throws(UnlockedError) in
            let plan = ChunkPlan(count: job.count, chunkSize: chunk, workers: workerCount)
            let (acc, tallies, error) = core.perform(.run(invoker), plan: plan)
            if let error { throw error }
            var statistics = EngineStatistics(engine: kind, plan: plan, tallies: tallies, notes: KernelInvoker.notes(for: job.kernel))
            statistics.computeNanoseconds = monotonicNanoseconds() - start
            return EngineResult(acc: acc, statistics: statistics)
        }
    }

    package func close() {
        if state == .closed { return }
        state = .closed
        core.stop()
        threads.forEach(joinThread)
        threads = []
    }
}
#endif
