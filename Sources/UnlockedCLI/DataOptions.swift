import ArgumentParser
import Unlocked

/// Options that read real data instead of generating it.
struct DataOptions: ParsableArguments {
    @Option(help: "Read the input from FILE: .npy (<i4 <i8 <f4 <f8, C order, versions 1-3), or any other file as raw little-endian elements of --dtype. Mapped, not copied.")
    var input: String?

    @Option(help: "Write a map kernel's output to FILE as .npy (needs --input). Written under a temporary name and renamed when complete.")
    var output: String?
}

extension DataOptions {
    /// The run over `--input`, or nil when no file was given (generated data).
    func fileRun(workload: WorkloadOptions, catalog: KernelCatalog, warmup: Int, reps: Int) throws(UnlockedError) -> FileRun? {
        guard let input else {
            if output != nil { throw .usage("--output \(output!): needs --input (map output is written for real data only)") }
            return nil
        }
        let array = try MappedArray(path: input, rawType: workload.dtype)
        let dtype = try array.dtype
        let kernel = try catalog.kernel(named: workload.kernel, dtype: dtype)
        return FileRun(kernel: kernel, input: array, outputPath: output, params: try dtype.parseCenter(workload.center),
                       warmup: warmup, reps: reps)
    }

    /// Runs over the file and prints the report, naming the files instead of a seed.
    func printRun(_ run: FileRun, json: Bool) throws(UnlockedError) {
        let report = try run.run()
        if json {
            var object = report.jsonObject
            object["seed"] = nil
            object["input"] = run.input.path
            object["output"] = run.outputPath
            print(jsonString(object))
        } else {
            print(report.text)
            print("input       \(run.input.path) (\(run.input.elementType.rawValue), shape \(run.input.shape))")
            if let output = run.outputPath { print("output      \(output)") }
        }
    }
}
