#if os(Linux)
import CKernels
import COpenMP
import CSupport
import Glibc
import Synchronization
import UnlockedCore
import UnlockedTopology

/// The entry point of the OpenMP region object; a C function pointer, immutable code.
private struct RegionEntry: @unchecked Sendable {
    let run: uk_omp_run_fn
}

/// Loads the OpenMP region that gcc compiled (`image`, the shared object the
/// OpenMPRegion plugin embeds) from a memfd, and with it libgomp.
package func loadOpenMPRegion(image: [UInt8]) -> Result<uk_omp_run_fn, UnlockedError> {
    let fd: Int32
    switch valueOrErrno({ uk_memfd_create("unlocked-openmp") }) {
    case .success(let value): fd = value
    case .failure(let error): return .failure(.internal("openmp: cannot create a memfd for its OpenMP region: \(error)"))
    }
    var written = 0
    while written < image.count {
        let result = valueOrErrno { image.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) } }
        guard case .success(let count) = result, count > 0 else {
            close(fd)
            return .failure(.internal("openmp: cannot write its OpenMP region to a memfd: \(result)"))
        }
        written += count
    }
    // The memfd stays open on success: glibc knows a loaded object by its path,
    // and a later /proc/self/fd/<same number> would be taken for this one.
    guard let handle = dlopen("/proc/self/fd/\(fd)", RTLD_NOW | RTLD_LOCAL) else {
        let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
        close(fd)
        return .failure(.noInput("openmp: cannot load its OpenMP region (gcc -fopenmp, needs libgomp.so.1 from libgomp1): \(reason)"))
    }
    guard let symbol = dlsym(handle, UK_OMP_RUN_SYMBOL) else {
        dlclose(handle)
        close(fd)
        return .failure(.noInput("openmp: its OpenMP region has no \(UK_OMP_RUN_SYMBOL)"))
    }
    return .success(unsafeBitCast(symbol, to: uk_omp_run_fn.self))
}

/// Loaded once per process, on the first `openmp` engine; never unloaded (libgomp keeps its threads).
private let openMPRegion: Result<RegionEntry, UnlockedError> = loadOpenMPRegion(image: openMPRegionImage).map(RegionEntry.init)

/// What one OpenMP thread reported from inside the last region.
package struct OpenMPThreadReport: Sendable, Equatable {
    /// `omp_get_num_threads()` in the region.
    package var team = 0
    /// The thread's kernel id (/proc/self/task/<id>): distinct per OpenMP thread when the team is real.
    package var threadID: Int32 = 0
    /// Where the thread ran once bound; nil when it was not in the team.
    package var binding: BindingObservation?
}

/// The state a region's threads share, handed to the C region as its context.
///
/// The owner writes `work` and resets the reports before the region; libgomp's
/// fork orders those writes before every thread's reads, and its join orders
/// the threads' writes (each only to its own report, slot and contexts) before
/// the owner reads them.
private final class OpenMPRegionState {
    enum Work {
        case run(KernelInvoker, ChunkPlan)
        case fill(UncheckedPointer, DType, DataGenerator, ChunkPlan)
        /// No chunks: each thread binds (the engine's start).
        case bind
        /// No chunks: each helper thread unpins itself (`close`).
        case release
    }

    let plan: PlacementPlan
    let slots: WorkerSlots
    let work = UnsafeMutablePointer<Work>.allocate(capacity: 1)
    let reports: UnsafeMutablePointer<OpenMPThreadReport>
    let contexts: UnsafeMutablePointer<WorkerKernelContexts>
    /// Set with a thread's first error: the other threads skip their remaining chunks.
    let failed = Atomic<Bool>(false)
    /// Whether the caller (thread 0) is bound to its PU; set by the engine before each region.
    var callerBound = false

    init(plan: PlacementPlan) {
        self.plan = plan
        let workers = plan.workers.count
        slots = WorkerSlots(count: workers)
        work.initialize(to: .release)
        reports = .allocate(capacity: workers)
        reports.initialize(repeating: OpenMPThreadReport(), count: workers)
        contexts = .allocate(capacity: workers)
        for worker in 0..<workers { (contexts + worker).initialize(to: WorkerKernelContexts(worker: worker)) }
    }

    deinit {
        let workers = plan.workers.count
        work.deinitialize(count: 1)
        work.deallocate()
        reports.deinitialize(count: workers)
        reports.deallocate()
        contexts.deinitialize(count: workers)
        contexts.deallocate()
    }

