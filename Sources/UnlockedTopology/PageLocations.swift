#if os(Linux)
import CNuma
import Foundation
import Glibc
import UnlockedCore

/// Where a buffer's pages really are, per NUMA node, as the kernel says.
/// Verification of a memory policy, never an assumption. A value.
public struct PageLocationReport: Sendable, Equatable, Codable {
    public var pageSize: Int
    public var totalPages: Int
    /// Present pages per NUMA node (OS number).
    public var pagesPerNode: [Int: Int]
    /// Pages not yet touched (`-ENOENT`): they have no node yet.
    public var notPresent: Int
    /// Pages the kernel would not locate (other errors).
    public var unknown: Int
    /// Set when the query itself failed (no NUMA support, forbidden).
    public var error: String?

    package init(pageSize: Int, totalPages: Int = 0, pagesPerNode: [Int: Int] = [:], notPresent: Int = 0, unknown: Int = 0,
                 error: String? = nil) {
        self.pageSize = pageSize
        self.totalPages = totalPages
        self.pagesPerNode = pagesPerNode
        self.notPresent = notPresent
        self.unknown = unknown
        self.error = error
    }

    /// Pages whose node is known.
    public var locatedPages: Int { pagesPerNode.values.reduce(0, +) }

    /// Share of the buffer's pages on `node`, 0…1.
    public func share(ofNode node: Int) -> Double {
        totalPages == 0 ? 0 : Double(pagesPerNode[node, default: 0]) / Double(totalPages)
    }

}

extension PageLocationReport {
    /// Adds `other`'s pages, for a buffer whose page ranges were located
    /// piecewise (each `processes-shm` worker locates its own chunks); the
    /// first error is kept.
    package mutating func add(_ other: PageLocationReport) {
        totalPages += other.totalPages
        for (node, pages) in other.pagesPerNode { pagesPerNode[node, default: 0] += pages }
        notPresent += other.notPresent
        unknown += other.unknown
        error = error ?? other.error
    }
}

extension MappedMemory {
    /// Asks the kernel where every page of the buffer lives. Pages never
    /// touched count as not present. The corresponding C function is
    /// `numa_move_pages` with no target nodes, which only queries.
    public func pageLocations() -> PageLocationReport {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        return locatePages(base, pages: 0..<(max(byteCount, 1) + pageSize - 1) / pageSize)
    }
}

/// Where the kernel says pages `pages` (indices from `base`, page-aligned)
/// of this process's mapping live: a page this process's page tables do
/// not map counts as not present, even when another process mapped it.
package func locatePages(_ base: UnsafeMutableRawPointer, pages: Range<Int>) -> PageLocationReport {
    let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    let total = pages.count
    var report = PageLocationReport(pageSize: pageSize, totalPages: total, pagesPerNode: [:], notPresent: 0, unknown: 0)
    let batch = 16_384
    var addresses = [UnsafeMutableRawPointer?](repeating: nil, count: min(batch, total))
    var status = [Int32](repeating: 0, count: min(batch, total))
    var first = 0
    while first < total {
        let count = min(batch, total - first)
        for index in 0..<count { addresses[index] = base + (pages.lowerBound + first + index) * pageSize }
        let result = addresses.withUnsafeMutableBufferPointer { pointers in
            status.withUnsafeMutableBufferPointer { states in
                valueOrErrno { uk_query_page_nodes(UInt(count), pointers.baseAddress, states.baseAddress) }
            }
        }
        if case .failure(let error) = result {
            report.error = "numa_move_pages failed: \(error)"
            return report
        }
        for state in status.prefix(count) {
            switch state {
            case 0...: report.pagesPerNode[Int(state), default: 0] += 1
            case -ENOENT: report.notPresent += 1
            default: report.unknown += 1
            }
        }
        first += count
    }
    return report
}
#endif
