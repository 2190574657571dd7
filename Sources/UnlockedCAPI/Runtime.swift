#if os(Linux)
import CKernels
import CUnlockedAPI
import Glibc
import Synchronization
import Unlocked

/// Counts the forks this process descends from. A runtime whose workers
/// were started in an earlier generation is in a forked child: those
/// workers are the parent's.
let forkGeneration = Atomic<UInt64>(1)

/// What every entry point needs once per process: the fork hook, the ISA
/// dispatch, and the plugin log kept off stderr. Returns the dispatch error.
private let setUp: UnlockedError? = {
    pthread_atfork(nil, nil) { forkGeneration.add(1, ordering: .relaxed) }
    pluginLogDescriptor.store(-1, ordering: .relaxed)
    do throws(UnlockedError) {
        try ISA.initializeDispatch()
        return nil
    } catch {
        return error
    }
}()

func ensureSetUp() throws(APIFailure) {
    if let error = setUp { throw APIFailure(UNLOCKED_E_INTERNAL, error) }
}

/// The process-wide default worker count (`unlocked_get/set_num_threads`);
/// 0 until first read or set.
private let defaultThreads = Atomic<Int>(0)

/// The default worker count: set, or the allowed cores (quota and cpuset honoured).
func defaultWorkerCount() -> Int {
    let set = defaultThreads.load(ordering: .relaxed)
    if set > 0 { return set }
    let allowed = (try? PlacementRequest(pin: .none).resolve().plan.workers.count) ?? 1
    let (_, current) = defaultThreads.compareExchange(expected: 0, desired: allowed, ordering: .relaxed)
    return current == 0 ? allowed : current
}

func setDefaultWorkerCount(_ count: Int) { defaultThreads.store(count, ordering: .relaxed) }

