#if os(Linux)
import CKernels
import Dispatch

/// Engines whose threads belong to a runtime (the Swift concurrency pool,
/// GCD): workers claim chunks from one shared counter. Their threads are not
/// bound (pinning a runtime's shared threads would change every later user
/// of them), and the report says so.
final class RuntimeEngine: Engine {
    let kind: EngineKind
    let workerCount: Int
    let startup = EngineStartup(nanoseconds: 0, bindings: [])
    private let chunk: Int?

    init(_ configuration: EngineConfiguration) {
        kind = configuration.kind
        workerCount = configuration.workers
        chunk = configuration.chunk
    }

    func makeBuffer(count: Int, width: Int) throws(UnlockedError) -> JobBuffer {
        try JobBuffer(count: count, width: width)
    }

    func initialize(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator) throws(UnlockedError) {
        let plan = ChunkPlan(count: count, chunkSize: chunk, workers: workerCount)
        let base = UncheckedPointer(buffer.base)
        let counter = ChunkCounter()
        perform { _ in
            while case let index = counter.claim(), index < plan.chunkCount {
                generator.fill(base.pointer, dtype: dtype, range: plan.range(ofChunk: index))
            }
        }
    }

    func run(_ job: EngineJob) throws(UnlockedError) -> EngineResult {
        try job.validate()
        let start = monotonicNanoseconds()
        let params = UnsafeMutablePointer<uk_params>.allocate(capacity: 1)
        params.initialize(to: jobParameters(job))
        defer { params.deallocate() }
        let invoker = KernelInvoker(kernel: job.kernel, input: job.input.base, output: job.output?.base,
                                    params: params, engineLock: nil)
        let plan = ChunkPlan(count: job.count, chunkSize: chunk, workers: workerCount)
        let slots = WorkerSlots(count: workerCount)
        let counter = ChunkCounter()
        perform { worker in
            runClaimedChunks(worker: worker, plan: plan, counter: counter, invoker: invoker, slots: slots)
        }
        if let error = slots.takeError() { throw error }
        let runtime = kind == .tasks ? "Swift concurrency's cooperative pool" : "GCD"
        var statistics = EngineStatistics(engine: kind, plan: plan, tallies: slots.tallies,
                                          notes: KernelInvoker.notes(for: job.kernel)
                                              + ["workers are \(runtime) threads: not bound to the placement"])
        statistics.computeNanoseconds = monotonicNanoseconds() - start
        return EngineResult(acc: slots.merged(job.kernel), statistics: statistics)
    }

    func close() {}

    /// Runs `body(worker)` for every worker on the runtime and waits.
    private func perform(_ body: @escaping @Sendable (Int) -> Void) {
        let workers = workerCount
        switch kind {
        case .tasks:
            // The caller is not a task: block it on a semaphore while a task
            // group runs the workers on the cooperative pool.
            let done = DispatchSemaphore(value: 0)
            Task.detached {
                await withTaskGroup(of: Void.self) { group in
                    for worker in 0..<workers { group.addTask { body(worker) } }
                }
                done.signal()
            }
            done.wait()
        default:
            DispatchQueue.concurrentPerform(iterations: workers, execute: body)
        }
    }
}
#endif
