import CKernels
import Foundation
import Synchronization
import Unlocked
import UnlockedCore
import UnlockedKernels
import UnlockedReports
import UnlockedTopology

/// A parser's promise that some input broke: a wrong kind of error, a
/// message over several lines, a result that does not round-trip. The fuzz
/// driver turns it into a crash, so libFuzzer keeps the input; the corpus
/// replay test turns it into a test failure naming the file.
public struct FuzzFinding: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The fuzz harnesses: each feeds arbitrary bytes to one reader of untrusted
/// input and checks what that reader promises. Crashes (traps, sanitizer
/// reports) are findings too. `Tests/Fuzz/README.md` says how to run them.
public enum FuzzHarness: String, CaseIterable, Sendable {
    /// `NpyHeader.parse`: the header of an `.npy` file.
    case npyHeader = "npy-header"
    /// `CPUList.parse`: `--pin` lists, the first byte choosing the open-range end.
    case cpuList = "cpu-list"
    /// `parseCount`: `--size`, `--sizes` and the other element counts.
    case count = "count"
    /// `Topology.load(.synthetic(…))`: `--topology` descriptions, through hwloc.
    case syntheticTopology = "synthetic-topology"
    /// `PluginValidator.validate`: a `uk_plugin` descriptor and its kernels
    /// built from the bytes in memory, as a misbehaving plugin could hand them over.
    case pluginDescriptor = "plugin-descriptor"
    /// `BenchComparison(baselineJSON:candidateJSON:)`: two bench JSON
    /// documents separated by the first NUL byte (one document is compared with itself).
    case benchCompare = "bench-compare"

    /// Runs the harness on one input.
    public func run(_ bytes: UnsafeRawBufferPointer) throws(FuzzFinding) {
        switch self {
        case .npyHeader: try Self.npyHeader(bytes)
        case .cpuList: try Self.cpuList(bytes)
        case .count: try Self.count(bytes)
        case .syntheticTopology: try Self.syntheticTopology(bytes)
        case .pluginDescriptor: try Self.pluginDescriptor(bytes)
        case .benchCompare: try Self.benchCompare(bytes)
        }
    }

