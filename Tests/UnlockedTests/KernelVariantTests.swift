import CKernels
import Foundation
import Glibc
import Testing
import Unlocked

/// Every SIMD variant this CPU runs against the scalar reference, and the
/// reference against sums computed here in plain Swift.
@Suite struct KernelVariantTests {
    /// The vector variants this machine can run (none on a CPU without
    /// AVX2/NEON: the reference is then still checked against Swift).
    static let vectorISAs = ISA.allCases.filter { $0 != .scalar && $0.isSupported }

    @Test func dispatchSelectsTheBestSupportedVariant() throws {
        if ProcessInfo.processInfo.environment["UNLOCKED_ISA"] == nil {
            try ISA.initializeDispatch()
            #expect(ISA.selected == ([ISA.avx512, .avx2, .neon].first { $0.isSupported } ?? .scalar))
        }
        #if arch(x86_64)
        #expect(ISA.neon.isCompiled == false)
        #expect(ISA.avx2.isCompiled && ISA.avx512.isCompiled)
        #elseif arch(arm64)
        #expect(ISA.neon.isSupported)
        #endif
        #expect(ISA.scalar.isSupported)
    }

    /// A fresh process that calls a built-in kernel without `uk_dispatch_init`
    /// (a worker process, an embedder) runs the variant dispatch promises, not
    /// scalar: bench/variant_check.sh builds the C check (clang, ASan+UBSan)
    /// and runs it with UNLOCKED_ISA unset, set to each variant and unknown.
    /// The check's first calls come from four threads at once.
    @Test func freshProcessDispatchesOnFirstKernelCall() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [root.appendingPathComponent("bench/variant_check.sh").path, "dispatch"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "bench/variant_check.sh dispatch said: \(text)")
        let best = [ISA.avx512, .avx2, .neon].first { $0.isSupported } ?? .scalar
        #expect(text.contains("dispatch: first kernel calls without init ran \(best.rawValue) (widest variant"), "\(text)")
        #expect(text.contains("dispatch: first kernel calls without init ran scalar (forced by UNLOCKED_ISA=scalar)"), "\(text)")
        #expect(text.contains("dispatch: first kernel calls refuse UNLOCKED_ISA=bogus: UNLOCKED_ISA=bogus: unknown variant"), "\(text)")
    }

    @Test(arguments: DType.allCases)
    func variantsEqualReferenceOnRandomData(dtype: DType) {
        var rng = SplitMix(seed: 0x5EED_0000 &+ UInt64(dtype.byteWidth) &* 31 &+ (dtype.isInteger ? 1 : 0))
        let bench = VariantBench(dtype: dtype)
        for offset in 0..<64 {
            let values = (0..<VariantBench.maxCount).map { _ in Sample.random(dtype, &rng) }
            bench.check(values: values, center: Sample.random(dtype, &rng), byteOffset: offset)
        }
    }

    @Test(arguments: DType.allCases)
    func variantsEqualReferenceOnAdversarialValues(dtype: DType) {
        var rng = SplitMix(seed: 0xAD7E_5A51 &+ UInt64(dtype.byteWidth))
        let bench = VariantBench(dtype: dtype)
        let pool = Sample.adversarialValues(dtype)
        let centers = Sample.adversarialCenters(dtype)
        for offset in 0..<64 {
            let values = (0..<VariantBench.maxCount).map { _ in pool[Int(rng.next() % UInt64(pool.count))] }
            bench.check(values: values, center: centers[offset % centers.count], byteOffset: offset)
        }
    }

    /// Lengths past the vector kernels' blocks (x86 integer sums add 4 KiB
    /// at a time as abs of the wrapped x - c in narrow lanes when every
    /// distance is small, and redo a block exactly otherwise): small
    /// data, small data with one large distance in the second block,
    /// full-range data, centres near the int32 limits with data near both
    /// limits (a wrapped x - c is small, the distance is not), and distances
    /// just past the block's bound.
    @Test(arguments: DType.allCases)
    func longRangesEqualReference(dtype: DType) {
        var rng = SplitMix(seed: 0x10A6)
        let low = dtype == .i64 ? Int64.min : Int64(Int32.min), high = dtype == .i64 ? Int64.max : Int64(Int32.max)
        // Past the block bound of the type: 2^26 (int32), 2^58 (int64).
        let bound: Int64 = dtype == .i64 ? 3 << 57 : 1 << 26
        for count in [1_023, 1_024, 1_025, 2_048 + 77, 20_000] {
            let bench = VariantBench(dtype: dtype, maxCount: count)
            // Element-aligned offsets off the vector width (numpy's 16) take the
            // kernels' unaligned head; the others cannot.
            for (pattern, offset) in zip(0..<7, [16, 3, 8, 4, 61, 48, 0]) {
                let center: Int64 = switch pattern {
                case 3: low + 5
                case 4: high - 5
                case 5: dtype == .i64 ? (1 << 62) - 1 : (1 << 30) - 1
                default: 50
                }
                var values = (0..<count).map { _ -> Sample in
                    let near = Int64(rng.next() % 100)
                    switch pattern {
                    case 2: return Sample.random(dtype, &rng)
                    case 3, 4, 5: return Sample.integral(rng.next() % 2 == 0 ? low + near : high - near, dtype)
                    case 6: return Sample.integral(50 + bound + near, dtype) // 64 of them wrap the lane
                    default: return Sample.integral(near, dtype)
                    }
                }
                if pattern == 1 { values[min(1_500, count - 1)] = Sample.integral(1 << 30, dtype) }
                bench.check(values: values, center: Sample.integral(center, dtype), byteOffset: offset, counts: [count])
            }
        }
    }

    /// Ranges not starting at 0 read nothing outside [begin, end): the array
    /// is placed so that the element just past `end` (or just before
    /// `begin`) lies on an inaccessible page, where any read faults.
    @Test(arguments: DType.allCases)
    func rangesReadAndWriteNothingOutside(dtype: DType) throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let guarded = try GuardedPage(size: page)
        var rng = SplitMix(seed: 0x6A4D)
        // Whole numbers in [0, 100): float sums are exact in every order,
        // so every variant must equal the reference bit for bit here.
        for i in 0..<(page / dtype.byteWidth) {
            Sample.integral(Int64(rng.next() % 100), dtype).store(to: guarded.base, index: i)
        }
        let width = dtype.byteWidth
        let output = UnsafeMutableRawPointer.allocate(byteCount: page, alignment: 64)
        defer { output.deallocate() }
        let reference = UnsafeMutableRawPointer.allocate(byteCount: page, alignment: 64)
        defer { reference.deallocate() }
        var params = Sample.params(Sample.integral(37, dtype))

        for begin in [0, 1, 3, 7, 15, 16, 17, 33] {
            for length in [0, 1, 2, 5, 15, 16, 17, 31, 33, 63, 64, 65, 100, 129] {
                let end = begin + length
                // Tail against the guard, then head against the guard.
                for input in [guarded.base + page - end * width, guarded.base - begin * width] {
                    for op in Op.allCases {
                        params.flags = op == .mapStreaming ? UK_FLAG_STREAMING_STORES : 0
                        memset(reference, 0xA5, page)
                        let expected = op.call(ISA.scalar.variant(op.raw, dtype)!, dtype, input, reference, begin..<end, &params)
                        for isa in ISA.allCases where isa.isSupported {
                            memset(output, 0xA5, page)
                            let got = op.call(isa.variant(op.raw, dtype)!, dtype, input, output, begin..<end, &params)
                            #expect(got == expected, "\(isa) \(op) \(dtype) [\(begin), \(end))")
                            if op.isMap {
                                // Bit-exact inside the range, untouched sentinels outside.
                                #expect(memcmp(output, reference, page) == 0, "\(isa) \(op) \(dtype) [\(begin), \(end))")
                            }
                        }
                    }
                }
            }
        }
    }

    /// int64 distances of 2^64 - 1 each: the sum passes 2^64 many times over.
    @Test func int64SumIsExactBeyond2To64() {
        let count = 1_001
        let values = (0..<count).map { $0 % 2 == 0 ? Int64.max : Int64.min }
        var minCenter = Sample.params(.i64(Int64.min))
        var maxCenter = Sample.params(.i64(Int64.max))
        let far = UInt128(UInt64.max)
        let evens = UInt128((count + 1) / 2), odds = UInt128(count / 2)
        values.withUnsafeBytes { raw in
            for isa in ISA.allCases where isa.isSupported {
                let sum = isa.variant(UK_OP_ABSDIST_SUM, .i64)!
                let stream = isa.variant(UK_OP_STREAM_SUM, .i64)!
                #expect(Op.sum.call(sum, .i64, raw.baseAddress!, nil, 0..<count, &minCenter) == .unsigned(evens * far), "\(isa)")
                #expect(Op.sum.call(sum, .i64, raw.baseAddress!, nil, 0..<count, &maxCenter) == .unsigned(odds * far), "\(isa)")
                let exact = Int128(evens) * Int128(Int64.max) + Int128(odds) * Int128(Int64.min)
                #expect(Op.stream.call(stream, .i64, raw.baseAddress!, nil, 0..<count, &minCenter) == .signed(exact), "\(isa)")
                // All Int64.min: a negative sum far below -2^64.
                let negative = [Int64](repeating: .min, count: count)
                negative.withUnsafeBytes { neg in
                    #expect(Op.stream.call(stream, .i64, neg.baseAddress!, nil, 0..<count, &minCenter)
                            == .signed(Int128(count) * Int128(Int64.min)), "\(isa)")
                }
            }
        }
    }

    /// int32 distances of 2^32 - 1 each fill every 64-bit lane with large values.
    @Test func int32SumOfLargestDistancesIsExact() {
        let count = 100_003
        let values = [Int32](repeating: .max, count: count)
        var params = Sample.params(.i32(Int32.min))
        values.withUnsafeBytes { raw in
            for isa in ISA.allCases where isa.isSupported {
                #expect(Op.sum.call(isa.variant(UK_OP_ABSDIST_SUM, .i32)!, .i32, raw.baseAddress!, nil, 0..<count, &params)
                        == .unsigned(UInt128(count) * UInt128(UInt32.max)), "\(isa)")
                #expect(Op.stream.call(isa.variant(UK_OP_STREAM_SUM, .i32)!, .i32, raw.baseAddress!, nil, 0..<count, &params)
                        == .signed(Int128(count) * Int128(Int32.max)), "\(isa)")
            }
        }
    }
}

