#if os(Linux)
import CKernels
import CSupport
import Glibc
import UnlockedCore
import UnlockedTopology

/// The words the pool's threads share, each on its own 128-byte block, in
/// memory we allocate: a futex needs the word's address and Synchronization's
/// `Atomic` gives none, so these are C11 atomics through `CSupport`.
package struct PoolControl {
    private static let line = 128
    private let raw: UnsafeMutableRawPointer
    package let workers: Int

    package init(workers: Int) {
        self.workers = workers
        let bytes = (4 + workers) * Self.line
        raw = .allocate(byteCount: bytes, alignment: Self.line)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }

    package func deallocate() { raw.deallocate() }

    private func word(_ line: Int, _ index: Int) -> UnsafeMutablePointer<UInt32> {
        (raw + line * Self.line).assumingMemoryBound(to: UInt32.self) + index
    }

    /// Bumped to publish a job; helpers park on it.
    package var generation: UnsafeMutablePointer<UInt32> { word(0, 0) }
    /// Helpers parked (or about to park) on `generation`.
    package var sleepers: UnsafeMutablePointer<UInt32> { word(0, 1) }
    /// Helpers that have not finished the current job; the owner parks on it.
    package var remaining: UnsafeMutablePointer<UInt32> { word(1, 0) }
    /// 1 while the owner is parked on `remaining`.
    package var ownerSleeping: UnsafeMutablePointer<UInt32> { word(1, 1) }
    /// 1 once a worker failed: the others stop claiming chunks.
    package var abort: UnsafeMutablePointer<UInt32> { word(2, 0) }
    /// Futex waits, counted as they start (off the hot path).
    package var parks: UnsafeMutablePointer<Int64> { (raw + 3 * Self.line).assumingMemoryBound(to: Int64.self) }
    /// `sched_yield` calls of waits: oversubscribed, or of workers not pinned apart.
    package var yields: UnsafeMutablePointer<Int64> { parks + 1 }
    /// When the current job was published (monotonic ns): helpers' waiting
    /// before it was idleness, not a cost of the job.
    package var published: UnsafeMutablePointer<Int64> { parks + 2 }

    /// Worker `worker`'s next chunk to claim (fetch-add by its owner and by thieves).
    package func cursor(_ worker: Int) -> UnsafeMutablePointer<Int64> {
        (raw + (4 + worker) * Self.line).assumingMemoryBound(to: Int64.self)
    }
}

/// Spins on `condition` with PAUSE for up to `spinNanoseconds`, then returns
/// false so the caller parks: a busy pool answers in nanoseconds, an idle one
/// uses no CPU. With `yieldingTo` (threads not pinned apart, which the
/// scheduler may stack on one CPU) every 64th check also yields, counted
/// there: a spinner must not hold the CPU of the thread it waits for.
/// Spinning that lasts is timed into `interval` from the 64th check on.
@inline(__always)
private func spin(_ spinNanoseconds: UInt64, yieldingTo yields: UnsafeMutablePointer<Int64>?,
                  interval: inout WaitInterval, until condition: () -> Bool) -> Bool {
    // The clock is read only once spinning lasts: a quick hand-over pays no clock read.
    var start: UInt64 = 0
    var spins = 0
    var yielded: Int64 = 0
    defer {
        if let yields, yielded > 0 { _ = uk_fetch_add_relaxed_i64(yields, yielded) }
        interval = start != 0 ? WaitInterval(start: start, end: monotonicNanoseconds()) : WaitInterval()
    }
    while !condition() {
        uk_cpu_relax()
        spins += 1
        guard spins & 63 == 0 else { continue }
        if yields != nil {
            sched_yield()
            yielded += 1
        }
        if start == 0 {
            start = monotonicNanoseconds()
        } else if monotonicNanoseconds() - start > spinNanoseconds {
            return false
        }
    }
    return true
}

