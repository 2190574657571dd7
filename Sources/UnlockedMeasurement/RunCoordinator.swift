#if os(Linux)
import UnlockedCore

/// Where a run's map output goes: `base` is written by the kernels, `commit()` puts
/// the output in place once every repetition succeeded.
public protocol RunOutput: AnyObject {
    /// The first element of this process's part of the output.
    var base: UnsafeMutableRawPointer { get }
    func commit() throws(UnlockedError)
}

extension NpyOutputFile: RunOutput {}

/// How one process's run takes part in a larger job: where a map kernel's output goes,
/// and what surrounds each repetition. `runBenchmark` calls it from its own thread.
///
/// A single process uses `SingleProcessRun`. The ranks of an MPI job each pass one of
/// their own (the CLI's launch path), which writes one shared file and reduces every
/// repetition's value across ranks, so this layer never sees MPI.
public protocol RunCoordinator: AnyObject {
    /// The output of a map kernel of `type` over the elements `elements` of an array of
    /// `shape`, to be written to `path`.
    func makeOutput(path: String, type: OutputType, shape: [Int], elements: Range<Int>) throws(UnlockedError) -> any RunOutput

    /// One repetition: `body` runs the kernel over this process's elements; the sample
    /// returned is what the run records (its value is the job's).
    func repetition(_ body: () throws(UnlockedError) -> CellSample) throws(UnlockedError) -> CellSample
}

/// A run that is the whole job: the output is one `NpyOutputFile`, and a repetition
/// is the kernel alone.
public final class SingleProcessRun: RunCoordinator {
    public init() {}

    public func makeOutput(path: String, type: OutputType, shape: [Int], elements: Range<Int>) throws(UnlockedError) -> any RunOutput {
        try NpyOutputFile(path: path, type: type, shape: shape)
    }

    public func repetition(_ body: () throws(UnlockedError) -> CellSample) throws(UnlockedError) -> CellSample {
        try body()
    }
}
#endif
