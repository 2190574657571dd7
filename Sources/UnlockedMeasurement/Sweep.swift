import CKernels
import UnlockedCore
import UnlockedEngines
import UnlockedKernels
import UnlockedTopology

/// One combination of a sweep's parameters: what `unlocked bench` measures
/// and reports as one row.
public struct BenchCell: Sendable, Hashable {
    public var engine: String
    public var kernel: String
    public var dtype: DType
    /// Elements.
    public var size: Int
    public var workers: Int
    /// Pinning and memory policies by CLI name; the runner applies them.
    public var pin: String
    public var mem: String
    /// Elements per chunk the engine is asked for; nil (`auto`) lets it choose.
    public var chunk: Int?
    /// The cell may run more workers than the allowed CPUs (they share CPUs):
    /// set by the sweep plan for counts it accepted beyond them.
    public var oversubscribe: Bool

    public init(engine: String, kernel: String, dtype: DType, size: Int, workers: Int, pin: String, mem: String,
                chunk: Int? = nil, oversubscribe: Bool = false) {
        self.engine = engine
        self.kernel = kernel
        self.dtype = dtype
        self.size = size
        self.workers = workers
        self.pin = pin
        self.mem = mem
        self.chunk = chunk
        self.oversubscribe = oversubscribe
    }

    /// `--chunk` as a report spells it: the element count, or `auto`.
    public var chunkLabel: String { chunk.map(String.init) ?? "auto" }

    /// A stable text key, used to match cells of two JSON documents.
    public var key: String { "\(engine)|\(kernel)|\(dtype.rawValue)|\(size)|\(workers)|\(pin)|\(mem)|\(chunkLabel)" }
}

/// The memory a cell runs over, owned by the sweep for the cell's lifetime.
public struct CellData {
    public var input: JobBuffer
    /// The output array of map kernels (nil for reductions).
    public var output: JobBuffer?
    public var count: Int
    public var params: uk_params
    /// What generated `input` (nil for data read from a file), so an engine
    /// that cannot run on `input` has its own workers write their own copy.
    public var generator: DataGenerator?
    /// The huge-page mode of `input`, for buffers an engine makes of its own.
    public var hugePages: HugePageMode

    public init(input: JobBuffer, output: JobBuffer?, count: Int, params: uk_params, generator: DataGenerator? = nil,
                hugePages: HugePageMode = .auto) {
        self.input = input
        self.output = output
        self.count = count
        self.params = params
        self.generator = generator
        self.hugePages = hugePages
    }
}

/// One timed repetition, as an engine reports it.
public struct CellSample: Sendable, Equatable {
    /// Wall time of the whole repetition, start-up included.
    public var wallNanoseconds: Double
    /// Part of the wall time spent starting threads or processes inside the
    /// repetition (`spawn`, process engines); nil when nothing is started per run.
    public var startupNanoseconds: Double?
    /// Bytes copied between address spaces (`processes-pipe`); nil when none.
    public var bytesExchanged: Int?
    /// The result (reductions) or the output checksum (maps).
    public var value: KernelValue
    /// Elements per chunk the engine really used; nil when it does not say.
    public var chunkSize: Int?

    public init(wallNanoseconds: Double, startupNanoseconds: Double? = nil, bytesExchanged: Int? = nil, value: KernelValue,
                chunkSize: Int? = nil) {
        self.wallNanoseconds = wallNanoseconds
        self.startupNanoseconds = startupNanoseconds
        self.bytesExchanged = bytesExchanged
        self.value = value
        self.chunkSize = chunkSize
    }
}

/// A cell ready to repeat: its engine created with its workers, over its data.
/// Used by the sweep's thread only, then released before the data is.
public protocol PreparedCell: AnyObject {
    /// Time to create the engine and have its workers ready (a pool's threads,
    /// pinned), nil when the engine has nothing to start.
    var startupNanoseconds: Double? { get }
    /// What placement was really applied, in a few words, for the report.
    /// Read after the cell ran: some engines pin the caller on their first job.
    var placement: String { get }
    /// The huge-page outcome of the input the cell made of its own (see
    /// `CellData.generator`); nil when it reads the sweep's.
    var ownInputHugePages: MemoryOutcome? { get }
    /// Runs the kernel once over the whole data and times it.
    func runOnce() throws(UnlockedError) -> CellSample
    /// Runs `jobs` jobs back to back and times them together: the sample's
    /// wall time, start-up and bytes are per job, its value the last job's.
    func runBatch(jobs: Int) throws(UnlockedError) -> CellSample
    /// Creates a fresh engine like this cell's, times its creation the way
    /// `startupNanoseconds` was, and closes it; nil when nothing is started.
    func sampleStartup() throws(UnlockedError) -> Double?
    /// Gives back what the cell holds on the calling thread (its CPU
    /// affinity) before another cell runs there.
    func handBack()
}

extension PreparedCell {
    public func runBatch(jobs: Int) throws(UnlockedError) -> CellSample {
        precondition(jobs >= 1, "a batch of no jobs")
        var samples: [CellSample] = []
        for _ in 0..<jobs { samples.append(try runOnce()) }
        return CellSample(batchOf: samples)
    }

    public func sampleStartup() throws(UnlockedError) -> Double? { nil }