/// Yields the CPU up to `yields` times while `condition` is false, then
/// returns false so the caller parks. For oversubscribed pools: a thread
/// that spins there holds the CPU a worker with a chunk, or one that must
/// check in, is waiting for (why libgomp cuts `GOMP_SPINCOUNT` when threads
/// outnumber CPUs). Every yield is counted in `counter`, the time in `interval`.
private func yieldWait(_ yields: Int, counter: UnsafeMutablePointer<Int64>, interval: inout WaitInterval,
                       until condition: () -> Bool) -> Bool {
    var done = 0
    let start = monotonicNanoseconds()
    defer {
        if done > 0 { _ = uk_fetch_add_relaxed_i64(counter, Int64(done)) }
        interval = WaitInterval(start: start, end: monotonicNanoseconds())
    }
    while !condition() {
        guard done < yields else { return false }
        sched_yield()
        done += 1
    }
    return true
}

/// When one phase of a wait (spinning, yielding, parked) began and ended, in
/// monotonic nanoseconds; zeros when it was not timed.
private struct WaitInterval {
    var start: UInt64 = 0
    var end: UInt64 = 0

    /// The part after `since`.
    func nanoseconds(after since: UInt64) -> UInt64 {
        let from = max(start, since)
        return start != 0 && end > from ? end - from : 0
    }
}

/// The planned PUs when every worker is bound and binding is not skipped, else nil.
private func boundPUs(_ plan: PlacementPlan) -> [Int]? {
    guard plan.bindingSkipped == nil, plan.workers.allSatisfy({ $0.osPU != nil }) else { return nil }
    return plan.workers.compactMap(\.osPU)
}

/// How many CPUs a plan's workers can run on at once: the distinct planned
/// PUs when every worker is bound, else the process's CPUs; either way at
/// most the process's CPUs and its cgroup's CPU quota (rounded up).
package func concurrentCPUs(_ plan: PlacementPlan) -> Int {
    let process = initialAffinity.map { max($0.count, 1) } ?? plan.workers.count
    let planned = boundPUs(plan).map { Set($0).count } ?? process
    let quota = CgroupLimits.cpuQuota().map { max(Int($0.rounded(.up)), 1) } ?? .max
    return min(planned, process, quota)
}

/// Whether every worker is bound to a PU no other worker shares: only then
/// may a waiting thread spin without yielding (unbound threads can be
/// stacked on one CPU by the scheduler, the waiter on the one it waits for).
package func workersPinnedApart(_ plan: PlacementPlan) -> Bool {
    boundPUs(plan).map { Set($0).count == $0.count } ?? false
}

/// What the pool runs next.
package enum PoolJob {
    case run(KernelInvoker, ChunkPlan)
    case fill(UncheckedPointer, DType, DataGenerator, ChunkPlan)
    case stop
}

