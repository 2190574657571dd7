#if os(Linux)
import CSupport
import Foundation
import Glibc
import UnlockedCore
import UnlockedTopology

// Worker processes in about a tenth of a millisecond each instead of an exec.
//
// Exec'ing the executable for each worker costs ~11 ms here (the dynamic
// loader binds the Swift runtime and Foundation), and even a tiny C program
// ~1 ms. So the first process engine of a process starts one fork server
// per worker executable (`unlocked __fork-server`): a single-threaded copy
// of the program, already loaded, that forks workers on request — Python's
// `forkserver`, Android's zygote. It forks with CLONE_PARENT, so every
// worker is the *engine process's* child exactly as an exec'd one would be:
// the engine waits for it, sees how it died, and it dies with the engine
// (PR_SET_PDEATHSIG). Requests carry the worker's two pipe ends
// (SCM_RIGHTS) and its environment additions; the server holds nothing
// else of the engine's.
//
// The server lives as long as the process that started it (it exits when
// its control socket closes) and is started from a thread that lives as
// long, because a worker's PR_SET_PDEATHSIG fires when its parent *thread*
// exits. Where the server cannot fork workers safely (more than one thread,
// or a C library without glibc's thread descriptor), it says so and workers
// are exec'd as before.

/// The server side: what `unlocked __fork-server` runs. Answers whether it
/// can fork workers, then serves requests on `control` until it closes.
public func runForkServer(control: Int32 = STDIN_FILENO) -> Int32 {
    // Whatever else the engine process had open when it spawned this server (posix_spawn passes
    // every descriptor without FD_CLOEXEC, Foundation's pipes among them) would stay open here and
    // in every worker: a pipe another thread was handing to its own child would then never see
    // end of file while this server lives.
    _ = uk_close_descriptors_except(control)
    // Ctrl-C goes to the whole foreground group: the engine stops everything.
    signal(SIGINT, SIG_IGN)
    // What every worker needs before its first job, loaded once here rather than per worker
    // (hwloc's topology alone takes ~20 ms to load here). Before the check: it must not start threads.
    _ = HwlocTopology.host
    let threads = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)).flatMap { procField("Threads", in: $0) }
    let capable = uk_fork_sibling_ready() == 1 && threads == "1"
    var hello = MessageWriter()
    hello.append(UInt32(capable ? 1 : 0))
    guard ForkServerChannel.send(control, hello), capable else { return 0 }
    while let (message, fds) = ForkServerChannel.receive(control, capacity: ForkServerChannel.requestCapacity, descriptors: 2) {
        var reply = MessageWriter()
        do throws(UnlockedError) {
            guard fds.count == 2 else { throw .internal("fork server: a request without the worker's two pipe ends") }
            let request = try ForkRequest(decoding: message)
            let pid = uk_fork_sibling()
            if pid == 0 {
                if control != STDIN_FILENO { close(control) }
                dup2(fds[0], STDIN_FILENO)
                close(fds[0])
                for (name, value) in request.environment { setenv(name, value, 1) }
                exit(runWorkerProcess(request.invocation, replies: fds[1]))
            }
            guard pid > 0 else { throw .internal("fork server: cannot fork a worker: \(SystemCallError(code: errno))") }
            reply.append(Int32(pid))
            reply.append("")
        } catch {
            reply.append(Int32(-1))
            reply.append(error.message)
        }
        fds.forEach { close($0) }
        guard ForkServerChannel.send(control, reply) else { return 0 }
    }
    return 0
}

/// The engine side: one fork server per worker executable, per process.
public enum ForkServers {
    /// The hidden subcommand that runs a server.
    public static let subcommand = "__fork-server"

    private struct Server {
        var pid: pid_t
        var control: Int32
        /// The process that started it: after a fork the child must start its own.
        var owner: pid_t
    }

    private enum Slot {
        case running(Server)
        /// The executable has no working server (not `unlocked`, or it cannot fork workers): exec workers.
        case unavailable
    }

    private static let slots = LockedValue<[String: Slot]>([:])

