import CKernels
import UnlockedCore
import UnlockedEngines
import UnlockedKernels
import UnlockedTopology

/// Where a run's input comes from.
public enum RunSource: Sendable {
    /// Generated: element `i` depends only on the seed and `i` (`DataGenerator`).
    case generated(seed: UInt64)
    /// A mapped file; a map kernel's output is written to `output` as `.npy` when given.
    case file(MappedArray, output: String?)
}

/// One `unlocked run`: a kernel over generated or file data, warmed up and repeated.
public struct RunSpec: Sendable {
    public var kernel: Kernel
    public var count: Int
    public var params: uk_params
    public var source: RunSource
    public var warmup: Int
    public var reps: Int
    /// The global index of this run's first element: 0 for a whole array, the start of
    /// its block for one rank of an MPI job. Generated data is the seed's elements
    /// `firstIndex..<firstIndex + count`.
    public var firstIndex: Int

    public init(kernel: Kernel, count: Int, params: uk_params, source: RunSource, warmup: Int = 1, reps: Int,
                firstIndex: Int = 0) {
        self.kernel = kernel
        self.count = count
        self.params = params
        self.source = source
        self.warmup = warmup
        self.reps = reps
        self.firstIndex = firstIndex
    }

    /// The seed of generated data; nil for a file.
    public var seed: UInt64? {
        if case .generated(let seed) = source { return seed }
        return nil
    }

    /// The input file and the output path, for file runs.
    public var files: (input: MappedArray, output: String?)? {
        if case .file(let array, let output) = source { return (array, output) }
        return nil
    }

    public var dtype: DType { kernel.inputType }

    /// Bytes a repetition moves through memory: input read, plus output written.
    public var bytesPerRep: Int {
        count * dtype.byteWidth + (kernel.outputType.map { count * $0.byteWidth } ?? 0)
    }
}

/// The outcome of a run, as `unlocked run` prints it.
public struct RunReport: Sendable {
    public let spec: RunSpec
    public let isa: ISA
    /// The reduction's value, or for map kernels the exact sum of the output
    /// (a checksum a script can compare).
    public let value: KernelValue
    /// Wall time of each timed repetition, in nanoseconds.
    public let samplesNanoseconds: [Double]
    public let summary: SampleStatistics
    /// How the engine started and what its last timed repetition did.
    public let engine: EngineRun?
    /// What became of `--huge-pages` and `--mem` on the input buffer, in that
    /// order (empty when the run had no placement request).
    public var memory: [MemoryOutcome] = []
    /// Where the input's pages really were after filling, as the kernel says.
    public var pages: PageLocationReport?
    /// The machine and limits the placement was planned under.
    public var placementContext: PlacementContext?
    /// The plan the workers were bound by; observations are `engine.startup.bindings`.
    public var plan: PlacementPlan?

    public var elementsPerSecond: Double { Double(spec.count) / (summary.median * 1e-9) }
    public var bytesPerSecond: Double { Double(spec.bytesPerRep) / (summary.median * 1e-9) }
}

/// What an engine reported for a benchmark: its start-up, and the
/// statistics of the last timed repetition.
public struct EngineRun: Sendable {
    public let configuration: EngineConfiguration
    /// The engine's own account of its start-up: where each worker ran.
    public let startup: EngineStartup
    public let statistics: EngineStatistics
    /// Creation times of fresh engines (`makeEngineTimed`), the run's own last.
    public let startupSamplesNanoseconds: [Double]

    public var startupStatistics: SampleStatistics? { SampleStatistics(startupSamplesNanoseconds) }
}