/// The state the pool's threads share. Helpers hold it strongly; the public
/// `LockFreePool` stops them in `close`/`deinit`.
///
/// `job` is written only by the owner while no job runs, before the
/// release of `generation`; helpers read it after acquiring `generation`.
package final class LockFreeCore {
    package let control: PoolControl
    package let slots: WorkerSlots
    package let stealing: Bool
    /// Each worker runs its own copy of plugins (`isolated`).
    package let isolated: Bool
    package static let spinNanoseconds: UInt64 = 50_000
    /// Yields before parking when oversubscribed.
    package static let oversubscribedYields = 32
    /// More workers than CPUs to run them: waits yield and park instead of spinning.
    package let oversubscribed: Bool
    /// Workers pinned to distinct PUs: spinning waits need not yield.
    package let pinnedApart: Bool
    /// The current job, in memory of our own rather than a class property, so
    /// reading it costs no dynamic exclusivity check on the hot path.
    private let job = UnsafeMutablePointer<PoolJob>.allocate(capacity: 1)
    /// Where each helper runs, reported as it starts.
    package let bindings = WorkerBindings()

    package init(workers: Int, stealing: Bool, isolated: Bool = false, cpus: Int, pinnedApart: Bool) {
        oversubscribed = workers > cpus
        self.pinnedApart = pinnedApart
        control = PoolControl(workers: workers)
        slots = WorkerSlots(count: workers)
        self.stealing = stealing
        self.isolated = isolated
        job.initialize(to: .stop)
    }

    deinit {
        job.deinitialize(count: 1)
        job.deallocate()
        control.deallocate()
    }

    /// A helper thread: bind and report it, then run jobs until `.stop`.
    package func helperMain(worker: Int, plan: PlacementPlan) {
        bindings.bindCurrentThread(worker: worker, plan: plan)

        var contexts = WorkerKernelContexts(worker: worker, isolated: isolated)
        defer { contexts.releaseAll() }
        var seen: UInt32 = 0
        // Waits and wakes since this worker's last job, reported with the next:
        // after its last decrement the owner may already be reading the slots.
        var waits = WorkerTally()
        while true {
            seen = awaitGeneration(after: seen, tally: &waits)
            if case .stop = job.pointee { return }
            execute(worker: worker, contexts: &contexts, waits: waits)
            waits = WorkerTally()
            if uk_fetch_sub_u32(control.remaining, 1) == 1, uk_load_u32(control.ownerSleeping) == 1 {
                _ = uk_futex_wake(control.remaining, 1)
                waits.futexWakes += 1
            }
        }
    }

    /// Waits for `condition` before parking: spins while every worker has a
    /// CPU of its own (yielding now and then unless they are pinned apart),
    /// yields a few times when oversubscribed.
    @inline(__always)
    private func pause(_ interval: inout WaitInterval, until condition: () -> Bool) -> Bool {
        oversubscribed ? yieldWait(Self.oversubscribedYields, counter: control.yields, interval: &interval, until: condition)
            : spin(Self.spinNanoseconds, yieldingTo: pinnedApart ? nil : control.yields, interval: &interval, until: condition)
    }

    /// Parks on `word` while it holds `expected`, counting the park in `tally` and timing it.
    private func park(_ word: UnsafeMutablePointer<UInt32>, while expected: UInt32, tally: inout WorkerTally) -> WaitInterval {
        _ = uk_fetch_add_relaxed_i64(control.parks, 1)
        tally.futexWaits += 1
        let start = monotonicNanoseconds()
        _ = uk_futex_wait(word, expected)
        return WaitInterval(start: start, end: monotonicNanoseconds())
    }

    /// Waits until `generation` moves past `seen`: spin (or yield), then park
    /// on the futex. Only the waiting after the job was published counts as
    /// spinning or parked: before, the pool had nothing to do.
    private func awaitGeneration(after seen: UInt32, tally: inout WorkerTally) -> UInt32 {
        let generation = control.generation
        // Earlier phases of the wait ended before the job came: only the last ones can overlap it.
        var spun = WaitInterval(), parked = WaitInterval()
        while uk_load_acquire_u32(generation) == seen {
            if pause(&spun, until: { uk_load_acquire_u32(generation) != seen }) { break }
            // Announce the park before re-checking, so a publisher that bumped
            // the generation after our check is sure to see us and wake us.
            uk_fetch_add_u32(control.sleepers, 1)
            if uk_load_u32(generation) == seen { parked = park(generation, while: seen, tally: &tally) }
            uk_fetch_sub_u32(control.sleepers, 1)
        }
        let current = uk_load_acquire_u32(generation)
        let published = UInt64(uk_load_relaxed_i64(control.published))
        tally.spinNanoseconds += spun.nanoseconds(after: published)
        tally.parkedNanoseconds += parked.nanoseconds(after: published)
        return current
    }

    /// Publishes `job`, runs worker 0's share on the calling thread, and
    /// waits for every helper to finish it.
    package func perform(_ job: PoolJob, contexts: inout WorkerKernelContexts, publishedAt: UInt64 = 0) {
        let workers = control.workers
        self.job.pointee = job
        let plan: ChunkPlan? = switch job {
        case .run(_, let plan), .fill(_, _, _, let plan): plan
        case .stop: nil
        }
        if let plan {
            for worker in 0..<workers {
                uk_store_relaxed_i64(control.cursor(worker), Int64(plan.ownedChunks(worker: worker).lowerBound))
            }
        }
        uk_store_u32(control.abort, 0)
        uk_store_relaxed_i64(control.published, Int64(publishedAt))
        uk_store_u32(control.remaining, UInt32(workers - 1))
        uk_fetch_add_u32(control.generation, 1)
        var waits = WorkerTally()
        if uk_load_u32(control.sleepers) > 0 {
            _ = uk_futex_wake(control.generation, Int32.max)
            waits.futexWakes += 1
        }
        if case .stop = job { return }

        execute(worker: 0, contexts: &contexts, waits: waits)
        // Worker 0's slot is the owner's own: its wait goes straight there.
        let remaining = control.remaining, owner = slots.slot(0)
        var interval = WaitInterval()
        while case let left = uk_load_acquire_u32(remaining), left != 0 {
            defer { owner.pointee.tally.spinNanoseconds += interval.nanoseconds(after: 0) }
            if pause(&interval, until: { uk_load_acquire_u32(remaining) == 0 }) { break }
            uk_store_u32(control.ownerSleeping, 1)
            if uk_load_u32(remaining) == left {
                owner.pointee.tally.parkedNanoseconds += park(remaining, while: left, tally: &owner.pointee.tally).nanoseconds(after: 0)
            }
            uk_store_u32(control.ownerSleeping, 0)
        }
    }

    /// Worker `worker`'s part of the current job: its own chunks, then
    /// (when stealing) what is left of the others', each claimed by fetch-add.
    private func execute(worker: Int, contexts: inout WorkerKernelContexts, waits: WorkerTally) {
        let slot = slots.slot(worker)
        slot.pointee = WorkerSlot(tally: waits)
        switch job.pointee {
        case .stop:
            return
        case .fill(let base, let dtype, let generator, let plan):
            // No stealing: the worker that will process a chunk touches it first.
            for chunk in plan.ownedChunks(worker: worker) {
                generator.fill(base.pointer, dtype: dtype, range: plan.range(ofChunk: chunk))
            }
        case .run(let invoker, let plan):
            do throws(UnlockedError) {
                // Every worker takes its own copy of the plugin as the job
                // arrives, chunks or not: what a worker count costs in copies
                // (and whether glibc has namespaces for them) never depends on timing.
                if isolated { _ = try contexts.resolve(invoker.kernel, tally: &slot.pointee.tally) }
                try drain(owner: worker, plan: plan, invoker: invoker, slot: slot, contexts: &contexts)
                guard stealing else { return }
                for offset in 1..<control.workers {
                    let victim = (worker + offset) % control.workers
                    try drain(owner: victim, plan: plan, invoker: invoker, slot: slot, contexts: &contexts, stealing: true)
                }
            } catch {
                slots.record(error)
                uk_store_u32(control.abort, 1)
            }
        }
    }

    @inline(__always)
    private func drain(owner: Int, plan: ChunkPlan, invoker: KernelInvoker, slot: UnsafeMutablePointer<WorkerSlot>,
                       contexts: inout WorkerKernelContexts, stealing: Bool = false) throws(UnlockedError) {
        let end = Int64(plan.ownedChunks(worker: owner).upperBound)
        let cursor = control.cursor(owner)
        // Look before claiming: a read of a drained cursor leaves its line shared.
        while uk_load_relaxed_i64(cursor) < end, uk_load_acquire_u32(control.abort) == 0 {
            let chunk = uk_fetch_add_relaxed_i64(cursor, 1)
            guard chunk < end else {
                slot.pointee.tally.failedClaims += 1
                return
            }
            try invoker.run(plan.range(ofChunk: Int(chunk)), acc: &slot.pointee.acc, contexts: &contexts, tally: &slot.pointee.tally)
            if stealing { slot.pointee.tally.steals += 1 }
        }
    }
}