/// The directory libunlocked.so was loaded from, where process engines look
/// for the `unlocked` worker executable: the file /proc/self/maps shows
/// mapped at this library's code (dladdr is not visible to Swift on glibc).
private let libraryDirectory: String? = {
    let symbol = UInt(bitPattern: unsafeBitCast(unlocked_version as @convention(c) () -> UInt32, to: UnsafeRawPointer.self))
    guard let maps = fopen("/proc/self/maps", "r") else { return nil }
    defer { fclose(maps) }
    var line = [CChar](repeating: 0, count: 4096)
    while fgets(&line, Int32(line.count), maps) != nil {
        // "start-end perms offset dev inode   /path"
        let text = String(decoding: line.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 6, let dash = fields[0].firstIndex(of: "-"),
              let start = UInt(fields[0][..<dash], radix: 16),
              let end = UInt(fields[0][fields[0].index(after: dash)...], radix: 16),
              (start..<end).contains(symbol) else { continue }
        let path = fields[5...].joined(separator: " ")
        return path.lastIndex(of: "/").map { String(path[..<$0]) }
    }
    return nil
}()

/// A kernel `Runtime.kernel` looked up before. A struct, not a tuple: an
/// array of tuples instantiates generic metadata on every element copy, which
/// cost more than the lookup itself.
private struct CachedKernel {
    let name: UnsafeMutablePointer<CChar>
    let dtype: Int32
    let kernel: Kernel
}

/// The owner of every borrowed job buffer: the caller owns that memory.
private let callerMemory = CallerMemory()
private final class CallerMemory: Sendable {}

/// One runtime of the C API: an engine with its workers, the options it was
/// made from, and the plugins loaded into it.
///
/// One call at a time: every entry point claims `state` first and fails
/// with `UNLOCKED_E_BUSY` when another thread holds it. The fields below are
/// touched only by the thread holding `state`.
final class Runtime {
    let kind: EngineKind
    /// 0 follows `defaultWorkerCount()`.
    let requestedWorkers: Int
    let pin: PinPolicy
    let memory: MemoryPolicy
    let workerExecutable: String?

    /// 0 when idle; otherwise the fork generation of the thread inside a call
    /// (a holder from an earlier generation does not exist in this process).
    let state = Atomic<UInt64>(0)

    private var engine: (any Engine)?
    private var engineWorkers = 0
    private var engineGeneration: UInt64 = 0
    private var placement: ResolvedPlacement?
    private var catalog = KernelCatalog()
    private var kernelCache: [CachedKernel] = []
    /// The caller's arrays of the last call (see `borrow`).
    private var borrowedInput: JobBuffer?
    private var borrowedOutput: JobBuffer?
    /// processes-shm maps only shared memory: the caller's arrays are copied through these.
    private var stagedInput: JobBuffer?
    private var stagedOutput: JobBuffer?

    init(options: UnsafePointer<unlocked_options>?) throws(APIFailure) {
        var engineName = "auto", workers = 0, pinText = "none", memoryText = "first-touch"
        var executable: String?
        if let options {
            guard options.pointee.size >= UInt32(MemoryLayout<unlocked_options>.size) else {
                throw APIFailure(UNLOCKED_E_ARGUMENT, "options.size \(options.pointee.size): smaller than the 1.0 layout (\(MemoryLayout<unlocked_options>.size) bytes); set it to sizeof(unlocked_options)")
            }
            let o = options.pointee
            workers = Int(o.workers)
            if let text = o.engine { engineName = String(cString: text) }
            if let text = o.pin { pinText = String(cString: text) }
            if let text = o.memory { memoryText = String(cString: text) }
            executable = o.worker_executable.map { String(cString: $0) }
        }
        guard let kind = EngineKind(rawValue: engineName) else {
            throw APIFailure(UNLOCKED_E_OPTION, "engine \"\(engineName)\": unknown (accepted: \(EngineKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard workers <= 4096 else { throw APIFailure(UNLOCKED_E_OPTION, "workers \(workers): at most 4096 are accepted (0 follows unlocked_get_num_threads)") }
        do throws(UnlockedError) {
            pin = try PinPolicy(parsing: pinText)
            memory = try MemoryPolicy(parsing: memoryText)
        } catch {
            throw APIFailure(UNLOCKED_E_OPTION, error)
        }
        self.kind = kind
        requestedWorkers = workers
        if kind == .processesShm || kind == .processesPipe {
            guard let path = executable ?? libraryDirectory.map({ "\($0)/unlocked" }) else {
                throw APIFailure(UNLOCKED_E_OPTION, "engine \(engineName): cannot tell where libunlocked.so is, to find the unlocked worker executable (set worker_executable)")
            }
            guard access(path, X_OK) == 0 else {
                throw APIFailure(UNLOCKED_E_OPTION, "engine \(engineName) starts worker processes from \(path): \(String(cString: strerror(errno))) (install the unlocked executable next to libunlocked.so, or set worker_executable)")
            }
            executable = path
        }
        workerExecutable = executable
        try startEngine()
    }

    deinit {
        closeEngine()
        for entry in kernelCache { free(entry.name) }
    }

    /// Claims the runtime for one call on this thread.
    func enter() throws(APIFailure) {
        let mine = forkGeneration.load(ordering: .relaxed)
        var current = state.load(ordering: .relaxed)
        while true {
            if current == mine {
                throw APIFailure(UNLOCKED_E_BUSY, "runtime busy: another thread is inside a call on it (use one runtime per thread for concurrent calls)")
            }
            let (exchanged, original) = state.compareExchange(expected: current, desired: mine,
                                                              successOrdering: .acquiring, failureOrdering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    func leave() { state.store(0, ordering: .releasing) }

    /// Starts workers for the current worker count, replacing any engine.
    private func startEngine() throws(APIFailure) {
        closeEngine()
        let workers = requestedWorkers > 0 ? requestedWorkers : defaultWorkerCount()
        do throws(UnlockedError) {
            let resolved = try PlacementRequest(workers: workers, pin: pin, memory: memory).resolve()
            let configuration = EngineConfiguration(kind: kind, placement: resolved.plan, workerExecutable: workerExecutable)
            engine = try makeEngine(configuration)
            placement = resolved
            engineWorkers = workers
            engineGeneration = forkGeneration.load(ordering: .relaxed)
        } catch {
            throw APIFailure(error.kind == .usage ? UNLOCKED_E_OPTION : UNLOCKED_E_INTERNAL, error)
        }
    }

    /// Stops the engine's workers. An engine started before a fork is kept
    /// from deinit for good instead: its workers are the parent's, and
    /// closing it would wait for threads that do not exist here or tell the
    /// parent's worker processes to exit.
    private func closeEngine() {
        if let engine {
            if engineGeneration == forkGeneration.load(ordering: .relaxed) {
                engine.close()
            } else {
                _ = Unmanaged.passRetained(engine as AnyObject)
            }
        }
        engine = nil
        stagedInput = nil
        stagedOutput = nil
    }

    /// The engine for this call: restarted after a fork or when the default
    /// worker count it follows changed.
    private func currentEngine() throws(APIFailure) -> any Engine {
        if let engine, engineGeneration == forkGeneration.load(ordering: .relaxed),
           requestedWorkers > 0 || engineWorkers == defaultWorkerCount() {
            return engine
        }
        try startEngine()
        return engine!
    }

    func loadPlugin(path: String) throws(APIFailure) {
        do throws(UnlockedError) {
            let plugin = try PluginLoader.load(path: path)
            catalog = KernelCatalog(plugins: Array(catalog.plugins.dropFirst()) + [plugin])
        } catch {
            throw APIFailure(UNLOCKED_E_PLUGIN, error)
        }
        for entry in kernelCache { free(entry.name) }
        kernelCache = []
    }

    /// The kernel `name` for `dtype`, from a small cache compared with strcmp
    /// (the hot path of repeated calls builds no strings).
    func kernel(_ name: UnsafePointer<CChar>, dtype: Int32) throws(APIFailure) -> Kernel {
        for index in kernelCache.indices where kernelCache[index].dtype == dtype && strcmp(kernelCache[index].name, name) == 0 {
            return kernelCache[index].kernel
        }
        let text = String(cString: name)
        guard let type = DType(abiValue: uk_dtype(rawValue: UInt32(bitPattern: dtype))) else {
            throw APIFailure(UNLOCKED_E_DTYPE, "dtype \(dtype): not an input element type (accepted: UNLOCKED_I32 = 1, UNLOCKED_I64 = 2, UNLOCKED_F32 = 3, UNLOCKED_F64 = 4)")
        }
        let kernel: Kernel
        do throws(UnlockedError) {
            kernel = try catalog.kernel(named: text, dtype: type)
        } catch {
            let bare = text.split(separator: ":", maxSplits: 1).last.map(String.init) ?? text
            let known = catalog.kernels.contains { $0.name == bare }
            throw APIFailure(known ? UNLOCKED_E_DTYPE : UNLOCKED_E_KERNEL, error)
        }
        kernelCache.append(CachedKernel(name: strdup(name), dtype: dtype, kernel: kernel))
        return kernel
    }

    /// Runs `kernel` over the caller's arrays; the caller checked the arguments.
    func run(_ kernel: Kernel, input: UnsafeRawPointer, count: Int, params: uk_params,
             output: UnsafeMutableRawPointer?) throws(APIFailure) -> EngineResult {
        let engine = try currentEngine()
        let inputBytes = count * kernel.inputType.byteWidth
        let outputBytes = count * (kernel.outputType?.byteWidth ?? 0)
        var inputBuffer = borrow(&borrowedInput, UnsafeMutableRawPointer(mutating: input), bytes: inputBytes)
        var outputBuffer = output.map { borrow(&borrowedOutput, $0, bytes: outputBytes) }
        let staged = engine.kind == .processesShm
        if staged {
            inputBuffer = try stage(&stagedInput, bytes: inputBytes, engine: engine)
            inputBuffer.base.copyMemory(from: input, byteCount: inputBytes)
            if output != nil { outputBuffer = try stage(&stagedOutput, bytes: outputBytes, engine: engine) }
        }
        let job = EngineJob(kernel: kernel, input: inputBuffer, output: outputBuffer, count: count, params: params)
        let result: EngineResult
        do throws(UnlockedError) {
            result = try engine.run(job)
        } catch {
            throw APIFailure(error.kind == .badData ? UNLOCKED_E_FAILED : (error.kind == .usage ? UNLOCKED_E_OPTION : UNLOCKED_E_INTERNAL), error)
        }
        if staged, let output, let outputBuffer { output.copyMemory(from: outputBuffer.base, byteCount: outputBytes) }
        return result
    }

    /// The caller's memory as a job buffer: the last one when it is the same
    /// range (a caller repeating a call on one array allocates nothing).
    /// Its owner is a sentinel: the memory is the caller's, and the runtime
    /// must not keep itself alive.
    private func borrow(_ last: inout JobBuffer?, _ base: UnsafeMutableRawPointer, bytes: Int) -> JobBuffer {
        if let last, last.base == base, last.byteCount == bytes { return last }
        let buffer = JobBuffer(borrowing: base, byteCount: bytes, owner: callerMemory)
        last = buffer
        return buffer
    }

    /// A shared buffer of at least `bytes`, reused while large enough, placed
    /// by the memory policy before first use.
    private func stage(_ buffer: inout JobBuffer?, bytes: Int, engine: any Engine) throws(APIFailure) -> JobBuffer {
        if let buffer, buffer.byteCount >= bytes { return buffer }
        do throws(UnlockedError) {
            let fresh = try engine.makeBuffer(count: max(bytes, 1), width: 1)
            if let placement { _ = try fresh.apply(memory, topology: placement.topology) }
            buffer = fresh
            return fresh
        } catch {
            throw APIFailure(UNLOCKED_E_INTERNAL, error)
        }
    }
}
#endif
