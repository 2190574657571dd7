import CKernels
import UnlockedCore
#if os(Linux)
import Glibc
#else
import Darwin
#endif

/// Checks a whole `uk_plugin` descriptor before any of its kernels runs.
///
/// Only reads the descriptor and calls `get_kernel`; never `init` or a
/// kernel. Every rule here is listed in the header comment of
/// `unlocked_plugin.h`, so plugin authors can read what is refused.
package enum PluginValidator {
    /// The `size` of the first layout of ABI major 1: the host reads nothing
    /// beyond it, and refuses anything smaller.
    package static let pluginSize = MemoryLayout<uk_plugin>.size
    package static let kernelSize = MemoryLayout<uk_kernel>.size
    /// Longest kernel description: it is printed on one line.
    package static let maxDescription = 200

    /// The validated kernels, in `get_kernel` order, or a one-line
    /// `.badData` error prefixed by `origin` (the plugin's path).
    package static func validate(_ plugin: UnsafePointer<uk_plugin>, origin: String) throws(UnlockedError) -> [UnsafePointer<uk_kernel>] {
        func fail(_ reason: String) -> UnlockedError { .badData("plugin \(origin): \(reason)") }
        // `size` first: a smaller descriptor may end where readable memory ends.
        let size = UnsafeRawPointer(plugin).load(as: UInt32.self)
        guard Int(size) >= pluginSize else {
            throw fail("descriptor size \(size) is smaller than uk_plugin of ABI 1 (\(pluginSize) bytes); rebuild against unlocked_plugin.h")
        }
        let p = plugin.pointee
        guard p.abi_major == UInt32(UK_ABI_MAJOR) else {
            throw fail("built for plugin ABI \(p.abi_major).\(p.abi_minor), this host speaks ABI \(UK_ABI_MAJOR).x; rebuild against this unlocked_plugin.h")
        }
        _ = try checkedName(p.name, what: "plugin name", fail: fail)
        _ = try checkedName(p.version, what: "plugin version", versionLike: true, fail: fail)
        let modes = [UK_CONCURRENCY_THREAD_SAFE, UK_CONCURRENCY_PER_WORKER, UK_CONCURRENCY_SERIAL]
        guard modes.contains(p.concurrency) else {
            throw fail("unknown concurrency \(p.concurrency.rawValue) (accepted: 1 THREAD_SAFE, 2 PER_WORKER, 3 SERIAL)")
        }
        if p.concurrency == UK_CONCURRENCY_PER_WORKER {
            guard p.worker_init != nil else { throw fail("concurrency is PER_WORKER but worker_init is NULL") }
        } else if p.worker_init != nil || p.worker_fini != nil {
            throw fail("worker_init/worker_fini are set but concurrency is not PER_WORKER; declare PER_WORKER or set them to NULL")
        }
        guard let getKernel = p.get_kernel else { throw fail("get_kernel is NULL") }

        // Count first, so a get_kernel that never returns NULL is named as such.
        var kernels: [UnsafePointer<uk_kernel>] = []
        while let kernel = getKernel(UInt32(kernels.count)) {
            guard kernels.count < Int(UK_MAX_KERNELS) else {
                throw fail("lists more than \(UK_MAX_KERNELS) kernels (get_kernel must return NULL after the last one)")
            }
            kernels.append(kernel)
        }
        guard !kernels.isEmpty else { throw fail("lists no kernels (get_kernel(0) returned NULL)") }
        var seen = Set<String>()
        for (index, kernel) in kernels.enumerated() {
            func failKernel(_ reason: String) -> UnlockedError { fail("kernel #\(index): \(reason)") }
            let size = UnsafeRawPointer(kernel).load(as: UInt32.self)
            guard Int(size) >= kernelSize else {
                throw failKernel("size \(size) is smaller than uk_kernel of ABI 1 (\(kernelSize) bytes)")
            }
            let k = kernel.pointee
            let name = try checkedName(k.name, what: "name", fail: failKernel)
            func failNamed(_ reason: String) -> UnlockedError { fail("kernel #\(index) \(name): \(reason)") }
            if let description = k.description, strnlen(description, maxDescription + 1) > maxDescription {
                throw failNamed("description is longer than \(maxDescription) bytes (one line, please)")
            }
            guard let input = DType(abiValue: k.input_type) else {
                throw failNamed("unknown input_type \(k.input_type.rawValue) (accepted: 1 I32, 2 I64, 3 F32, 4 F64)")
            }
            guard k.run != nil else { throw failNamed("run is NULL") }
            switch k.kind {
            case UK_KIND_MAP:
                guard OutputType(abiValue: k.output_type) != nil else {
                    throw failNamed("unknown output_type \(k.output_type.rawValue) (accepted: 1...6, I32 I64 F32 F64 U32 U64)")
                }
                guard k.acc_kind == UK_ACC_NONE else { throw failNamed("a MAP kernel must have acc_kind UK_ACC_NONE") }
                guard k.combine == nil else { throw failNamed("a MAP kernel must have combine NULL") }
            case UK_KIND_REDUCE:
                guard [UK_ACC_UINT128, UK_ACC_INT128, UK_ACC_FLOAT64].contains(k.acc_kind) else {
                    throw failNamed("unknown acc_kind \(k.acc_kind.rawValue) for a REDUCE kernel (accepted: 1 UINT128, 2 INT128, 3 FLOAT64)")
                }
                guard k.combine != nil else { throw failNamed("a REDUCE kernel needs combine, which is NULL") }
            default:
                throw failNamed("unknown kind \(k.kind.rawValue) (accepted: 1 MAP, 2 REDUCE)")
            }
            guard seen.insert("\(name) \(input.rawValue)").inserted else {
                throw failNamed("duplicate kernel \(name) for \(input.rawValue); (name, input_type) must be unique")
            }
        }
        return kernels
    }

    /// A name of 1...UK_MAX_NAME bytes of `[A-Za-z0-9._-]` (versions also
    /// allow `+`), read without running past UK_MAX_NAME + 1 bytes.
    package static func checkedName(_ pointer: UnsafePointer<CChar>?, what: String, versionLike: Bool = false,
                            fail: (String) -> UnlockedError) throws(UnlockedError) -> String {
        guard let pointer else { throw fail("\(what) is NULL") }
        let length = strnlen(pointer, Int(UK_MAX_NAME) + 1)
        guard length > 0 else { throw fail("\(what) is empty") }
        guard length <= Int(UK_MAX_NAME) else { throw fail("\(what) is longer than \(UK_MAX_NAME) bytes") }
        let bytes = UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self)
        let text = String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
        let allowed = { (c: UInt8) -> Bool in
            (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
                || (versionLike && c == 0x2B)
        }
        guard UnsafeBufferPointer(start: bytes, count: length).allSatisfy(allowed) else {
            throw fail("\(what) \"\(printable(text))\" has characters outside [A-Za-z0-9._-\(versionLike ? "+" : "")]")
        }
        return text
    }
}
