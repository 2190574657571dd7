#if os(Linux)
import CSupport
import Glibc

// The one layer for the child processes the library starts (plugin
// verification children, process-engine workers): close-on-exec pipes,
// spawning, EINTR-safe reads and writes, waiting with a deadline and decoding
// how a child ended. Every function may be called from any thread; a
// descriptor or pid is used by one thread at a time.

/// A pipe whose ends are both close-on-exec: only the copies a spawn
/// duplicates onto a child's descriptors reach it.
package struct ClosingOnExecPipe {
    package let readEnd: Int32
    package let writeEnd: Int32

    /// The corresponding C function is `pipe2(…, O_CLOEXEC)`.
    package init() throws(UnlockedError) {
        var fds: [Int32] = [-1, -1]
        if case .failure(let error) = valueOrErrno({ uk_pipe_cloexec(&fds) }) {
            throw .internal("cannot create a pipe: \(error)")
        }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    package func closeBoth() {
        close(readEnd)
        close(writeEnd)
    }
}

/// Whole reads and writes on pipes, retrying `EINTR` and short transfers.
package enum FileDescriptorIO {
    /// False when the other end is gone (EPIPE) or on another error.
    package static func writeAll(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Bool {
        write(fd, pointer, count) == nil
    }

    /// Writes all of `count` bytes; the error that stopped it, nil when all were written.
    ///
    /// The SIGPIPE a write to a dead reader raises is blocked in this thread
    /// and discarded, so it neither kills the process nor needs a process-wide
    /// SIG_IGN: a program embedding the library keeps its signal dispositions.
    package static func write(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> SystemCallError? {
        var pipeSignal = sigset_t(), previousMask = sigset_t(), pending = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, &previousMask)
        sigpending(&pending)
        let alreadyPending = sigismember(&pending, SIGPIPE) == 1
        defer { pthread_sigmask(SIG_SETMASK, &previousMask, nil) }
        var done = 0
        while done < count {
            switch valueOrErrno({ Glibc.write(fd, pointer + done, count - done) }) {
            case .success(let n): done += n
            case .failure(let error):
                if error.code == EPIPE && !alreadyPending {
                    var now = timespec()
                    _ = valueOrErrno { sigtimedwait(&pipeSignal, nil, &now) }  // discard ours, not one raised before
                }
                return error
            }
        }
        return nil
    }

    package static func write(_ fd: Int32, _ bytes: [UInt8]) -> SystemCallError? {
        bytes.isEmpty ? nil : bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
    }

    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { writeAll(fd, $0.baseAddress!, $0.count) }
    }

    /// Exactly `count` bytes; false at end of file (the writer exited) or on error.
    package static func readExactly(_ fd: Int32, _ pointer: UnsafeMutableRawPointer, _ count: Int) -> Bool {
        var done = 0
        while done < count {
            guard case .success(let n) = valueOrErrno({ read(fd, pointer + done, count - done) }), n > 0 else { return false }
            done += n
        }
        return true
    }

    /// Whatever one read returns, up to `capacity` bytes; nil at end of file or on error.
    package static func readSome(_ fd: Int32, capacity: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: capacity)
        let result = buffer.withUnsafeMutableBytes { bytes in valueOrErrno { read(fd, bytes.baseAddress, bytes.count) } }
        guard case .success(let n) = result, n > 0 else { return nil }
        return Array(buffer[..<n])
    }

    /// One message framed as a little-endian `UInt32` length and its bytes; nil at end of file.
    package static func readMessage(_ fd: Int32) -> [UInt8]? {
        var length: UInt32 = 0
        guard readExactly(fd, &length, 4) else { return nil }
        var body = [UInt8](repeating: 0, count: Int(UInt32(littleEndian: length)))
        if body.isEmpty { return body }
        return body.withUnsafeMutableBytes { readExactly(fd, $0.baseAddress!, $0.count) } ? body : nil
    }

    /// Waits until one of `fds` can be read (or was closed) for at most
    /// `milliseconds`; returns the ready descriptors, empty on timeout.
    /// Negative descriptors are ignored, as poll(2) does.
    package static func waitReadable(_ fds: [Int32], milliseconds: Int32) -> [Int32] {
        var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let ready = valueOrErrno { poll(&polled, nfds_t(polled.count), milliseconds) }
        guard case .success(let count) = ready, count > 0 else { return [] }
        return polled.filter { $0.revents != 0 }.map(\.fd)
    }
}

/// How a child process ended.
package enum ChildTermination: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)
    /// Killed by us after a deadline passed without an answer.
    case timedOut

    /// Decodes a `waitpid` status (`WIFEXITED`/`WEXITSTATUS`, `WTERMSIG`).
    package init(waitStatus status: Int32) {
        self = status & 0x7F == 0 ? .exited((status >> 8) & 0xFF) : .signaled(status & 0x7F)
    }

    /// "exited with status 65", "killed by SIGSEGV (segmentation fault)".
    package var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "killed by \(signalName(signal))"
        case .timedOut: "timed out"
        }
    }
}

