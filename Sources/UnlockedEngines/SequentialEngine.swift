#if os(Linux)
import CKernels
import Glibc
import UnlockedCore
import UnlockedTopology

/// One kernel call over the whole range on the calling thread (bound to
/// worker 0's PU): the baseline every other engine must beat.
package final class SequentialEngine: Engine {
    package let kind = EngineKind.sequential
    package let workerCount = 1
    package private(set) var startup = EngineStartup(nanoseconds: 0, bindings: [])
    // Read on every job by the one thread running jobs: no dynamic exclusivity check.
    @exclusivity(unchecked) package private(set) var state = EngineState.running
    private let plan: PlacementPlan
    private var caller = CallerBinding()
    private var contexts = WorkerKernelContexts(worker: 0)

    package init(_ configuration: EngineConfiguration) {
        plan = configuration.placement
    }

    deinit { close() }

    package func initialize(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator) throws(UnlockedError) {
        try state.checkRunning(kind)
        try bindCaller()
        generator.fill(buffer.base, dtype: dtype, range: 0..<count)
    }

    package func run(_ job: EngineJob) throws(UnlockedError) -> EngineResult {
        try state.checkRunning(kind)
        try job.validate()
        let start = monotonicNanoseconds()
        try bindCaller()
        return try runOnCallingThread(job, contexts: &contexts, notes: KernelInvoker.notes(for: job.kernel), start: start)
    }

    package func close() {
        if state == .closed { return }
        state = .closed
        contexts.releaseAll()
        caller.restore()
    }

    package func releaseCallingThread() { caller.restore() }

    private func bindCaller() throws(UnlockedError) {
        try caller.bind(plan)
        if startup.bindings.isEmpty, let observation = caller.observation { startup.bindings = [observation] }
    }
}

/// The seed's `f_threaded`: each job starts a thread per block (`--blocks`,
/// bound round-robin to the plan's PUs) and joins them all. Thread creation
/// is reported as the job's start-up time.
package final class SpawnEngine: Engine {
    package let kind = EngineKind.spawn
    package let startup = EngineStartup(nanoseconds: 0, bindings: [])
    // Read on every job by the one thread running jobs: no dynamic exclusivity check.
    @exclusivity(unchecked) package private(set) var state = EngineState.running
    private let plan: PlacementPlan
    private let blocks: Int

    package init(_ configuration: EngineConfiguration) {
        plan = configuration.placement
        blocks = configuration.blocks
    }

    package var workerCount: Int { blocks }

    package func initialize(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator) throws(UnlockedError) {
        try state.checkRunning(kind)
        let base = UncheckedPointer(buffer.base)
        try spawnBlocks(count: count) { block, range, _ throws(UnlockedError) in
            generator.fill(base.pointer, dtype: dtype, range: range)
        }
    }

    package func run(_ job: EngineJob) throws(UnlockedError) -> EngineResult {
        try state.checkRunning(kind)
        try job.validate()
        let start = monotonicNanoseconds()
        return try withJobInvoker(job) { invoker throws(UnlockedError) in
            let (slots, spawnNanoseconds) = try spawnBlocks(count: job.count) { block, range, slot throws(UnlockedError) in
                var contexts = WorkerKernelContexts(worker: block)
                defer { contexts.releaseAll() }
                if !range.isEmpty { try invoker.run(range, acc: &slot.pointee.acc, contexts: &contexts, tally: &slot.pointee.tally) }
            }
            let chunkPlan = ChunkPlan(count: job.count, chunkSize: max(1, (job.count + blocks - 1) / blocks), workers: blocks)
            var statistics = EngineStatistics(engine: kind, plan: chunkPlan, tallies: slots.tallies,
                                              notes: KernelInvoker.notes(for: job.kernel))
            statistics.chunkCount = min(job.count, blocks)  // the non-empty blocks
            statistics.startupNanoseconds = spawnNanoseconds
            statistics.computeNanoseconds = monotonicNanoseconds() - start
            return EngineResult(acc: slots.merged(job.kernel), statistics: statistics)
        }
    }

    package func close() { state = .closed }

    /// Starts one thread per block, each bound to PU `block % workers`, runs
    /// `body` on its range and joins all; returns the slots and the time
    /// spent creating the threads.
    @discardableResult
    private func spawnBlocks(count: Int, _ body: @escaping @Sendable (Int, Range<Int>, UnsafeMutablePointer<WorkerSlot>) throws(UnlockedError) -> Void)
        throws(UnlockedError) -> (WorkerSlots, UInt64) {
        let slots = WorkerSlots(count: blocks)
        let plan = self.plan
        let blocks = self.blocks
        let start = monotonicNanoseconds()
        var threads: [pthread_t] = []
        var startError: UnlockedError?
        for block in 0..<blocks {
            let range = (block * count / blocks)..<((block + 1) * count / blocks)
            do throws(UnlockedError) {
                threads.append(try startThread(name: workerThreadName(kind.threadRole, block)) {
                    do throws(UnlockedError) {
                        _ = try plan.bindCurrentThread(worker: block % plan.workers.count)
                        try body(block, range, slots.slot(block))
                    } catch {
                        slots.record(error)
                    }
                })
            } catch {
                startError = error
                break
            }
        }
        let spawned = monotonicNanoseconds() - start
        threads.forEach(joinThread)
        if let error = startError ?? slots.takeError() { throw error }
        return (slots, spawned)
    }
}

/// One kernel call over the whole job on the calling thread, as worker 0:
/// what `sequential` does, and `auto` when it stays sequential.
package func runOnCallingThread(_ job: EngineJob, contexts: inout WorkerKernelContexts, notes: [String],
                        start: UInt64) throws(UnlockedError) -> EngineResult {
    var acc = uk_acc()
    var tally = WorkerTally()
    if job.count > 0 {
        try withJobInvoker(job) { invoker throws(UnlockedError) in
            try invoker.run(0..<job.count, acc: &acc, contexts: &contexts, tally: &tally)
        }
    }
    var statistics = EngineStatistics(engine: .sequential, plan: ChunkPlan(count: job.count, chunkSize: max(job.count, 1), workers: 1),
                                      tallies: [tally], notes: notes)
    statistics.computeNanoseconds = monotonicNanoseconds() - start
    return EngineResult(acc: acc, statistics: statistics)
}
#endif
