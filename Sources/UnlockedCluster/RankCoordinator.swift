#if os(Linux)
import Unlocked

/// One rank's part in `runBenchmark`: the map output is one shared `.npy` written by
/// every rank at its block, and each repetition is a barrier, this rank's kernel, and
/// one exchange of every rank's partial result and compute time (`RepetitionRecord`).
///
/// Used by the thread that joined the job.
final class RankCoordinator: RunCoordinator {
    let job: ClusterJob
    private let warmup: Int
    private var seen = 0
    /// The timed repetitions, warm-up excluded.
    private(set) var repetitions: [RankRepetition] = []

    init(job: ClusterJob, warmup: Int) {
        self.job = job
        self.warmup = warmup
    }

    func makeOutput(path: String, type: OutputType, shape: [Int], elements: Range<Int>) throws(UnlockedError) -> any RunOutput {
        let job = self.job
        // Rank 0 creates the file (refusing targets that are not regular files); then
        // every rank, rank 0 included, maps its block of it.
        let created = try job.step { () throws(UnlockedError) in
            job.rank == 0 ? try SharedNpyOutput(creating: path, type: type, shape: shape, elements: elements) : nil
        }
        let temporary = try job.broadcast(created?.temporaryPath ?? "", from: 0)
        let output = try job.step { () throws(UnlockedError) in
            if let created { return created }
            return try SharedNpyOutput(joining: temporary, path: path, type: type, shape: shape, elements: elements)
        }
        return RankOutput(job: job, file: output)
    }

    func repetition(_ body: () throws(UnlockedError) -> CellSample) throws(UnlockedError) -> CellSample {
        let (sample, repetition) = try job.repetition { () throws(UnlockedError) in try body() }
        if seen >= warmup { repetitions.append(repetition) }
        seen += 1
        return sample
    }
}

/// One repetition as a rank saw it, in nanoseconds.
struct RankRepetition {
    /// This rank's kernel time.
    var compute: Double
    /// From its kernel's end to knowing the job's value: waiting for the slowest
    /// rank, then the exchange.
    var reduce: Double
    /// Every rank's kernel time, in rank order.
    var computeByRank: [Double]
    /// This rank's partial value; nil when it holds no elements.
    var partial: KernelValue?
}

extension ClusterJob {
    /// The shared part of a repetition, for `run` and `bench` alike: agree (a barrier that
    /// also learns of any rank's failure so far), run `body` (which returns nil when this
    /// rank holds no elements), gather every rank's record, and reduce. The sample's time
    /// runs from the barrier to the job's value on this rank.
    func repetition(_ body: () throws(UnlockedError) -> CellSample?) throws(UnlockedError) -> (CellSample, RankRepetition) {
        try agree()
        let start = monotonicNanoseconds()
        let local: Result<CellSample, UnlockedError>? = switch Result(catching: { () throws(UnlockedError) in try body() }) {
        case .success(let sample): sample.map { .success($0) }
        case .failure(let error): .failure(error)
        }
        let computed = monotonicNanoseconds()
        let compute = Double(computed - start)
        let record: RepetitionRecord
        switch local {
        case .failure(let error): record = RepetitionRecord(failure: error, value: nil, computeNanoseconds: compute)
        case .success(let sample): record = RepetitionRecord(failure: nil, value: sample.value, computeNanoseconds: compute)
        case nil: record = RepetitionRecord(failure: nil, value: nil, computeNanoseconds: 0)
        }
        let records = try allGather(record)
        if let failing = records.firstIndex(where: { $0.failure != 0 }) {
            let own: UnlockedError? = if case .failure(let error) = local { error } else { nil }
            throw sharedFailure(of: failing, own: failing == rank ? own : nil)
        }
        let value = try records.combined()
        let end = monotonicNanoseconds()
        let sample = try local?.get()
        return (CellSample(wallNanoseconds: Double(end - start), startupNanoseconds: sample?.startupNanoseconds,
                           bytesExchanged: sample?.bytesExchanged, value: value),
                RankRepetition(compute: compute, reduce: Double(end - computed), computeByRank: records.map(\.computeNanoseconds),
                           partial: sample?.value))
    }
}

/// A rank's block of the shared output: committed once every rank has flushed its
/// block, by rank 0 alone, and agreed on again so a failed rename fails every rank.
final class RankOutput: RunOutput {
    let job: ClusterJob
    let file: SharedNpyOutput

    init(job: ClusterJob, file: SharedNpyOutput) {
        self.job = job
        self.file = file
    }

    var base: UnsafeMutableRawPointer { file.base }

    func commit() throws(UnlockedError) {
        let (job, file) = (self.job, self.file)
        try job.step { () throws(UnlockedError) in try file.flush() }
        try job.step { () throws(UnlockedError) in if job.rank == 0 { try file.commit() } }
    }
}
#endif
