import CKernels
import COpenMP
import Foundation
import Synchronization
import Testing
@testable import Unlocked

/// Engines built the way the tests need them: unbound workers (tests run in
/// parallel and must not pin shared threads), process workers running the
/// built `unlocked` executable.
enum EngineFixture {
    static func configuration(_ kind: EngineKind, workers: Int = 3, chunk: Int? = 1000, blocks: Int = 7,
                              environment: [String: String] = [:]) -> EngineConfiguration {
        EngineConfiguration(kind: kind, placement: .unbound(workers), chunk: chunk, blocks: blocks,
                            workerExecutable: CommandLineTool.executable.path, workerEnvironment: environment)
    }

    /// Runs `body` on a thread of its own: the engines pin their caller, and
    /// a test must not pin a thread of the shared pool.
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let outcome = LockedValue<Result<T, any Error>?>(nil)
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let result = Result { try body() }
            outcome.withLock { $0 = result }
            finished.signal()
        }
        finished.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// A CPU no test machine has: planning a worker on it makes its binding fail.
    static let missingCPU = 1023

    /// Two workers, the second planned on `missingCPU`.
    static func unbindable(_ kind: EngineKind) -> EngineConfiguration {
        var configuration = configuration(kind, workers: 2)
        configuration.placement.workers[1].osPU = missingCPU
        return configuration
    }

    static func params(_ dtype: DType, center: String = "50") -> uk_params {
        try! dtype.parseCenter(center)
    }

    /// The reference: one scalar call over the whole range.
    static func reference(_ kernel: Kernel, input: UnsafeRawPointer, count: Int, params: uk_params) throws -> (uk_acc, [UInt8]) {
        var params = params
        var acc = uk_acc()
        let width = kernel.outputType?.byteWidth ?? 0
        var output = [UInt8](repeating: 0, count: max(count * width, 1))
        try output.withUnsafeMutableBytes { raw in
            try kernel.run(context: kernel.plugin.state, input: input, output: kernel.isMap ? raw.baseAddress : nil,
                           range: 0..<count, params: &params, acc: &acc)
        }
        return (acc, Array(output.prefix(count * width)))
    }
}

/// What this process holds, from /proc: compared exactly before and after
/// engines ran, in a process where no other test runs (an exit test).
struct ProcessResources: Equatable, CustomStringConvertible {
    /// Threads named `ukw-…`: every thread the library starts. (GCD's and
    /// the concurrency runtime's threads come and go by themselves.)
    var engineThreads: Int
    var fileDescriptors: Int
    /// Descriptors of shared-memory files (`processes-shm` buffers).
    var memfds: Int
    /// Child processes, zombies included.
    var children: Int

    static func current() -> ProcessResources {
        let tasks = entries("/proc/self/task")
        let names = tasks.map { procFile("/proc/self/task/\($0)/comm") }
        let targets = entries("/proc/self/fd").map { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)")) ?? "" }
        let children = tasks.flatMap { task in
            procFile("/proc/self/task/\(task)/children").split(separator: " ")
        }
        return ProcessResources(engineThreads: names.filter { $0.hasPrefix("ukw-") }.count,
                                fileDescriptors: targets.count, memfds: targets.filter { $0.hasPrefix("/memfd:") }.count,
                                children: children.count)
    }

    var description: String {
        "\(engineThreads) ukw- threads, \(fileDescriptors) fds (\(memfds) memfds), \(children) children"
    }

    private static func entries(_ directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }
}

extension EngineFixture {
    /// A sum over `count` generated i32 elements in `engine`'s own buffer.
    static func sumJob(_ engine: any Engine, count: Int = 10_000) throws -> EngineJob {
        let kernel = try KernelCatalog().kernel(named: "absdist.sum", dtype: .i32)
        let input = try engine.makeBuffer(count: count, width: 4)
        try engine.initialize(input, dtype: .i32, count: count, generator: DataGenerator(seed: 5))
        return EngineJob(kernel: kernel, input: input, output: nil, count: count, params: params(.i32))
    }
}

/// The whole text of a /proc file ("" if it cannot be read). Not
/// `String(contentsOfFile:)`: /proc files report size 0, and Foundation then
/// reads only their first page (a sanitized process's maps run to 64 KiB).
/// Not `readDataToEndOfFile`: it traps when the read fails, as it does with
/// ESRCH when the thread or process exits between the open and the read.
func procFile(_ path: String) -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? handle.close() }
    return (try? handle.readToEnd()).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) } ?? ""
}

/// The worker processes of process `pid`: children of any of its threads
/// (fork-served workers are the server starter thread's) named `ukw-proc-…`,
/// which leaves out its fork server.
func workerProcesses(of pid: pid_t) -> [pid_t] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.flatMap { procFile("/proc/\(pid)/task/\($0)/children").split(separator: " ").compactMap { pid_t($0) } }
        .filter { procFile("/proc/\($0)/comm").hasPrefix(workerThreadName("proc", 0).dropLast()) }
}

/// Whether `pid` is gone: not running and not a zombie (reaped).
func processIsReaped(_ pid: pid_t) -> Bool {
    kill(pid, 0) == -1 && errno == ESRCH
}

/// A plugin written in Swift for the concurrency-mode tests: one reduce
/// kernel `test.sum` (Σ x over i32, exact) whose calls check the promise of
/// the plugin's mode and fail with a message when it is broken.
enum TestPlugin {
    /// Kernel calls in progress at once (SERIAL must keep it at 1).
    static let inside = Atomic<Int>(0)
    static let workerInits = Atomic<Int>(0)
    static let workerFinis = Atomic<Int>(0)
    static let calls = Atomic<Int>(0)