    /// Starts a worker of `executable` through its fork server and returns
    /// its pid, or nil when that executable has no working server (the
    /// caller then execs the worker). The server gets `stdin` and `stdout`
    /// as the worker's; the caller still owns and closes its copies.
    package static func startWorker(executable: String, invocation: WorkerProcessArguments, environment: [String: String],
                                    stdin: Int32, stdout: Int32) throws(UnlockedError) -> pid_t? {
        let started: Result<pid_t?, UnlockedError> = slots.withLock { slots in
            if case .running(let server) = slots[executable], server.owner != getpid() {
                close(server.control)  // inherited through a fork; the server is the parent's
                slots[executable] = nil
            }
            if slots[executable] == nil { slots[executable] = start(executable) }
            guard case .running(let server) = slots[executable] else { return .success(nil) }
            var request = MessageWriter()
            ForkRequest(invocation: invocation, environment: environment).encode(into: &request)
            guard ForkServerChannel.send(server.control, request, descriptors: [stdin, stdout]),
                  let reply = ForkServerChannel.receive(server.control, capacity: ForkServerChannel.replyCapacity, descriptors: 0,
                                                        milliseconds: ProcessEngine.startTimeoutMilliseconds)?.message else {
                slots[executable] = nil
                return .failure(stop(server, executable: executable))
            }
            return Result { () throws(UnlockedError) in
                var reader = MessageReader(reply)
                let pid = try reader.read(Int32.self)
                let error = try reader.readString()
                guard pid > 0 else { throw .internal(error) }
                return pid
            }
        }
        return try started.get()
    }

    /// The pid of the running fork server of `executable`, if any (for tests and diagnostics).
    package static func serverProcessID(executable: String) -> pid_t? {
        slots.withLock { slots in
            guard case .running(let server) = slots[executable], server.owner == getpid() else { return nil }
            return server.pid
        }
    }

    /// Stops and reaps every server this process started: closing its
    /// socket ends it (SIGKILL after a second). For a program's exit and
    /// `terminateWorkerProcesses`, so no server is left to init as a zombie;
    /// the next engine starts a new one.
    public static func stopAll() {
        slots.withLock { slots in
            for case .running(let server) in slots.values where server.owner == getpid() {
                close(server.control)
                reapWithin(milliseconds: 1_000, server.pid)
            }
            slots.removeAll()
        }
    }

    /// The one-line error for a server that stopped answering, after killing and reaping it.
    private static func stop(_ server: Server, executable: String) -> UnlockedError {
        close(server.control)
        kill(server.pid, SIGKILL)
        let how = reapWithin(milliseconds: 1_000, server.pid)?.description ?? "gone"
        return .internal("the fork server of \(executable) (pid \(server.pid)) stopped answering (\(how)); the next engine starts a new one")
    }

    /// A new server for `executable`, started from `ServerStarter`'s thread.
    private static func start(_ executable: String) -> Slot {
        ServerStarter.shared.run {
            var ends: [Int32] = [-1, -1]
            guard uk_socketpair_packets(&ends) == 0 else { return .unavailable }
            defer { close(ends[1]) }
            let environment = environmentStrings(overriding: ["SWIFT_BACKTRACE": "enable=no"])
            guard let pid = try? spawnProcess([executable, subcommand], environment: environment,
                                              stdin: ends[1], stdout: nil, stderr: nil) else {
                close(ends[0])
                return .unavailable
            }
            let hello = ForkServerChannel.receive(ends[0], capacity: ForkServerChannel.replyCapacity, descriptors: 0,
                                                  milliseconds: ProcessEngine.startTimeoutMilliseconds)
            var reader = MessageReader(hello?.message ?? [])
            guard (try? reader.read(UInt32.self)) == 1 else {
                // Not the unlocked executable, or a server that cannot fork workers safely.
                close(ends[0])
                reapWithin(milliseconds: 1_000, pid)
                return .unavailable
            }
            return .running(Server(pid: pid, control: ends[0], owner: getpid()))
        } ?? .unavailable
    }
}

