#if os(Linux)
import Glibc
import Unlocked
import UnlockedMPI

/// This process as one rank of an MPI job, and the rule that keeps ranks in step: every
/// step a rank can fail on its own (a file, a placement, an engine) ends in `agree`, so
/// a failure anywhere becomes the same error on every rank before any rank goes on.
///
/// A rank that fails outside such a step (it throws out of the job's body) agrees with
/// `endsJob`, which the others' next `agree` learns; collectives other than `agree`
/// therefore only follow an `agree` with no fallible local work in between, or they
/// would wait for a rank that is waiting in `agree`.
///
/// Threads: the thread that joined calls every method (MPI is initialised
/// `MPI_THREAD_FUNNELED`); engine workers never call MPI.
public final class ClusterJob {
    public let launch: MPILaunch
    public let rank: Int
    public let size: Int
    public let localRank: Int
    public let localSize: Int
    public let host: String
    public let threadLevel: MPIThreadLevel
    /// How long joining took (`MPI_Init_thread` and this rank's node communicator).
    public let joinNanoseconds: UInt64
    /// The process's age when it had joined: exec, loading and joining, to the
    /// kernel's clock-tick resolution; nil when /proc does not say.
    public let readyAfterStartNanoseconds: UInt64?
    /// The label of lines this job writes to standard error (`unlocked`).
    public let label: String
    /// nil only once finalised or aborted; a class cannot consume a noncopyable property,
    /// so the world is taken out of its optional for that.
    private var world: MPIWorld?
    /// The failure the last `agree` threw, as every rank holds it; nil after an `agree`
    /// that found none. Lets `run` tell an agreed failure from a rank's own.
    private var agreed: (failure: RankFailure, error: UnlockedError)?

    /// Joins the job `launch` describes (it must name a launcher). MPI errors end this
    /// rank with one line: nothing is agreed before MPI works.
    public init(_ launch: MPILaunch, label: String) {
        let started = monotonicNanoseconds()
        let world = Self.joinWorld(launch, label: label)
        joinNanoseconds = monotonicNanoseconds() - started
        readyAfterStartNanoseconds = processAgeNanoseconds()
        (self.launch, self.label) = (launch, label)
        (rank, size, localRank, localSize, host, threadLevel) =
            (world.rank, world.size, world.localRank, world.localSize, world.host, world.threadLevel)
        self.world = .some(world)
    }

    /// `MPIWorld(launch:)`, or the end of this rank. (Assigning a noncopyable `let`
    /// inside `do`/`catch` trips Swift 6.3's "copy of noncopyable typed value".)
    private static func joinWorld(_ launch: MPILaunch, label: String) -> MPIWorld {
        do { return try MPIWorld(launch: launch) } catch { endAlone(error, label: label) }
    }

    /// This rank's block of a global array: part `rank` of `size`.
    public var part: ArrayPart { ArrayPart(index: rank, of: size) }

    // MARK: - Agreement

    /// Ends a step: returns when no rank failed, otherwise throws the agreed failure on
    /// every rank, as an `UnlockedError` carrying its exit code and "rank R on HOST: …".
    /// A failure whose rank stops (`endsJob`) ends this rank too, at once.
    public func agree(_ failure: UnlockedError? = nil) throws(UnlockedError) {
        guard world != nil else { preconditionFailure("MPI used after the job ended") }
        do {
            try world!.agree(failure: failure.map { ($0.exitCode, $0.message) })
            agreed = nil
        } catch {
            throw learnt(error)
        }
    }

    /// Runs `body`, then agrees on its failure or success.
    public func step<T>(_ body: () throws(UnlockedError) -> T) throws(UnlockedError) -> T {
        let result = Result { () throws(UnlockedError) in try body() }
        if case .failure(let error) = result { try agree(error) } else { try agree() }
        return try result.get()
    }

    /// The failure of rank `failing`, which every rank knows failed from records they all
    /// gathered; `own` is this rank's failure when it is `failing`. Thrown like `agree`'s.
    func sharedFailure(of failing: Int, own: UnlockedError?) -> UnlockedError {
        guard world != nil else { preconditionFailure("MPI used after the job ended") }
        do {
            let failure = try world!.failure(of: failing, own: own.map { ($0.exitCode, $0.message, false) })
            return learnt(.rankFailed(failure))
        } catch {
            return learnt(error)
        }
    }

