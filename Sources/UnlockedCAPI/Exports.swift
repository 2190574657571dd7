#if os(Linux)
import CKernels
import CUnlockedAPI
import Glibc
import Unlocked

// Every function here implements its declaration in unlocked.h (target CUnlockedAPI)
// (@implementation: the compiler checks the types against the header), and
// turns every bad argument into a status code; none may trap.

@c @implementation
public func unlocked_version() -> UInt32 {
    UInt32(UNLOCKED_API_MAJOR) << 16 | UInt32(UNLOCKED_API_MINOR)
}

nonisolated(unsafe) private let releaseVersion: UnsafePointer<CChar> = UnsafePointer(strdup(BuildInfo.version)!)

@c @implementation
public func unlocked_get_version() -> UnsafePointer<CChar>? { releaseVersion }

@c @implementation
public func unlocked_last_error() -> UnsafePointer<CChar>? { LastError.current }

@c @implementation
public func unlocked_get_num_threads() -> Int32 {
    _ = try? ensureSetUp()
    return Int32(defaultWorkerCount())
}

@c @implementation
public func unlocked_set_num_threads(_ n: Int32) -> Int32 {
    status { () throws(APIFailure) in
        try ensureSetUp()
        guard (1...4096).contains(n) else {
            throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_set_num_threads(\(n)): accepted 1...4096")
        }
        setDefaultWorkerCount(Int(n))
    }
}

