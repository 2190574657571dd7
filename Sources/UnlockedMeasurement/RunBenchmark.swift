import CKernels
import UnlockedCore
import UnlockedEngines
import UnlockedKernels
import UnlockedTopology

/// One `unlocked run`: a kernel over generated data, warmed up and repeated.
public struct RunSpec: Sendable {
    public var kernel: Kernel
    public var count: Int
    public var params: uk_params
    public var seed: UInt64
    public var warmup: Int
    public var reps: Int

    public init(kernel: Kernel, count: Int, params: uk_params, seed: UInt64, warmup: Int = 1, reps: Int) {
        self.kernel = kernel
        self.count = count
        self.params = params
        self.seed = seed
        self.warmup = warmup
        self.reps = reps
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
    /// What became of `--huge-pages` and `--mem` on the data buffers
    /// (empty when the run had no placement request).
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

/// Runs `spec` through the engine `configuration` describes: the engine is
/// started `startupSamples` times, each timed and all but the last closed
/// (start-up is their median, as in `bench`), the data buffers are placed as
/// `placement` asks (huge pages, `mbind`) before any page is touched, the
/// input is filled (by the workers, each its own chunks, unless memory
/// placement is `none`) and its pages located, then each repetition is timed
/// around `Engine.run`, from the call to the merged result.
@available(*, noasync, message: "blocks until the run finishes")
public func runBenchmark(_ spec: RunSpec, engine configuration: EngineConfiguration,
                         placement: ResolvedPlacement? = nil, startupSamples: Int = 5) throws(UnlockedError) -> RunReport {
    guard spec.reps > 0 else { throw .usage("--reps \(spec.reps): must be at least 1") }
    precondition(startupSamples >= 1, "start-up needs a sample")
    var startups: [Double] = []
    for _ in 1..<startupSamples {
        let (engine, nanoseconds) = try makeEngineTimed(configuration)
        engine.close()
        startups.append(nanoseconds)
    }
    let (engine, nanoseconds) = try makeEngineTimed(configuration)
    startups.append(nanoseconds)
    defer { engine.close() }
    let input = try engine.makeBuffer(count: spec.count, width: spec.dtype.byteWidth)
    let output = try spec.kernel.outputType.map { type throws(UnlockedError) in
        try engine.makeBuffer(count: spec.count, width: type.byteWidth)
    }
    var memory: [MemoryOutcome] = []
    if let placement {
        // Input first: its outcomes are the ones reported; the output gets the same treatment.
        for buffer in [input] + (output.map { [$0] } ?? []) {
            var outcomes: [MemoryOutcome] = []
            if placement.hugePages { outcomes.append(buffer.adviseHugePages()) }
            outcomes.append(try buffer.apply(placement.memory, topology: placement.topology))
            if memory.isEmpty { memory = outcomes }
        }
    }
    let generator = DataGenerator(seed: spec.seed)
    if placement?.memory == MemoryPolicy.none {
        // No placement wanted: the allocator's default, as a single-threaded program would get.
        generator.fill(input.base, dtype: spec.dtype, range: 0..<spec.count)
    } else {
        try engine.initialize(input, dtype: spec.dtype, count: spec.count, generator: generator)
    }
    let pages = placement.map { _ in input.pageLocations() }

    let job = EngineJob(kernel: spec.kernel, input: input, output: output, count: spec.count, params: spec.params)
    var last: EngineResult?
    var samples: [Double] = []
    for rep in 0..<(spec.warmup + spec.reps) {
        let start = monotonicNanoseconds()
        let result = try engine.run(job)
        let elapsed = monotonicNanoseconds() - start
        if rep >= spec.warmup { samples.append(Double(elapsed)) }
        last = result
    }
    guard let last else { throw .internal("no repetition ran") }
    return RunReport(spec: spec, isa: .selected, value: spec.kernel.result(acc: last.acc, output: output?.base, count: spec.count), samplesNanoseconds: samples, summary: SampleStatistics(samples)!,
                     engine: EngineRun(configuration: configuration, startup: engine.startup, statistics: last.statistics,
                                       startupSamplesNanoseconds: startups),
                     memory: memory, pages: pages, placementContext: placement?.context, plan: placement?.plan)
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

/// Starts the engine `configuration` names and measures `jobs` empty-job
/// round trips through it (what `unlocked run --round-trip` prints).
@available(*, noasync, message: "blocks until the jobs finish")
public func measureEmptyJobRoundTrip(_ configuration: EngineConfiguration, jobs: Int) throws(UnlockedError) -> SampleStatistics {
    let engine = try makeEngine(configuration)
    defer { engine.close() }
    return try measureRoundTrip(engine, jobs: jobs)
}
