import CKernels

/// What a reduction kernel accumulated, read according to its `uk_acc_kind`.
public enum KernelValue: Sendable, Equatable, CustomStringConvertible {
    case unsigned(UInt128)
    case signed(Int128)
    case float(Double)
    /// Map kernels produce an array, not a value.
    case none

    init(_ acc: uk_acc, kind: uk_acc_kind) {
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

/// A loaded plugin: its validated descriptor and the state its `init` returned.
///
/// Created and finalised by one thread; kernels may be called from any
/// thread as the plugin's `concurrency` allows. The corresponding C type is
/// `uk_plugin`.
public final class PluginInstance {
    public let descriptor: UnsafePointer<uk_plugin>
    /// The path it was loaded from, nil for the built-in kernels.
    public let path: String?
    /// What `init` returned: the context of THREAD_SAFE and SERIAL kernels.
    public let state: UnsafeMutableRawPointer?

    public init(descriptor: UnsafePointer<uk_plugin>, path: String?, state: UnsafeMutableRawPointer?) {
        self.descriptor = descriptor
        self.path = path
        self.state = state
    }

    public var name: String { String(cString: descriptor.pointee.name) }
    public var version: String { String(cString: descriptor.pointee.version) }
    public var concurrency: uk_concurrency { descriptor.pointee.concurrency }

    /// The built-in kernels, registered through the plugin ABI like any plugin.
    public static let builtin = PluginInstance(descriptor: uk_builtin_plugin(), path: nil, state: nil)
}

// The descriptor is immutable static data of the plugin, and `state` is only
// handed to the plugin, which declared through `concurrency` how it may be shared.
extension PluginInstance: @unchecked Sendable {}

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
        var error = [CChar](repeating: 0, count: Int(UK_ERROR_CAPACITY))
        // The ABI passes NULL as the accumulator of map kernels.
        let status = descriptor.pointee.run(context, input, output, range.lowerBound, range.upperBound, params,
                                            isMap ? nil : acc, &error)
        if status != 0 {
            let message = string(fromCBuffer: error)
            throw .badData("kernel \(name) (\(inputType.rawValue)) of plugin \(plugin.name) failed on [\(range.lowerBound), \(range.upperBound)): \(message.isEmpty ? "status \(status)" : message)")
        }
    }

    /// Merges the partial `from` into `into`.
    public func combine(_ into: inout uk_acc, _ from: uk_acc) {
        var from = from
        descriptor.pointee.combine?(&into, &from)
    }

    public func value(of acc: uk_acc) -> KernelValue { KernelValue(acc, kind: accKind) }
}

extension PluginInstance {
    /// Every kernel the descriptor lists, by index until NULL.
    public var kernels: [Kernel] {
        var result: [Kernel] = []
        var index: UInt32 = 0
        while let kernel = descriptor.pointee.get_kernel(index) {
            result.append(Kernel(plugin: self, descriptor: kernel))
            index += 1
        }
        return result
    }
}
