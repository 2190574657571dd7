#if os(Linux)
import Glibc

/// A child process whose stdout lines are streamed to the caller and whose
/// death by any cause — exit, signal, or silence past a deadline — comes
/// back as a value, never as a crash or hang of this process.
///
/// Used by `plugins verify` to run untrusted kernels. Call from one thread.
package struct ChildProcess {
    package enum Termination: Equatable {
        case exited(Int32)
        case signaled(Int32)
        /// Killed by us after `timeout` seconds without a line on stdout.
        case timedOut
    }

    package struct Outcome {
        package var termination: Termination
        /// The last lines of stderr (at most 16 KiB).
        package var stderr: String
    }

    /// Runs `arguments[0]` with `arguments`, calling `onLine` for each
    /// stdout line as it arrives. `timeout` is per line: a child that keeps
    /// reporting progress may run as long as it needs.
    package static func run(_ arguments: [String], timeout: Double, onLine: (String) -> Void) throws(UnlockedError) -> Outcome {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0 else { throw .internal("pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw .internal("pipe: \(String(cString: strerror(errno)))")
        }
        // Only the dup2'd copies reach the child (Glibc hides pipe2).
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        // The Swift runtime's crash backtrace would bury the plugin's own last
        // words, and a sanitized build would turn SIGSEGV into "exit 1": a
        // crash must reach us as the signal. (Later ASAN_OPTIONS flags win,
        // so the user's own still apply.)
        var environment: [UnsafeMutablePointer<CChar>?] = [strdup("SWIFT_BACKTRACE=enable=no")]
        let signalsAsIs = "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0"
        var sanitizerOptions = ["ASAN_OPTIONS": signalsAsIs, "TSAN_OPTIONS": signalsAsIs]
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            let name = String(text.prefix { $0 != "=" })
            if let ours = sanitizerOptions[name] {
                sanitizerOptions[name] = ours + ":" + text.dropFirst(name.count + 1)
            } else if name != "SWIFT_BACKTRACE" {
                environment.append(strdup(entry))
            }
            index += 1
        }
        environment += sanitizerOptions.map { strdup("\($0.key)=\($0.value)") }
        environment.append(nil)
        defer { environment.forEach { free($0) } }
        let status = posix_spawn(&pid, arguments[0], &actions, nil, &argv, &environment)
        close(outPipe[1])
        close(errPipe[1])
        defer { close(outPipe[0]); close(errPipe[0]) }
        guard status == 0 else {
            throw .internal("cannot start \(arguments[0]): \(String(cString: strerror(status)))")
        }

        var pending: [UInt8] = [], errBytes: [UInt8] = []
        var open = (out: true, err: true)
        var timedOut = false
        var deadline = monotonicNanoseconds() + UInt64(timeout * 1e9)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while open.out || open.err {
            let now = monotonicNanoseconds()
            guard now < deadline else {
                kill(pid, SIGKILL)
                timedOut = true
                break
            }
            var fds = [pollfd(fd: open.out ? outPipe[0] : -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: open.err ? errPipe[0] : -1, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, Int32(min((deadline - now) / 1_000_000 + 1, 1_000)))
            if ready < 0 && errno == EINTR { continue }
            for index in 0..<2 where fds[index].revents != 0 {
                let count = read(fds[index].fd, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else {
                    if index == 0 { open.out = false } else { open.err = false }
                    continue
                }
                if index == 1 {
                    errBytes += buffer[0..<count]
                    if errBytes.count > 16_384 { errBytes.removeFirst(errBytes.count - 16_384) }
                    continue
                }
                pending += buffer[0..<count]
                deadline = monotonicNanoseconds() + UInt64(timeout * 1e9)
                while let newline = pending.firstIndex(of: 0x0A) {
                    onLine(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
            }
        }
        var waitStatus: Int32 = 0
        while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
        let termination: Termination
        if timedOut {
            termination = .timedOut
        } else if waitStatus & 0x7F == 0 {
            termination = .exited((waitStatus >> 8) & 0xFF)
        } else {
            termination = .signaled(waitStatus & 0x7F)
        }
        return Outcome(termination: termination, stderr: String(decoding: errBytes, as: UTF8.self))
    }

    /// "SIGSEGV (segmentation fault)" and the like.
    package static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [SIGILL: "SIGILL", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
                                      SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGTERM: "SIGTERM", SIGTRAP: "SIGTRAP"]
        let description = strsignal(signal).map { String(cString: $0).lowercased() } ?? "signal \(signal)"
        return "\(names[signal] ?? "signal \(signal)") (\(description))"
    }
}
#endif
