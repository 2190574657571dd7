import CKernels
import Synchronization
import UnlockedCore
#if os(Linux)
import Glibc
#else
import Darwin
#endif

/// What a reduction kernel accumulated, read according to its `uk_acc_kind`.
public enum KernelValue: Sendable, Equatable, CustomStringConvertible {
    case unsigned(UInt128)
    case signed(Int128)
    case float(Double)
    /// Map kernels produce an array, not a value.
    case none

    package init(_ acc: uk_acc, kind: uk_acc_kind) {
        let bits = UInt128(acc.hi) << 64 | UInt128(acc.lo)
        switch kind {
        case UK_ACC_UINT128: self = .unsigned(bits)
        case UK_ACC_INT128: self = .signed(Int128(bitPattern: bits))
        case UK_ACC_FLOAT64: self = .float(acc.f)
        default: self = .none
        }
    }

    public var description: String {
        switch self {
        case .unsigned(let v): "\(v)"
        case .signed(let v): "\(v)"
        case .float(let v): "\(v)"
        case .none: "-"
        }
    }
}

/// A loaded plugin: its validated descriptor, the state its `init` returned,
/// and the `dlopen` handle it owns.
///
/// Created by `PluginLoader` (or `builtin`). `close()` — or releasing the
/// last reference, since every `Kernel` holds its plugin — calls the
/// plugin's `fini` once and then `dlclose`. Any thread may call `close`;
/// the caller must make sure no kernel call or worker context is still in
/// flight. Kernels may be called from any thread as `concurrency` allows.
/// The corresponding C type is `uk_plugin`.
public final class PluginInstance {
    enum Lifecycle { case open, closed }

    public let descriptor: UnsafePointer<uk_plugin>
    /// The path it was loaded from (resolved), nil for the built-in kernels.
    public let path: String?
    /// What `init` returned: the context of THREAD_SAFE and SERIAL kernels.
    public let state: UnsafeMutableRawPointer?
    /// The kernels `get_kernel` listed, validated by the loader.
    package let kernelDescriptors: [UnsafePointer<uk_kernel>]
    /// The `dlopen` handle, nil for statically linked plugins.
    private let handle: UnsafeMutableRawPointer?
    private let lifecycle = Mutex(Lifecycle.open)
    /// Loaded into a link-map namespace of its own (`IsolatedPlugins`): its
    /// globals belong to the one worker that leased it, so even a SERIAL
    /// plugin's calls need no lock.
    package let isIsolated: Bool

    package init(descriptor: UnsafePointer<uk_plugin>, kernels: [UnsafePointer<uk_kernel>], path: String?,
         state: UnsafeMutableRawPointer?, handle: UnsafeMutableRawPointer?, isIsolated: Bool = false) {
        self.descriptor = descriptor
        self.kernelDescriptors = kernels
        self.path = path
        self.state = state
        self.handle = handle
        self.isIsolated = isIsolated
    }

    deinit { close() }

    public var name: String { String(cString: descriptor.pointee.name) }
    public var version: String { String(cString: descriptor.pointee.version) }
    public var concurrency: uk_concurrency { descriptor.pointee.concurrency }
    /// `concurrency` with its CLI and report name.
    public var concurrencyMode: ConcurrencyMode {
        switch concurrency {
        case UK_CONCURRENCY_THREAD_SAFE: .threadSafe
        case UK_CONCURRENCY_PER_WORKER: .perWorker
        default: .serial
        }
    }
    /// "1.0": the ABI the plugin was built against.
    public var abiVersion: String { "\(descriptor.pointee.abi_major).\(descriptor.pointee.abi_minor)" }

    /// Calls the plugin's `fini`, then `dlclose`; later calls do nothing.
    /// Every `Kernel` of this plugin is unusable afterwards.
    public func close() {
        lifecycle.withLock { state in
            guard state == .open else { return }
            state = .closed
            descriptor.pointee.fini?(self.state)
            if let handle { dlclose(handle) }
        }
    }

    /// The context worker `worker` passes to kernels: for PER_WORKER plugins
    /// a fresh one from `worker_init`, otherwise the shared `state`. Call on
    /// the worker's thread before its first kernel call; pair with
    /// `releaseWorkerContext`. The corresponding C function is `worker_init`.
    public func makeWorkerContext(worker: Int) throws(UnlockedError) -> UnsafeMutableRawPointer? {
        guard concurrency == UK_CONCURRENCY_PER_WORKER, let workerInit = descriptor.pointee.worker_init else {
            return state
        }
        var context: UnsafeMutableRawPointer?
        if let message = try PluginErrorBuffer.call({ workerInit(state, UInt32(truncatingIfNeeded: worker), &context, $0) }) {
            throw .badData("plugin \(name): worker_init for worker \(worker) failed: \(message)")
        }
        return context
    }

