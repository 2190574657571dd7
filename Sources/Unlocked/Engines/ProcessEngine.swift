#if os(Linux)
import CKernels
import CSupport
import Foundation
import Glibc
import Synchronization

/// Every worker process started and not yet reaped, so an interrupt can stop them all.
private let liveWorkerProcesses = LockedValue<Set<pid_t>>([])

/// Kills (SIGKILL) and reaps every worker process this process started and
/// has not reaped yet, waiting at most about a second. For the CLI's SIGINT
/// handling: call it, then exit 130; no worker outlives the run, not even as
/// a zombie. Workers also die on their own when this process dies
/// (PR_SET_PDEATHSIG). Engines whose workers were killed fail their next job.
public func terminateWorkerProcesses() {
    let pids = liveWorkerProcesses.withLock { pids in
        defer { pids.removeAll() }
        return pids
    }
    for pid in pids { kill(pid, SIGKILL) }
    var waiting = pids
    for _ in 0..<200 where !waiting.isEmpty {
        var status: Int32 = 0
        waiting = waiting.filter { pid in
            let result = waitpid(pid, &status, WNOHANG)
            return result == 0 || (result < 0 && errno == EINTR)
        }
        if !waiting.isEmpty { usleep(5_000) }
    }
}

/// One worker process and the two pipes to it.
struct WorkerProcess {
    let index: Int
    let pid: pid_t
    /// Our end of its stdin.
    let toWorker: Int32
    /// Our end of its stdout.
    let fromWorker: Int32
}

/// The multiprocessing model: worker processes started from this same
/// executable in a hidden worker mode (`unlocked __worker`), each bound to its
/// PU. With `processes-shm` they map the job's buffers from a memfd and only
/// chunk indices and results cross the pipes; with `processes-pipe` every
/// chunk's bytes are written to the worker and map output read back, which
/// is what pickling arguments costs multiprocessing.
///
/// Each worker processes the chunks it owns (the same split as the thread
/// pools, so first-touch matches). A worker that dies fails the job at once
/// with its index, pid and exit status, and the engine kills and reaps the
/// others; workers also die with the engine (PR_SET_PDEATHSIG, which Linux
/// fires when the *thread* that started them exits: create process engines
/// from a thread that outlives them, such as the main thread).
///
/// One job at a time, from one thread at a time.
final class ProcessEngine: Engine {
    private enum Lifecycle {
        case running
        case failed(UnlockedError)
        case closed
    }

    let kind: EngineKind
    let transport: WorkerTransport
    let workerCount: Int
    private(set) var startup = EngineStartup(nanoseconds: 0, bindings: [])
    private let chunk: Int?
    private var workers: [WorkerProcess] = []
    private var reaped = Set<Int>()
    private var state = Lifecycle.running
    /// How long a worker may take to start and report ready.
    static let startTimeoutMilliseconds: Int32 = 30_000

    /// The pids of the workers, in worker order (for tests and diagnostics).
    var workerProcessIDs: [pid_t] { workers.map(\.pid) }

    init(_ configuration: EngineConfiguration) throws(UnlockedError) {
        let start = monotonicNanoseconds()
        kind = configuration.kind
        transport = configuration.kind == .processesShm ? .sharedMemory : .pipe
        workerCount = configuration.workers
        chunk = configuration.chunk
        let executable = configuration.workerExecutable ?? Self.ownExecutable()
        var bindings: [BindingObservation] = []
        do throws(UnlockedError) {
            for worker in 0..<workerCount {
                workers.append(try spawn(worker, executable: executable, placement: configuration.placement,
                                         environment: configuration.workerEnvironment))
            }
            for worker in workers {
                bindings.append(try awaitReady(worker, planned: configuration.placement.workers[worker.index].osPU,
                                               executable: executable))
            }
        } catch {
            killAll()
            state = .failed(error)
            throw error
        }
        startup = EngineStartup(nanoseconds: monotonicNanoseconds() - start, bindings: bindings)
    }

    deinit { close() }