// MARK: - The length × offset × variant matrix

/// Buffers reused across the whole matrix of one element type.
final class VariantBench {
    static let maxCount = 300
    /// Sentinel bytes checked on both sides of every map output.
    static let guardBytes = 64

    let dtype: DType
    let input: UnsafeMutableRawPointer
    let reference: UnsafeMutableRawPointer
    let output: UnsafeMutableRawPointer
    private let capacity: Int

    init(dtype: DType, maxCount: Int = VariantBench.maxCount) {
        self.dtype = dtype
        capacity = 64 + maxCount * dtype.byteWidth + 2 * Self.guardBytes
        input = .allocate(byteCount: capacity, alignment: 64)
        reference = .allocate(byteCount: capacity, alignment: 64)
        output = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit {
        input.deallocate()
        reference.deallocate()
        output.deallocate()
    }

    /// Places `values` at `byteOffset` and checks the prefixes of `counts`
    /// lengths (all, 0…values.count, by default) of every operation and variant.
    func check(values: [Sample], center: Sample, byteOffset: Int, counts: [Int]? = nil) {
        let width = dtype.byteWidth
        let base = input + Self.guardBytes + byteOffset
        for (i, value) in values.enumerated() { value.store(to: base, index: i) }
        var params = Sample.params(center)
        let expected = Expected(values: values, center: center)

        // The reference map output, once, against distances computed in Swift.
        params.flags = 0
        let mapOut = reference + Self.guardBytes + byteOffset
        _ = Op.map.call(ISA.scalar.variant(UK_OP_ABSDIST_MAP, dtype)!, dtype, base, mapOut, 0..<values.count, &params)
        for (i, bits) in expected.distanceBits.enumerated() {
            #expect(Sample.bits(at: mapOut, index: i, width: width) == bits,
                    "scalar map \(dtype) x=\(values[i]) c=\(center) at \(i)")
        }

        for count in counts ?? Array(0...values.count) {
            for op in [Op.sum, .stream] {
                let got = op.call(ISA.scalar.variant(op.raw, dtype)!, dtype, base, nil, 0..<count, &params)
                expected.check(got, op: op, count: count, label: "scalar \(op) \(dtype) n=\(count) offset=\(byteOffset)")
                for isa in KernelVariantTests.vectorISAs {
                    let vector = op.call(isa.variant(op.raw, dtype)!, dtype, base, nil, 0..<count, &params)
                    if dtype.isInteger {
                        #expect(vector == got, "\(isa) \(op) \(dtype) n=\(count) offset=\(byteOffset)")
                    } else {
                        expected.check(vector, op: op, count: count, label: "\(isa) \(op) \(dtype) n=\(count) offset=\(byteOffset)")
                    }
                }
            }
            // Map, with and without streaming stores: bit-exact output,
            // sentinels on both sides untouched.
            let bytes = count * width
            for isa in KernelVariantTests.vectorISAs {
                for streaming in [false, true] {
                    params.flags = streaming ? UK_FLAG_STREAMING_STORES : 0
                    memset(output, 0xA5, capacity)
                    memset(reference, 0xA5, capacity)
                    let out = output + Self.guardBytes + byteOffset
                    _ = Op.map.call(ISA.scalar.variant(UK_OP_ABSDIST_MAP, dtype)!, dtype, base, mapOut, 0..<count, &params)
                    _ = Op.map.call(isa.variant(UK_OP_ABSDIST_MAP, dtype)!, dtype, base, out, 0..<count, &params)
                    #expect(memcmp(out, mapOut, bytes) == 0, "\(isa) map \(dtype) n=\(count) offset=\(byteOffset) streaming=\(streaming)")
                    #expect(memcmp(output, reference, capacity) == 0,
                            "\(isa) map \(dtype) wrote outside its range: n=\(count) offset=\(byteOffset) streaming=\(streaming)")
                }
            }
            params.flags = 0
        }
    }
}