    /// Releases a context from `makeWorkerContext` once its worker has
    /// finished. The corresponding C function is `worker_fini`.
    public func releaseWorkerContext(_ context: UnsafeMutableRawPointer?) {
        guard concurrency == UK_CONCURRENCY_PER_WORKER else { return }
        descriptor.pointee.worker_fini?(state, context)
    }

    /// The built-in kernels, registered through the plugin ABI like any plugin.
    public static let builtin: PluginInstance = {
        let descriptor = uk_builtin_plugin()!
        // Validated like any plugin, so a bad edit of builtin.c fails loudly in tests.
        let kernels = (try? PluginValidator.validate(descriptor, origin: "builtin")) ?? []
        return PluginInstance(descriptor: descriptor, kernels: kernels, path: nil, state: nil, handle: nil)
    }()
}

// The descriptor is immutable static data of the plugin, `lifecycle` is a
// Mutex, and `state` is only handed to the plugin, which declared through
// `concurrency` how it may be shared.
extension PluginInstance: @unchecked Sendable {}

/// What the host may do concurrently with one plugin instance. The
/// corresponding C type is `uk_concurrency`.
public enum ConcurrencyMode: String, Sendable {
    /// One context, called from many threads at once.
    case threadSafe = "thread-safe"
    /// A context per worker from `worker_init`, each used by one thread.
    case perWorker = "per-worker"
    /// Every call under one process-wide lock.
    case serial
}

/// One kernel of a plugin. The corresponding C type is `uk_kernel`.
public struct Kernel: @unchecked Sendable {
    // @unchecked: the descriptor points into the plugin's immutable static data.
    public let plugin: PluginInstance
    public let descriptor: UnsafePointer<uk_kernel>
    public let name: String
    public let inputType: DType
    /// Output element type for map kernels, nil for reductions.
    public let outputType: OutputType?

    /// Wraps a descriptor whose fields were already validated by the loader.
    public init(plugin: PluginInstance, descriptor: UnsafePointer<uk_kernel>) {
        self.plugin = plugin
        self.descriptor = descriptor
        self.name = String(cString: descriptor.pointee.name)
        self.inputType = DType(abiValue: descriptor.pointee.input_type) ?? .i32
        self.outputType = descriptor.pointee.kind == UK_KIND_MAP ? OutputType(abiValue: descriptor.pointee.output_type) : nil
    }

    public var isMap: Bool { descriptor.pointee.kind == UK_KIND_MAP }
    public var accKind: uk_acc_kind { descriptor.pointee.acc_kind }

    /// Runs the kernel over `[begin, end)`. Reductions add into `acc`; map
    /// kernels write `output` and leave `acc` alone.
    ///
    /// - Parameter context: the plugin state, or the calling worker's context
    ///   for PER_WORKER plugins. Callers serialise SERIAL plugins.
    @inline(__always)
    public func run(context: UnsafeMutableRawPointer?, input: UnsafeRawPointer, output: UnsafeMutableRawPointer?,
                    range: Range<Int>, params: UnsafePointer<uk_params>, acc: UnsafeMutablePointer<uk_acc>) throws(UnlockedError) {
        // The ABI passes NULL as the accumulator of map kernels.
        let failure = try PluginErrorBuffer.call {
            descriptor.pointee.run(context, input, output, range.lowerBound, range.upperBound, params, isMap ? nil : acc, $0)
        }
        if let message = failure {
            throw .badData("kernel \(name) (\(inputType.rawValue)) of plugin \(plugin.name) failed on [\(range.lowerBound), \(range.upperBound)): \(message)")
        }
    }

    /// Merges the partial `from` into `into`.
    public func combine(_ into: inout uk_acc, _ from: uk_acc) {
        var from = from
        descriptor.pointee.combine?(&into, &from)
    }

    public func value(of acc: uk_acc) -> KernelValue { KernelValue(acc, kind: accKind) }

    /// "map -> u64" or "reduce -> uint128", for listings.
    public var resultDescription: String {
        if let outputType { return "map -> \(outputType.rawValue)" }
        switch accKind {
        case UK_ACC_UINT128: return "reduce -> uint128"
        case UK_ACC_INT128: return "reduce -> int128"
        default: return "reduce -> float64"
        }
    }

    /// The kernel's one-line description, empty if it has none.
    public var about: String { descriptor.pointee.description.map { String(cString: $0) } ?? "" }
}

extension PluginInstance {
    /// Every kernel the descriptor lists, in `get_kernel` order.
    public var kernels: [Kernel] { kernelDescriptors.map { Kernel(plugin: self, descriptor: $0) } }
}