    private static func ownExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    private func spawn(_ index: Int, executable: String, placement: PlacementPlan,
                       environment: [String: String]) throws(UnlockedError) -> WorkerProcess {
        var toChild: [Int32] = [-1, -1], fromChild: [Int32] = [-1, -1]
        guard uk_pipe_cloexec(&toChild) == 0 else { throw .internal("cannot create a pipe: \(String(cString: strerror(errno)))") }
        guard uk_pipe_cloexec(&fromChild) == 0 else {
            toChild.forEach { Glibc.close($0) }
            throw .internal("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], STDOUT_FILENO)

        let planned = placement.workers[index].osPU
        var arguments = [executable, "__worker", "--index", "\(index)", "--parent", "\(getpid())"]
        if let planned { arguments += ["--cpu", "\(planned)"] }
        if placement.bestEffort { arguments.append("--best-effort") }
        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0)=\($1)" }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }

        var pid = pid_t()
        let status = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        Glibc.close(toChild[0])
        Glibc.close(fromChild[1])
        guard status == 0 else {
            Glibc.close(toChild[1])
            Glibc.close(fromChild[0])
            throw .internal("cannot start worker process \(executable): \(String(cString: strerror(status)))")
        }
        liveWorkerProcesses.withLock { _ = $0.insert(pid) }
        return WorkerProcess(index: index, pid: pid, toWorker: toChild[1], fromWorker: fromChild[0])
    }

    private func awaitReady(_ worker: WorkerProcess, planned: Int?, executable: String) throws(UnlockedError) -> BindingObservation {
        var poller = pollfd(fd: worker.fromWorker, events: Int16(POLLIN), revents: 0)
        var ready: Int32
        repeat { ready = poll(&poller, 1, Self.startTimeoutMilliseconds) } while ready < 0 && errno == EINTR
        guard ready > 0 else {
            throw .internal("worker \(worker.index) (pid \(worker.pid)) did not report ready within \(Self.startTimeoutMilliseconds / 1000) s (is \(executable) the unlocked executable?)")
        }
        guard let body = PipeIO.readMessage(worker.fromWorker) else { throw died(worker, while: "starting") }
        var reader = MessageReader(body)
        let cpu = Int(try reader.read(Int32.self))
        let warning = try reader.readString()
        if warning.hasPrefix("!") { throw .usage(String(warning.dropFirst())) }
        // The worker's bindCurrentThread either bound a planned PU or said why not (a warning).
        return BindingObservation(worker: worker.index, plannedPU: planned, observedCPU: cpu,
                                  bound: planned != nil && warning.isEmpty, warning: warning.isEmpty ? nil : warning)
    }

    /// Reaps a worker whose pipe closed (waiting at most a second before
    /// SIGKILL) and describes how it ended.
    private func died(_ worker: WorkerProcess, while doing: String) -> UnlockedError {
        while interruptInProgress.load(ordering: .sequentiallyConsistent) { sleep(1) }  // the handler exits 130
        let status = reap(worker)
        let how: String
        if let status {
            let signal = status & 0x7f
            how = signal == 0 ? "exited with status \((status >> 8) & 0xff)"
                : "killed by signal \(signal) (\(String(cString: strsignal(signal))))"
        } else {
            how = "its pipe closed"
        }
        return .internal("worker \(worker.index) (pid \(worker.pid)) died while \(doing): \(how)")
    }

    /// Waits for `worker` to exit (killing it after a second), once.
    @discardableResult
    private func reap(_ worker: WorkerProcess) -> Int32? {
        guard reaped.insert(worker.index).inserted else { return nil }
        defer { liveWorkerProcesses.withLock { _ = $0.remove(worker.pid) } }
        var status: Int32 = 0
        for _ in 0..<200 {
            let result = waitpid(worker.pid, &status, WNOHANG)
            if result == worker.pid { return status }
            if result < 0 && errno != EINTR { return nil }
            usleep(5_000)
        }
        kill(worker.pid, SIGKILL)
        while waitpid(worker.pid, &status, 0) < 0 && errno == EINTR {}
        return status
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

    private func checkRunning() throws(UnlockedError) {
        switch state {
        case .running: return
        case .failed(let error): throw .internal("the \(kind.rawValue) engine failed earlier: \(error.message)")
        case .closed: throw .internal("the \(kind.rawValue) engine was closed")
        }
    }

    func makeBuffer(count: Int, width: Int) throws(UnlockedError) -> JobBuffer {
        transport == .sharedMemory ? try JobBuffer(sharedCount: count, width: width) : try JobBuffer(count: count, width: width)
    }

    func initialize(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator) throws(UnlockedError) {
        try checkRunning()
        guard transport == .sharedMemory, buffer.sharedFileDescriptor != nil else {
            // Pipe workers cannot reach our memory: the data is made here and sent per job.
            generator.fill(buffer.base, dtype: dtype, range: 0..<count)
            return
        }
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
        _ = try exchange(messages, doing: "initialising")
    }

    func run(_ job: EngineJob) throws(UnlockedError) -> EngineResult {
        try checkRunning()
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
        let params = jobParameters(job)
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
        let replies = transport == .sharedMemory
            ? try exchange(messages, doing: "running a job")
            : try stream(messages, job: job, plan: plan)

        var acc = uk_acc()
        var tallies: [WorkerTally] = []
        for (reply, bytes) in replies {
            job.kernel.combine(&acc, reply.acc)
            tallies.append(WorkerTally(chunks: reply.chunks, bytesCopied: bytes))
        }
        var notes = ["\(workerCount) worker processes; \(transport == .sharedMemory ? "input shared through a memfd, only chunk indices and results cross the pipes" : "every chunk's bytes cross a pipe")"]
        if job.kernel.plugin.concurrency == UK_CONCURRENCY_SERIAL {
            notes.append("plugin \(job.kernel.plugin.name) is SERIAL: each worker process has its own instance, so no lock is needed")
        }
        var statistics = EngineStatistics(engine: kind, plan: plan, tallies: tallies, notes: notes)
        statistics.computeNanoseconds = monotonicNanoseconds() - start
        return EngineResult(acc: acc, statistics: statistics)
    }

    func close() {
        if case .running = state {
            var exit = MessageWriter()
            exit.append(WorkerOp.exit.rawValue)
            for worker in workers { _ = PipeIO.write(worker.toWorker, exit.framed) }
        }
        if case .closed = state { return }
        killAllGracefully()
        state = .closed
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

    struct Reply {
        var acc = uk_acc()
        var chunks = 0
    }

    /// Decodes a worker's reply; a kernel error in the worker is this job's error.
    private static func decode(_ body: [UInt8], worker: WorkerProcess) throws(UnlockedError) -> Reply {
        var reader = MessageReader(body)
        guard try reader.read(UInt32.self) == 0 else {
            throw .badData("worker \(worker.index) (pid \(worker.pid)): \(try reader.readString())")
        }
        var reply = Reply()
        reply.acc.lo = try reader.read()
        reply.acc.hi = try reader.read()
        reply.acc.f = try reader.readDouble()
        reply.chunks = Int(try reader.read(UInt64.self))
        return reply
    }

    /// Shared memory: sends every worker its (small) message, then collects
    /// the replies in worker order. Returns each reply and the pipe bytes.
    private func exchange(_ messages: [[UInt8]], doing: String) throws(UnlockedError) -> [(Reply, Int)] {
        for (worker, message) in zip(workers, messages) where !PipeIO.write(worker.toWorker, message) {
            throw fail(died(worker, while: doing))
        }
        var replies: [(Reply, Int)] = []
        var kernelError: UnlockedError?
        for (worker, message) in zip(workers, messages) {
            guard let body = PipeIO.readMessage(worker.fromWorker) else { throw fail(died(worker, while: doing)) }
            do throws(UnlockedError) {
                replies.append((try Self.decode(body, worker: worker), message.count + body.count + 4))
            } catch {
                kernelError = kernelError ?? error
            }
        }
        if let kernelError { throw kernelError }
        return replies
    }

    /// Pipe transport: one conversation thread per worker writes each chunk's
    /// bytes and reads its map output back, in lockstep with the worker.
    private func stream(_ messages: [[UInt8]], job: EngineJob, plan: ChunkPlan) throws(UnlockedError) -> [(Reply, Int)] {
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
        for (worker, message) in zip(workers, messages) {
            let owned = plan.ownedChunks(worker: worker.index)
            let conversation: @Sendable () -> Void = {
                let result = slots.pointer.assumingMemoryBound(to: Outcome.self) + worker.index
                var bytes = message.count
                guard PipeIO.write(worker.toWorker, message) else { return }
                for chunk in owned {
                    let range = plan.range(ofChunk: chunk)
                    guard PipeIO.write(worker.toWorker, input.pointer + range.lowerBound * width, range.count * width) else { return }
                    bytes += range.count * width
                    if let outputWidth, let output {
                        guard PipeIO.read(worker.fromWorker, output.pointer + range.lowerBound * outputWidth, range.count * outputWidth) else { return }
                        bytes += range.count * outputWidth
                    }
                }
                guard let body = PipeIO.readMessage(worker.fromWorker) else { return }
                do throws(UnlockedError) {
                    result.pointee = .done(try Self.decode(body, worker: worker), bytes + body.count + 4)
                } catch {
                    result.pointee = .failed(error)
                }
            }
            do throws(UnlockedError) {
                threads.append(try startThread(name: workerThreadName("pipe", worker.index), conversation))
            } catch {
                threads.forEach(joinThread)
                throw fail(error)
            }
        }
        threads.forEach(joinThread)
        var replies: [(Reply, Int)] = []
        for worker in workers {
            switch results[worker.index] {
            case .done(let reply, let bytes): replies.append((reply, bytes))
            case .failed(let error): throw fail(error)  // the worker exits after an error mid-stream
            case .died: throw fail(died(worker, while: "running a job"))
            }
        }
        return replies
    }
}
#endif
