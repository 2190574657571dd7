#if os(Linux)
import CKernels
import Glibc
import UnlockedCore
import UnlockedEngines
import UnlockedKernels
import UnlockedTopology

/// Runs `bench` and `compare` cells through the real engines, each placed by
/// its cell's `--pin` and `--mem` policies on this machine's topology.
public struct EngineCellRunner: CellRunner {
    /// The `unlocked` binary process engines start; nil is this executable
    /// (a program embedding the library names the CLI here).
    public var workerExecutable: String?

    public init(workerExecutable: String? = nil) {
        self.workerExecutable = workerExecutable
    }

    public var engineNames: [String] { EngineKind.allCases.map(\.rawValue) }

    /// The bandwidth ceiling is `stream.sum` through the same kind of pool
    /// that runs the kernels, so the percentage compares like with like.
    public func ceilingEngine(workers: Int) -> String {
        workers > 1 ? EngineKind.lockfreePool.rawValue : EngineKind.sequential.rawValue
    }

    /// The cell's engine configuration, or a usage error naming what is wrong.
    package func configuration(engine name: String, workers: Int, pin: String,
                       mem: String) throws(UnlockedError) -> (EngineConfiguration, ResolvedPlacement) {
        guard let kind = EngineKind(rawValue: name) else {
            throw .usage("engine \(name): unknown (accepted: \(EngineKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let request = PlacementRequest(workers: workers, pin: try PinPolicy(parsing: pin), memory: try MemoryPolicy(parsing: mem))
        let placement = try request.resolve()
        return (EngineConfiguration(kind: kind, placement: placement.plan, workerExecutable: workerExecutable), placement)
    }

    /// Applies the cell's memory policy before any page is touched, then has
    /// each pinned worker of a pool placed like the widest cell write the
    /// chunks it will read (first-touch). `none`, and shared memory whose
    /// pages the allocation already placed, are filled by the calling thread.
    public func fillInput(_ buffer: JobBuffer, dtype: DType, count: Int, generator: DataGenerator,
                          mem: String, pin: String, workers: Int) throws(UnlockedError) {
        let policy = try MemoryPolicy(parsing: mem)
        // A placement that cannot be made here fails its cells in `prepare`,
        // with the reason; the input is then written by the calling thread.
        guard policy != .none, buffer.sharedFileDescriptor == nil,
              let (configuration, placement) = try? configuration(engine: EngineKind.lockfreePool.rawValue, workers: workers,
                                                                  pin: pin, mem: mem) else {
            generator.fill(buffer.base, dtype: dtype, range: 0..<count)
            return
        }
        _ = try buffer.apply(policy, topology: placement.topology)
        let pool = try makeEngine(configuration)
        defer { pool.close() }
        try pool.initialize(buffer, dtype: dtype, count: count, generator: generator)
    }

    public func prepare(_ cell: BenchCell, kernel: Kernel, data: CellData) throws(UnlockedError) -> any PreparedCell {
        let (configuration, placement) = try configuration(engine: cell.engine, workers: cell.workers, pin: cell.pin, mem: cell.mem)
        let start = monotonicNanoseconds()
        let engine = try makeEngine(configuration)
        let startup = Double(monotonicNanoseconds() - start)
        return try EnginePreparedCell(engine: engine, kernel: kernel, data: data, startup: startup, placement: placement)
    }
}

/// One cell's engine, alive while the sweep repeats it; closed on release.
package final class EnginePreparedCell: PreparedCell {
    package let engine: any Engine
    package let kernel: Kernel
    package let data: CellData
    package let job: EngineJob
    /// Set when the engine needs shared memory and the cell's output is not:
    /// results are copied back after each timed run.
    package let outputCopy: (from: JobBuffer, to: JobBuffer)?
    package let startupNanoseconds: Double?
    package let placement: String
    /// What the engine reported for the last repetition.
    package private(set) var lastStatistics: EngineStatistics?

    package init(engine: any Engine, kernel: Kernel, data: CellData, startup: Double, placement: ResolvedPlacement) throws(UnlockedError) {
        self.engine = engine
        self.kernel = kernel
        self.data = data
        startupNanoseconds = startup
        // processes-shm maps only shared memory: copy borrowed input in once.
        var input = data.input
        var output = data.output
        var outputCopy: (from: JobBuffer, to: JobBuffer)?
        if engine.kind.needsSharedBuffers {
            if input.sharedFileDescriptor == nil {
                input = try engine.makeBuffer(count: data.count, width: kernel.inputType.byteWidth)
                input.base.copyMemory(from: data.input.base, byteCount: data.count * kernel.inputType.byteWidth)
            }
            if let cellOutput = data.output, cellOutput.sharedFileDescriptor == nil, let type = kernel.outputType {
                let shared = try engine.makeBuffer(count: data.count, width: type.byteWidth)
                output = shared
                outputCopy = (shared, cellOutput)
            }
        }
        self.outputCopy = outputCopy
        job = EngineJob(kernel: kernel, input: input, output: output, count: data.count, params: data.params)
        let observed = engine.startup.bindings.map { "w\($0.worker)→cpu \($0.observedCPU)" }
        self.placement = "\(placement.plan.policy), mem \(placement.memory)"
            + (observed.isEmpty ? " (threads not ours: unbound)" : ": " + observed.joined(separator: " "))
    }

    deinit { engine.close() }

    package func runOnce() throws(UnlockedError) -> CellSample {
        let start = monotonicNanoseconds()
        let result = try engine.run(job)
        let wall = Double(monotonicNanoseconds() - start)
        if let (from, to) = outputCopy, let type = kernel.outputType {
            to.base.copyMemory(from: from.base, byteCount: data.count * type.byteWidth)
        }
        let statistics = result.statistics
        lastStatistics = statistics
        let value = kernel.result(acc: result.acc, output: data.output?.base, count: data.count)
        return CellSample(wallNanoseconds: wall,
                          startupNanoseconds: statistics.startupNanoseconds > 0 ? Double(statistics.startupNanoseconds) : nil,
                          bytesExchanged: statistics.bytesCopied > 0 ? statistics.bytesCopied : nil,
                          value: value)
    }
}
#endif