    public func handBack() {}

    public var ownInputHugePages: MemoryOutcome? { nil }
}

extension CellSample {
    /// The per-job figures of jobs run back to back: mean wall time, start-up
    /// and bytes; the last job's value.
    package init(batchOf samples: [CellSample]) {
        let count = Double(samples.count)
        func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / count }
        self.init(wallNanoseconds: samples.map(\.wallNanoseconds).reduce(0, +) / count,
                  startupNanoseconds: mean(samples.compactMap(\.startupNanoseconds)),
                  bytesExchanged: samples.last?.bytesExchanged,
                  value: samples.last!.value, chunkSize: samples.last!.chunkSize)
    }
}

/// The seam between measurement and execution engines: the sweep decides
/// what to run and when; a runner knows how.
///
/// `SequentialCellRunner` implements it with one call on the calling thread.
/// Engines plug in by one conforming type (say `EngineCellRunner`) that:
/// - lists in `engineNames` every engine that can run on this machine;
/// - returns `lockfree-pool` from `ceilingEngine(workers:)` for more than one worker;
/// - in `prepare`, builds the engine named `cell.engine` with `cell.workers`
///   workers (sharing CPUs only when `cell.oversubscribe`) and `cell.chunk`
///   elements per chunk, placed by the `cell.pin` policy and the `cell.mem` policy, times
///   that creation as `startupNanoseconds`, describes the applied placement in
///   `placement`, and throws (the cell is then reported failed) when it cannot;
/// - in `runOnce`, runs one job over `data.input[0..<data.count]` (output to
///   `data.output` for maps) and returns the wall time, per-run start-up and
///   bytes copied between processes when the engine has them, the chunk size
///   it used, and the value;
/// - in `fillInput`, lets each pinned worker fill the chunk it will read.
/// `defaultCellRunner()` then returns it: every command gets its runner there.
public protocol CellRunner {
    /// CLI names of the engines this runner can run.
    var engineNames: [String] { get }
    /// The engine used for the bandwidth ceiling (`stream.sum`) with `workers` workers.
    func ceilingEngine(workers: Int) -> String
    /// Creates what `cell` needs to repeat over `data`; throws when the cell
    /// cannot run here (unknown engine, too many workers, plugin refuses).
    func prepare(_ cell: BenchCell, kernel: Kernel, data: CellData) throws(UnlockedError) -> any PreparedCell
    /// Writes the generated input of cells with memory policy `mem`, run by up
    /// to `workers` workers pinned by `pin`. The thread that writes a page first
    /// decides its NUMA node, so a placement-aware runner fills each chunk from
    /// the worker that will read it. The default fills on the calling thread.
    func fillInput(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator,
                   mem: String, pin: String, workers: Int) throws(UnlockedError)
    /// The global elements of a cell of `size` this process holds and runs: all of
    /// them by default; one block when the process is one of several sharing the cell
    /// (an MPI rank). The sweep allocates and generates only these.
    func elements(ofCellSize size: Int) -> Range<Int>
}

extension CellRunner {
    public func elements(ofCellSize size: Int) -> Range<Int> { 0..<size }

    public func fillInput(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator,
                          mem: String, pin: String, workers: Int) throws(UnlockedError) {
        generator.fill(buffer.base, dtype: dtype, range: 0..<count)
    }
}

/// The runner every command uses: every engine, placed as each cell asks.
public func defaultCellRunner() -> any CellRunner { EngineCellRunner() }

/// Runs cells of the `sequential` engine: one kernel call on the calling
/// thread, unbound. Everything else is refused with the reason, so a sweep
/// naming engines of another build reports them as failed cells.
public struct SequentialCellRunner: CellRunner {
    public init() {}

    public var engineNames: [String] { ["sequential"] }

    public func ceilingEngine(workers: Int) -> String { "sequential" }

    public func prepare(_ cell: BenchCell, kernel: Kernel, data: CellData) throws(UnlockedError) -> any PreparedCell {
        guard cell.engine == "sequential" else {
            throw .usage("engine \(cell.engine) is not available in this build (available: \(engineNames.joined(separator: ", ")))")
        }
        guard cell.workers == 1 else {
            throw .usage("engine sequential runs on 1 worker, not \(cell.workers)")
        }
        return SequentialPreparedCell(kernel: kernel, data: data)
    }
}

package final class SequentialPreparedCell: PreparedCell {
    package let kernel: Kernel
    package var data: CellData

    package init(kernel: Kernel, data: CellData) {
        self.kernel = kernel
        self.data = data
        self.data.params = callParameters(data.params, kernel: kernel, count: data.count)
    }

    package var startupNanoseconds: Double? { nil }
    package var placement: String { "calling thread, unbound" }

    package func runOnce() throws(UnlockedError) -> CellSample {
        var acc = uk_acc()
        let start = monotonicNanoseconds()
        try kernel.run(context: kernel.plugin.state, input: data.input.base, output: data.output?.base,
                       range: 0..<data.count, params: &data.params, acc: &acc)
        let elapsed = Double(monotonicNanoseconds() - start)
        return CellSample(wallNanoseconds: elapsed, value: kernel.result(acc: acc, output: data.output?.base, count: data.count),
                          chunkSize: data.count)
    }
}
