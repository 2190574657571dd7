/// An error a user can act on: one line, and the process exit code it maps to.
///
/// Exit codes follow BSD `sysexits.h`, which shells and schedulers (SLURM
/// epilogues, CI) already understand.
public struct UnlockedError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Int32, Sendable {
        /// Bad command-line usage. The corresponding C constant is `EX_USAGE`.
        case usage = 64
        /// Input data is malformed. The corresponding C constant is `EX_DATAERR`.
        case badData = 65
        /// An input file is missing or unreadable. The corresponding C constant is `EX_NOINPUT`.
        case noInput = 66
        /// Something failed that the user could not have prevented. `EX_SOFTWARE`.
        case `internal` = 70
        /// Output could not be written (no space left, I/O error). The corresponding C constant is `EX_IOERR`.
        case ioError = 74
        /// Stopped by SIGINT (128 + 2), as shells report it.
        case interrupted = 130
        /// Stopped by SIGTERM (128 + 15), as shells report it.
        case terminated = 143
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func usage(_ message: String) -> Self { .init(.usage, message) }
    public static func badData(_ message: String) -> Self { .init(.badData, message) }
    public static func noInput(_ message: String) -> Self { .init(.noInput, message) }
    public static func `internal`(_ message: String) -> Self { .init(.internal, message) }
    public static func ioError(_ message: String) -> Self { .init(.ioError, message) }
    public static func interrupted(_ message: String) -> Self { .init(.interrupted, message) }

    public var exitCode: Int32 { kind.rawValue }
    public var description: String { message }
}
