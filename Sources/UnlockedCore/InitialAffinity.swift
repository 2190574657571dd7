#if os(Linux)
import CSupport

/// The calling thread's affinity mask the first time it is read: the
/// process's CPUs before Unlocked bound any of its threads (taskset,
/// numactl, srun and cgroups all show up here).
package let initialAffinityMask: uk_affinity? = {
    var mask = uk_affinity()
    guard uk_get_thread_affinity(&mask) == 0 else { return nil }
    return mask
}()

/// The CPUs of `initialAffinityMask`, captured the first time it is read.
///
/// The allowed set must not shrink because an engine pinned the calling
/// thread to worker 0's CPU, so every binding reads this first, and the
/// topology's allowed set is narrowed by it rather than by the live affinity.
package let initialAffinity: Set<Int>? = initialAffinityMask.map(affinityCPUs)

/// The CPUs set in an affinity mask.
package func affinityCPUs(_ mask: uk_affinity) -> Set<Int> {
    let bitsPerWord = UInt.bitWidth
    var cpus = Set<Int>()
    withUnsafeBytes(of: mask.bits) { raw in
        for (word, bits) in raw.bindMemory(to: UInt.self).enumerated() where bits != 0 {
            for bit in 0..<bitsPerWord where bits & (1 << UInt(bit)) != 0 { cpus.insert(word * bitsPerWord + bit) }
        }
    }
    return cpus
}

/// The calling thread's CPUs now, nil when the kernel does not say.
package func currentThreadCPUs() -> Set<Int>? {
    var mask = uk_affinity()
    guard uk_get_thread_affinity(&mask) == 0 else { return nil }
    return affinityCPUs(mask)
}

/// Gives the calling thread the process's CPUs from before any binding of
/// ours, whatever affinity it inherited from the thread that created it.
package func unpinCurrentThread() {
    guard var mask = initialAffinityMask else { return }
    _ = uk_set_thread_affinity(&mask)
}
#endif
