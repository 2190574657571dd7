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
/// kernel's limit) running `body`. The engines own their threads directly
/// so they can bind, name and join them.
func startThread(name: String, _ body: @escaping @Sendable () -> Void) throws(UnlockedError) -> pthread_t {
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
        throw .internal("cannot start thread \(name): \(String(cString: strerror(status)))")
    }
    return thread
}

func joinThread(_ thread: pthread_t) {
    pthread_join(thread, nil)
}

/// Thread names of the engines: `ukw-<engine>-<n>`, at most 15 characters.
func workerThreadName(_ engine: String, _ index: Int) -> String {
    String("ukw-\(engine)-\(index)".prefix(15))
}
#endif

#if os(Linux)
/// Binds the thread that calls an engine to worker 0's PU, once per thread:
/// engines whose caller computes (sequential, lockfree-pool's worker 0) pin
/// it like OpenMP pins its master thread. The thread stays bound afterwards.
///
/// Owned by the engine; used only by the thread running a job.
struct CallerBinding {
    private var boundThread: pthread_t?
    private(set) var observation: BindingObservation?

    mutating func bind(_ plan: PlacementPlan) throws(UnlockedError) {
        if let boundThread, pthread_equal(boundThread, pthread_self()) != 0 { return }
        observation = try plan.bindCurrentThread(worker: 0)
        boundThread = pthread_self()
    }
}
#endif