/// Sums of every prefix, computed in plain Swift from the values.
struct Expected {
    /// Bit patterns of |x - c| in the map's output type.
    var distanceBits: [UInt64] = []
    var absdistPrefix: [KernelResult] = []
    var streamPrefix: [KernelResult] = []
    /// Float sums: Σ|term| of each prefix, for the error bound.
    var absdistMagnitude: [Double] = []
    var streamMagnitude: [Double] = []

    init(values: [Sample], center: Sample) {
        var distanceInt: UInt128 = 0, streamInt: Int128 = 0
        var distanceSum = Neumaier(), streamSum = Neumaier()
        func record() {
            switch center {
            case .i32, .i64:
                absdistPrefix.append(.unsigned(distanceInt))
                streamPrefix.append(.signed(streamInt))
            case .f32, .f64:
                absdistPrefix.append(.float(distanceSum.value))
                streamPrefix.append(.float(streamSum.value))
                absdistMagnitude.append(distanceSum.magnitude)
                streamMagnitude.append(streamSum.magnitude)
            }
        }
        for value in values {
            record()
            switch (value, center) {
            case let (.i32(x), .i32(c)):
                let d = UInt32((Int64(x) - Int64(c)).magnitude)
                distanceBits.append(UInt64(d))
                distanceInt += UInt128(d)
                streamInt += Int128(x)
            case let (.i64(x), .i64(c)):
                let d = UInt64((Int128(x) - Int128(c)).magnitude)
                distanceBits.append(d)
                distanceInt += UInt128(d)
                streamInt += Int128(x)
            case let (.f32(x), .f32(c)):
                let d = abs(x - c)
                distanceBits.append(UInt64(d.bitPattern))
                distanceSum.add(Double(d))
                streamSum.add(Double(x))
            case let (.f64(x), .f64(c)):
                let d = abs(x - c)
                distanceBits.append(d.bitPattern)
                distanceSum.add(d)
                streamSum.add(x)
            default:
                preconditionFailure("value and centre of different types")
            }
        }
        record()
    }

