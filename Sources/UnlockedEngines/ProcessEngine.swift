#if os(Linux)
import CKernels
import CSupport
import Foundation
import Glibc
import Synchronization
import UnlockedCore
import UnlockedKernels
import UnlockedTopology

/// Every worker process started and not yet reaped, so an interrupt can stop them all.
private let liveWorkerProcesses = LockedValue<Set<pid_t>>([])

/// Set once `terminateWorkerProcesses` ran: from then on a worker's death is
/// the program's doing, and the engine thread that notices it waits for the
/// program to exit instead of reporting the death.
private let terminationInProgress = Atomic<Bool>(false)

/// Kills (SIGKILL) and reaps every worker process this process started and
/// has not reaped yet, waiting at most about a second. For a program's
/// SIGINT/SIGTERM handling (the library installs no handler): call it from a
/// signal-handling thread, then exit; no worker outlives the run, not even as
/// a zombie. Engines' own threads stop reporting worker deaths from then on,
/// and no new worker starts. Workers also die on their own when this process
/// dies (PR_SET_PDEATHSIG).
public func terminateWorkerProcesses() {
    let pids = liveWorkerProcesses.withLock { pids in
        // Under the lock that spawning holds: no worker is started but not yet listed.
        terminationInProgress.store(true, ordering: .sequentiallyConsistent)
        defer { pids.removeAll() }
        return pids
    }
    for pid in pids { kill(pid, SIGKILL) }
    for pid in pids { reapWithin(milliseconds: 1_000, pid) }
    ForkServers.stopAll()
}

/// Once `terminateWorkerProcesses` has run, the program is exiting with the
/// signal's status (130 or 143): a thread that finds its worker gone or its
/// start refused waits for that exit instead of racing it with an error and
/// an exit status of its own.
private func waitWhileTerminating() {
    while terminationInProgress.load(ordering: .sequentiallyConsistent) { sleep(1) }
}

/// One worker process and the two pipes to it.
package struct WorkerProcess {
    package let index: Int
    package let pid: pid_t
    /// Our end of its stdin.
    package let toWorker: Int32
    /// Our end of its stdout.
    package let fromWorker: Int32
    /// By the fork server, rather than exec'd.
    package let forked: Bool
}

