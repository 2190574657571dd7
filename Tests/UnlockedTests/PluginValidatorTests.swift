import CKernels
import Glibc
import Testing
@testable import Unlocked
@testable import UnlockedKernels

/// The validator on descriptors built in memory, placed so that their last
/// byte is the last readable one: reading past `size` faults.
@Suite(.serialized) struct PluginValidatorTests {
    /// `count` bytes ending at a PROT_NONE page.
    final class GuardedBytes {
        let mapping: UnsafeMutableRawPointer
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var bytes: UnsafeMutableRawPointer

        init(_ count: Int) throws {
            let mapping = try #require(mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
            try #require(mapping != MAP_FAILED)
            try #require(mprotect(mapping + page, page, PROT_NONE) == 0)
            self.mapping = mapping
            bytes = mapping + page - count
        }

        deinit { munmap(mapping, 2 * page) }
    }

    nonisolated(unsafe) static var kernel: UnsafePointer<uk_kernel>?

    /// An old or lying plugin whose descriptor says 8 bytes: only `size` is read.
    /// Before, the whole uk_plugin was read first (the plugin-descriptor fuzzer's SEGV).
    @Test func smallPluginDescriptorIsRefusedWithoutReadingPastIt() throws {
        let memory = try GuardedBytes(8)
        memory.bytes.storeBytes(of: UInt32(8), as: UInt32.self)
        memory.bytes.storeBytes(of: UInt32(UK_ABI_MAJOR), toByteOffset: 4, as: UInt32.self)
        expectError(.badData, containing: "plugin small.so: descriptor size 8 is smaller than uk_plugin of ABI 1") {
            _ = try PluginValidator.validate(UnsafePointer(memory.bytes.assumingMemoryBound(to: uk_plugin.self)), origin: "small.so")
        }
    }

    @Test func smallKernelDescriptorIsRefusedWithoutReadingPastIt() throws {
        let memory = try GuardedBytes(16)
        memory.bytes.storeBytes(of: UInt32(16), as: UInt32.self)
        Self.kernel = UnsafePointer(memory.bytes.assumingMemoryBound(to: uk_kernel.self))
        defer { Self.kernel = nil }
        var plugin = uk_plugin()
        plugin.size = UInt32(MemoryLayout<uk_plugin>.size)
        plugin.abi_major = UInt32(UK_ABI_MAJOR)
        plugin.concurrency = UK_CONCURRENCY_THREAD_SAFE
        plugin.get_kernel = { index in index == 0 ? PluginValidatorTests.kernel : nil }
        "small".withCString { name in
            "1.0".withCString { version in
                plugin.name = name
                plugin.version = version
                expectError(.badData, containing: "plugin small.so: kernel #0: size 16 is smaller than uk_kernel of ABI 1") {
                    _ = try withUnsafePointer(to: plugin) { try PluginValidator.validate($0, origin: "small.so") }
                }
            }
        }
    }
}
