import CKernels
import Foundation
import Synchronization
import UnlockedCore

/// The conformance checks of `unlocked plugins verify`, run on one kernel.
///
/// Meant for the verifier's child process: a kernel that crashes or hangs
/// here takes only the child down. Each check is announced through
/// `report` BEFORE it runs, so the parent can name the check a crash
/// happened in. Call from one thread; the concurrency checks start their
/// own, and `report` is only ever called on the calling thread.
public struct PluginConformance {
    /// What a check announces or concludes.
    public enum Event: Sendable, Equatable {
        case begin(check: String)
        /// A long check completed another round: it is not stuck.
        case progress(check: String)
        case pass(check: String)
        case fail(check: String, reason: String)
    }

    /// Another way to run the concurrency stress, given by a layer above
    /// this one (the engines, `engineDrivers`), so this layer needs none.
    package struct Driver {
        /// What the check is named after, e.g. "lockfree-pool".
        package var name: String
        /// Runs `kernel` over the whole of `data` `rounds` times, one job
        /// each, handing every job's outcome to `check`.
        package var run: (_ kernel: Kernel, _ data: DataSet, _ rounds: Int,
                          _ check: (Outcome) throws(CheckFailure) -> Void) throws(CheckFailure) -> Void

        package init(name: String, run: @escaping (Kernel, DataSet, Int, (Outcome) throws(CheckFailure) -> Void) throws(CheckFailure) -> Void) {
            self.name = name
            self.run = run
        }
    }

    public let kernel: Kernel
    /// The built-in kernel of the same name and input type, if there is one.
    public let reference: Kernel?
    /// Threads of the concurrency stress, and workers of each driver.
    public let threads: Int
    package let drivers: [Driver]

    public init(kernel: Kernel, threads: Int = 8) {
        self.init(kernel: kernel, threads: threads, drivers: [])
    }

    package init(kernel: Kernel, threads: Int, drivers: [Driver]) {
        self.kernel = kernel
        self.threads = max(threads, 2)
        self.drivers = drivers
        self.reference = kernel.plugin === PluginInstance.builtin ? nil
            : PluginInstance.builtin.kernels.first { $0.name == kernel.name && $0.inputType == kernel.inputType }
    }

    /// Seconds one call over all of the concurrency checks' data should take
    /// at least: longer than a scheduler time slice, so a call is preempted
    /// midway and another thread's call runs in the gap even when other
    /// processes load every CPU, and calls of threads on different CPUs overlap.
    package static let stressCallSeconds = 0.01

    /// The concurrency checks' data and the kernel's result over all of it
    /// in one call: 1 Mi random elements, repeated until that call lasts
    /// `stressCallSeconds`, up to 32 MiB of input (1 Mi elements for maps,
    /// whose every stress thread needs an output of its own). `progress`
    /// follows each step, so a slow machine is not taken for a hung kernel.
    package func stressData(_ probe: Probe, progress: () -> Void) throws(CheckFailure) -> (DataSet, Outcome) {
        let dtype = kernel.inputType
        var data = DataSet(dtype: dtype, random: 1 << 20, seed: 7)
        progress()
        let start = monotonicNanoseconds()
        var expected = try probe.run(data, chunks: [0..<data.count])
        let seconds = Double(monotonicNanoseconds() - start) * 1e-9
        progress()
        let limit = kernel.isMap ? data.count : (32 << 20) / dtype.byteWidth
        if seconds < Self.stressCallSeconds && data.count < limit {
            let wanted = Double(data.count) * Self.stressCallSeconds / max(seconds, 1e-6)
            data = DataSet(repeating: data, count: min(limit, Int(wanted.rounded(.up))))
            expected = try probe.run(data, chunks: [0..<data.count])
            progress()
        }
        return (data, expected)
    }