/// Runs `spec` through the engine `configuration` describes, placed as
/// `placement` asks: the engine is started `startupSamples` times, each timed
/// and all but the last closed (start-up is their median, as in `bench`), the
/// data buffers get huge pages and the memory policy before any page is
/// touched, generated input is filled (by the workers, each its own chunks,
/// unless memory placement is `none`) and its pages located, then each
/// repetition is timed around `Engine.run`, from the call to the merged result.
/// A file's map output appears, complete, only when every repetition succeeded.
/// `coordinator` makes the output and wraps each repetition (see `RunCoordinator`).
@available(*, noasync, message: "blocks until the run finishes")
public func runBenchmark(_ spec: RunSpec, engine configuration: EngineConfiguration, placement: ResolvedPlacement,
                         startupSamples: Int = 5,
                         coordinator: any RunCoordinator = SingleProcessRun()) throws(UnlockedError) -> RunReport {
    try validateRepetitions(warmup: spec.warmup, reps: spec.reps)
    precondition(startupSamples >= 1, "start-up needs a sample")
    let outputFile = try spec.files?.output.map { path throws(UnlockedError) in
        guard let type = spec.kernel.outputType else {
            throw .usage("--output \(path): kernel \(spec.kernel.name) is a reduction and writes no array (use a map kernel such as absdist.map)")
        }
        return try coordinator.makeOutput(path: path, type: type, shape: spec.files!.input.shape,
                                          elements: spec.firstIndex..<spec.firstIndex + spec.count)
    }
    var startups: [Double] = []
    for _ in 1..<startupSamples {
        let (engine, nanoseconds) = try makeEngineTimed(configuration)
        engine.close()
        startups.append(nanoseconds)
    }
    let (engine, nanoseconds) = try makeEngineTimed(configuration)
    startups.append(nanoseconds)
    defer { engine.close() }
    let width = spec.dtype.byteWidth
    // Generated input is written by the engine's workers unless no placement is wanted.
    let generator: DataGenerator? = if case .generated(let seed) = spec.source {
        DataGenerator(seed: seed).advanced(by: spec.firstIndex)
    } else { nil }
    let workersFill = generator != nil && placement.memory != MemoryPolicy.none
    let input: JobBuffer = if let file = spec.files?.input {
        JobBuffer(borrowing: UnsafeMutableRawPointer(mutating: file.base), byteCount: spec.count * width, owner: file)
    } else {
        try engine.makeBuffer(count: spec.count, width: width, forInitialize: workersFill)
    }
    let output: JobBuffer? = if let outputFile, let type = spec.kernel.outputType {
        JobBuffer(borrowing: outputFile.base, byteCount: spec.count * type.byteWidth, owner: outputFile)
    } else {
        try spec.kernel.outputType.map { type throws(UnlockedError) in try engine.makeBuffer(count: spec.count, width: type.byteWidth) }
    }
    // Input first: its outcomes are the ones reported; the output gets the same treatment.
    var memory: [MemoryOutcome] = []
    for buffer in [input] + (output.map { [$0] } ?? []) {
        let outcomes = try placement.place(buffer)
        if memory.isEmpty { memory = outcomes }
    }
    if let generator {
        if workersFill {
            try engine.initialize(input, dtype: spec.dtype, count: spec.count, generator: generator)
            if placement.memory == .firstTouch, let note = configuration.kind.firstTouchNote {
                memory = memory.map { $0.requested == MemoryPolicy.firstTouch.description ? MemoryOutcome(requested: $0.requested, applied: true, note: note) : $0 }
            }
        } else {
            // No placement wanted: the allocator's default, as a single-threaded program would get.
            generator.fill(input.base, dtype: spec.dtype, range: 0..<spec.count)
        }
    }
    let pages = engine.pageLocations(of: input)
    let cell = try EnginePreparedCell(engine: engine, configuration: configuration, kernel: spec.kernel,
                                      data: CellData(input: input, output: output, count: spec.count, params: spec.params),
                                      startup: Double(engine.startup.nanoseconds), placement: placement,
                                      countsContextSwitches: false)
    var samples: [Double] = []
    var last: CellSample?
    for rep in 0..<(spec.warmup + spec.reps) {
        let sample = try coordinator.repetition { () throws(UnlockedError) in try cell.runOnce() }
        if rep >= spec.warmup { samples.append(sample.wallNanoseconds) }
        last = sample
    }
    guard let last, let statistics = cell.lastStatistics else { throw .internal("no repetition ran") }
    try outputFile?.commit()
    return RunReport(spec: spec, isa: .selected, value: last.value, samplesNanoseconds: samples, summary: SampleStatistics(samples)!,
                     engine: EngineRun(configuration: configuration, startup: engine.startup, statistics: statistics,
                                       startupSamplesNanoseconds: startups),
                     memory: memory, pages: pages, placementContext: placement.context, plan: placement.plan)
}

extension Kernel {
    /// What a run produced: a reduction's value, or for a map kernel the exact
    /// sum of its `count` outputs at `output`, so maps can be checked like reductions.
    public func result(acc: uk_acc, output: UnsafeRawPointer?, count: Int) -> KernelValue {
        if let output, let outputType { return checksum(output, type: outputType, count: count) }
        return value(of: acc)
    }
}

/// The exact sum of a map's output, so map runs can be checked like reductions.
public func checksum(_ base: UnsafeRawPointer, type: OutputType, count: Int) -> KernelValue {
    func exact<T: BinaryInteger>(_: T.Type) -> KernelValue {
        let p = base.assumingMemoryBound(to: T.self)
        var sum: Int128 = 0
        for i in 0..<count { sum += Int128(p[i]) }
        return sum >= 0 ? .unsigned(UInt128(sum)) : .signed(sum)
    }
    switch type {
    case .i32: return exact(Int32.self)
    case .i64: return exact(Int64.self)
    case .u32: return exact(UInt32.self)
    case .u64: return exact(UInt64.self)
    case .f32:
        let p = base.assumingMemoryBound(to: Float.self)
        var sum = 0.0
        for i in 0..<count { sum += Double(p[i]) }
        return .float(sum)
    case .f64:
        let p = base.assumingMemoryBound(to: Double.self)
        var sum = 0.0
        for i in 0..<count { sum += p[i] }
        return .float(sum)
    }
}

/// Empty-job round trips through `engine` (see `emptyJobRoundTrips`) as statistics.
@available(*, noasync, message: "blocks until the jobs finish")
public func measureRoundTrip(_ engine: any Engine, jobs: Int) throws(UnlockedError) -> SampleStatistics {
    SampleStatistics(try emptyJobRoundTrips(engine, jobs: jobs))!
}

/// What `unlocked run --round-trip` measured: empty jobs through one engine.
public struct RoundTripReport: Sendable {
    public var configuration: EngineConfiguration
    public var jobs: Int
    /// Per job, in nanoseconds (each sample is a batch's mean).
    public var statistics: SampleStatistics
}

/// Starts the engine `configuration` names and measures 2,000 empty-job
/// round trips per repetition through it (what `unlocked run --round-trip` prints).
@available(*, noasync, message: "blocks until the jobs finish")
public func measureEmptyJobRoundTrip(_ configuration: EngineConfiguration, reps: Int) throws(UnlockedError) -> RoundTripReport {
    try validateRepetitions(warmup: 0, reps: reps)
    let jobs = reps * 2_000
    let engine = try makeEngine(configuration)
    defer { engine.close() }
    return RoundTripReport(configuration: configuration, jobs: jobs, statistics: try measureRoundTrip(engine, jobs: jobs))
}