    /// Integers exactly; float sums within the header's bound
    /// |S − S_exact| ≤ (n − 1)·2⁻⁵³·Σ|term| (plus the reference's own error),
    /// and NaN / ±Inf exactly where the terms make them.
    func check(_ got: KernelResult, op: Op, count: Int, label: @autoclosure () -> String) {
        let expected = op == .sum ? absdistPrefix[count] : streamPrefix[count]
        guard case .float(let exact) = expected, case .float(let value) = got else {
            #expect(got == expected, "\(label())")
            return
        }
        if exact.isNaN || exact.isInfinite {
            #expect(value.isNaN == exact.isNaN && (exact.isNaN || value == exact), "\(label()): \(value), expected \(exact)")
            return
        }
        let magnitude = op == .sum ? absdistMagnitude[count] : streamMagnitude[count]
        let bound = Double(max(count - 1, 0)) * 0x1p-53 * magnitude + 0x1p-52 * abs(exact)
        #expect(abs(value - exact) <= bound, "\(label()): \(value), expected \(exact) ± \(bound)")
    }
}

/// Compensated summation (Neumaier): the "exact" float sum, within about
/// one rounding, to check the variants' bound against. Tracks Inf and NaN
/// terms apart, as the compensation would turn them into NaN.
struct Neumaier {
    private var sum = 0.0, compensation = 0.0
    private var positiveInfinity = false, negativeInfinity = false, nan = false
    private(set) var magnitude = 0.0

