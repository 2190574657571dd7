#if os(Linux)
import Glibc
import Synchronization
import UnlockedCore

/// Set once SIGINT arrived: from then on a worker's death is the interrupt's
/// doing, and the thread that notices it waits for the exit with 130
/// instead of reporting the death.
package let interruptInProgress = Atomic<Bool>(false)

/// Makes Ctrl-C stop the run cleanly: SIGINT is blocked in the calling
/// thread (and so in every thread created after this call) and taken by one
/// thread with sigwait, which kills every worker process, prints `message`
/// on stderr and exits 130. Call it once, early, from the main thread.
public func stopOnInterrupt(message: String = "unlocked: interrupted\n") throws(UnlockedError) {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGINT)
    pthread_sigmask(SIG_BLOCK, &signals, nil)
    let blocked = signals
    let thread = try startThread(name: "ukw-sigint") {
        var set = blocked
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        interruptInProgress.store(true, ordering: .sequentiallyConsistent)
        terminateWorkerProcesses()
        _ = message.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        _exit(UnlockedError.Kind.interrupted.rawValue)
    }
    pthread_detach(thread)
}
#endif
