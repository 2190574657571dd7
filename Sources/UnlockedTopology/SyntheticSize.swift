#if os(Linux)
import Glibc
import UnlockedCore

/// How much an hwloc synthetic description asks hwloc to build, checked
/// before hwloc sees it: `core:16384 pu:2` keeps `hwloc_topology_load` busy
/// for minutes. Pure: any thread may call it.
package enum SyntheticSize {
    /// Linux's largest `NR_CPUS`.
    package static let maximumPUs = 8192
    /// Levels below the machine. Real machines have about ten (package, die,
    /// NUMA node, L3, L2, L1d, L1i, core, PU); hwloc 2.9 overflows a heap
    /// buffer at its own limit of 127 (fixed upstream in 2026).
    package static let maximumLevels = 32
    /// The most `insertionWork` allowed: about a second of hwloc's time.
    package static let maximumWork = 250_000_000
    /// Seconds per unit of `insertionWork`, as measured (hwloc 2.9, x86-64).
    package static let secondsPerWork = 4e-9

    /// The arity of each level, scanned as hwloc 2.x's
    /// `hwloc_backend_synthetic_init` scans it: optional root attributes
    /// `(…)`; per level an optional attached `[numa…]`, an optional type up
    /// to the next `:`, the arity as `strtoul(…, 0)` reads it (so `0x10`
    /// too), optional attributes `(…)`. Levels need no space between them
    /// (`pack:2core:4`). The scan stops where hwloc would refuse the text,
    /// leaving that refusal to hwloc.
    package static func arities(_ text: String) -> [UInt] {
        var arities: [UInt] = []
        text.withCString { start in
            var position = start
            func skip(past character: UInt8) -> Bool {
                guard let found = strchr(position, Int32(character)) else { return false }
                position = UnsafePointer(found) + 1
                return true
            }
            if position.pointee == 0x28, !skip(past: 0x29) { return }  // (root attributes)
            while true {
                while position.pointee == 0x20 || position.pointee == 0x0A { position += 1 }
                guard position.pointee != 0 else { return }
                if position.pointee == 0x5B {  // [numa…] memory attached to the level above
                    guard skip(past: 0x5D) else { return }
                    continue
                }
                if position.pointee < 0x30 || position.pointee > 0x39 {  // a type name, up to ':'
                    guard skip(past: 0x3A) else { return }
                }
                var end: UnsafeMutablePointer<CChar>?
                let arity = strtoul(position, &end, 0)
                guard let end, UnsafePointer(end) != position, arity > 0, arity <= UInt(UInt32.max) else { return }
                arities.append(arity)
                position = UnsafePointer(end)
                if position.pointee == 0x28, !skip(past: 0x29) { return }  // (level attributes)
            }
        }
        return arities
    }

    /// What hwloc spends building the levels: it inserts each object by
    /// walking down from the root past every sibling on the way, comparing
    /// cpusets of one bit per PU. Measured with hwloc 2.9, a load takes about
    /// 4 ns × Σ(level width × arities summed down to that level) × PUs / 64.
    /// nil when a product overflows.
    package static func insertionWork(_ arities: [UInt]) -> Int? {
        var width = 1, path = 0, objects = 0
        for arity in arities {
            guard let a = Int(exactly: arity) else { return nil }
            let (w, wideOverflow) = width.multipliedReportingOverflow(by: a)
            guard !wideOverflow else { return nil }
            width = w
            path += a
            let (level, levelOverflow) = width.multipliedReportingOverflow(by: path)
            let (sum, sumOverflow) = objects.addingReportingOverflow(level)
            guard !levelOverflow, !sumOverflow else { return nil }
            objects = sum
        }
        let (work, overflow) = objects.multipliedReportingOverflow(by: (width + 63) / 64)
        return overflow ? nil : work
    }

    /// A usage error naming the description when it has more than
    /// `maximumLevels` levels, `maximumPUs` PUs or `maximumWork`.
    package static func check(_ text: String) throws(UnlockedError) {
        let levels = arities(text)
        guard levels.count <= maximumLevels else {
            throw .usage("--topology '\(printable(text))': \(levels.count) levels, more than the \(maximumLevels) a synthetic topology may have")
        }
        var pus = 1
        for arity in levels {
            let (product, overflow) = pus.multipliedReportingOverflow(by: Int(arity))
            pus = overflow ? Int.max : product
        }
        guard pus <= maximumPUs else {
            throw .usage("--topology '\(printable(text))': describes \(pus == Int.max ? "more than 2^63" : "\(pus)") PUs, more than the \(maximumPUs) a synthetic topology may have (Linux's largest CPU count)")
        }
        guard let work = insertionWork(levels), work <= maximumWork else {
            let seconds = insertionWork(levels).map { "about \(Int((Double($0) * secondsPerWork).rounded(.up))) s" } ?? "too long"
            throw .usage("--topology '\(printable(text))': hwloc would take \(seconds) to build it (up to \(levels.max() ?? 0) objects under one parent); add levels between wide ones, e.g. 'pack:16 numa:4 core:64 pu:2', not 'pack:16 core:256 pu:2'")
        }
    }
}
#endif
