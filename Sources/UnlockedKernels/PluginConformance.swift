import CKernels
import Foundation
import Synchronization
import UnlockedCore

/// The conformance checks of `unlocked plugins verify`, run on one kernel.
///
/// Meant for the verifier's child process: a kernel that crashes or hangs
/// here takes only the child down. Each check is announced through
/// `report` BEFORE it runs, so the parent can name the check a crash
/// happened in. Call from one thread; the concurrency check starts its own.
public struct PluginConformance {
    /// What a check announces or concludes.
    public enum Event: Sendable, Equatable {
        case begin(check: String)
        case pass(check: String)
        case fail(check: String, reason: String)
    }

    public let kernel: Kernel
    /// The built-in kernel of the same name and input type, if there is one.
    public let reference: Kernel?
    /// Threads of the concurrency stress.
    public let threads: Int

    public init(kernel: Kernel, threads: Int = 8) {
        self.kernel = kernel
        self.threads = max(threads, 2)
        self.reference = kernel.plugin === PluginInstance.builtin ? nil
            : PluginInstance.builtin.kernels.first { $0.name == kernel.name && $0.inputType == kernel.inputType }
    }

    /// Runs every check in order; returns whether all passed.
    @discardableResult
    public func run(report: (Event) -> Void) -> Bool {
        var passed = true
        func check(_ name: String, _ body: () throws(CheckFailure) -> Void) {
            report(.begin(check: name))
            do {
                try body()
                report(.pass(check: name))
            } catch {
                passed = false
                report(.fail(check: name, reason: error.reason))
            }
        }
        let context: UnsafeMutableRawPointer?
        do {
            context = try kernel.plugin.makeWorkerContext(worker: 0)
        } catch {
            report(.fail(check: "worker context", reason: error.message))
            return false
        }
        defer { kernel.plugin.releaseWorkerContext(context) }
        let probe = Probe(kernel: kernel, context: context)
        let refProbe = reference.map { Probe(kernel: $0, context: nil) }
        let dtype = kernel.inputType

        if let reference {
            check("declaration matches built-in \(reference.name)") { () throws(CheckFailure) in
                let ours = kernel.descriptor.pointee, theirs = reference.descriptor.pointee
                guard ours.kind == theirs.kind, ours.acc_kind == theirs.acc_kind,
                      ours.kind != UK_KIND_MAP || ours.output_type == theirs.output_type else {
                    throw CheckFailure("kind/output/accumulator differ from the built-in kernel of the same name")
                }
            }
        }
        // The expected result of `range`: the built-in kernel in one call, or
        // else this kernel called one element at a time (no vector code path),
        // computed once per data set.
        var elementwise: [ObjectIdentifier: [Outcome]] = [:]
        func expected(_ data: DataSet, _ range: Range<Int>) throws(CheckFailure) -> Outcome {
            if let refProbe { return try refProbe.run(data, chunks: [range]) }
            if elementwise[ObjectIdentifier(data)] == nil {
                elementwise[ObjectIdentifier(data)] = try (0..<data.count).map { i throws(CheckFailure) in
                    try probe.run(data, chunks: [i..<(i + 1)])
                }
            }
            return merge(elementwise[ObjectIdentifier(data)]![range])
        }
        let random = DataSet(dtype: dtype, random: 8_191, seed: 42)

        check("whole array") { () throws(CheckFailure) in
            try compare(probe.run(random, chunks: [0..<random.count]), try expected(random, 0..<random.count), "[0, \(random.count))")
        }
        check("every tail length 0...130") { () throws(CheckFailure) in
            for length in 0...130 {
                try compare(probe.run(random, chunks: [0..<length]), try expected(random, 0..<length), "[0, \(length))")
            }
        }
        check("unaligned ranges") { () throws(CheckFailure) in
            for begin in 1...17 {
                for length in [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000] {
                    let range = begin..<(begin + length)
                    try compare(probe.run(random, chunks: [range]), try expected(random, range), "[\(range.lowerBound), \(range.upperBound))")
                }
            }
        }
        if kernel.isMap {
            // Non-temporal stores are a separate code path with its own alignment rules.
            check("streaming stores flag") { () throws(CheckFailure) in
                for range in [0..<random.count, 1..<(random.count - 1), 3..<1_000, 5..<6, 64..<4_160] {
                    try compare(probe.run(random, chunks: [range], flags: UK_FLAG_STREAMING_STORES), try expected(random, range),
                                "[\(range.lowerBound), \(range.upperBound)) with UK_FLAG_STREAMING_STORES")
                }
            }
        }
        check("empty ranges change nothing") { () throws(CheckFailure) in
            for at in [0, 1, 13, random.count] {
                try probe.checkEmpty(random, at: at)
            }
        }
        check("chunked equals whole") { () throws(CheckFailure) in
            let whole = try probe.run(random, chunks: [0..<random.count])
            for (seed, reversed) in [(1, false), (2, true), (3, false)] {
                let chunks = randomChunks(count: random.count, seed: UInt64(seed))
                try compare(probe.run(random, chunks: reversed ? chunks.reversed() : chunks), whole,
                            "\(chunks.count) chunks\(reversed ? " combined in reverse" : "")")
            }
        }
        check("edge values") { () throws(CheckFailure) in
            for data in DataSet.edges(dtype: dtype, count: 1031) {
                let whole = try probe.run(data, chunks: [0..<data.count])
                try compare(whole, try expected(data, 0..<data.count), "edge data, centre \(data.centerText)")
                try compare(probe.run(data, chunks: randomChunks(count: data.count, seed: 9)), whole,
                            "edge data chunked, centre \(data.centerText)")
            }
        }
        let mode = kernel.plugin.concurrency
        let modeName = mode == UK_CONCURRENCY_THREAD_SAFE ? "THREAD_SAFE" : mode == UK_CONCURRENCY_PER_WORKER ? "PER_WORKER" : "SERIAL"
        check("concurrency \(modeName), \(threads) threads") { () throws(CheckFailure) in
            try stress(random, expected: probe.run(random, chunks: [0..<random.count]))
        }
        return passed
    }