    mutating func add(_ term: Double) {
        if term.isNaN { nan = true; return }
        if term == .infinity { positiveInfinity = true; return }
        if term == -.infinity { negativeInfinity = true; return }
        magnitude += abs(term)
        if !sum.isFinite { return }
        let t = sum + term
        // Overflow: every order of these terms overflows too (see adversarialValues).
        guard t.isFinite else { sum = t; return }
        compensation += abs(sum) >= abs(term) ? (sum - t) + term : (term - t) + sum
        sum = t
    }

    var value: Double {
        if nan || (positiveInfinity && negativeInfinity) { return .nan }
        if positiveInfinity { return .infinity }
        if negativeInfinity { return -.infinity }
        return sum.isFinite ? sum + compensation : sum
    }
}

// MARK: - Calling variants

/// What a variant produced: a reduction's accumulator read as its kind.
enum KernelResult: Equatable {
    case unsigned(UInt128), signed(Int128), float(Double), map

    static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case let (.unsigned(x), .unsigned(y)): x == y
        case let (.signed(x), .signed(y)): x == y
        // Bit equality: NaN equals NaN, -0.0 differs from +0.0.
        case let (.float(x), .float(y)): x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN)
        case (.map, .map): true
        default: false
        }
    }
}

enum Op: CaseIterable, CustomStringConvertible {
    case map, mapStreaming, sum, stream

    var raw: uk_op {
        switch self {
        case .map, .mapStreaming: UK_OP_ABSDIST_MAP
        case .sum: UK_OP_ABSDIST_SUM
        case .stream: UK_OP_STREAM_SUM
        }
    }

    var isMap: Bool { raw == UK_OP_ABSDIST_MAP }

    var description: String {
        switch self {
        case .map: "absdist.map"
        case .mapStreaming: "absdist.map (streaming)"
        case .sum: "absdist.sum"
        case .stream: "stream.sum"
        }
    }

    /// Calls `fn` over `range` of `dtype` elements, reading the accumulator
    /// as the kernel documents: absdist unsigned, stream signed, floats `f`.
    func call(_ fn: uk_variant_fn, _ dtype: DType, _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer?,
              _ range: Range<Int>, _ params: UnsafeMutablePointer<uk_params>) -> KernelResult {
        var acc = uk_acc()
        if isMap {
            fn(input, output, range.lowerBound, range.upperBound, params, nil)
            return .map
        }
        fn(input, nil, range.lowerBound, range.upperBound, params, &acc)
        let bits = UInt128(acc.hi) << 64 | UInt128(acc.lo)
        if !dtype.isInteger {
            // Float kernels leave the integer half alone.
            return bits == 0 ? .float(acc.f) : .unsigned(bits)
        }
        return self == .sum ? .unsigned(bits) : .signed(Int128(bitPattern: bits))
    }
}

/// One element value of any type.
enum Sample: CustomStringConvertible {
    case i32(Int32), i64(Int64), f32(Float), f64(Double)

    var description: String {
        switch self {
        case .i32(let v): "\(v)"
        case .i64(let v): "\(v)"
        case .f32(let v): "\(v)"
        case .f64(let v): "\(v)"
        }
    }

    func store(to base: UnsafeMutableRawPointer, index: Int) {
        switch self {
        case .i32(let v): base.storeBytes(of: v, toByteOffset: index * 4, as: Int32.self)
        case .i64(let v): base.storeBytes(of: v, toByteOffset: index * 8, as: Int64.self)
        case .f32(let v): base.storeBytes(of: v, toByteOffset: index * 4, as: Float.self)
        case .f64(let v): base.storeBytes(of: v, toByteOffset: index * 8, as: Double.self)
        }
    }

