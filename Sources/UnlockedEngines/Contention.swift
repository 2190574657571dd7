#if os(Linux)
import CSupport
import Foundation
import Glibc
import UnlockedCore

/// The counters that explain where a job's time went besides computing, by
/// their names in reports. An engine reports the ones it can see
/// (`EngineKind.contentionCounters`); the others are absent, never zero.
public enum ContentionCounter: String, CaseIterable, Sendable {
    /// Acquisitions of the lock guarding work or a kernel.
    case lockAcquisitions = "lock_acquisitions"
    /// Time workers waited to acquire it.
    case lockWaitNanoseconds = "lock_wait_ns"
    /// Blocking waits: futex parks, or condition-variable waits (`locked-pool`).
    case futexWaits = "futex_waits"
    /// Futex wake calls made to end parks.
    case futexWakes = "futex_wakes"
    /// Time waiting actively: spinning (timed from its 64th check on) or yielding.
    case spinNanoseconds = "spin_ns"
    /// Time blocked in those waits.
    case parkedNanoseconds = "parked_ns"
    /// Chunks the workers ran.
    case chunksClaimed = "chunks_claimed"
    /// Chunks a worker took from another worker's share.
    case chunksStolen = "chunks_stolen"
    /// Claims that found no chunk left.
    case failedClaims = "failed_claims"
    /// Context switches of the worker threads, summed: the thread blocked, or the scheduler took its CPU.
    case voluntaryContextSwitches = "voluntary_context_switches"
    case involuntaryContextSwitches = "involuntary_context_switches"

    /// The counters measured around jobs from the worker threads' kernel
    /// accounting rather than reported by the engine's jobs.
    public static let contextSwitches: Set<ContentionCounter> = [.voluntaryContextSwitches, .involuntaryContextSwitches]
}

extension EngineKind {
    /// The contention counters this engine's jobs report. Engines whose
    /// threads belong to a runtime (`tasks`, `gcd`, `openmp`) see no waits,
    /// and a shared chunk counter has no owner to steal from. Worker processes
    /// wait in blocking reads of their pipes, which only their context switches show.
    public var contentionCounters: Set<ContentionCounter> {
        let chunks: Set<ContentionCounter> = [.chunksClaimed]
        let lockFree: Set<ContentionCounter> = [.futexWaits, .futexWakes, .spinNanoseconds, .parkedNanoseconds, .chunksClaimed,
                                                .chunksStolen, .failedClaims]
        let lock: Set<ContentionCounter> = [.lockAcquisitions, .lockWaitNanoseconds]
        switch self {
        case .sequential, .spawn, .auto: return []
        case .lockfreePool, .isolated: return lockFree.union(ContentionCounter.contextSwitches)
        case .gil: return lockFree.union(lock).union(ContentionCounter.contextSwitches)
        case .lockedPool:
            return lock.union([.futexWaits, .parkedNanoseconds, .chunksClaimed, .failedClaims]).union(ContentionCounter.contextSwitches)
        case .tasks, .gcd, .openmp: return chunks
        case .processesShm, .processesPipe: return chunks.union(ContentionCounter.contextSwitches)
        }
    }
}

extension EngineStatistics {
    /// The job's value of `counter`, nil when its engine does not count it
    /// (context switches are never in a job's statistics: see `ThreadContextSwitches`).
    /// A lock counter that moved (a SERIAL plugin's lock) is reported by any engine.
    public func count(_ counter: ContentionCounter) -> Double? {
        let claimed = engine.contentionCounters.contains(counter)
        switch counter {
        case .lockAcquisitions: return claimed || lockAcquisitions > 0 ? Double(lockAcquisitions) : nil
        case .lockWaitNanoseconds: return claimed || lockAcquisitions > 0 ? Double(lockWaitNanoseconds) : nil
        case .futexWaits: return claimed ? Double(futexWaits) : nil
        case .futexWakes: return claimed ? Double(futexWakes) : nil
        case .spinNanoseconds: return claimed ? Double(spinNanoseconds) : nil
        case .parkedNanoseconds: return claimed ? Double(parkedNanoseconds) : nil
        case .chunksClaimed: return claimed ? Double(chunksPerWorker.reduce(0, +)) : nil
        case .chunksStolen: return claimed ? Double(steals) : nil
        case .failedClaims: return claimed ? Double(failedClaims) : nil
        case .voluntaryContextSwitches, .involuntaryContextSwitches: return nil
        }
    }
}