/// What the engine asks a fork server for: one worker.
private struct ForkRequest {
    var invocation: WorkerProcessArguments
    /// Set in the worker before it starts (its kernel variant, test hooks).
    var environment: [String: String]

    init(invocation: WorkerProcessArguments, environment: [String: String]) {
        self.invocation = invocation
        self.environment = environment
    }

    init(decoding message: [UInt8]) throws(UnlockedError) {
        var reader = MessageReader(message)
        var words: [String] = []
        for _ in 0..<(try reader.read(UInt32.self)) { words.append(try reader.readString()) }
        invocation = try WorkerProcessArguments(parsing: Array(words.dropFirst()))
        environment = [:]
        for _ in 0..<(try reader.read(UInt32.self)) { environment[try reader.readString()] = try reader.readString() }
    }

    func encode(into writer: inout MessageWriter) {
        let words = invocation.arguments
        writer.append(UInt32(words.count))
        words.forEach { writer.append($0) }
        writer.append(UInt32(environment.count))
        for (name, value) in environment {
            writer.append(name)
            writer.append(value)
        }
    }
}

/// Whole messages with descriptors over the server's packet socket.
private enum ForkServerChannel {
    /// A request is a few hundred bytes (environment additions included), a reply a few dozen
    /// plus an error line; a longer message arrives cut and fails to decode.
    static let requestCapacity = 64 << 10
    static let replyCapacity = 4 << 10

    static func send(_ socket: Int32, _ message: MessageWriter, descriptors: [Int32] = []) -> Bool {
        let bytes = message.bytes.dropFirst(4)  // packets keep their boundaries: no length prefix
        return bytes.withUnsafeBytes { uk_send_with_fds(socket, $0.baseAddress, $0.count, descriptors, Int32(descriptors.count)) } == bytes.count
    }

    /// The next message and the descriptors it carried; nil at end of file,
    /// on error, or when nothing came within `milliseconds` (-1: no limit).
    static func receive(_ socket: Int32, capacity: Int, descriptors: Int, milliseconds: Int32 = -1) -> (message: [UInt8], fds: [Int32])? {
        if milliseconds >= 0, FileDescriptorIO.waitReadable([socket], milliseconds: milliseconds).isEmpty { return nil }
        var bytes = [UInt8](repeating: 0, count: capacity)
        var fds = [Int32](repeating: -1, count: max(descriptors, 1))
        var count: Int32 = 0
        let received = bytes.withUnsafeMutableBytes { uk_receive_with_fds(socket, $0.baseAddress, $0.count, &fds, Int32(descriptors), &count) }
        let passed = Array(fds.prefix(Int(count)))
        guard received > 0 else {
            passed.forEach { close($0) }
            return nil
        }
        return (Array(bytes.prefix(received)), passed)
    }
}

/// A thread that lives as long as the process and starts fork servers, so
/// that a server and the workers it forks (its siblings, CLONE_PARENT) have
/// a parent thread that never exits before the process does. Used under
/// `ForkServers.slots`' lock: one task at a time.
private final class ServerStarter: Sendable {
    private struct State {
        /// The process whose starter thread runs (a fork child has none).
        var owner: pid_t = -1
        var task: (@Sendable () -> Void)?
    }

    private let state = LockedValue(State())
    static let shared = ServerStarter()

    /// Runs `body` on the starter thread and returns its result; nil if that thread cannot start.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T? {
        let result = LockedValue<T?>(nil)
        let started = state.withLockNotifying { state -> Bool in
            if state.owner != getpid() {
                let shared = self.state
                guard (try? startThread(name: "ukw-forksrv", { Self.serve(shared) })) != nil else { return false }
                state.owner = getpid()
            }
            state.task = { result.withLockNotifying { $0 = body() } }
            return true
        }
        return started ? result.withLock(waitingUntil: { $0 != nil }) { $0 } : nil
    }

    private static func serve(_ state: LockedValue<State>) {
        while true {
            let task = state.withLock(waitingUntil: { $0.task != nil }) { state in
                defer { state.task = nil }
                return state.task!
            }
            task()
        }
    }
}
#endif