/// "SIGSEGV (segmentation fault)" and the like.
package func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [SIGILL: "SIGILL", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
                                  SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGTERM: "SIGTERM", SIGTRAP: "SIGTRAP"]
    let description = strsignal(signal).map { String(cString: $0).lowercased() } ?? "signal \(signal)"
    return "\(names[signal] ?? "signal \(signal)") (\(description))"
}

/// Starts `arguments[0]` with `arguments` and `environment` (`NAME=value`
/// strings), its stdin, stdout and stderr taken from the given descriptors
/// (nil: `/dev/null` for stdin, ours for the others), and each `inherit`
/// pair's `source` duplicated onto the child's `target` descriptor.
/// The corresponding C function is `posix_spawn`.
package func spawnProcess(_ arguments: [String], environment: [String], stdin: Int32?, stdout: Int32?,
                          stderr: Int32?, inherit: [(source: Int32, target: Int32)] = []) throws(UnlockedError) -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let stdin {
        posix_spawn_file_actions_adddup2(&actions, stdin, STDIN_FILENO)
    } else {
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
    }
    if let stdout { posix_spawn_file_actions_adddup2(&actions, stdout, STDOUT_FILENO) }
    if let stderr { posix_spawn_file_actions_adddup2(&actions, stderr, STDERR_FILENO) }
    for pair in inherit { posix_spawn_file_actions_adddup2(&actions, pair.source, pair.target) }
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var pid = pid_t()
    let status = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
    guard status == 0 else {
        throw .internal("cannot start \(arguments[0]): \(SystemCallError(code: status))")
    }
    return pid
}

/// This process's environment as `NAME=value` strings, with `overrides` replacing or adding names.
package func environmentStrings(overriding overrides: [String: String] = [:]) -> [String] {
    var entries: [String] = []
    var index = 0
    while let entry = environ[index] {
        let text = String(cString: entry)
        if overrides[String(text.prefix { $0 != "=" })] == nil { entries.append(text) }
        index += 1
    }
    return entries + overrides.map { "\($0.key)=\($0.value)" }
}

/// Waits for `pid` to end and returns its status, retrying `EINTR`; nil if it is not our child.
@discardableResult
package func waitForExit(_ pid: pid_t) -> ChildTermination? {
    var status: Int32 = 0
    guard case .success = valueOrErrno({ waitpid(pid, &status, 0) }) else { return nil }
    return ChildTermination(waitStatus: status)
}

/// Reaps `pid` if it has ended, without waiting: `.some(nil)` while it runs,
/// `nil` if it is not our child.
package func exitIfEnded(_ pid: pid_t) -> ChildTermination?? {
    var status: Int32 = 0
    guard case .success(let result) = valueOrErrno({ waitpid(pid, &status, WNOHANG) }) else { return nil }
    return result == pid ? .some(ChildTermination(waitStatus: status)) : .some(nil)
}

/// Waits up to about `milliseconds` for `pid` to end by itself, then kills
/// (SIGKILL) and reaps it. nil if it is not our child.
@discardableResult
package func reapWithin(milliseconds: Int, _ pid: pid_t) -> ChildTermination? {
    for _ in 0..<max(1, milliseconds / 5) {
        guard let outcome = exitIfEnded(pid) else { return nil }
        if let outcome { return outcome }
        usleep(5_000)
    }
    kill(pid, SIGKILL)
    return waitForExit(pid)
}

/// The fields of `/proc/<pid>/stat` after the command name (which may hold
/// spaces and parentheses): the state first, then the parent's pid, …; nil
/// when the process is gone.
package func processStatFields(_ pid: pid_t) -> [Substring]? {
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    guard let bytes = FileDescriptorIO.readSome(fd, capacity: 1024),
          let nameEnd = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
    return String(decoding: bytes[(nameEnd + 1)...], as: UTF8.self).split(separator: " ")
}

/// Whether `pid` is stopped (SIGSTOP, SIGTSTP, a debugger): state `T` or `t`.
package func isStopped(_ pid: pid_t) -> Bool {
    let state = processStatFields(pid)?.first
    return state == "T" || state == "t"
}

/// Joins `thread`, waiting at most `milliseconds`; false if it is still running.
/// The corresponding C function is `pthread_timedjoin_np`.
package func joinThread(_ thread: pthread_t, milliseconds: Int) -> Bool {
    uk_timed_join(thread, Int32(milliseconds)) == 0
}

/// The path of this process's executable, so the library can start it
/// again in a hidden mode (worker processes, plugin verification).
/// The corresponding file is `/proc/self/exe`.
package func ownExecutablePath() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    return length > 0 ? String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
}

