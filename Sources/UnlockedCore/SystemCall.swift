#if os(Linux)
import Glibc

/// The errno of a failed C call. The corresponding C variable is `errno`.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int32
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
#endif