    /// A PER_WORKER context: the thread that created it.
    struct Context {
        var thread: pthread_t
        var worker: UInt32
    }

    static func make(_ concurrency: uk_concurrency) -> PluginInstance {
        let kernel = UnsafeMutablePointer<uk_kernel>.allocate(capacity: 1)
        kernel.initialize(to: uk_kernel(
            size: UInt32(MemoryLayout<uk_kernel>.size), reserved: 0, name: strdup("test.sum"), description: nil,
            input_type: UK_DTYPE_I32, output_type: UK_DTYPE_I32, kind: UK_KIND_REDUCE, acc_kind: UK_ACC_INT128,
            run: { ctx, input, _, begin, end, _, acc, error in
                TestPlugin.calls.add(1, ordering: .relaxed)
                let concurrent = TestPlugin.inside.add(1, ordering: .sequentiallyConsistent).newValue
                defer { TestPlugin.inside.subtract(1, ordering: .sequentiallyConsistent) }
                let mode = concurrencyOfCurrentPlugin.load(ordering: .relaxed)
                if mode == Int(UK_CONCURRENCY_SERIAL.rawValue) {
                    // Stay inside long enough for an unserialised call to overlap.
                    for _ in 0..<200 { _ = monotonicNanoseconds() }
                    if concurrent > 1 { return fail(error, "SERIAL kernel entered by \(concurrent) threads at once") }
                }
                if mode == Int(UK_CONCURRENCY_PER_WORKER.rawValue) {
                    guard let context = ctx?.assumingMemoryBound(to: Context.self) else { return fail(error, "PER_WORKER kernel got no context") }
                    if pthread_equal(context.pointee.thread, pthread_self()) == 0 {
                        return fail(error, "context of worker \(context.pointee.worker) used on another thread")
                    }
                }
                let x = input!.assumingMemoryBound(to: Int32.self)
                var sum: Int64 = 0
                for i in begin..<end { sum += Int64(x[i]) }
                let total = (Int128(Int64(bitPattern: acc!.pointee.lo)) | (Int128(acc!.pointee.hi) << 64)) &+ Int128(sum)
                let bits = UInt128(bitPattern: total)
                acc!.pointee.lo = UInt64(truncatingIfNeeded: bits)
                acc!.pointee.hi = UInt64(truncatingIfNeeded: bits >> 64)
                return 0
            },
            combine: { into, from in
                let a = UInt128(into!.pointee.hi) << 64 | UInt128(into!.pointee.lo)
                let b = UInt128(from!.pointee.hi) << 64 | UInt128(from!.pointee.lo)
                let sum = a &+ b
                into!.pointee.lo = UInt64(truncatingIfNeeded: sum)
                into!.pointee.hi = UInt64(truncatingIfNeeded: sum >> 64)
            }))
        testKernel.withLock { $0 = UncheckedKernelPointer(pointer: kernel) }
        concurrencyOfCurrentPlugin.store(Int(concurrency.rawValue), ordering: .relaxed)

        let plugin = UnsafeMutablePointer<uk_plugin>.allocate(capacity: 1)
        plugin.initialize(to: uk_plugin(
            size: UInt32(MemoryLayout<uk_plugin>.size), abi_major: UInt32(UK_ABI_MAJOR), abi_minor: UInt32(UK_ABI_MINOR),
            concurrency: concurrency, name: strdup("testplugin"), version: strdup("1"), init: nil, fini: nil,
            worker_init: concurrency == UK_CONCURRENCY_PER_WORKER ? { _, worker, context, _ in
                TestPlugin.workerInits.add(1, ordering: .relaxed)
                let made = UnsafeMutablePointer<Context>.allocate(capacity: 1)
                made.initialize(to: Context(thread: pthread_self(), worker: worker))
                context!.pointee = UnsafeMutableRawPointer(made)
                return 0
            } : nil,
            worker_fini: concurrency == UK_CONCURRENCY_PER_WORKER ? { _, context in
                TestPlugin.workerFinis.add(1, ordering: .relaxed)
                context?.assumingMemoryBound(to: Context.self).deallocate()
            } : nil,
            get_kernel: { index in index == 0 ? testKernel.withLock { UnsafePointer($0!.pointer) } : nil }))
        return PluginInstance(descriptor: plugin, kernels: [UnsafePointer(kernel)], path: nil, state: nil, handle: nil)
    }

}

/// Writes a kernel's error message and returns its failure status.
private func fail(_ error: UnsafeMutablePointer<CChar>?, _ message: String) -> Int32 {
    _ = message.withCString { strncpy(error!, $0, Int(UK_ERROR_CAPACITY) - 1) }
    return 1
}

struct UncheckedKernelPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<uk_kernel>
}

/// The kernel `get_kernel` returns and the mode the kernel checks; the
/// concurrency suite is serialized, so one test plugin exists at a time.
let testKernel = LockedValue<UncheckedKernelPointer?>(nil)
let concurrencyOfCurrentPlugin = Atomic<Int>(0)

extension EngineFixture {
    /// Every engine the thread sanitizer can follow. Under TSan that is all
    /// but `openmp`: libgomp is not instrumented, so TSan sees only the region's
    /// fork and join as the engine annotates them, nothing inside libgomp (the
    /// Makefile's TSan line also skips `OpenMP` suites).
    static let sanitizableKinds: [EngineKind] = uk_omp_thread_sanitized() != 0
        ? EngineKind.allCases.filter { $0 != .openmp } : EngineKind.allCases
}
