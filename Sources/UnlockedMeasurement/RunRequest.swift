import CKernels
import UnlockedCore
import UnlockedKernels

/// The largest `--reps` or `--warmup`: far beyond any useful measurement, and
/// small enough that counting and storing the samples can never overflow.
public let maximumRepetitions = 1_000_000

/// Checks warm-up and timed repetition counts, with the one wording every
/// command uses.
public func validateRepetitions(warmup: Int, reps: Int?) throws(UnlockedError) {
    guard (0...maximumRepetitions).contains(warmup) else {
        throw .usage("--warmup \(warmup): must be a whole number in 0...\(maximumRepetitions)")
    }
    if let reps, !(1...maximumRepetitions).contains(reps) {
        throw .usage("--reps \(reps): must be a whole number in 1...\(maximumRepetitions)")
    }
}

/// `unlocked run` as typed. `resolve` decides what it means: the defaults,
/// the data source, and which flags cannot apply to it (a file sets its own
/// element count; an `.npy` header its own element type), which are refused
/// with one line rather than ignored.
public struct RunRequest: Sendable {
    public static let defaultSize = 100_000
    public static let defaultSeed: UInt64 = 42
    public static let defaultDType = DType.i32

    public var kernel: String
    /// nil: `defaultDType` for generated data and raw files, the header's for `.npy`.
    public var dtype: DType?
    /// The element count as typed (`1e5`, `64Mi`); nil: `defaultSize`.
    public var size: String?
    /// The centre `c` as typed, parsed for the element type.
    public var center: String
    /// nil: `defaultSeed`.
    public var seed: UInt64?
    /// A file to read instead of generated data.
    public var input: String?
    /// Where a map kernel's output goes as `.npy` (needs `input`).
    public var output: String?
    public var warmup: Int
    public var reps: Int

    public init(kernel: String = "absdist.sum", dtype: DType? = nil, size: String? = nil, center: String = "50",
                seed: UInt64? = nil, input: String? = nil, output: String? = nil, warmup: Int = 1, reps: Int = 5) {
        self.kernel = kernel
        self.dtype = dtype
        self.size = size
        self.center = center
        self.seed = seed
        self.input = input
        self.output = output
        self.warmup = warmup
        self.reps = reps
    }

    /// The run this request describes, with kernels looked up in `catalog`: over the
    /// whole array, or over one `part` of it (an MPI rank's block of the global `--size`
    /// or of the file, whose other parts are never read).
    public func resolve(catalog: KernelCatalog, part: ArrayPart = .whole) throws(UnlockedError) -> RunSpec {
        try validateRepetitions(warmup: warmup, reps: reps)
        guard let input else {
            if let output { throw .usage("--output \(output): needs --input (map output is written for real data only)") }
            let dtype = dtype ?? Self.defaultDType
            let count = try size.map { text throws(UnlockedError) in
                guard let count = parseCount(text) else {
                    throw .usage("--size \(text): not a positive element count (accepted: 100000, 1e5, 64Ki, 1Gi)")
                }
                return count
            } ?? Self.defaultSize
            guard count >= part.count else {
                throw .usage("--size \(size ?? String(count)): fewer elements than the \(part.count) ranks (each needs at least one)")
            }
            let elements = part.range(of: count)
            return RunSpec(kernel: try catalog.kernel(named: kernel, dtype: dtype), count: elements.count,
                           params: try dtype.parseCenter(center), source: .generated(seed: seed ?? Self.defaultSeed),
                           warmup: warmup, reps: reps, firstIndex: elements.lowerBound)
        }
        if let size { throw .usage("--size \(size): does not apply to --input \(input) (the file sets the element count)") }
        if let seed { throw .usage("--seed \(seed): does not apply to --input \(input) (the data comes from the file)") }
        let array = try MappedArray(path: input, rawType: dtype ?? Self.defaultDType, part: part)
        if let dtype, array.isNpy {
            throw .usage("--dtype \(dtype.rawValue): does not apply to \(input) (its .npy header says \(array.elementType.rawValue))")
        }
        let fileType = try array.dtype
        guard array.count > 0 else { throw .badData("\(input): the array has no elements (nothing to compute)") }
        guard array.count >= part.count else {
            throw .badData("\(input): \(array.count) elements are fewer than the \(part.count) ranks (each needs at least one)")
        }
        return RunSpec(kernel: try catalog.kernel(named: kernel, dtype: fileType), count: array.elements.count,
                       params: try fileType.parseCenter(center), source: .file(array, output: output),
                       warmup: warmup, reps: reps, firstIndex: array.elements.lowerBound)
    }
}
