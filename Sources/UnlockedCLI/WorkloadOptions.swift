import ArgumentParser
import Unlocked

/// Options that describe the work: which kernel, over what data.
struct WorkloadOptions: ParsableArguments {
    @Option(help: "Kernel name: absdist.sum, absdist.map, stream.sum, or a plugin's kernel.")
    var kernel = "absdist.sum"

    @Option(help: "Element type: i32, i64, f32, f64.")
    var dtype: DType = .i32

    @Option(help: "Elements: 100000, 1e5, 64Ki, 1Gi, 10M.")
    var size = "100000"

    @Option(help: "The centre c of |x - c|; a whole number in range for integer types.")
    var center = "50"

    @Option(help: "Seed of the reproducible input (uniform in [0,100) as in the seed benchmark).")
    var seed: UInt64 = 42

    /// The element count, or a usage error naming the flag and the accepted forms.
    func count() throws(UnlockedError) -> Int {
        guard let count = parseCount(size) else {
            throw .usage("--size \(size): not a positive element count (accepted: 100000, 1e5, 64Ki, 1Gi)")
        }
        return count
    }
}

extension DType: ExpressibleByArgument {}
