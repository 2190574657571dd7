#if os(Linux)
import CKernels
import Glibc
import UnlockedCore
import UnlockedKernels
import UnlockedTopology

/// What one worker did during one job; merged into `EngineStatistics`.
package struct WorkerTally: Sendable {
    package var chunks = 0
    package var steals = 0
    package var lockAcquisitions = 0
    package var lockWaitNanoseconds: UInt64 = 0
    package var bytesCopied = 0
    /// Time spent loading this worker's own plugin copies (`isolated`).
    package var loadNanoseconds: UInt64 = 0
    /// Blocking waits (a futex park, a condition-variable wait) and futex wake calls.
    package var futexWaits = 0
    package var futexWakes = 0
    /// Time waiting actively (spinning, yielding) and blocked.
    package var spinNanoseconds: UInt64 = 0
    package var parkedNanoseconds: UInt64 = 0
    /// Claims that found no chunk left: a fetch-add past a cursor's end, a wake-up to an empty queue.
    package var failedClaims = 0
}

extension EngineStatistics {
    /// Statistics of a job whose workers reported `tallies`, in worker order.
    package init(engine: EngineKind, plan: ChunkPlan, tallies: [WorkerTally], notes: [String]) {
        self.init(engine: engine, plan: plan, workers: tallies.count, notes: notes) { tallies[$0] }
    }

    /// Statistics from `workers` tallies read through `tally`, without an intermediate array.
    package init(engine: EngineKind, plan: ChunkPlan, workers: Int, notes: [String], tally: (Int) -> WorkerTally) {
        var chunks = [Int](repeating: 0, count: workers)
        self.init(engine: engine, workers: workers, chunkSize: plan.chunkSize, chunkCount: plan.chunkCount,
                  chunksPerWorker: [], notes: notes)
        for worker in 0..<workers {
            let t = tally(worker)
            chunks[worker] = t.chunks
            addCounters(of: t)
            bytesCopied += t.bytesCopied
            // Workers load their copies side by side: the job waited for the slowest.
            startupNanoseconds = max(startupNanoseconds, t.loadNanoseconds)
        }
        chunksPerWorker = chunks
    }
}

/// The PER_WORKER plugin contexts of one worker: created by `worker_init` on
/// first use, released by `releaseAll` on the same worker when it finishes.
/// For a worker of the `isolated` engine also its own copies of plugins
/// (`IsolatedPlugins`), leased on first use and returned by `releaseAll`.
///
/// Owned by one worker thread (or worker process).
package struct WorkerKernelContexts {
    package let worker: Int
    private var entries: [(plugin: PluginInstance, context: UnsafeMutableRawPointer?)] = []
    /// The worker's own copy of each plugin kernel it ran, by the original
    /// kernel's descriptor; nil when the worker shares the process's plugins.
    private var ownKernels: [UnsafePointer<uk_kernel>: Kernel]?
    /// The copies this worker leased, by the original plugin's path.
    private var ownCopies: [String: PluginInstance] = [:]

    package init(worker: Int, isolated: Bool = false) {
        self.worker = worker
        ownKernels = isolated ? [:] : nil
    }

    /// The kernel this worker calls for `kernel`: itself, or for an isolated
    /// worker the same kernel of the worker's own copy of its plugin.
    @inline(__always)
    package mutating func resolve(_ kernel: Kernel, tally: inout WorkerTally) throws(UnlockedError) -> Kernel {
        guard ownKernels != nil, let path = kernel.plugin.path else { return kernel }
        if let own = ownKernels![kernel.descriptor] { return own }
        let copy: PluginInstance
        if let leased = ownCopies[path] {
            copy = leased
        } else {
            let start = monotonicNanoseconds()
            copy = try IsolatedPlugins.lease(kernel.plugin)
            tally.loadNanoseconds += monotonicNanoseconds() - start
            ownCopies[path] = copy
        }
        guard let own = copy.kernels.first(where: { $0.name == kernel.name && $0.inputType == kernel.inputType }) else {
            throw .internal("isolated: plugin \(kernel.plugin.name)'s copy has no kernel \(kernel.name) (\(kernel.inputType.rawValue))")
        }
        ownKernels![kernel.descriptor] = own
        return own
    }


    /// The `ctx` argument for `plugin`'s kernels on this worker.
    package mutating func context(for plugin: PluginInstance) throws(UnlockedError) -> UnsafeMutableRawPointer? {
        guard plugin.concurrency == UK_CONCURRENCY_PER_WORKER else { return plugin.state }
        if let entry = entries.first(where: { $0.plugin === plugin }) { return entry.context }
        let context = try plugin.makeWorkerContext(worker: worker)
        entries.append((plugin, context))
        return context
    }

    package mutating func releaseAll() {
        for entry in entries { entry.plugin.releaseWorkerContext(entry.context) }
        entries = []
        for copy in ownCopies.values { IsolatedPlugins.release(copy) }
        ownCopies = [:]
        if ownKernels != nil { ownKernels = [:] }
    }
}