/// The multiprocessing model: worker processes of this same executable,
/// forked by its fork server (`ForkServer.swift`) or, where there is none,
/// started in a hidden worker mode (`unlocked __worker`), each bound to its
/// PU. With `processes-shm` they map the job's buffers from a memfd and only
/// chunk indices and results cross the pipes; with `processes-pipe` every
/// chunk's bytes are written to the worker and map output read back, which
/// is what pickling arguments costs multiprocessing.
///
/// Each worker processes the chunks it owns (the same split as the thread
/// pools, so first-touch matches). A worker that dies fails the job at once
/// with its index, pid and exit status, and the engine kills and reaps the
/// others; workers also die with the engine (PR_SET_PDEATHSIG, which Linux
/// fires when the *thread* that started them exits: forked workers' parent
/// is the fork servers' starter thread, which lives as long as the process;
/// exec'd ones belong to the thread that made the engine, so make process
/// engines from a thread that outlives them where there is no fork server).
///
/// One job at a time, from one thread at a time.
package final class ProcessEngine: Engine {
    package let kind: EngineKind
    package let transport: WorkerTransport
    package let workerCount: Int
    package private(set) var startup = EngineStartup(nanoseconds: 0, bindings: [])
    private let chunk: Int?
    private var workers: [WorkerProcess] = []
    private var reaped = Set<Int>()
    /// Workers killed because they were stopped, for `died`'s message.
    private var stoppedWorkers = Set<Int>()
    /// The buffer `initialize` last filled and where its workers found its pages.
    private var filledPages: (buffer: UInt64, pages: PageLocationReport)?
    // Read on every job by the one thread running jobs: no dynamic exclusivity check.
    @exclusivity(unchecked) package private(set) var state = EngineState.running
    /// A crashed worker is reported by the engine in one line (which worker,
    /// which signal); the Swift runtime's backtrace would add forty.
    private static let workerEnvironment = ["SWIFT_BACKTRACE": "enable=no"]
    /// How long a worker may take to start and report ready.
    package static let startTimeoutMilliseconds: Int32 = 30_000

    /// The pids of the workers, in worker order (for tests and diagnostics).
    package var workerProcessIDs: [pid_t] { workers.map(\.pid) }

    package init(_ configuration: EngineConfiguration) throws(UnlockedError) {
        let start = monotonicNanoseconds()
        kind = configuration.kind
        transport = configuration.kind == .processesShm ? .sharedMemory : .pipe
        workerCount = configuration.workers
        chunk = configuration.chunk
        let executable = configuration.workerExecutable ?? ownExecutablePath()
        var bindings: [BindingObservation] = []
        var isas: [ISA] = []
        do throws(UnlockedError) {
            // Workers run this process's kernel variant, never one they would pick on their own.
            let environment = ["UNLOCKED_ISA": ISA.selected.rawValue].merging(configuration.workerEnvironment) { $1 }
            for worker in 0..<workerCount {
                workers.append(try spawn(worker, executable: executable, placement: configuration.placement,
                                         environment: environment))
            }
            for worker in workers {
                let (binding, isa) = try awaitReady(worker, planned: configuration.placement.workers[worker.index].osPU,
                                                    executable: executable)
                bindings.append(binding)
                isas.append(isa)
            }
        } catch {
            killAll()
            state = .failed(error)
            throw error
        }
        startup = EngineStartup(nanoseconds: monotonicNanoseconds() - start, bindings: bindings, workerISAs: isas)
    }

    deinit { close() }

    private func spawn(_ index: Int, executable: String, placement: PlacementPlan,
                       environment: [String: String]) throws(UnlockedError) -> WorkerProcess {
        let toChild = try ClosingOnExecPipe()
        let fromChild: ClosingOnExecPipe
        do { fromChild = try ClosingOnExecPipe() } catch { toChild.closeBoth(); throw error }
        let invocation = WorkerProcessArguments(index: index, parent: getpid(), cpu: placement.workers[index].osPU,
                                                bestEffort: placement.bestEffort)
        // Spawned and listed under one lock, so terminateWorkerProcesses never misses a worker.
        let spawned: Result<(pid: pid_t, forked: Bool), UnlockedError> = liveWorkerProcesses.withLock { live in
            guard !terminationInProgress.load(ordering: .sequentiallyConsistent) else {
                return .failure(.interrupted("stopping: no new worker process is started"))
            }
            return Result { () throws(UnlockedError) in
                let overrides = Self.workerEnvironment.merging(environment) { $1 }
                let started: (pid: pid_t, forked: Bool)
                if let served = try ForkServers.startWorker(executable: executable, invocation: invocation, environment: overrides,
                                                            stdin: toChild.readEnd, stdout: fromChild.writeEnd) {
                    started = (served, true)
                } else {
                    started = (try spawnProcess([executable] + invocation.arguments, environment: environmentStrings(overriding: overrides),
                                                stdin: toChild.readEnd, stdout: fromChild.writeEnd, stderr: nil), false)
                }
                live.insert(started.pid)
                return started
            }
        }
        Glibc.close(toChild.readEnd)
        Glibc.close(fromChild.writeEnd)
        let started: (pid: pid_t, forked: Bool)
        switch spawned {
        case .success(let worker): started = worker
        case .failure(let error):
            Glibc.close(toChild.writeEnd)
            Glibc.close(fromChild.readEnd)
            waitWhileTerminating()
            throw error.kind == .interrupted ? error : .internal("cannot start worker process: \(error.message)")
        }
        return WorkerProcess(index: index, pid: started.pid, toWorker: toChild.writeEnd, fromWorker: fromChild.readEnd,
                             forked: started.forked)
    }

    /// Where `worker` bound itself (and its thread that runs jobs) and the
    /// kernel variant it runs, which must be this process's.
    private func awaitReady(_ worker: WorkerProcess, planned: Int?, executable: String) throws(UnlockedError) -> (BindingObservation, ISA) {
        let deadline = monotonicNanoseconds() + UInt64(Self.startTimeoutMilliseconds) * 1_000_000
        while FileDescriptorIO.waitReadable([worker.fromWorker], milliseconds: Self.stopCheckMilliseconds).isEmpty {
            killStoppedWorkers()
            guard monotonicNanoseconds() < deadline else {
                throw .internal("worker \(worker.index) (pid \(worker.pid)) did not report ready within \(Self.startTimeoutMilliseconds / 1000) s (is \(executable) the unlocked executable?)")
            }
        }
        guard let body = FileDescriptorIO.readMessage(worker.fromWorker) else { throw died(worker, while: "starting") }
        var reader = MessageReader(body)
        let cpu = Int(try reader.read(Int32.self))
        let warning = try reader.readString()
        if warning.hasPrefix("!") { throw .usage(String(warning.dropFirst())) }
        let variant = try reader.readString()
        guard let isa = ISA(rawValue: variant), isa == ISA.selected else {
            throw .internal("worker \(worker.index) (pid \(worker.pid)) runs the \(variant) kernels, "
                            + "this process the \(ISA.selected.rawValue) ones: a measurement would mix variants")
        }
        let thread = try reader.read(Int32.self)
        // The worker's bindCurrentThread either bound a planned PU or said why not (a warning).
        return (BindingObservation(worker: worker.index, plannedPU: planned, observedCPU: cpu, bound: planned != nil && warning.isEmpty,
                                   warning: warning.isEmpty ? nil : warning, threadID: thread), isa)
    }

    /// Reaps a worker whose pipe closed (waiting at most a second before
    /// SIGKILL) and describes how it ended.
    private func died(_ worker: WorkerProcess, while doing: String) -> UnlockedError {
        waitWhileTerminating()
        let how = reap(worker)?.description ?? "its pipe closed"
        if stoppedWorkers.contains(worker.index) {
            return .internal("worker \(worker.index) (pid \(worker.pid)) was stopped (SIGSTOP or a debugger) while \(doing), so it was killed")
        }
        return .internal("worker \(worker.index) (pid \(worker.pid)) died while \(doing): \(how)")
    }

    /// How often a job that waits on its workers checks whether one was stopped.
    private static let stopCheckMilliseconds: Int32 = 500

    /// Kills every worker that is stopped (SIGSTOP, a debugger) rather than
    /// wait for it forever; `died` then says why. A worker that runs but is
    /// slow is left alone: a kernel may legitimately take long.
    private func killStoppedWorkers() {
        for worker in workers where !stoppedWorkers.contains(worker.index) && isStopped(worker.pid) {
            stoppedWorkers.insert(worker.index)
            kill(worker.pid, SIGKILL)
        }
    }

    /// The next message from `worker`, checking for stopped workers while it waits; nil if it died.
    private func awaitMessage(from worker: WorkerProcess) -> [UInt8]? {
        while FileDescriptorIO.waitReadable([worker.fromWorker], milliseconds: Self.stopCheckMilliseconds).isEmpty {
            killStoppedWorkers()
        }
        return FileDescriptorIO.readMessage(worker.fromWorker)
    }

    /// Waits for `worker` to exit (killing it after a second), once.
    @discardableResult
    private func reap(_ worker: WorkerProcess) -> ChildTermination? {
        guard reaped.insert(worker.index).inserted else { return nil }
        defer { liveWorkerProcesses.withLock { _ = $0.remove(worker.pid) } }
        return reapWithin(milliseconds: 1_000, worker.pid)
    }

    private func killAll() {
        for worker in workers where !reaped.contains(worker.index) { kill(worker.pid, SIGKILL) }
        for worker in workers {
            reap(worker)
            Glibc.close(worker.toWorker)
            Glibc.close(worker.fromWorker)
        }
        workers = []
    }

    /// Records a fatal failure: every worker is killed and later calls fail too.
    private func fail(_ error: UnlockedError) -> UnlockedError {
        killAll()
        state = .failed(error)
        return error
    }

    package func initialize(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator) throws(UnlockedError) {
        try state.checkRunning(kind)
        guard transport == .sharedMemory, buffer.sharedFileDescriptor != nil else {
            // Pipe workers cannot reach our memory: the data is made here and sent per job.
            generator.fill(buffer.base, dtype: dtype, range: 0..<count)
            return
        }
        // Each worker allocates its chunks' pages (posix_fallocate), writes
        // them, and says where they are: only it maps them.
        let plan = ChunkPlan(count: count, chunkSize: chunk, workers: workerCount)
        var messages: [[UInt8]] = []
        for worker in workers {
            var message = MessageWriter()
            message.append(WorkerOp.fill.rawValue)
            message.append(dtype.abiValue.rawValue)
            message.append(generator.seed)
            message.append(generator.low)
            message.append(generator.high)
            message.append(SharedBufferReference(buffer))
            message.append(share(plan, worker.index))
            messages.append(message.framed)
        }
        var pages = PageLocationReport(pageSize: Int(sysconf(Int32(_SC_PAGESIZE))))
        for (located, _) in try exchange(messages, doing: "initialising", decode: Self.decodePages) { pages.add(located) }
        filledPages = (buffer.id, pages)
    }

    package func pageLocations(of buffer: JobBuffer) -> PageLocationReport {
        guard let filledPages, filledPages.buffer == buffer.id else { return buffer.pageLocations() }
        return filledPages.pages
    }

    package func run(_ job: EngineJob) throws(UnlockedError) -> EngineResult {
        try state.checkRunning(kind)
        try job.validate()
        if transport == .sharedMemory {
            guard job.input.sharedFileDescriptor != nil, job.output.map({ $0.sharedFileDescriptor != nil }) ?? true else {
                throw .internal("processes-shm runs only on buffers from its makeBuffer (shared memory)")
            }
        }
        guard job.kernel.plugin === PluginInstance.builtin || job.kernel.plugin.path != nil else {
            throw .usage("kernel \(job.kernel.name) of plugin \(job.kernel.plugin.name): worker processes load plugins from a file, and this one has no path")
        }
        let start = monotonicNanoseconds()
        let params = callParameters(job.params, kernel: job.kernel, count: job.count)
        let plan = ChunkPlan(count: job.count, chunkSize: chunk, workers: workerCount)
        var messages: [[UInt8]] = []
        for worker in workers {
            var message = MessageWriter()
            message.append(WorkerOp.run.rawValue)
            message.append(job.kernel.name)
            message.append(job.kernel.inputType.abiValue.rawValue)
            message.append(job.kernel.plugin.path ?? "")
            message.append(params.center_int)
            message.append(params.center_float)
            message.append(params.flags)
            message.append(transport == .sharedMemory ? SharedBufferReference(job.input) : SharedBufferReference())
            message.append(transport == .sharedMemory ? SharedBufferReference(job.output) : SharedBufferReference())
            message.append(share(plan, worker.index))
            messages.append(message.framed)
        }
        var threadStartNanoseconds: UInt64 = 0
        let replies: [(Reply, Int)]
        if transport == .sharedMemory {
            replies = try exchange(messages, doing: "running a job", decode: Self.decode)
        } else {
            (replies, threadStartNanoseconds) = try stream(messages, job: job, plan: plan)
        }

        var acc = uk_acc()
        var tallies: [WorkerTally] = []
        for (reply, bytes) in replies {
            job.kernel.combine(&acc, reply.acc)
            tallies.append(WorkerTally(chunks: reply.chunks, bytesCopied: bytes))
        }
        let origin = workers.allSatisfy(\.forked) ? "forked by this process's fork server (started with its first process engine)"
                                                   : "exec'd (no fork server for this executable)"
        var notes = ["\(workerCount) worker processes \(origin); \(transport == .sharedMemory ? "input shared through a memfd, only chunk indices and results cross the pipes" : "every chunk's bytes cross a pipe, written by a conversation thread per worker started for each job")"]
        if job.kernel.plugin.concurrency == UK_CONCURRENCY_SERIAL {
            notes.append("plugin \(job.kernel.plugin.name) is SERIAL: each worker process has its own instance, so no lock is needed")
        }
        var statistics = EngineStatistics(engine: kind, plan: plan, tallies: tallies, notes: notes)
        statistics.startupNanoseconds = threadStartNanoseconds
        statistics.computeNanoseconds = monotonicNanoseconds() - start
        return EngineResult(acc: acc, statistics: statistics)
    }

    package func close() {
        if state == .closed { return }
        if state == .running {
            var exit = MessageWriter()
            exit.append(WorkerOp.exit.rawValue)
            for worker in workers { _ = FileDescriptorIO.writeAll(worker.toWorker, exit.framed) }
        }
        state = .closed
        killAllGracefully()
    }

    /// Closes our ends (workers read end of file and exit), then reaps them.
    private func killAllGracefully() {
        for worker in workers { Glibc.close(worker.toWorker) }
        for worker in workers {
            reap(worker)
            Glibc.close(worker.fromWorker)
        }
        workers = []
    }

    private func share(_ plan: ChunkPlan, _ worker: Int) -> WorkerShare {
        let owned = plan.ownedChunks(worker: worker)
        return WorkerShare(count: plan.count, chunkSize: plan.chunkSize, firstChunk: owned.lowerBound, endChunk: owned.upperBound)
    }

    package struct Reply {
        package var acc = uk_acc()
        package var chunks = 0
    }

    /// A worker's reply after its status; a kernel error in the worker is this job's error.
    private static func answer(_ body: [UInt8], worker: WorkerProcess) throws(UnlockedError) -> MessageReader {
        var reader = MessageReader(body)
        guard try reader.read(UInt32.self) == 0 else {
            throw .badData("worker \(worker.index) (pid \(worker.pid)): \(try reader.readString())")
        }
        return reader
    }

    /// Decodes a worker's reply to `fill`: where the pages of its chunks are.
    private static func decodePages(_ body: [UInt8], worker: WorkerProcess) throws(UnlockedError) -> PageLocationReport {
        var reader = try answer(body, worker: worker)
        return try reader.readPages()
    }

    /// Decodes a worker's reply to `run`.
    private static func decode(_ body: [UInt8], worker: WorkerProcess) throws(UnlockedError) -> Reply {
        var reader = try answer(body, worker: worker)
        var reply = Reply()
        reply.acc.lo = try reader.read()
        reply.acc.hi = try reader.read()
        reply.acc.f = try reader.readDouble()
        reply.chunks = Int(try reader.read(UInt64.self))
        return reply
    }

    /// Shared memory: sends every worker its (small) message, then collects
    /// the replies in worker order. Returns each decoded reply and the pipe bytes.
    private func exchange<Answer>(_ messages: [[UInt8]], doing: String,
                                  decode: ([UInt8], WorkerProcess) throws(UnlockedError) -> Answer) throws(UnlockedError) -> [(Answer, Int)] {
        for (worker, message) in zip(workers, messages) where !FileDescriptorIO.writeAll(worker.toWorker, message) {
            throw fail(died(worker, while: doing))
        }
        var replies: [(Answer, Int)] = []
        var kernelError: UnlockedError?
        for (worker, message) in zip(workers, messages) {
            guard let body = awaitMessage(from: worker) else { throw fail(died(worker, while: doing)) }
            do throws(UnlockedError) {
                replies.append((try decode(body, worker), message.count + body.count + 4))
            } catch {
                kernelError = kernelError ?? error
            }
        }
        if let kernelError { throw kernelError }
        return replies
    }

    /// Pipe transport: one conversation thread per worker writes each chunk's
    /// bytes and reads its map output back, in lockstep with the worker.
    /// Returns the replies and the time spent starting those threads.
    private func stream(_ messages: [[UInt8]], job: EngineJob, plan: ChunkPlan) throws(UnlockedError) -> ([(Reply, Int)], UInt64) {
        enum Outcome { case done(Reply, Int), failed(UnlockedError), died }
        let width = job.kernel.inputType.byteWidth
        let outputWidth = job.kernel.outputType?.byteWidth
        let input = UncheckedPointer(job.input.base)
        let output = job.output.map { UncheckedPointer($0.base) }
        var threads: [pthread_t] = []
        // Slot i is written only by worker i's conversation thread and read after the join.
        let results = UnsafeMutablePointer<Outcome>.allocate(capacity: workers.count)
        results.initialize(repeating: .died, count: workers.count)
        let slots = UncheckedPointer(UnsafeMutableRawPointer(results))
        defer {
            results.deinitialize(count: workers.count)
            results.deallocate()
        }
        let threadsStart = monotonicNanoseconds()
        for (worker, message) in zip(workers, messages) {
            let owned = plan.ownedChunks(worker: worker.index)
            let conversation: @Sendable () -> Void = {
                let result = slots.pointer.assumingMemoryBound(to: Outcome.self) + worker.index
                // A worker whose kernel failed mid-stream answers with the kernel's
                // message and exits, so our next write breaks: read why it stopped.
                func stoppedListening() {
                    guard let body = FileDescriptorIO.readMessage(worker.fromWorker) else { return }
                    if case .failure(let error) = Result(catching: { () throws(UnlockedError) in try Self.decode(body, worker: worker) }) {
                        result.pointee = .failed(error)
                    }
                }
                var bytes = message.count
                guard FileDescriptorIO.writeAll(worker.toWorker, message) else { return stoppedListening() }
                for chunk in owned {
                    let range = plan.range(ofChunk: chunk)
                    guard FileDescriptorIO.writeAll(worker.toWorker, input.pointer + range.lowerBound * width, range.count * width) else {
                        return stoppedListening()
                    }
                    bytes += range.count * width
                    if let outputWidth, let output {
                        guard FileDescriptorIO.readExactly(worker.fromWorker, output.pointer + range.lowerBound * outputWidth, range.count * outputWidth) else { return }
                        bytes += range.count * outputWidth
                    }
                }
                guard let body = FileDescriptorIO.readMessage(worker.fromWorker) else { return }
                do throws(UnlockedError) {
                    result.pointee = .done(try Self.decode(body, worker: worker), bytes + body.count + 4)
                } catch {
                    result.pointee = .failed(error)
                }
            }
            do throws(UnlockedError) {
                threads.append(try startThread(name: workerThreadName(kind.threadRole, worker.index), conversation))
            } catch {
                threads.forEach(joinThread)
                throw fail(error)
            }
        }
        let threadStartNanoseconds = monotonicNanoseconds() - threadsStart
        for thread in threads {
            // A stopped worker blocks its conversation on a full pipe: kill it, and the pipe breaks.
            while !joinThread(thread, milliseconds: Int(Self.stopCheckMilliseconds)) { killStoppedWorkers() }
        }
        var replies: [(Reply, Int)] = []
        for worker in workers {
            switch results[worker.index] {
            case .done(let reply, let bytes): replies.append((reply, bytes))
            case .failed(let error): throw fail(error)  // the worker exits after an error mid-stream
            case .died: throw fail(died(worker, while: "running a job"))
            }
        }
        return (replies, threadStartNanoseconds)
    }
}
#endif
