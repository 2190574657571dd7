import Glibc
import Unlocked

/// Makes Ctrl-C (SIGINT) and SIGTERM stop a run cleanly: both are blocked in
/// the calling thread, and so in every thread created after this call, and
/// taken by one thread with sigwait, which kills and reaps every worker
/// process, removes output files not yet committed, prints one line and
/// exits 130 or 143, as shells and batch systems expect. Call it once, early,
/// from the main thread (under MPI before joining, so MPI's threads inherit the
/// mask); `quiet` leaves the line to another process (MPI ranks but the first).
/// This is the CLI's: the library installs no handler.
func stopCleanlyOnSignals(quiet: Bool = false) throws(UnlockedError) {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGINT)
    sigaddset(&signals, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &signals, nil)
    let blocked = signals
    let thread = try startThread(name: "ukw-signals") {
        var set = blocked
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        terminateWorkerProcesses()
        removeUncommittedOutputs()
        let (kind, word): (UnlockedError.Kind, String) = received == SIGTERM ? (.terminated, "terminated") : (.interrupted, "interrupted")
        if !quiet {
            let line = "unlocked: \(word)\n"
            _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        }
        _exit(kind.rawValue)
    }
    pthread_detach(thread)
}
