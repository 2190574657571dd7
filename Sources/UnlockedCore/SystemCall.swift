#if os(Linux)
import Glibc

/// The errno of a failed C call. The corresponding C variable is `errno`.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int32
    /// An error number a call returned instead of setting errno (`posix_spawn`, `pthread_create`).
    public init(code: Int32) { self.code = code }
    public var description: String { String(cString: strerror(code)) }
    /// `EPERM`: what containers answer to memory policies and bindings they forbid.
    public var isPermissionDenied: Bool { code == EPERM }
}

/// Runs a C call that returns a negative value and sets errno on failure,
/// retrying while it fails with `EINTR`. The one place errno is read.
package func valueOrErrno<T: SignedInteger>(retryOnInterrupt: Bool = true, _ body: () -> T) -> Result<T, SystemCallError> {
    while true {
        let value = body()
        if value >= 0 { return .success(value) }
        let code = errno
        if retryOnInterrupt && code == EINTR { continue }
        return .failure(SystemCallError(code: code))
    }
}

/// Runs a C call that returns nil and sets errno on failure (`realpath`,
/// `dlopen`-style calls), retrying while it fails with `EINTR`.
package func nonNilOrErrno<T>(_ body: () -> T?) -> Result<T, SystemCallError> {
    while true {
        if let value = body() { return .success(value) }
        let code = errno
        if code == EINTR { continue }
        return .failure(SystemCallError(code: code))
    }
}

/// `mmap`: the mapping, or the errno of `MAP_FAILED`.
package func mapOrErrno(_ body: () -> UnsafeMutableRawPointer?) -> Result<UnsafeMutableRawPointer, SystemCallError> {
    nonNilOrErrno {
        let pointer = body()
        return pointer == MAP_FAILED ? nil : pointer
    }
}
#endif