@c @implementation
public func unlocked_runtime_create(_ options: UnsafePointer<unlocked_options>?,
                                    _ runtime: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    runtime?.pointee = nil
    return status { () throws(APIFailure) in
        guard let runtime else { throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_runtime_create: runtime (the handle's address) is NULL") }
        try ensureSetUp()
        let created = try Runtime(options: options)
        runtime.pointee = OpaquePointer(Unmanaged.passRetained(created).toOpaque())
    }
}

/// The runtime behind a handle, claimed for this call; `leave()` it after.
private func claim(_ handle: OpaquePointer?, _ function: String) throws(APIFailure) -> Runtime {
    guard let handle else { throw APIFailure(UNLOCKED_E_ARGUMENT, "\(function): runtime is NULL") }
    let runtime = Unmanaged<Runtime>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    try runtime.enter()
    return runtime
}

@c @implementation
public func unlocked_runtime_destroy(_ handle: OpaquePointer?) -> Int32 {
    status { () throws(APIFailure) in
        guard handle != nil else { return }
        _ = try claim(handle, "unlocked_runtime_destroy")
        // Never left: the handle is dead once released.
        Unmanaged<Runtime>.fromOpaque(UnsafeRawPointer(handle!)).release()
    }
}

@c @implementation
public func unlocked_runtime_load_plugin(_ handle: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    status { () throws(APIFailure) in
        let runtime = try claim(handle, "unlocked_runtime_load_plugin")
        defer { runtime.leave() }
        guard let path else { throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_runtime_load_plugin: path is NULL") }
        try runtime.loadPlugin(path: String(cString: path))
    }
}

/// The ABI's value kind of a kernel's result.
private func valueKind(_ kernel: Kernel) -> unlocked_value_kind {
    if kernel.isMap { return UNLOCKED_VALUE_NONE }
    return unlocked_value_kind(rawValue: kernel.accKind.rawValue)
}

@c @implementation
public func unlocked_query_kernel(_ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ dtype: Int32,
                                 _ info: UnsafeMutablePointer<unlocked_kernel_info>?) -> Int32 {
    status { () throws(APIFailure) in
        let runtime = try claim(handle, "unlocked_query_kernel")
        defer { runtime.leave() }
        guard let name else { throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_query_kernel: kernel is NULL") }
        guard let info else { throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_query_kernel: info is NULL") }
        guard info.pointee.size >= UInt32(MemoryLayout<unlocked_kernel_info>.size) else {
            throw APIFailure(UNLOCKED_E_ARGUMENT, "info.size \(info.pointee.size): smaller than the 1.0 layout (\(MemoryLayout<unlocked_kernel_info>.size) bytes)")
        }
        let kernel = try runtime.kernel(name, dtype: dtype)
        info.pointee.kind = Int32(kernel.isMap ? UNLOCKED_KIND_MAP.rawValue : UNLOCKED_KIND_REDUCE.rawValue)
        info.pointee.input_dtype = Int32(kernel.inputType.abiValue.rawValue)
        info.pointee.output_dtype = kernel.outputType.map { Int32($0.abiValue.rawValue) } ?? 0
        info.pointee.value_kind = Int32(valueKind(kernel).rawValue)
    }
}

/// Stands in for the input of an empty job given as NULL.
nonisolated(unsafe) private let emptyInput = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64)

@c @implementation
public func unlocked_run(_ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ dtype: Int32,
                         _ input: UnsafeRawPointer?, _ count: UInt64, _ centerInt: Int64, _ centerFloat: Double,
                         _ output: UnsafeMutableRawPointer?, _ outputDtype: Int32, _ outputCapacity: UInt64,
                         _ result: UnsafeMutablePointer<unlocked_result>?) -> Int32 {
    status { () throws(APIFailure) in
        let runtime = try claim(handle, "unlocked_run")
        defer { runtime.leave() }
        guard let name else { throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_run: kernel is NULL") }
        if let result, result.pointee.size < UInt32(MemoryLayout<unlocked_result>.size) {
            throw APIFailure(UNLOCKED_E_ARGUMENT, "result.size \(result.pointee.size): smaller than the 1.0 layout (\(MemoryLayout<unlocked_result>.size) bytes); set it to sizeof(unlocked_result)")
        }
        let kernel = try runtime.kernel(name, dtype: dtype)
        // Byte counts must fit an Int for every element width.
        guard count <= UInt64(Int.max / 16) else {
            throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_run: count \(count) is too large (accepted up to \(Int.max / 16))")
        }
        guard input != nil || count == 0 else { throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_run: input is NULL with count \(count)") }
        if let outputType = kernel.outputType {
            guard let _ = output else {
                throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_run: kernel \(kernel.name) is a map: output is NULL (it needs \(count) \(outputType.rawValue) elements)")
            }
            guard outputDtype == Int32(outputType.abiValue.rawValue) else {
                throw APIFailure(UNLOCKED_E_DTYPE, "unlocked_run: output_dtype \(outputDtype): kernel \(kernel.name) of \(kernel.inputType.rawValue) writes \(outputType.rawValue) (\(outputType.abiValue.rawValue))")
            }
            guard outputCapacity >= count else {
                throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_run: output_capacity \(outputCapacity) is less than count \(count)")
            }
        } else {
            guard output == nil else {
                throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_run: kernel \(kernel.name) is a reduction: output must be NULL")
            }
            guard result != nil else { throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_run: kernel \(kernel.name) is a reduction: result is NULL") }
        }
        var params = uk_params()
        params.size = UInt32(MemoryLayout<uk_params>.size)
        params.center_int = centerInt
        params.center_float = centerFloat
        let started = monotonicNanoseconds()
        let outcome = try runtime.run(kernel, input: input ?? UnsafeRawPointer(emptyInput), count: Int(count),
                                      params: params, output: output)
        let ended = monotonicNanoseconds()
        guard let result else { return }
        result.pointee.value_kind = Int32(valueKind(kernel).rawValue)
        result.pointee.lo = outcome.acc.lo
        result.pointee.hi = outcome.acc.hi
        result.pointee.f = outcome.acc.f
        result.pointee.started_ns = started
        result.pointee.nanoseconds = ended - started
        result.pointee.workers = UInt32(outcome.statistics.workers)
        // Through withUTF8, one memcpy: copying from a prefix of the UTF8View went through a
        // generic Slice on every call.
        var engineName = outcome.statistics.engine.rawValue
        engineName.withUTF8 { utf8 in
            withUnsafeMutableBytes(of: &result.pointee.engine) { engine in
                let length = min(utf8.count, engine.count - 1)
                engine.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[..<length]))
                engine[length] = 0
            }
        }
    }
}

@c @implementation
public func unlocked_run_call(_ call: UnsafeMutablePointer<unlocked_call>?) -> Int32 {
    guard let call else {
        return status { () throws(APIFailure) in throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_run_call: call is NULL") }
    }
    guard call.pointee.size >= UInt32(MemoryLayout<unlocked_call>.size) else {
        return status { () throws(APIFailure) in
            throw APIFailure(UNLOCKED_E_ARGUMENT, "call.size \(call.pointee.size): smaller than the 1.0 layout (\(MemoryLayout<unlocked_call>.size) bytes); set it to sizeof(unlocked_call)")
        }
    }
    call.pointee.result.size = UInt32(MemoryLayout<unlocked_result>.size)
    let c = call.pointee
    let result = (UnsafeMutableRawPointer(call) + MemoryLayout<unlocked_call>.offset(of: \.result)!)
        .assumingMemoryBound(to: unlocked_result.self)
    return unlocked_run(c.runtime, c.kernel, c.dtype, c.input, c.count, c.center_int, c.center_float,
                        c.output, c.output_dtype, c.output_capacity, result)
}

@c @implementation
public func unlocked_topology_json(_ buffer: UnsafeMutablePointer<CChar>?, _ capacity: Int,
                                   _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    status { () throws(APIFailure) in
        guard let length else { throw APIFailure(UNLOCKED_E_ARGUMENT, "unlocked_topology_json: length is NULL") }
        try ensureSetUp()
        let resolved: ResolvedPlacement
        do throws(UnlockedError) {
            resolved = try PlacementRequest(pin: .none).resolve()
        } catch {
            throw APIFailure(UNLOCKED_E_INTERNAL, error)
        }
        let json = Array(jsonString(["topology": resolved.topology.jsonObject, "context": resolved.context.jsonObject]).utf8)
        length.pointee = json.count
        guard let buffer, capacity > json.count else {
            throw APIFailure(UNLOCKED_E_SPACE, "unlocked_topology_json: capacity \(capacity) is too small for \(json.count + 1) bytes")
        }
        json.withUnsafeBytes { UnsafeMutableRawPointer(buffer).copyMemory(from: $0.baseAddress!, byteCount: json.count) }
        buffer[json.count] = 0
    }
}
#endif
