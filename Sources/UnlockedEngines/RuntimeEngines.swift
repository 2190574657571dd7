#if os(Linux)
import CKernels
import Dispatch
import Glibc
import UnlockedCore
import UnlockedTopology

/// A task executor on threads of our own, named and bound like the pools'
/// workers. The tasks engine runs its task group here rather than on the
/// shared cooperative pool: a caller blocked waiting for the group (a
/// synchronous test running on that pool, say) could otherwise starve it.
package final class ThreadTaskExecutor: TaskExecutor {
    private struct Queue {
        var jobs: [UnownedJob] = []
        var stopping = false
    }

    private let queue = LockedValue(Queue())
    private let available = DispatchSemaphore(value: 0)
    private var threads: [pthread_t] = []
    /// Where each thread runs, in worker order (set by `init`).
    package private(set) var bindings: [BindingObservation] = []

    /// Starts one thread per worker of `plan` and waits until each is bound;
    /// throws, with every thread stopped, when one cannot start or bind.
    package init(plan: PlacementPlan) throws(UnlockedError) {
        let reports = WorkerBindings()
        do throws(UnlockedError) {
            for worker in plan.workers.indices {
                threads.append(try startThread(name: workerThreadName(EngineKind.tasks.threadRole, worker)) { [self] in
                    reports.bindCurrentThread(worker: worker, plan: plan)
                    serve()
                })
            }
            bindings = try reports.wait(for: plan.workers.indices)
        } catch {
            shutdown()
            throw error
        }
    }

    /// A worker thread: runs jobs until woken without one.
    private func serve() {
        while true {
            available.wait()
            let next: UnownedJob? = queue.withLock { $0.jobs.isEmpty ? nil : $0.jobs.removeFirst() }
            guard let next else { return }  // woken without a job: shutting down
            next.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.withLock { $0.jobs.append(job) }
        available.signal()
    }

    /// Wakes every thread with no job, so each returns, and joins them.
    /// Called when no task is running any more.
    package func shutdown() {
        queue.withLock { $0.stopping = true }
        for _ in threads { available.signal() }
        threads.forEach(joinThread)
        threads = []
    }
}

// The queue is behind a LockedValue; `threads` and `bindings` are touched only by the owning engine.
extension ThreadTaskExecutor: @unchecked Sendable {}

/// Engines built on a runtime: `tasks` (a task group of one child task per
/// worker, on a `ThreadTaskExecutor`) and `gcd` (`concurrentPerform`, whose
/// threads belong to GCD and are not bound: pinning them would change every
/// later user of GCD; the report says so). Workers claim chunks from one
/// shared counter.
package final class RuntimeEngine: Engine {
    package let kind: EngineKind
    package let workerCount: Int
    package let startup: EngineStartup
    // Read on every job by the one thread running jobs: no dynamic exclusivity check.
    @exclusivity(unchecked) package private(set) var state = EngineState.running
    private let chunk: Int?
    private let executor: ThreadTaskExecutor?

    package init(_ configuration: EngineConfiguration) throws(UnlockedError) {
        let start = monotonicNanoseconds()
        kind = configuration.kind
        workerCount = configuration.workers
        chunk = configuration.chunk
        if kind == .tasks {
            let executor = try ThreadTaskExecutor(plan: configuration.placement)
            self.executor = executor
            startup = EngineStartup(nanoseconds: monotonicNanoseconds() - start, bindings: executor.bindings)
        } else {
            executor = nil
            // GCD starts its threads from the thread that first needs them,
            // and they inherit that thread's affinity for life: asked from a
            // caller another engine pinned, every one would share its CPU. Its
            // idle threads are reused, so ask from an unpinned thread first.
            let workers = workerCount
            joinThread(try startThread(name: "ukw-gcd-start") {
                DispatchQueue.concurrentPerform(iterations: workers) { _ in }
            })
            startup = EngineStartup(nanoseconds: monotonicNanoseconds() - start, bindings: [])
        }
    }

    deinit { close() }

    package func initialize(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator) throws(UnlockedError) {
        try state.checkRunning(kind)
        let plan = ChunkPlan(count: count, chunkSize: chunk, workers: workerCount)
        let base = UncheckedPointer(buffer.base)
        let counter = ChunkCounter()
        perform { _ in
            while case let index = counter.claim(), index < plan.chunkCount {
                generator.fill(base.pointer, dtype: dtype, range: plan.range(ofChunk: index))
            }
        }
    }

    package func run(_ job: EngineJob) throws(UnlockedError) -> EngineResult {
        try state.checkRunning(kind)
        try job.validate()
        let start = monotonicNanoseconds()
        return try withJobInvoker(job) { invoker throws(UnlockedError) in
            let plan = ChunkPlan(count: job.count, chunkSize: chunk, workers: workerCount)
            let slots = WorkerSlots(count: workerCount)
            let counter = ChunkCounter()
            perform { worker in
                runClaimedChunks(worker: worker, plan: plan, counter: counter, invoker: invoker, slots: slots)
            }
            if let error = slots.takeError() { throw error }
            let note = kind == .tasks ? "one child task per worker, on a task executor of \(workerCount) threads of ours"
                : "workers are GCD threads: not bound to the placement"
            var statistics = EngineStatistics(engine: kind, plan: plan, tallies: slots.tallies,
                                              notes: KernelInvoker.notes(for: job.kernel) + [note])
            statistics.computeNanoseconds = monotonicNanoseconds() - start
            return EngineResult(acc: slots.merged(job.kernel), statistics: statistics)
        }
    }

    package func close() {
        if state == .closed { return }
        state = .closed
        executor?.shutdown()
    }

    /// Runs `body(worker)` for every worker on the runtime and waits.
    private func perform(_ body: @escaping @Sendable (Int) -> Void) {
        let workers = workerCount
        if let executor {
            // The caller is not a task: it waits on a semaphore while the
            // group's child tasks (which inherit the executor) run.
            let done = DispatchSemaphore(value: 0)
            Task(executorPreference: executor) {
                await withTaskGroup(of: Void.self) { group in
                    for worker in 0..<workers { group.addTask { body(worker) } }
                }
                done.signal()
            }
            done.wait()
        } else {
            DispatchQueue.concurrentPerform(iterations: workers, execute: body)
        }
    }
}
#endif