    /// Thread `thread` of a team of `team`, before its first chunk: bound to
    /// its planned PU from inside the region (libgomp reads `OMP_PLACES` once
    /// per process, and its threads serve every region of every engine).
    /// The caller, thread 0, is bound by the engine before the region.
    func begin(thread: Int, team: Int) {
        uk_omp_happens_after(forkToken)
        reports[thread].team = team
        reports[thread].threadID = uk_omp_thread_id()
        let planned = plan.workers[thread].osPU
        if case .release = work.pointee {
            // Left to libgomp, which keeps them for later regions: no longer an engine's workers.
            if thread > 0 {
                unpinCurrentThread()
                _ = uk_set_thread_name("uk-omp-idle")
                uk_omp_set_thread_binding(-1)
            }
            return
        }
        if thread == 0 {
            reports[0].binding = BindingObservation(worker: 0, plannedPU: planned, observedCPU: Int(uk_current_cpu()), bound: callerBound)
            return
        }
        // A bind (and the thread's name) only when this thread served another worker or PU;
        // where it runs from sched_getcpu (vDSO): hwloc's currentCPU reads /proc, tens of µs per job.
        let binding = Int64(thread) << 32 | Int64(UInt32(truncatingIfNeeded: planned ?? -1))
        if uk_omp_thread_binding() == binding {
            reports[thread].binding = BindingObservation(worker: thread, plannedPU: planned, observedCPU: Int(uk_current_cpu()), bound: planned != nil)
            return
        }
        _ = uk_set_thread_name(workerThreadName(EngineKind.openmp.threadRole, thread))  // libgomp names none
        if planned == nil { unpinCurrentThread() }
        do throws(UnlockedError) {
            let observation = try plan.bindCurrentThread(worker: thread)
            reports[thread].binding = observation
            // Skipped or best-effort binds are tried again next region, and reported each time.
            uk_omp_set_thread_binding(observation.bound || planned == nil ? binding : -1)
        } catch {
            uk_omp_set_thread_binding(-1)
            slots.record(error)
            failed.store(true, ordering: .relaxed)
        }
    }

    func chunk(thread: Int, index: Int) {
        guard !failed.load(ordering: .relaxed) else { return }
        let slot = slots.slot(thread)
        switch work.pointee {
        case .bind, .release:
            return
        case .fill(let base, let dtype, let generator, let plan):
            generator.fill(base.pointer, dtype: dtype, range: plan.range(ofChunk: index))
        case .run(let invoker, let plan):
            do throws(UnlockedError) {
                try invoker.run(plan.range(ofChunk: index), acc: &slot.pointee.acc, contexts: &contexts[thread], tally: &slot.pointee.tally)
            } catch {
                slots.record(error)
                failed.store(true, ordering: .relaxed)
            }
        }
    }

    /// After the thread's last chunk: its PER_WORKER plugin contexts end with the region.
    func end(thread: Int) {
        contexts[thread].releaseAll()
        uk_omp_happens_before(joinToken)
    }

    /// Addresses naming the region's fork and join to the thread sanitizer:
    /// this object's own, computed without reading any field before the fork's acquire.
    var forkToken: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }
    var joinToken: UnsafeMutableRawPointer { forkToken + 1 }
}

// See the class comment: every field is written by one thread at a time, handed over by libgomp.
extension OpenMPRegionState: @unchecked Sendable {}