    /// Runs every check in order; returns whether all passed.
    @discardableResult
    public func run(report: (Event) -> Void) -> Bool {
        var passed = true
        func check(_ name: String, _ body: (_ progress: () -> Void) throws(CheckFailure) -> Void) {
            report(.begin(check: name))
            // `body` only calls `progress` while it runs, on this thread.
            let failure = withoutActuallyEscaping(report) { report -> CheckFailure? in
                do throws(CheckFailure) {
                    try body { report(.progress(check: name)) }
                    return nil
                } catch {
                    return error
                }
            }
            if let failure {
                passed = false
                report(.fail(check: name, reason: failure.reason))
            } else {
                report(.pass(check: name))
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
            check("declaration matches built-in \(reference.name)") { _ throws(CheckFailure) in
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

        check("whole array") { _ throws(CheckFailure) in
            try compare(probe.run(random, chunks: [0..<random.count]), try expected(random, 0..<random.count), "[0, \(random.count))")
        }
        check("every tail length 0...130") { _ throws(CheckFailure) in
            for length in 0...130 {
                try compare(probe.run(random, chunks: [0..<length]), try expected(random, 0..<length), "[0, \(length))")
            }
        }
        check("unaligned ranges") { _ throws(CheckFailure) in
            for begin in 1...17 {
                for length in [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000] {
                    let range = begin..<(begin + length)
                    try compare(probe.run(random, chunks: [range]), try expected(random, range), "[\(range.lowerBound), \(range.upperBound))")
                }
            }
        }
        if kernel.isMap {
            // Non-temporal stores are a separate code path with its own alignment rules.
            check("streaming stores flag") { _ throws(CheckFailure) in
                for range in [0..<random.count, 1..<(random.count - 1), 3..<1_000, 5..<6, 64..<4_160] {
                    try compare(probe.run(random, chunks: [range], flags: UK_FLAG_STREAMING_STORES), try expected(random, range),
                                "[\(range.lowerBound), \(range.upperBound)) with UK_FLAG_STREAMING_STORES")
                }
            }
        }
        check("empty ranges change nothing") { _ throws(CheckFailure) in
            for at in [0, 1, 13, random.count] {
                try probe.checkEmpty(random, at: at)
            }
        }
        check("chunked equals whole") { _ throws(CheckFailure) in
            let whole = try probe.run(random, chunks: [0..<random.count])
            for (seed, reversed) in [(1, false), (2, true), (3, false)] {
                let chunks = randomChunks(count: random.count, seed: UInt64(seed))
                try compare(probe.run(random, chunks: reversed ? chunks.reversed() : chunks), whole,
                            "\(chunks.count) chunks\(reversed ? " combined in reverse" : "")")
            }
        }
        check("edge values") { _ throws(CheckFailure) in
            for data in DataSet.edges(dtype: dtype, count: 1031) {
                let whole = try probe.run(data, chunks: [0..<data.count])
                try compare(whole, try expected(data, 0..<data.count), "edge data, centre \(data.centerText)")
                try compare(probe.run(data, chunks: randomChunks(count: data.count, seed: 9)), whole,
                            "edge data chunked, centre \(data.centerText)")
            }
        }
        let mode = kernel.plugin.concurrency
        let modeName = mode == UK_CONCURRENCY_THREAD_SAFE ? "THREAD_SAFE" : mode == UK_CONCURRENCY_PER_WORKER ? "PER_WORKER" : "SERIAL"
        var large: (data: DataSet, expected: Outcome)?
        check("concurrency \(modeName), \(threads) threads") { progress throws(CheckFailure) in
            let (data, expected) = try stressData(probe, progress: progress)
            large = (data, expected)
            try stress(data, expected: expected, progress: progress)
        }
        for driver in drivers {
            check("concurrency \(modeName) through \(driver.name), \(threads) workers") { progress throws(CheckFailure) in
                if large == nil { large = try stressData(probe, progress: progress) }
                let (data, expected) = large!
                var round = 0
                try driver.run(kernel, data, 8) { outcome throws(CheckFailure) in
                    round += 1
                    try compare(outcome, expected, "job \(round) of 8")
                    progress()
                }
            }
        }
        return passed
    }

    /// `threads` threads each compute the whole of `data` in a few long
    /// ranges of their own sizes, in rounds that all start together at a
    /// barrier, as the plugin's declaration allows: one shared context
    /// (THREAD_SAFE), a context per thread from worker_init (PER_WORKER,
    /// workers 1...threads: worker 0 is the checking thread), or one call at
    /// a time under a lock (SERIAL, as the host does).
    ///
    /// Rounds go on until at least `minimumRounds` ran and calls of
    /// different threads overlapped `4 × threads` times (counted around
    /// every call), so a loaded machine gets more rounds instead of a
    /// weaker check, or until `timeLimit` seconds passed; fewer than
    /// `threads` overlaps by then fail the check rather than vouch for
    /// concurrency it never saw.
    /// `progress` is called on this thread after each round.
    package func stress(_ data: DataSet, expected: Outcome, progress: () -> Void = {},
                        minimumRounds: Int = 4, timeLimit: Double = 20) throws(CheckFailure) {
        let plugin = kernel.plugin
        let serial = plugin.concurrency == UK_CONCURRENCY_SERIAL ? NSLock() : nil
        let rounds = StressRounds(threads: threads, minimumRounds: minimumRounds, minimumOverlaps: 4 * threads,
                                  timeLimit: timeLimit)
        let group = DispatchGroup()
        let shared = Unchecked((self, data, expected, serial))
        for worker in 1...threads {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                let (conformance, data, expected, serial) = shared.value
                var probe: Probe?
                var context: UnsafeMutableRawPointer?
                do throws(UnlockedError) {
                    context = try plugin.makeWorkerContext(worker: worker)
                    probe = Probe(kernel: conformance.kernel, context: context, lock: serial, overlaps: rounds.overlaps)
                } catch {
                    rounds.fail(error.message)
                }
                defer { if probe != nil { plugin.releaseWorkerContext(context) } }
                // One or two ranges, so threads' calls neither line up nor get short.
                let size = (data.count + 1) / (1 + worker % 2)
                let chunks = stride(from: 0, to: data.count, by: size).map { $0..<min($0 + size, data.count) }
                let output = conformance.kernel.outputType.map {
                    UnsafeMutableRawBufferPointer.allocate(byteCount: data.count * $0.byteWidth, alignment: 64)
                }
                defer { output?.deallocate() }
                while rounds.begin() {
                    if let probe, !rounds.failed {
                        do throws(CheckFailure) {
                            try conformance.compare(probe.run(data, chunks: chunks, output: output), expected, "thread \(worker)")
                        } catch {
                            rounds.fail(error.reason)
                        }
                    }
                    rounds.end()
                }
            }
            thread.name = "ukw-verify-\(worker)"
            thread.start()
        }
        var reported = 0
        while group.wait(timeout: .now() + 0.25) == .timedOut {
            let done = rounds.completed
            if done > reported {
                reported = done
                progress()
            }
        }
        let failures = rounds.failures
        if let first = failures.first {
            throw CheckFailure("\(failures.count) of \(threads) threads disagree, e.g. \(first)")
        }
        guard rounds.overlaps.count >= threads else {
            throw CheckFailure("calls of different threads overlapped only \(rounds.overlaps.count) times in \(rounds.completed) rounds "
                               + "(\(Int(timeLimit)) s): too few to vouch for concurrency on this machine")
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
        // Equal bytes are equal values: the element-wise look is only for NaN and ±0.
        if a.withUnsafeBytes({ x in b.withUnsafeBytes { y in x.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }) {
            return nil
        }
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

    /// `.map` of a copy of `bytes` (one memcpy, also in debug builds).
    package static func copyOfMap(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        .map([UInt8](unsafeUninitializedCapacity: bytes.count) { copy, count in
            if let from = bytes.baseAddress { memcpy(copy.baseAddress!, from, bytes.count) }
            count = bytes.count
        })
    }
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

    /// `count` elements repeating `pattern`'s from its start: copied with
    /// memcpy, so a large input takes milliseconds also in debug builds.
    package init(repeating pattern: DataSet, count: Int) {
        dtype = pattern.dtype
        self.count = count
        let width = dtype.byteWidth
        input = .allocate(byteCount: max(count * width, 1), alignment: 64)
        for start in stride(from: 0, to: count, by: pattern.count) {
            memcpy(input + start * width, pattern.input, min(pattern.count, count - start) * width)
        }
        params = pattern.params
        centerText = pattern.centerText
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
    /// Counts calls that overlapped another thread's, when set.
    package var overlaps: OverlapCounter? = nil

    /// Runs `chunks` (any order) and merges them: reductions each into a
    /// zeroed accumulator combined in chunk order; maps into one output
    /// whose bytes outside the covered range must stay untouched.
    ///
    /// - Parameter reused: a map's output of `data.count` elements to write
    ///   into instead of a fresh one (the stress threads keep theirs).
    package func run(_ data: DataSet, chunks: [Range<Int>], flags: UInt32 = 0,
                     output reused: UnsafeMutableRawBufferPointer? = nil) throws(CheckFailure) -> Outcome {
        let covered = chunks.isEmpty ? 0..<0 : chunks.map(\.lowerBound).min()!..<chunks.map(\.upperBound).max()!
        var params = data.params
        params.flags |= flags
        if let type = kernel.outputType {
            let width = type.byteWidth
            let output = reused ?? UnsafeMutableRawBufferPointer.allocate(byteCount: data.count * width, alignment: 64)
            defer { if reused == nil { output.deallocate() } }
            memset(output.baseAddress!, 0xA5, output.count)
            for chunk in chunks {
                var acc = uk_acc()
                try call(data.input, output.baseAddress, chunk, &params, &acc)
            }
            let inside = (covered.lowerBound * width)..<(covered.upperBound * width)
            if !isCanary(output[..<inside.lowerBound]) || !isCanary(output[inside.upperBound...]) {
                throw CheckFailure("wrote output outside its range [\(covered.lowerBound), \(covered.upperBound))")
            }
            return .copyOfMap(UnsafeRawBufferPointer(rebasing: output[inside]))
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
        memset(output.baseAddress!, 0xA5, output.count)
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
            let token = overlaps?.enter()
            defer { if let token { overlaps?.leave(token) } }
            lock?.lock()
            defer { lock?.unlock() }
            try kernel.run(context: context, input: input, output: output, range: range, params: &params, acc: &acc)
        } catch {
            throw CheckFailure("returned an error on [\(range.lowerBound), \(range.upperBound)): \(error.message)")
        }
    }
}

/// Counts kernel calls that overlapped a call of another thread: one was
/// in flight when it started, or one started before it ended. Counted
/// around the SERIAL lock too, where overlap means contention for it.
/// Any thread may call it.
package final class OverlapCounter: Sendable {
    private let inside = Atomic<Int>(0)
    private let started = Atomic<Int>(0)
    private let overlapping = Atomic<Int>(0)

    package init() {}

    /// Call before a kernel call; pass what it returns to `leave` after it.
    package func enter() -> (number: Int, crowded: Bool) {
        let number = started.add(1, ordering: .relaxed).newValue
        let crowded = inside.add(1, ordering: .relaxed).newValue > 1
        return (number, crowded)
    }

    package func leave(_ token: (number: Int, crowded: Bool)) {
        let later = started.load(ordering: .relaxed) != token.number
        inside.subtract(1, ordering: .relaxed)
        if token.crowded || later { overlapping.add(1, ordering: .relaxed) }
    }

    package var count: Int { overlapping.load(ordering: .relaxed) }
}

/// The rounds of the concurrency stress: every thread starts a round at one
/// barrier and ends it at another, where one thread decides whether another
/// round runs. Any of the stress threads may call it.
final class StressRounds: @unchecked Sendable {
    // @unchecked: `barrier` is a pthread barrier (the synchronisation itself);
    // everything else is atomic or behind `failureList`'s mutex.
    let overlaps = OverlapCounter()
    private let barrier: UnsafeMutablePointer<pthread_barrier_t>
    private let stop = Atomic<Bool>(false)
    private let rounds = Atomic<Int>(0)
    private let failureSeen = Atomic<Bool>(false)
    private let failureList = Mutex<[String]>([])
    private let minimumRounds: Int, minimumOverlaps: Int
    private let deadline: UInt64

    init(threads: Int, minimumRounds: Int, minimumOverlaps: Int, timeLimit: Double) {
        barrier = .allocate(capacity: 1)
        pthread_barrier_init(barrier, nil, UInt32(threads))
        self.minimumRounds = minimumRounds
        self.minimumOverlaps = minimumOverlaps
        deadline = monotonicNanoseconds() + UInt64(timeLimit * 1e9)
    }

    deinit {
        pthread_barrier_destroy(barrier)
        barrier.deallocate()
    }

    /// Waits for every thread; false when the stress is over.
    func begin() -> Bool {
        pthread_barrier_wait(barrier)
        return !stop.load(ordering: .relaxed)
    }

    /// Waits for every thread to finish the round; one of them decides,
    /// before any passes the next `begin`, whether another round runs.
    func end() {
        guard pthread_barrier_wait(barrier) == PTHREAD_BARRIER_SERIAL_THREAD else { return }
        let done = rounds.add(1, ordering: .relaxed).newValue
        let enough = done >= minimumRounds && overlaps.count >= minimumOverlaps
        if enough || failed || monotonicNanoseconds() > deadline { stop.store(true, ordering: .relaxed) }
    }

    func fail(_ reason: String) {
        failureList.withLock { $0.append(reason) }
        failureSeen.store(true, ordering: .relaxed)
    }

    var failed: Bool { failureSeen.load(ordering: .relaxed) }
    var failures: [String] { failureList.withLock { $0 } }
    var completed: Int { rounds.load(ordering: .relaxed) }
}
