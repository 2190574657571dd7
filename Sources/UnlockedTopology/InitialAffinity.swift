#if os(Linux)
import CHwloc

/// The CPUs this process could use before Unlocked bound any of its threads
/// (taskset, numactl, srun and cgroups all show up here), captured the first
/// time it is read.
///
/// The allowed set must not shrink because an engine pinned the calling
/// thread to worker 0's CPU, so every binding reads this first, and the
/// topology's allowed set is narrowed by it rather than by the live affinity.
package let initialAffinity: Set<Int>? = {
    var mask = uk_affinity()
    guard uk_get_thread_affinity(&mask) == 0 else { return nil }
    let bitsPerWord = UInt.bitWidth
    var cpus = Set<Int>()
    withUnsafeBytes(of: mask.bits) { raw in
        for (word, bits) in raw.bindMemory(to: UInt.self).enumerated() where bits != 0 {
            for bit in 0..<bitsPerWord where bits & (1 << UInt(bit)) != 0 { cpus.insert(word * bitsPerWord + bit) }
        }
    }
    return cpus
}()
#endif
