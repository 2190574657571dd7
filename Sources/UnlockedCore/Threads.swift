#if os(Linux)
import CSupport
import Glibc

private final class ThreadStart {
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}

/// Starts a joinable POSIX thread named `name` (cut to 15 characters, the
/// kernel's limit) running `body`. The engines and the placement probe own
/// their threads directly so they can bind, name and join them. The
/// corresponding C function is `pthread_create`.
package func startThread(name: String, _ body: @escaping @Sendable () -> Void) throws(UnlockedError) -> pthread_t {
    let start = Unmanaged.passRetained(ThreadStart(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, { raw in
        let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
        _ = uk_set_thread_name(String(start.name.prefix(15)))
        start.body()
        return nil
    }, start)
    guard status == 0 else {
        Unmanaged<ThreadStart>.fromOpaque(start).release()
        throw .internal("cannot start thread \(name): \(SystemCallError(code: status))")
    }
    return thread
}

package func joinThread(_ thread: pthread_t) {
    pthread_join(thread, nil)
}

/// A raw pointer passed into worker closures: whoever starts the workers
/// guarantees the memory outlives them and that they touch disjoint ranges.
package struct UncheckedPointer: @unchecked Sendable {
    package let pointer: UnsafeMutableRawPointer
    package init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}

/// Thread names of the engines: `ukw-<engine>-<n>`, at most 15 characters.
package func workerThreadName(_ engine: String, _ index: Int) -> String {
    String("ukw-\(engine)-\(index)".prefix(15))
}
#endif