    /// `threads` threads each compute the whole array in chunks of their own
    /// size, as the plugin's declaration allows: one shared context
    /// (THREAD_SAFE), a context per thread from worker_init (PER_WORKER,
    /// workers 1...threads: worker 0 is the checking thread), or one call at
    /// a time under a lock (SERIAL, as the host does).
    package func stress(_ data: DataSet, expected: Outcome) throws(CheckFailure) {
        let plugin = kernel.plugin
        let serial = plugin.concurrency == UK_CONCURRENCY_SERIAL ? NSLock() : nil
        let failures = Mutex<[String]>([])
        let group = DispatchGroup()
        // Every thread waits at the gate until all exist, so their calls overlap.
        let gate = DispatchSemaphore(value: 0)
        let shared = Unchecked((self, data, expected, serial))
        for worker in 1...threads {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                gate.wait()
                let (conformance, data, expected, serial) = shared.value
                do {
                    let context = try plugin.makeWorkerContext(worker: worker)
                    defer { plugin.releaseWorkerContext(context) }
                    let probe = Probe(kernel: conformance.kernel, context: context, lock: serial)
                    let size = 997 + worker * 1_531
                    let chunks = stride(from: 0, to: data.count, by: size).map { $0..<min($0 + size, data.count) }
                    for _ in 0..<20 {
                        try conformance.compare(probe.run(data, chunks: chunks), expected, "thread \(worker)")
                    }
                } catch let error as CheckFailure {
                    failures.withLock { $0.append(error.reason) }
                } catch let error as UnlockedError {
                    failures.withLock { $0.append(error.message) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            thread.name = "ukw-verify-\(worker)"
            thread.start()
        }
        for _ in 1...threads { gate.signal() }
        group.wait()
        if let first = failures.withLock({ $0.first }) {
            throw CheckFailure("\(failures.withLock { $0.count }) of \(threads) threads disagree, e.g. \(first)")
        }
    }

    /// Consecutive single-element outcomes as one: map bytes joined, accumulators combined in order.
    package func merge(_ parts: ArraySlice<Outcome>) -> Outcome {
        if kernel.isMap {
            return .map(parts.flatMap { part -> [UInt8] in if case .map(let bytes) = part { bytes } else { [] } })
        }
        var total = uk_acc()
        for case .reduce(let acc) in parts { kernel.combine(&total, acc) }
        return .reduce(total)
    }

    package func compare(_ actual: Outcome, _ expected: Outcome, _ context: String) throws(CheckFailure) {
        switch (actual, expected) {
        case let (.map(a), .map(b)):
            guard let type = kernel.outputType else { return }
            if let index = firstMismatch(a, b, type: type) {
                throw CheckFailure("\(context): output[\(index)] differs from the expected value")
            }
        case let (.reduce(a), .reduce(b)):
            let equal: Bool
            if kernel.accKind == UK_ACC_FLOAT64 {
                // Chunking reassociates float sums; f32 kernels may accumulate in float.
                let tolerance = kernel.inputType == .f32 ? 1e-3 : 1e-9
                equal = a.f == b.f || (a.f.isNaN && b.f.isNaN) || abs(a.f - b.f) <= tolerance * max(abs(a.f), abs(b.f))
            } else {
                equal = a.lo == b.lo && a.hi == b.hi
            }
            guard equal else {
                throw CheckFailure("\(context): got \(KernelValue(a, kind: kernel.accKind)), expected \(KernelValue(b, kind: kernel.accKind))")
            }
        default:
            throw CheckFailure("\(context): map and reduce results mixed")
        }
    }

    /// Map outputs must agree exactly (NaN equals NaN, -0 equals +0).
    package func firstMismatch(_ a: [UInt8], _ b: [UInt8], type: OutputType) -> Int? {
        guard a.count == b.count else { return min(a.count, b.count) }
        switch type {
        case .f32:
            return a.withUnsafeBytes { x in b.withUnsafeBytes { y in
                let p = x.bindMemory(to: Float.self), q = y.bindMemory(to: Float.self)
                return p.indices.first { p[$0] != q[$0] && !(p[$0].isNaN && q[$0].isNaN) }
            } }
        case .f64:
            return a.withUnsafeBytes { x in b.withUnsafeBytes { y in
                let p = x.bindMemory(to: Double.self), q = y.bindMemory(to: Double.self)
                return p.indices.first { p[$0] != q[$0] && !(p[$0].isNaN && q[$0].isNaN) }
            } }
        default:
            return a == b ? nil : a.indices.first { a[$0] != b[$0] }.map { $0 / type.byteWidth }
        }
    }

    /// Chunks of 1...2000 elements covering [0, count), reproducibly.
    package func randomChunks(count: Int, seed: UInt64) -> [Range<Int>] {
        let generator = DataGenerator(seed: seed, low: 1, high: 2_000)
        var chunks: [Range<Int>] = []
        var begin = 0
        while begin < count {
            let end = min(count, begin + Int(generator.integer(chunks.count)))
            chunks.append(begin..<end)
            begin = end
        }
        return chunks
    }
}

/// Why a check failed: one line, naming the range or thread.
package struct CheckFailure: Error {
    package let reason: String
    package init(_ reason: String) { self.reason = reason }
}

/// A value shared with verification threads that only read it.
package struct Unchecked<Value>: @unchecked Sendable {
    package let value: Value
    package init(_ value: Value) { self.value = value }
}

/// A kernel's result: a map's output bytes over the covered range, or a reduction's accumulator.
package enum Outcome {
    case map([UInt8])
    case reduce(uk_acc)
}

/// Input data and parameters of a check; owns its memory.
package final class DataSet {
    package let dtype: DType
    package let count: Int
    package let input: UnsafeMutableRawPointer
    package let params: uk_params
    package let centerText: String

    package convenience init(dtype: DType, random count: Int, seed: UInt64) {
        var bytes = [UInt8](repeating: 0, count: count * dtype.byteWidth)
        bytes.withUnsafeMutableBytes { DataGenerator(seed: seed).fill($0.baseAddress!, dtype: dtype, range: 0..<count) }
        self.init(dtype: dtype, bytes: bytes, center: 50)
    }

    package init(dtype: DType, bytes: [UInt8], center: Double, centerInt: Int64? = nil) {
        self.dtype = dtype
        self.count = bytes.count / dtype.byteWidth
        let input = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { input.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        self.input = input
        var params = uk_params()
        params.size = UInt32(MemoryLayout<uk_params>.size)
        params.center_int = centerInt ?? Int64(center)
        params.center_float = centerInt.map(Double.init) ?? center
        self.params = params
        self.centerText = centerInt.map { "\($0)" } ?? "\(center)"
    }

    deinit { input.deallocate() }

    /// Extremes of the type around extreme centres (integers), or values
    /// whose sums stay exact in binary so only real bugs differ (floats).
    package static func edges(dtype: DType, count: Int) -> [DataSet] {
        func pattern<T>(_ values: [T]) -> [UInt8] {
            let array = (0..<count).map { values[($0 * 7 + $0 / 3) % values.count] }
            return array.withUnsafeBytes { Array($0) }
        }
        switch dtype {
        case .i32:
            let values: [Int32] = [.min, .max, 0, -1, 1, .min + 1, .max - 1, 50]
            return [0, Int64(Int32.min), Int64(Int32.max)].map { DataSet(dtype: dtype, bytes: pattern(values), center: 0, centerInt: $0) }
        case .i64:
            let values: [Int64] = [.min, .max, 0, -1, 1, .min + 1, .max - 1, 50]
            return [0, Int64.min, Int64.max].map { DataSet(dtype: dtype, bytes: pattern(values), center: 0, centerInt: $0) }
        case .f32:
            let values: [Float] = [-0.0, 0, 0.25, -0.25, 9999.75, -9999.75, 1, -1, 50, 49.75]
            return [50, -0.25].map { DataSet(dtype: dtype, bytes: pattern(values), center: $0) }
        case .f64:
            let values: [Double] = [-0.0, 0, 0.25, -0.25, 9999.75, -9999.75, 1, -1, 50, 49.75]
            return [50, -0.25].map { DataSet(dtype: dtype, bytes: pattern(values), center: $0) }
        }
    }
}

/// Calls one kernel over chunks and collects the `Outcome`.
package struct Probe {
    package let kernel: Kernel
    package let context: UnsafeMutableRawPointer?
    /// Held around every call when set: how the host serialises SERIAL plugins.
    package var lock: NSLock? = nil

    /// Runs `chunks` (any order) and merges them: reductions each into a
    /// zeroed accumulator combined in chunk order; maps into one output
    /// whose bytes outside the covered range must stay untouched.
    package func run(_ data: DataSet, chunks: [Range<Int>], flags: UInt32 = 0) throws(CheckFailure) -> Outcome {
        let covered = chunks.isEmpty ? 0..<0 : chunks.map(\.lowerBound).min()!..<chunks.map(\.upperBound).max()!
        var params = data.params
        params.flags |= flags
        if let type = kernel.outputType {
            let width = type.byteWidth
            let output = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count * width, alignment: 64)
            defer { output.deallocate() }
            output.initializeMemory(as: UInt8.self, repeating: 0xA5)
            for chunk in chunks {
                var acc = uk_acc()
                try call(data.input, output.baseAddress, chunk, &params, &acc)
            }
            let inside = (covered.lowerBound * width)..<(covered.upperBound * width)
            if !isCanary(output[..<inside.lowerBound]) || !isCanary(output[inside.upperBound...]) {
                throw CheckFailure("wrote output outside its range [\(covered.lowerBound), \(covered.upperBound))")
            }
            return .map(Array(output[inside]))
        }
        var total = uk_acc()
        for chunk in chunks {
            var acc = uk_acc()
            try call(data.input, nil, chunk, &params, &acc)
            kernel.combine(&total, acc)
        }
        return .reduce(total)
    }

    /// An empty range must leave a reduction's accumulator and a map's output alone.
    package func checkEmpty(_ data: DataSet, at index: Int) throws(CheckFailure) {
        var params = data.params
        var acc = uk_acc(lo: 7, hi: 3, f: 7.5, reserved: 0)
        let before = acc
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count * (kernel.outputType?.byteWidth ?? 0), alignment: 64)
        defer { output.deallocate() }
        output.initializeMemory(as: UInt8.self, repeating: 0xA5)
        try call(data.input, kernel.isMap ? output.baseAddress : nil, index..<index, &params, &acc)
        guard isCanary(output[...]) else { throw CheckFailure("[\(index), \(index)) wrote output") }
        guard acc.lo == before.lo, acc.hi == before.hi, acc.f == before.f else {
            throw CheckFailure("[\(index), \(index)) changed the accumulator")
        }
    }

    /// Whether every byte still holds the 0xA5 written before the call (memchr-fast).
    private func isCanary(_ bytes: Slice<UnsafeMutableRawBufferPointer>) -> Bool {
        bytes.isEmpty || bytes.withUnsafeBytes { raw in
            raw[0] == 0xA5 && memcmp(raw.baseAddress!, raw.baseAddress! + 1, raw.count - 1) == 0
        }
    }

    private func call(_ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer?, _ range: Range<Int>,
                      _ params: inout uk_params, _ acc: inout uk_acc) throws(CheckFailure) {
        do {
            lock?.lock()
            defer { lock?.unlock() }
            try kernel.run(context: context, input: input, output: output, range: range, params: &params, acc: &acc)
        } catch {
            throw CheckFailure("returned an error on [\(range.lowerBound), \(range.upperBound)): \(error.message)")
        }
    }
}