/// How every engine calls a kernel on a chunk, honouring the plugin's
/// concurrency mode in this one place:
/// - THREAD_SAFE: called freely with the plugin state;
/// - PER_WORKER: with the calling worker's own context;
/// - SERIAL: every call holds `serialPluginLock`.
/// An engine lock (the `gil` engine's) is held around every call too.
///
/// Made only by `withKernelInvoker`, and valid only inside its call: the
/// parameters it points at live exactly that long.
package struct KernelInvoker: @unchecked Sendable {
    // @unchecked: the pointers are the job's buffers and parameters, valid and
    // unchanged while the job runs; workers write only their own chunks.
    package let kernel: Kernel
    private let input: UnsafeRawPointer
    private let output: UnsafeMutableRawPointer?
    private let params: UnsafePointer<uk_params>
    private let lock: CountingMutex?

    fileprivate init(kernel: Kernel, input: UnsafeRawPointer, output: UnsafeMutableRawPointer?,
                     params: UnsafePointer<uk_params>, engineLock: CountingMutex?) {
        self.kernel = kernel
        self.input = input
        self.output = output
        self.params = params
        lock = kernel.plugin.concurrency == UK_CONCURRENCY_SERIAL ? serialPluginLock : engineLock
    }

    /// Runs the kernel over `range`, adding a reduction into `acc`.
    @inline(__always)
    package func run(_ range: Range<Int>, acc: UnsafeMutablePointer<uk_acc>, contexts: inout WorkerKernelContexts,
                     tally: inout WorkerTally) throws(UnlockedError) {
        let kernel = try contexts.resolve(self.kernel, tally: &tally)
        let context = try contexts.context(for: kernel.plugin)
        // A worker's own copy of a plugin is called by that worker alone: no lock.
        if let lock, !kernel.plugin.isIsolated {
            lock.lock(&tally)
            defer { lock.unlock() }
            try kernel.run(context: context, input: input, output: output, range: range, params: params, acc: acc)
        } else {
            try kernel.run(context: context, input: input, output: output, range: range, params: params, acc: acc)
        }
        tally.chunks += 1
    }

    /// What the report must say about how this kernel was called.
    package static func notes(for kernel: Kernel, isolated: Bool = false) -> [String] {
        if isolated && kernel.plugin.path != nil {
            return ["plugin \(kernel.plugin.name): each worker ran its own copy, loaded into a link-map namespace of its own (dlmopen), without a lock"]
        }
        return kernel.plugin.concurrency == UK_CONCURRENCY_SERIAL
            ? ["plugin \(kernel.plugin.name) is SERIAL: every kernel call held one global lock"] : []
    }
}

/// Runs `body` with an invoker of `kernel` on `input` and `output` with a
/// copy of `params`. The copy lives until `body` returns and no longer, so
/// workers on other threads may call the invoker until then: every kernel
/// call of every engine and worker process goes through this scope.
@inline(__always)
package func withKernelInvoker<Result>(_ kernel: Kernel, input: UnsafeRawPointer, output: UnsafeMutableRawPointer?,
                                       params: uk_params, engineLock: CountingMutex? = nil,
                                       _ body: (KernelInvoker) throws(UnlockedError) -> Result) throws(UnlockedError) -> Result {
    try withUnsafePointer(to: params) { params throws(UnlockedError) in
        try body(KernelInvoker(kernel: kernel, input: input, output: output, params: params, engineLock: engineLock))
    }
}

/// `withKernelInvoker` for `job`, with the parameters it is called with.
@inline(__always)
package func withJobInvoker<Result>(_ job: EngineJob, engineLock: CountingMutex? = nil,
                                    _ body: (KernelInvoker) throws(UnlockedError) -> Result) throws(UnlockedError) -> Result {
    try withKernelInvoker(job.kernel, input: job.input.base, output: job.output?.base,
                          params: callParameters(job.params, kernel: job.kernel, count: job.count), engineLock: engineLock, body)
}
#endif