    /// The error a reader throws must be of its documented kind and one line.
    private static func expect(_ error: UnlockedError, _ kind: UnlockedError.Kind) throws(FuzzFinding) {
        guard error.kind == kind else { throw FuzzFinding(description: "error of kind \(error.kind), expected \(kind): \(error.message)") }
        guard !error.message.contains(where: \.isNewline) else { throw FuzzFinding(description: "error over several lines: \(error.message)") }
        guard !error.message.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw FuzzFinding(description: "error with control characters: \(error.message.debugDescription)")
        }
    }

    private static func check(_ condition: Bool, _ what: @autoclosure () -> String) throws(FuzzFinding) {
        if !condition { throw FuzzFinding(description: what()) }
    }

    private static func npyHeader(_ bytes: UnsafeRawBufferPointer) throws(FuzzFinding) {
        let header: NpyHeader
        do { header = try NpyHeader.parse(bytes, name: "fuzz.npy") } catch { return try expect(error, .badData) }
        try check(header.dataOffset <= bytes.count, "data offset \(header.dataOffset) past the \(bytes.count) bytes")
        _ = header.count  // parse promises the element count does not overflow
        let encoded = NpyHeader.encode(type: header.elementType, shape: header.shape)
        let again = encoded.withUnsafeBytes { try? NpyHeader.parse($0, name: "encoded") }
        try check(again?.elementType == header.elementType && again?.shape == header.shape,
                  "header \(header) does not survive encode and parse: \(String(describing: again))")
    }

    private static func cpuList(_ bytes: UnsafeRawBufferPointer) throws(FuzzFinding) {
        guard let first = bytes.first else { return }
        let last: Int? = first % 2 == 0 ? nil : Int(first) * 257  // up to CPUList.maximum
        let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
        let list: [Int]
        do { list = try CPUList.parse(text, last: last) } catch { return try expect(error, .usage) }
        try check(!list.isEmpty, "'\(text)' parsed to an empty list")
        try check(list.allSatisfy { (0...CPUList.maximum).contains($0) }, "'\(text)' gave numbers outside 0...\(CPUList.maximum)")
        let sorted = list.sorted()
        try check(zip(sorted, sorted.dropFirst()).allSatisfy { $0 < $1 }, "'\(text)' gave a number twice")
        let formatted = CPUList.format(list)
        try check((try? CPUList.parse(formatted)) == sorted, "'\(text)' formats as '\(formatted)', which does not parse back")
    }

    private static func count(_ bytes: UnsafeRawBufferPointer) throws(FuzzFinding) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let count = parseCount(text) else { return }
        try check(count > 0, "'\(text)' gave \(count)")
        try check(parseCount(String(count)) == count, "'\(text)' gave \(count), which does not parse back")
        if let plain = Int(text.trimmingCharacters(in: .whitespaces)) {
            try check(plain == count, "'\(text)' gave \(count), not the number it spells")
        }
    }

    private static func syntheticTopology(_ bytes: UnsafeRawBufferPointer) throws(FuzzFinding) {
        // A C string ends at the first NUL; hwloc never sees what follows.
        let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        guard !text.isEmpty, Topology.Source(argument: text, fileExists: { _ in false }) == .synthetic(text) else { return }
        let topology: Topology
        do { topology = try Topology.load(.synthetic(text)) } catch { return try expect(error, .usage) }
        let pus = topology.pus.count
        try check((1...SyntheticSize.maximumPUs).contains(pus), "'\(text)' built \(pus) PUs")
        try check(SyntheticSize.arities(text).reduce(1, *) == UInt(pus), "'\(text)': the size check's arities \(SyntheticSize.arities(text)) do not multiply to hwloc's \(pus) PUs")
        for policy in [PinPolicy.compact, .spread] {
            let plan: PlacementPlan
            do { plan = try PlacementPlan(policy: policy, topology: topology) } catch { throw FuzzFinding(description: "'\(text)': \(policy) plan failed: \(error)") }
            let used = plan.workers.compactMap(\.osPU)
            try check(used.count == plan.workers.count && Set(used).count == used.count && Set(used).isSubset(of: topology.allowedPUs),
                      "'\(text)': \(policy) plan \(used) repeats or leaves the allowed PUs")
        }
    }

    private static func benchCompare(_ bytes: UnsafeRawBufferPointer) throws(FuzzFinding) {
        let split = bytes.firstIndex(of: 0)
        let baseline = Data(bytes[..<(split ?? bytes.count)])
        let candidate = split.map { Data(bytes[($0 + 1)...]) } ?? baseline
        let comparison: BenchComparison
        do { comparison = try BenchComparison(baselineJSON: baseline, candidateJSON: candidate, baselineName: "A", candidateName: "B") }
        catch { return try expect(error, .badData) }
        _ = comparison.text
        guard split == nil else { return }
        // A document compared with itself: every row is the same, ratio 1.
        for row in comparison.rows {
            try check(row.comparison.medianRatio == 1 && row.verdict == .noise,
                      "\(row.key) compared with itself: ratio \(row.comparison.medianRatio), \(row.verdict)")
        }
    }
}

// MARK: - Plugin descriptors

extension FuzzHarness {
    /// Reads the input front to back; past its end every read is zero.
    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        mutating func byte() -> UInt8 {
            defer { position += 1 }
            return position < bytes.count ? bytes[position] : 0
        }

