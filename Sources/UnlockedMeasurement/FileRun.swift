#if os(Linux)
import CKernels
import UnlockedCore
import UnlockedEngines
import UnlockedKernels
import UnlockedTopology

/// `unlocked run --input FILE [--output OUT.npy]`: a kernel over a mapped file,
/// through the same `CellRunner` seam as `bench`, so every engine reads real
/// data the way it reads generated data.
public struct FileRun {
    public var kernel: Kernel
    public var input: MappedArray
    /// Where map output goes as `.npy`; nil keeps it in memory (its checksum is reported).
    public var outputPath: String?
    public var params: uk_params
    public var warmup: Int
    public var reps: Int
    public var engine: String
    public var workers: Int
    public var pin: String
    public var mem: String

    public init(kernel: Kernel, input: MappedArray, outputPath: String?, params: uk_params, warmup: Int, reps: Int,
                engine: String = "sequential", workers: Int = 1, pin: String = "none", mem: String = "first-touch") {
        self.kernel = kernel
        self.input = input
        self.outputPath = outputPath
        self.params = params
        self.warmup = warmup
        self.reps = reps
        self.engine = engine
        self.workers = workers
        self.pin = pin
        self.mem = mem
    }

    /// Runs it; the output file appears, complete, only when every repetition succeeded.
    public func run(runner: any CellRunner = defaultCellRunner()) throws(UnlockedError) -> RunReport {
        guard reps > 0 else { throw .usage("--reps \(reps): must be a whole number ≥ 1") }
        guard warmup >= 0 else { throw .usage("--warmup \(warmup): must be a whole number ≥ 0") }
        guard input.count > 0 else { throw .badData("\(input.path): the array has no elements (nothing to compute)") }
        if outputPath != nil && kernel.outputType == nil {
            throw .usage("--output: kernel \(kernel.name) is a reduction and writes no array (use a map kernel such as absdist.map)")
        }
        let outputFile = try outputPath.map { path throws(UnlockedError) in
            try NpyOutputFile(path: path, type: kernel.outputType!, shape: input.shape)
        }
        let scratch = try outputFile == nil ? kernel.outputType.map { type throws(UnlockedError) in
            try AlignedBuffer(count: input.count, width: type.byteWidth)
        } : nil
        let cell = BenchCell(engine: engine, kernel: kernel.name, dtype: kernel.inputType, size: input.count,
                             workers: workers, pin: pin, mem: mem)
        let inputBuffer = JobBuffer(borrowing: UnsafeMutableRawPointer(mutating: input.base),
                                    byteCount: input.count * kernel.inputType.byteWidth, owner: input)
        let outputBuffer: JobBuffer? = if let outputFile {
            JobBuffer(borrowing: outputFile.base, byteCount: input.count * kernel.outputType!.byteWidth, owner: outputFile)
        } else {
            scratch.map { JobBuffer(borrowing: $0.base, byteCount: $0.byteCount, owner: $0) }
        }
        let data = CellData(input: inputBuffer, output: outputBuffer, count: input.count, params: params)
        let prepared = try runner.prepare(cell, kernel: kernel, data: data)
        var samples: [CellSample] = []
        for rep in 0..<(warmup + reps) {
            let sample = try prepared.runOnce()
            if rep >= warmup { samples.append(sample) }
        }
        try outputFile?.commit()
        let spec = RunSpec(kernel: kernel, count: input.count, params: params, seed: 0, warmup: warmup, reps: reps)
        let times = samples.map(\.wallNanoseconds)
        return RunReport(spec: spec, isa: .selected, value: samples[0].value, samplesNanoseconds: times, summary: SampleStatistics(times)!, engine: nil)
    }
}
#endif
