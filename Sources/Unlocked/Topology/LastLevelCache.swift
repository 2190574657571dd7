#if os(Linux)
import Glibc

/// Bytes of the largest data cache one core sees, from glibc's sysconf.
/// Used to decide when map output should bypass the cache; falls back to
/// 32 MiB when the kernel does not report cache sizes (some VMs).
public let lastLevelCacheBytes: Int = {
    for name in [_SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE] {
        let bytes = sysconf(Int32(name))
        if bytes > 0 { return bytes }
    }
    return 32 << 20
}()
#endif
