import Foundation
import Testing
import Unlocked

/// `unlocked kernels`, `UNLOCKED_ISA`, and `unlocked run --json` checked
/// against sums computed here, as a user or a script would see them.
@Suite struct KernelCommandTests {
    @Test(arguments: ISA.allCases)
    func forcedVariantIsSelectedOrRefused(isa: ISA) throws {
        let outcome = try CommandLineTool.run(["kernels"], environment: ["UNLOCKED_ISA": isa.rawValue])
        if isa.isSupported {
            #expect(outcome.status == 0, "\(outcome.stderr)")
            #expect(outcome.stdout.hasPrefix("selected variant: \(isa.rawValue), forced by UNLOCKED_ISA=\(isa.rawValue)\n"))
            let rows = try kernelRows(outcome.stdout)
            #expect(rows.count == 12)
            for row in rows { #expect(row.marks[isa] == "*", "\(row.line)") }
        } else {
            #expect(outcome.status == 64)
            #expect(outcome.stdout.isEmpty)
            #expect(outcome.stderr.hasPrefix("unlocked: UNLOCKED_ISA=\(isa.rawValue): "))
            #expect(outcome.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test(arguments: ["bogus", "avx-512", "sse2"])
    func unknownVariantIsAUsageError(name: String) throws {
        for command in [["kernels"], ["run", "--size", "1000"]] {
            let outcome = try CommandLineTool.run(command, environment: ["UNLOCKED_ISA": name])
            #expect(outcome.status == 64)
            #expect(outcome.stderr == "unlocked: UNLOCKED_ISA=\(name): unknown variant (accepted: scalar, avx2, avx512, neon; this CPU runs: \(ISA.allCases.filter(\.isSupported).map(\.rawValue).joined(separator: ", ")))\n")
            #expect(!outcome.stderr.contains("Fatal error"))
        }
    }

    @Test func withoutTheVariableTheWidestSupportedVariantIsSelected() throws {
        let best = [ISA.avx512, .avx2, .neon].first { $0.isSupported } ?? .scalar
        let outcome = try CommandLineTool.run(["kernels"], environment: ["UNLOCKED_ISA": ""])
        #expect(outcome.status == 0)
        #expect(outcome.stdout.hasPrefix("selected variant: \(best.rawValue), "))
        for row in try kernelRows(outcome.stdout) {
            for isa in ISA.allCases {
                let expected = isa == best ? "*" : isa.isSupported ? "+" : isa.isCompiled ? "cpu" : "-"
                #expect(row.marks[isa] == expected, "\(row.line)")
            }
        }
    }

    static let runCases: [(kernel: String, dtype: DType)] =
        ["absdist.sum", "stream.sum", "absdist.map"].flatMap { kernel in DType.allCases.map { (kernel, $0) } }

    /// The JSON result equals a sum computed here in plain Swift over the
    /// same generated data (an odd size, so every variant runs a remainder).
    @Test(arguments: runCases)
    func runJSONResultMatchesAnIndependentSum(kernel: String, dtype: DType) throws {
        let count = 10_007, seed: UInt64 = 9
        let center = dtype.isInteger ? "37" : "37.25"
        for isa in ISA.allCases where isa.isSupported {
            let outcome = try CommandLineTool.run(
                ["run", "--kernel", kernel, "--dtype", dtype.rawValue, "--size", "\(count)", "--center", center,
                 "--seed", "\(seed)", "--reps", "2", "--json"],
                environment: ["UNLOCKED_ISA": isa.rawValue])
            #expect(outcome.status == 0, "\(outcome.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
            #expect(json["isa"] as? String == isa.rawValue)
            #expect(json["kernel"] as? String == kernel)
            let result = try #require(json["result"] as? String)
            let expected = independentResult(kernel: kernel, dtype: dtype, count: count, seed: seed, center: center)
            switch expected {
            case .exact(let text):
                #expect(result == text, "\(isa) \(kernel) \(dtype)")
            case .approximately(let value, let bound):
                let got = try #require(Double(result))
                #expect(abs(got - value) <= bound, "\(isa) \(kernel) \(dtype): \(got), expected \(value) ± \(bound)")
            }
        }
    }

    enum Result {
        case exact(String)
        case approximately(Double, bound: Double)
    }

    /// The run's data regenerated with DataGenerator, summed with plain Swift
    /// arithmetic (never the kernels). Map runs report the sum of their output.
    func independentResult(kernel: String, dtype: DType, count: Int, seed: UInt64, center: String) -> Result {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * dtype.byteWidth, alignment: 64)
        defer { raw.deallocate() }
        DataGenerator(seed: seed).fill(raw, dtype: dtype, range: 0..<count)
        let absdist = kernel != "stream.sum"
        switch dtype {
        case .i32, .i64:
            let c = Int128(Int64(center)!)
            let values = (0..<count).map { dtype == .i32 ? Int128(raw.load(fromByteOffset: $0 * 4, as: Int32.self))
                                                         : Int128(raw.load(fromByteOffset: $0 * 8, as: Int64.self)) }
            let sum = absdist ? values.reduce(Int128(0)) { $0 + ($1 - c).magnitude.asInt128 } : values.reduce(0, +)
            return .exact("\(sum)")
        case .f32, .f64:
            let terms: [Double] = (0..<count).map { i in
                if dtype == .f32 {
                    let x = raw.load(fromByteOffset: i * 4, as: Float.self)
                    return absdist ? Double(abs(x - Float(center)!)) : Double(x)
                }
                let x = raw.load(fromByteOffset: i * 8, as: Double.self)
                return absdist ? abs(x - Double(center)!) : x
            }
            // Compensated: within about one rounding of the exact sum.
            var sum = 0.0, compensation = 0.0
            for term in terms {
                let t = sum + term
                compensation += abs(sum) >= abs(term) ? (sum - t) + term : (term - t) + sum
                sum = t
            }
            let magnitude = terms.reduce(0) { $0 + abs($1) }
            return .approximately(sum + compensation, bound: Double(count) * 0x1p-53 * magnitude)
        }
    }

    struct KernelRow {
        var line: Substring
        var marks: [ISA: String]
    }

    /// The kernel × variant rows of `unlocked kernels`, columns read from its header.
    func kernelRows(_ stdout: String) throws -> [KernelRow] {
        let lines = stdout.split(separator: "\n")
        let header = try #require(lines.first { $0.hasPrefix("kernel ") })
        let names = header.split(separator: " ").map(String.init)
        return lines.filter { line in ["absdist.", "stream."].contains { line.hasPrefix($0) } }.map { line in
            let cells = line.split(separator: " ").map(String.init)
            var marks: [ISA: String] = [:]
            for (index, name) in names.enumerated() {
                if let isa = ISA(rawValue: name), index < cells.count { marks[isa] = cells[index] }
            }
            return KernelRow(line: line, marks: marks)
        }
    }
}

private extension UInt128 {
    var asInt128: Int128 { Int128(self) }
}
