#if os(Linux)
import CUnlockedAPI
import Glibc
import Unlocked

/// A failed C API call: its status code and the one-line message
/// `unlocked_last_error` will return on the calling thread.
struct APIFailure: Error {
    let status: unlocked_status
    let message: String

    init(_ status: unlocked_status, _ message: String) {
        self.status = status
        self.message = message
    }

    /// A library error met at `step`, with the library's CLI flag names
    /// replaced by the C API's option names.
    init(_ status: unlocked_status, _ error: UnlockedError) {
        var message = error.message
        for (flag, option) in Self.optionNames {
            message = message.replacing(flag, with: option)
        }
        self.init(status, message)
    }

    /// Longest first, so `--workers` is never read as a prefix of another flag.
    private static let optionNames: [(String, String)] = [
        ("add --oversubscribe to share CPUs", "use pin \"none\" to share CPUs"),
        ("--workers", "workers"), ("--kernel", "kernel"), ("--dtype", "dtype"), ("--pin", "pin"), ("--mem", "memory"),
    ]
}

/// Runs the body of an exported function: a failure becomes its status code
/// and this thread's last-error message; success is `UNLOCKED_OK`.
@inline(__always)
func status(_ body: () throws(APIFailure) -> Void) -> Int32 {
    do throws(APIFailure) {
        try body()
        return Int32(UNLOCKED_OK.rawValue)
    } catch {
        LastError.record(error.message)
        return Int32(error.status.rawValue)
    }
}

/// The calling thread's last error message, in a buffer of its own (a
/// pthread key), so threads never see each other's messages.
enum LastError {
    static let capacity = 512

    /// Freed with its thread.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { free($0) }
        return key
    }()

    /// "" for a thread that has not failed yet.
    nonisolated(unsafe) static let empty: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

    static var current: UnsafePointer<CChar> {
        pthread_getspecific(key).map { UnsafePointer($0.assumingMemoryBound(to: CChar.self)) } ?? empty
    }

    /// Stores `message` as one line (newlines become spaces), cut at a
    /// character boundary to fit the buffer.
    static func record(_ message: String) {
        let buffer: UnsafeMutablePointer<CChar>
        if let existing = pthread_getspecific(key) {
            buffer = existing.assumingMemoryBound(to: CChar.self)
        } else {
            guard let fresh = malloc(capacity) else { return }
            pthread_setspecific(key, fresh)
            buffer = fresh.assumingMemoryBound(to: CChar.self)
        }
        var length = 0
        for character in message {
            let bytes = character.isNewline ? [UInt8(ascii: " ")] : Array(character.utf8)
            guard length + bytes.count < capacity else { break }
            for byte in bytes {
                buffer[length] = CChar(bitPattern: byte)
                length += 1
            }
        }
        buffer[length] = 0
    }
}
#endif