/// The summable contention counters, kept by a worker (`WorkerTally`) and
/// merged into a job's (`EngineStatistics`).
package protocol ContentionTally {
    var steals: Int { get set }
    var lockAcquisitions: Int { get set }
    var lockWaitNanoseconds: UInt64 { get set }
    var futexWaits: Int { get set }
    var futexWakes: Int { get set }
    var spinNanoseconds: UInt64 { get set }
    var parkedNanoseconds: UInt64 { get set }
    var failedClaims: Int { get set }
}

extension ContentionTally {
    /// Adds `other`'s counters to these: a worker's into its job's, or jobs of a batch together.
    package mutating func addCounters(of other: some ContentionTally) {
        steals += other.steals
        lockAcquisitions += other.lockAcquisitions
        lockWaitNanoseconds += other.lockWaitNanoseconds
        futexWaits += other.futexWaits
        futexWakes += other.futexWakes
        spinNanoseconds += other.spinNanoseconds
        parkedNanoseconds += other.parkedNanoseconds
        failedClaims += other.failedClaims
    }
}

extension WorkerTally: ContentionTally {}

extension EngineStatistics: ContentionTally {
    /// Adds the counters and chunks of `other`, a later job of the same engine (a batch).
    public mutating func addJob(_ other: EngineStatistics) {
        addCounters(of: other)
        if chunksPerWorker.count == other.chunksPerWorker.count {
            for worker in chunksPerWorker.indices { chunksPerWorker[worker] += other.chunksPerWorker[worker] }
        }
    }
}

/// Context switches of a set of threads, of this process or of its worker
/// processes, as the kernel counts them (`nvcsw`/`nivcsw`, which
/// `getrusage(RUSAGE_THREAD)` reports as `ru_nvcsw`/`ru_nivcsw`). A thread can
/// call `getrusage` only on itself, which would put a system call into every
/// job of every worker (and the counts into the worker protocol); so the
/// measuring thread reads each worker's `/proc/<tid>/status` between jobs.
public struct ThreadContextSwitches: Sendable, Equatable {
    public var voluntary: Int
    public var involuntary: Int

    public init(voluntary: Int, involuntary: Int) {
        self.voluntary = voluntary
        self.involuntary = involuntary
    }

    /// Those of `threads` (kernel thread ids) and, with `callingThread`, of
    /// the calling thread; nil when one cannot be read (the thread exited).
    public static func read(callingThread: Bool, threads: [Int32]) -> ThreadContextSwitches? {
        var total = ThreadContextSwitches(voluntary: 0, involuntary: 0)
        for thread in threads + (callingThread ? [uk_thread_id()] : []) {
            // `/proc/<tid>` is the thread's own entry (unlisted, but there),
            // whichever process the thread belongs to.
            guard let text = try? String(contentsOfFile: "/proc/\(thread)/status", encoding: .utf8),
                  let voluntary = procField("voluntary_ctxt_switches", in: text).flatMap({ Int($0) }),
                  let involuntary = procField("nonvoluntary_ctxt_switches", in: text).flatMap({ Int($0) }) else { return nil }
            total.voluntary += voluntary
            total.involuntary += involuntary
        }
        return total
    }
}

extension Engine {
    /// Kernel ids of the threads this engine started to run its workers (in
    /// worker processes, the thread each runs its jobs on), and whether the
    /// calling thread computes as worker 0; nil when the engine's threads are
    /// not its own to count (`ContentionCounter.contextSwitches` absent).
    public var workerThreads: (ids: [Int32], callingThread: Bool)? {
        guard kind.contentionCounters.isSuperset(of: ContentionCounter.contextSwitches) else { return nil }
        let callerComputes = ![.lockedPool, .processesShm, .processesPipe].contains(kind)
        let ids = startup.bindings.filter { !callerComputes || $0.worker != 0 }.compactMap(\.threadID)
        return (ids, callerComputes)
    }
}
#endif