/// The kernels under the real OpenMP runtime (libgomp): one `parallel` region
/// per job, with `schedule(static)` (one block per thread, OpenMP's default)
/// when no chunk size is given and `schedule(dynamic, chunk)` when one is.
/// OpenMP schedules the same kernel calls every engine makes; the region is
/// compiled by gcc (COpenMP/region) and loaded on first use.
///
/// The calling thread is the team's master (thread 0), bound to worker 0's PU
/// on its first job like the pools' caller. The other threads are libgomp's,
/// named `ukw-omp-<n>` while they serve the engine; they outlive it, and
/// `close` unpins them and renames them `uk-omp-idle`.
///
/// One job at a time, from one thread.
package final class OpenMPEngine: Engine {
    package let kind = EngineKind.openmp
    package let workerCount: Int
    package private(set) var startup = EngineStartup(nanoseconds: 0, bindings: [])
    // Touched only by the thread running a job: no dynamic exclusivity checks.
    @exclusivity(unchecked) package private(set) var state = EngineState.running
    @exclusivity(unchecked) private var caller = CallerBinding()
    private let plan: PlacementPlan
    private let chunk: Int?
    private let run: uk_omp_run_fn
    private let region: OpenMPRegionState

    package init(_ configuration: EngineConfiguration) throws(UnlockedError) {
        let start = monotonicNanoseconds()
        run = try openMPRegion.get().run
        workerCount = configuration.workers
        plan = configuration.placement
        chunk = configuration.chunk
        region = OpenMPRegionState(plan: plan)
        do throws(UnlockedError) {
            // An empty region starts libgomp's threads and binds each.
            try perform(.bind)
            startup = EngineStartup(nanoseconds: monotonicNanoseconds() - start, bindings: lastTeam.compactMap(\.binding))
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// What each OpenMP thread reported in the last region, by thread number.
    package var lastTeam: [OpenMPThreadReport] { (0..<workerCount).map { region.reports[$0] } }

    /// The chunks of a job of `count` elements: one per thread under
    /// `schedule(static)`, `chunk` elements each under `schedule(dynamic, chunk)`.
    package func chunkPlan(count: Int) -> ChunkPlan {
        ChunkPlan(count: count, chunkSize: chunk ?? max(1, (count + workerCount - 1) / workerCount), workers: workerCount)
    }

    package var scheduleDescription: String { chunk.map { "schedule(dynamic, \($0))" } ?? "schedule(static)" }

    package func initialize(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator) throws(UnlockedError) {
        try state.checkRunning(kind)
        // The run's schedule: under schedule(static) each thread first-touches the block it will process.
        try perform(.fill(UncheckedPointer(buffer.base), dtype, generator, chunkPlan(count: count)))
    }

    package func run(_ job: EngineJob) throws(UnlockedError) -> EngineResult {
        try state.checkRunning(kind)
        try job.validate()
        let start = monotonicNanoseconds()
        let plan = chunkPlan(count: job.count)
        try withJobInvoker(job) { invoker throws(UnlockedError) in try perform(.run(invoker, plan)) }
        let slots = region.slots
        var statistics = EngineStatistics(engine: kind, plan: plan, workers: workerCount,
                                          notes: KernelInvoker.notes(for: job.kernel) + ["libgomp threads, \(scheduleDescription)"]) {
            slots.slot($0).pointee.tally
        }
        statistics.computeNanoseconds = monotonicNanoseconds() - start
        return EngineResult(acc: slots.merged(job.kernel), statistics: statistics)
    }

    package func close() {
        if state == .closed { return }
        state = .closed
        region.work.pointee = .release
        runRegion(chunks: 0)
        caller.restore()
    }

    package func releaseCallingThread() { caller.restore() }

    /// Runs `work` in one parallel region of `workerCount` threads and checks
    /// that the runtime gave the team it was asked for.
    private func perform(_ work: OpenMPRegionState.Work) throws(UnlockedError) {
        try caller.bind(plan)
        let chunks: Int
        switch work {
        case .run(_, let plan), .fill(_, _, _, let plan): chunks = plan.chunkCount
        case .bind, .release: chunks = 0
        }
        region.work.pointee = work
        defer { region.work.pointee = .release }
        runRegion(chunks: chunks)
        if let error = region.slots.takeError() { throw error }
        let teams = Set(lastTeam.map(\.team))
        guard teams == [workerCount] else {
            throw .usage("openmp: the OpenMP runtime ran a team of \(teams.sorted().map(String.init).joined(separator: "/")) threads for \(workerCount) workers (OMP_THREAD_LIMIT or OMP_DYNAMIC in the environment?)")
        }
    }

    private func runRegion(chunks: Int) {
        region.failed.store(false, ordering: .relaxed)
        region.callerBound = caller.observation?.bound ?? false
        for thread in 0..<workerCount {
            region.slots.slot(thread).pointee = WorkerSlot()
            region.reports[thread] = OpenMPThreadReport()
        }
        var descriptor = uk_omp_region(
            size: UInt32(MemoryLayout<uk_omp_region>.size), threads: Int32(workerCount),
            schedule: chunk == nil ? Int32(UK_OMP_STATIC) : Int32(UK_OMP_DYNAMIC), chunks: Int64(chunks),
            context: Unmanaged.passUnretained(region).toOpaque(),
            begin: { context, thread, team in
                Unmanaged<OpenMPRegionState>.fromOpaque(context!).takeUnretainedValue().begin(thread: Int(thread), team: Int(team))
            },
            chunk: { context, thread, index in
                Unmanaged<OpenMPRegionState>.fromOpaque(context!).takeUnretainedValue().chunk(thread: Int(thread), index: Int(index))
            },
            end: { context, thread, _ in
                Unmanaged<OpenMPRegionState>.fromOpaque(context!).takeUnretainedValue().end(thread: Int(thread))
            })
        // The size is ours by construction: the region refuses only a foreign layout.
        uk_omp_happens_before(region.forkToken)
        _ = withExtendedLifetime(region) { run(&descriptor) }
        uk_omp_happens_after(region.joinToken)
    }
}
#endif