        mutating func uint32() -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(byte()) << (8 * $1) } }
    }

    /// Memory a descriptor points into, released after the harness call.
    final class Arena {
        var blocks: [UnsafeMutableRawPointer] = []

        /// `count` bytes holding the first bytes of `value`: a plugin that
        /// declares a smaller `size` than the host's struct has only that much,
        /// though never less than the `size` field itself.
        func copy<T>(_ value: T, bytes count: Int) -> UnsafeMutableRawPointer {
            let count = max(count, MemoryLayout<UInt32>.size)
            let block = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 16)
            blocks.append(block)
            withUnsafeBytes(of: value) { block.copyMemory(from: $0.baseAddress!, byteCount: min(count, MemoryLayout<T>.size)) }
            if count > MemoryLayout<T>.size { (block + MemoryLayout<T>.size).initializeMemory(as: UInt8.self, repeating: 0xA5, count: count - MemoryLayout<T>.size) }
            return block
        }

        /// A NUL-terminated copy of `bytes`.
        func string(_ bytes: [UInt8]) -> UnsafePointer<CChar> {
            let block = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            blocks.append(UnsafeMutableRawPointer(block))
            for (index, byte) in bytes.enumerated() { block[index] = CChar(bitPattern: byte) }
            block[bytes.count] = 0
            return UnsafePointer(block)
        }

        deinit { blocks.forEach { $0.deallocate() } }
    }

    /// What `get_kernel` hands out, as a C function pointer cannot capture
    /// context. Only touched while `pluginLock` is held.
    nonisolated(unsafe) static var kernelTable: [UnsafePointer<uk_kernel>] = []
    /// Whether `get_kernel` never returns NULL (repeats the first kernel).
    nonisolated(unsafe) static var kernelTableRepeats = false
    static let pluginLock = Mutex<Void>(())

    private static func pluginDescriptor(_ bytes: UnsafeRawBufferPointer) throws(FuzzFinding) {
        var input = Reader(bytes: bytes)
        let arena = Arena()
        /// Mostly the struct's own size; sometimes less (an older or lying
        /// plugin: only that much memory exists) or more (a newer plugin).
        func declaredSize(of full: Int) -> Int {
            switch input.byte() % 8 {
            case 0: return Int(input.byte()) % full
            case 1: return full + Int(input.byte())
            default: return full
            }
        }
        func string() -> UnsafePointer<CChar>? {
            let form = input.byte()
            guard form % 16 != 0 else { return nil }
            let length = form % 4 == 1 ? Int(input.byte()) : Int(input.byte() % 24)
            return arena.string((0..<length).map { _ in input.byte() })
        }
        /// Small numbers most of the time, so the valid enum values come up.
        func enumValue() -> UInt32 { input.byte() % 4 == 0 ? input.uint32() : UInt32(input.byte() % 8) }
        func optional<T>(_ value: T) -> T? { input.byte() % 4 == 0 ? nil : value }

        let run: uk_kernel_fn = { _, _, _, _, _, _, _, _ in 0 }
        let combine: uk_combine_fn = { _, _ in }
        let kernelCount = Int(input.byte() % 6)
        var kernels: [UnsafePointer<uk_kernel>] = []
        for _ in 0..<kernelCount {
            var kernel = uk_kernel()
            let size = declaredSize(of: MemoryLayout<uk_kernel>.size)
            kernel.size = UInt32(size)
            kernel.name = string()
            kernel.description = input.byte() % 2 == 0 ? nil : arena.string((0..<Int(input.byte()) * 2).map { _ in 0x61 })
            kernel.input_type = uk_dtype(rawValue: enumValue())
            kernel.output_type = uk_dtype(rawValue: enumValue())
            kernel.kind = uk_kind(rawValue: enumValue())
            kernel.acc_kind = uk_acc_kind(rawValue: enumValue())
            kernel.run = optional(run)
            kernel.combine = optional(combine)
            kernels.append(UnsafePointer(arena.copy(kernel, bytes: size).assumingMemoryBound(to: uk_kernel.self)))
        }
        var plugin = uk_plugin()
        let size = declaredSize(of: MemoryLayout<uk_plugin>.size)
        plugin.size = UInt32(size)
        plugin.abi_major = input.byte() % 8 == 0 ? input.uint32() : UInt32(UK_ABI_MAJOR)
        plugin.abi_minor = input.uint32()
        plugin.concurrency = uk_concurrency(rawValue: enumValue())
        plugin.name = string()
        plugin.version = string()
        plugin.`init` = optional({ _, _, _ in 0 })
        plugin.fini = optional({ _ in })
        plugin.worker_init = optional({ _, _, _, _ in 0 })
        plugin.worker_fini = optional({ _, _ in })
        plugin.get_kernel = optional({ index in
            if FuzzHarness.kernelTableRepeats { return FuzzHarness.kernelTable.first }
            return Int(index) < FuzzHarness.kernelTable.count ? FuzzHarness.kernelTable[Int(index)] : nil
        })
        let repeats = input.byte() % 16 == 0
        let descriptor = UnsafePointer(arena.copy(plugin, bytes: size).assumingMemoryBound(to: uk_plugin.self))

        let outcome: Result<Void, FuzzFinding> = pluginLock.withLock { _ in
            kernelTable = kernels
            kernelTableRepeats = repeats
            defer { kernelTable = [] }
            return Result { () throws(FuzzFinding) in try validate(descriptor, listing: kernels, repeats: repeats) }
        }
        withExtendedLifetime(arena) {}
        try outcome.get()
    }

    /// The validator either refuses with one `.badData` line or accepts
    /// exactly the kernels listed, each with a `run` and a known input type.
    private static func validate(_ descriptor: UnsafePointer<uk_plugin>, listing kernels: [UnsafePointer<uk_kernel>],
                                 repeats: Bool) throws(FuzzFinding) {
        let accepted: [UnsafePointer<uk_kernel>]
        do { accepted = try PluginValidator.validate(descriptor, origin: "fuzz.so") } catch { return try expect(error, .badData) }
        try check(!repeats && accepted == kernels, "accepted \(accepted.count) kernels of \(kernels.count) listed")
        for kernel in accepted {
            try check(kernel.pointee.run != nil && DType(abiValue: kernel.pointee.input_type) != nil,
                      "accepted a kernel without run or with input type \(kernel.pointee.input_type.rawValue)")
        }
    }
}