    /// Every rank's `value`, in rank order (`MPIWorld.allGather`).
    public func allGather<T: BitwiseCopyable>(_ value: T) throws(UnlockedError) -> [T] {
        guard world != nil else { preconditionFailure("MPI used after the job ended") }
        do { return try world!.allGather(value) } catch { throw learnt(error) }
    }

    /// Every rank's `text`, in rank order (`MPIWorld.allGather`).
    public func allGather(_ text: String) throws(UnlockedError) -> [String] {
        guard world != nil else { preconditionFailure("MPI used after the job ended") }
        do { return try world!.allGather(text) } catch { throw learnt(error) }
    }

    /// Every rank's `text` on rank 0, nil elsewhere (`MPIWorld.gather`).
    public func gather(_ text: String) throws(UnlockedError) -> [String]? {
        guard world != nil else { preconditionFailure("MPI used after the job ended") }
        do { return try world!.gather(text) } catch { throw learnt(error) }
    }

    /// Rank `root`'s `text` on every rank (`MPIWorld.broadcast`).
    public func broadcast(_ text: String, from root: Int) throws(UnlockedError) -> String {
        guard world != nil else { preconditionFailure("MPI used after the job ended") }
        do { return try world!.broadcast(text, from: root) } catch { throw learnt(error) }
    }

    /// Element by element, the largest `values` of any rank (`MPIWorld.maximum`).
    public func maximum(_ values: [Double]) throws(UnlockedError) -> [Double] {
        guard world != nil else { preconditionFailure("MPI used after the job ended") }
        do { return try world!.maximum(values) } catch { throw learnt(error) }
    }

    /// Turns an MPI error into the `UnlockedError` this rank throws. An agreed failure
    /// is remembered (so `run` does not agree on it again) and ends the job at once when
    /// the failing rank stops; any other MPI error means MPI itself broke: this rank ends.
    private func learnt(_ error: MPIError) -> UnlockedError {
        guard case .rankFailed(let failure) = error else { end(error) }
        if failure.endsJob { end(error) }
        let thrown = UnlockedError(UnlockedError.Kind(rawValue: failure.exitCode) ?? .internal, failure.description)
        agreed = (failure, thrown)
        return thrown
    }

    /// Runs the job's `body` on this rank and returns its value once every rank
    /// succeeded. A failure on any rank ends every rank with that rank's one line and
    /// exit code, printed once (`MPIWorld.abort`).
    public func run<T>(_ body: (ClusterJob) throws(UnlockedError) -> T) -> T {
        do {
            let value = try body(self)
            try agree()
            return value
        } catch {
            if let agreed, agreed.error == error { end(.rankFailed(agreed.failure)) }
            // This rank's own failure, which the others learn at their next agreement.
            do {
                try world!.agree(failure: (error.exitCode, error.message), endsJob: true)
            } catch {
                end(error)
            }
            preconditionFailure("agree returned although this rank failed")
        }
    }

    /// Finalises MPI; call once, after the last collective call of every rank.
    public func finish() {
        guard let world = world.take() else { return }
        do { try world.finalize() } catch { Self.endAlone(error, label: label) }
    }

    /// Ends every rank with `error` (`MPIWorld.abort`). MPI_Abort skips deinitialisers,
    /// so the hidden output file of a shared `.npy` is removed here.
    public func end(_ error: MPIError) -> Never {
        removeUncommittedOutputs()
        guard let world = world.take() else { Self.endAlone(error, label: label) }
        world.abort(error, label: label)
    }

    /// One line, this rank's exit code, no MPI: for errors before or after MPI works.
    /// Of tasks that would each be a one-rank job, only task 0 writes the line.
    static func endAlone(_ error: MPIError, label: String) -> Never {
        if case .singletonTasks(_, let task) = error, task != 0 { exit(error.exitCode) }
        let line = Array("\(label): \(error)\n".utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        exit(error.exitCode)
    }
}

/// The calling process's age from /proc/self/stat (start time, in clock ticks after
/// boot) and CLOCK_BOOTTIME; nil when unreadable.
private func processAgeNanoseconds(statPath: String = "/proc/self/stat") -> UInt64? {
    guard let file = fopen(statPath, "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 1024)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
    let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    // Fields after the command name (which may hold spaces) start after its ')'; starttime is field 22.
    guard let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 19, let ticks = UInt64(fields[19]) else { return nil }
    var now = timespec()
    clock_gettime(CLOCK_BOOTTIME, &now)
    let started = ticks * 1_000_000_000 / UInt64(sysconf(Int32(_SC_CLK_TCK)))
    let uptime = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    return uptime > started ? uptime - started : 0
}
#endif