// Shared words are atomics; `job` is handed over by the generation's
// release/acquire; slots are per worker.
extension LockFreeCore: @unchecked Sendable {}

/// Persistent pinned workers, lock-free: the caller publishes a job by
/// bumping a generation word and runs worker 0's share itself (as OpenMP's
/// master thread does); each worker claims the chunks it owns with a
/// fetch-add on its own cursor, then steals from the others' cursors;
/// partials go to padded per-worker slots; the last helper to finish
/// decrements a counter to zero and wakes the caller only if it parked.
/// Idle workers spin for 50 µs (yielding every 64 checks unless each is
/// pinned to a PU of its own), then park on a futex; when workers outnumber
/// the CPUs they can run on (`concurrentCPUs`), every wait (helpers for the
/// next job, the caller for the last helper) yields a few times instead and
/// parks, so no waiter holds a CPU a worker with work needs.
///
/// With `globalLock` it is the `gil` engine: the same pool, but each chunk
/// runs while holding one global lock.
///
/// One job at a time, from one thread at a time; that thread is bound to
/// worker 0's PU on its first job.
package final class LockFreePool: Engine {
    package let kind: EngineKind
    package let workerCount: Int
    package private(set) var startup: EngineStartup
    private let core: LockFreeCore
    private let plan: PlacementPlan
    private let chunk: Int?
    private let globalLock: CountingMutex?
    private var helpers: [pthread_t] = []
    // Touched only by the thread running a job, on every job: no dynamic
    // exclusivity checks (they cost tens of nanoseconds per round trip).
    @exclusivity(unchecked) package private(set) var state = EngineState.running
    @exclusivity(unchecked) private var caller = CallerBinding()
    @exclusivity(unchecked) private var callerContexts = WorkerKernelContexts(worker: 0)

    package init(_ configuration: EngineConfiguration, globalLock: CountingMutex?) throws(UnlockedError) {
        let start = monotonicNanoseconds()
        kind = globalLock != nil ? .gil : configuration.kind == .isolated ? .isolated : .lockfreePool
        workerCount = configuration.workers
        plan = configuration.placement
        chunk = configuration.chunk
        self.globalLock = globalLock
        core = LockFreeCore(workers: workerCount, stealing: true, isolated: kind == .isolated,
                            cpus: concurrentCPUs(configuration.placement),
                            pinnedApart: workersPinnedApart(configuration.placement))
        callerContexts = WorkerKernelContexts(worker: 0, isolated: kind == .isolated)
        startup = EngineStartup(nanoseconds: 0, bindings: [])
        do throws(UnlockedError) {
            try caller.bind(plan)
            for worker in 1..<workerCount {
                let core = self.core, plan = self.plan
                helpers.append(try startThread(name: workerThreadName(kind.threadRole, worker)) {
                    core.helperMain(worker: worker, plan: plan)
                })
            }
            // Every helper is bound, then parked or spinning.
            let helperBindings = try core.bindings.wait(for: 1..<workerCount)
            startup = EngineStartup(nanoseconds: monotonicNanoseconds() - start,
                                    bindings: (caller.observation.map { [$0] } ?? []) + helperBindings)
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    package func initialize(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator) throws(UnlockedError) {
        try state.checkRunning(kind)
        try caller.bind(plan)
        let chunkPlan = ChunkPlan(count: count, chunkSize: chunk, workers: workerCount)
        core.perform(.fill(UncheckedPointer(buffer.base), dtype, generator, chunkPlan), contexts: &callerContexts)
    }

    package func run(_ job: EngineJob) throws(UnlockedError) -> EngineResult {
        try run(job, chunk: chunk)
    }

    /// `run` with a chunk size chosen per job (the `auto` engine's).
    package func run(_ job: EngineJob, chunk: Int?) throws(UnlockedError) -> EngineResult {
        try state.checkRunning(kind)
        try job.validate()
        let start = monotonicNanoseconds()
        try caller.bind(plan)
        let chunkPlan = ChunkPlan(count: job.count, chunkSize: chunk, workers: workerCount)
        try withJobInvoker(job, engineLock: globalLock) { invoker in
            core.perform(.run(invoker, chunkPlan), contexts: &callerContexts, publishedAt: start)
        }
        if let error = core.slots.takeError() { throw error }
        let slots = core.slots
        var statistics = EngineStatistics(engine: kind, plan: chunkPlan, workers: workerCount,
                                          notes: KernelInvoker.notes(for: job.kernel, isolated: kind == .isolated)) { slots.slot($0).pointee.tally }
        statistics.computeNanoseconds = monotonicNanoseconds() - start
        return EngineResult(acc: core.slots.merged(job.kernel), statistics: statistics)
    }

    package func close() {
        if state == .closed { return }
        state = .closed
        core.perform(.stop, contexts: &callerContexts)
        helpers.forEach(joinThread)
        helpers = []
        callerContexts.releaseAll()
        caller.restore()
    }

    package func releaseCallingThread() { caller.restore() }

    /// Pins the calling thread as worker 0 without running a job (`auto`'s
    /// sequential path computes there too).
    package func bindCallingThread() throws(UnlockedError) { try caller.bind(plan) }

    /// Whether workers outnumber the CPUs they can run on (waits yield and park).
    package var oversubscribed: Bool { core.oversubscribed }

    /// Futex parks and yields of all the pool's threads so far.
    package var waitCounts: (parks: Int64, yields: Int64) {
        (uk_load_relaxed_i64(core.control.parks), uk_load_relaxed_i64(core.control.yields))
    }
}
#endif