/// A child process whose report lines are streamed to the caller and whose
/// death by any cause — exit, signal, or silence past a deadline — comes
/// back as a value, never as a crash or hang of this process.
///
/// The child reports on its own descriptor, `reportDescriptor`, not on
/// stdout: the child runs untrusted plugin code, and whatever that writes
/// to stdout or stderr (both go to one pipe, kept as `Outcome.stderr`)
/// can neither fake nor garble a report line.
///
/// Used by `plugins verify` and the plugin probe. Call from one thread.
package struct ChildProcess {
    package struct Outcome {
        package var termination: ChildTermination
        /// The last lines the child wrote to stdout or stderr (at most 16 KiB).
        package var stderr: String
    }

    /// The child's descriptor for report lines (the parent holds the other
    /// end of a pipe). 3 is the first one after stdin, stdout and stderr.
    package static let reportDescriptor: Int32 = 3

    /// The child side: writes `fields` as one tab-separated line on
    /// `reportDescriptor`, unbuffered, so a crash right after cannot lose it.
    /// Tabs and newlines inside a field become spaces.
    package static func report(_ fields: [String]) {
        let line = fields.map { String($0.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 }) }
            .joined(separator: "\t") + "\n"
        _ = FileDescriptorIO.writeAll(reportDescriptor, Array(line.utf8))
    }

    /// The child side: no core file when it crashes, which for a child
    /// running untrusted plugin code is an expected verdict.
    package static func disableCoreDumps() {
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
    }

    /// Runs `arguments[0]` with `arguments`, calling `onLine` with the
    /// fields of each report line as it arrives. `timeout` is per line: a
    /// child that keeps reporting progress may run as long as it needs.
    package static func run(_ arguments: [String], timeout: Double, onLine: ([String]) -> Void) throws(UnlockedError) -> Outcome {
        let report = try ClosingOnExecPipe()
        let err: ClosingOnExecPipe
        do { err = try ClosingOnExecPipe() } catch { report.closeBoth(); throw error }
        // The Swift runtime's crash backtrace would bury the plugin's own last
        // words, and a sanitized build would turn SIGSEGV into "exit 1": a
        // crash must reach us as the signal. (Later ASAN_OPTIONS flags win,
        // so the user's own still apply.)
        let signalsAsIs = "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0"
        let inherited = ProcessEnvironment.current
        var overrides = ["SWIFT_BACKTRACE": "enable=no"]
        for name in ["ASAN_OPTIONS", "TSAN_OPTIONS"] {
            overrides[name] = signalsAsIs + (inherited[name].map { ":" + $0 } ?? "")
        }
        let pid: pid_t
        do {
            pid = try spawnProcess(arguments, environment: environmentStrings(overriding: overrides), stdin: nil,
                                   stdout: err.writeEnd, stderr: err.writeEnd,
                                   inherit: [(report.writeEnd, reportDescriptor)])
        } catch {
            report.closeBoth(); err.closeBoth()
            throw error
        }
        close(report.writeEnd)
        close(err.writeEnd)
        defer { close(report.readEnd); close(err.readEnd) }

        var pending: [UInt8] = [], errBytes: [UInt8] = []
        var open = (report: true, err: true)
        var timedOut = false
        var deadline = monotonicNanoseconds() + UInt64(timeout * 1e9)
        while open.report || open.err {
            let now = monotonicNanoseconds()
            guard now < deadline else {
                kill(pid, SIGKILL)
                timedOut = true
                break
            }
            let wait = Int32(min((deadline - now) / 1_000_000 + 1, 1_000))
            for fd in FileDescriptorIO.waitReadable([open.report ? report.readEnd : -1, open.err ? err.readEnd : -1], milliseconds: wait) {
                guard let bytes = FileDescriptorIO.readSome(fd, capacity: 65_536) else {
                    if fd == report.readEnd { open.report = false } else { open.err = false }
                    continue
                }
                if fd == err.readEnd {
                    errBytes += bytes
                    if errBytes.count > 16_384 { errBytes.removeFirst(errBytes.count - 16_384) }
                    continue
                }
                pending += bytes
                deadline = monotonicNanoseconds() + UInt64(timeout * 1e9)
                while let newline = pending.firstIndex(of: 0x0A) {
                    onLine(String(decoding: pending[..<newline], as: UTF8.self)
                        .split(separator: "\t", omittingEmptySubsequences: false).map(String.init))
                    pending.removeSubrange(...newline)
                }
            }
        }
        let ended = waitForExit(pid) ?? .exited(0)
        return Outcome(termination: timedOut ? .timedOut : ended, stderr: String(decoding: errBytes, as: UTF8.self))
    }
}

/// This process's environment variables by name.
package enum ProcessEnvironment {
    package static var current: [String: String] {
        var variables: [String: String] = [:]
        for entry in environmentStrings() {
            let name = String(entry.prefix { $0 != "=" })
            variables[name] = String(entry.dropFirst(name.count + 1))
        }
        return variables
    }
}
#endif
