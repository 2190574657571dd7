import ArgumentParser
import Unlocked

/// The generated data: its seed and the centre `c` of |x - c|. Shared by `run` and `bench`.
struct DataSeedOptions: ParsableArguments {
    @Option(help: "Seed of the reproducible input, uniform in [0,100) as in the seed benchmark (default \(RunRequest.defaultSeed)).")
    var seed: UInt64?

    // Unconditional, so `--center -5` reads -5 as the value rather than as an option.
    @Option(parsing: .unconditional, help: "The centre c of |x - c|; a whole number in range for integer types.")
    var center = "50"
}

/// Options that describe the work of `run`: which kernel, over what data.
struct WorkloadOptions: ParsableArguments {
    @Option(help: "Kernel name: absdist.sum, absdist.map, stream.sum, or a plugin's kernel.")
    var kernel = "absdist.sum"

    @Option(help: "Element type: i32, i64, f32, f64 (default i32; an .npy input sets its own).")
    var dtype: DType?

    @Option(help: "Elements: 100000, 1e5, 64Ki, 1Gi, 10M (default \(RunRequest.defaultSize); an --input sets its own).")
    var size: String?

    @OptionGroup var data: DataSeedOptions

    @Option(help: "Read the input from FILE: .npy (<i4 <i8 <f4 <f8, C order, versions 1-3), or any other file as raw little-endian elements of --dtype. Mapped, not copied.")
    var input: String?

    @Option(help: "Write a map kernel's output to FILE as .npy (needs --input). Written under a temporary name and renamed when complete.")
    var output: String?
}

extension DType: ExpressibleByArgument {}