    static func bits(at base: UnsafeRawPointer, index: Int, width: Int) -> UInt64 {
        width == 4 ? UInt64(base.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
                   : base.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)
    }

    /// The kernel parameters with `center` as the centre c.
    static func params(_ center: Sample) -> uk_params {
        var params = uk_params()
        params.size = UInt32(MemoryLayout<uk_params>.size)
        switch center {
        case .i32(let c): params.center_int = Int64(c)
        case .i64(let c): params.center_int = c
        case .f32(let c): params.center_float = Double(c)
        case .f64(let c): params.center_float = c
        }
        return params
    }

    static func integral(_ value: Int64, _ dtype: DType) -> Sample {
        switch dtype {
        case .i32: .i32(Int32(value))
        case .i64: .i64(value)
        case .f32: .f32(Float(value))
        case .f64: .f64(Double(value))
        }
    }

    /// Full-range integers; floats of mixed sign and magnitude.
    static func random(_ dtype: DType, _ rng: inout SplitMix) -> Sample {
        let bits = rng.next()
        let scale = Double(1 << (bits % 24)) / 1024
        let real = (Double(bits >> 11) * 0x1p-53 - 0.5) * scale
        switch dtype {
        case .i32: return .i32(Int32(truncatingIfNeeded: bits))
        case .i64: return .i64(Int64(bitPattern: bits))
        case .f32: return .f32(Float(real))
        case .f64: return .f64(real)
        }
    }

    /// Type limits, zeros of both signs, NaN (two payloads), ±Inf, subnormals.
    /// Finite f64 values stay below 1e300 so no finite partial sum of 300 of
    /// them overflows in one summation order but not in another.
    static func adversarialValues(_ dtype: DType) -> [Sample] {
        switch dtype {
        case .i32: [Int32.min, .min + 1, .max, .max - 1, 0, -1, 1, 50].map { .i32($0) }
        case .i64: [Int64.min, .min + 1, .max, .max - 1, 0, -1, 1, 50].map { .i64($0) }
        case .f32:
            [Float.nan, Float(nan: 0x1234, signaling: false), -.nan, .infinity, -.infinity, 0, -0.0,
             .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude,
             -.leastNormalMagnitude, 1.5, -2.25, 50].map { .f32($0) }
        case .f64:
            [Double.nan, Double(nan: 0x1234, signaling: false), -.nan, .infinity, -.infinity, 0, -0.0,
             1e300, -1e300, .leastNonzeroMagnitude, -.leastNormalMagnitude, 1.5, -2.25, 50].map { .f64($0) }
        }
    }

    /// Centres at the type's extremes (distances up to 2^32 - 1 / 2^64 - 1, or Inf).
    static func adversarialCenters(_ dtype: DType) -> [Sample] {
        switch dtype {
        case .i32: [Int32.min, .max, 0, -1, 50].map { .i32($0) }
        case .i64: [Int64.min, .max, 0, -1, 50].map { .i64($0) }
        case .f32: [Float(0), -0.0, 50, .infinity, -.infinity, .nan, .greatestFiniteMagnitude].map { .f32($0) }
        case .f64: [0, -0.0, 50, .infinity, -.infinity, .nan, -1e308].map { .f64($0) }
        }
    }
}

/// A seeded generator, so a failure reproduces: SplitMix64, as the library's
/// `DataGenerator` computes it, drawn in sequence (draw k is its element k).
struct SplitMix: RandomNumberGenerator {
    let generator: DataGenerator
    var draws = 0
    init(seed: UInt64) { generator = DataGenerator(seed: seed) }
    mutating func next() -> UInt64 {
        draws += 1
        return generator.bits(draws)
    }
}

/// One read-write page between two inaccessible ones.
final class GuardedPage {
    let base: UnsafeMutableRawPointer
    private let mapping: UnsafeMutableRawPointer
    private let size: Int

    init(size: Int) throws {
        let raw = mmap(nil, 3 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != MAP_FAILED else { throw UnlockedError.internal("mmap: \(errno)") }
        mapping = raw
        self.size = size
        base = raw + size
        guard mprotect(base, size, PROT_READ | PROT_WRITE) == 0 else { throw UnlockedError.internal("mprotect: \(errno)") }
    }

    deinit { munmap(mapping, 3 * size) }
}
