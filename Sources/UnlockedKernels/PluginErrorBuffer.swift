#if os(Linux)
import CKernels
import CSupport
import Glibc
import UnlockedCore

/// The `error` buffer the host passes to plugin code that may fail (`init`,
/// `worker_init`, kernels): every such call goes through `call`.
///
/// The header promises `UK_ERROR_CAPACITY` bytes. A plugin that writes a
/// longer message must not take the host down with it, so the buffer has
/// far more room (`UK_ERROR_BUFFER_ROOM`) followed by a guard page, and the
/// host reads at most the promised capacity. The buffer is the calling
/// thread's own, mapped once per thread (`uk_thread_error_buffer`), so the
/// hot path of every engine costs one thread-local read. Any thread may call.
package enum PluginErrorBuffer {
    /// Calls `body` with the calling thread's buffer, emptied; returns nil
    /// when `body` returns 0, else the message it left there (one line, at
    /// most `UK_ERROR_CAPACITY - 1` bytes, "…" marking a longer one) or
    /// "status N" if it left none.
    @inline(__always)
    package static func call(_ body: (UnsafeMutablePointer<CChar>) -> Int32) throws(UnlockedError) -> String? {
        // A direct call: through the generic errno helper, unspecialised
        // across modules, a pool job of 256 chunks took 20 µs instead of 8.
        // The helper reads errno only if the thread's first mapping failed.
        let buffer: UnsafeMutablePointer<CChar>
        if let existing = uk_thread_error_buffer() { buffer = existing } else { buffer = try mapped() }
        buffer[0] = 0
        let status = body(buffer)
        return status == 0 ? nil : message(in: buffer, status: status)
    }

    /// The calling thread's buffer after a first attempt failed, or why it cannot be mapped.
    @inline(never)
    private static func mapped() throws(UnlockedError) -> UnsafeMutablePointer<CChar> {
        switch nonNilOrErrno({ uk_thread_error_buffer() }) {
        case .success(let buffer): return buffer
        case .failure(let error): throw .internal("cannot map an error buffer for plugin calls: \(error)")
        }
    }

    /// What a failed call left in `buffer`, read no further than the promised capacity.
    package static func message(in buffer: UnsafePointer<CChar>, status: Int32) -> String {
        let capacity = Int(UK_ERROR_CAPACITY) - 1
        let length = strnlen(buffer, capacity + 1)
        guard length > 0 else { return "status \(status)" }
        let bytes = UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self)
        // Control characters (a newline, an escape sequence) would break the one-line error.
        let text = UnsafeBufferPointer(start: bytes, count: min(length, capacity)).map { $0 < 0x20 || $0 == 0x7F ? 0x20 : $0 }
        return String(decoding: text, as: UTF8.self) + (length > capacity ? "…" : "")
    }
}
#endif
