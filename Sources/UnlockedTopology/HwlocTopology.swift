#if os(Linux)
import CHwloc
import Foundation
import UnlockedCore

/// A loaded hwloc topology. The corresponding C type is `hwloc_topology_t`.
///
/// Loaded once and never modified afterwards; hwloc documents read-only
/// queries and binding calls on a loaded topology as safe from any thread.
package final class HwlocTopology {
    package let raw: hwloc_topology_t
    package let source: Topology.Source

    /// The topology of this machine, loaded on first use; binding goes through it.
    package static let host: Result<HwlocTopology, UnlockedError> = Result { () throws(UnlockedError) in try HwlocTopology(.host) }

    package init(_ source: Topology.Source) throws(UnlockedError) {
        if case .synthetic(let text) = source { try SyntheticSize.check(text) }
        var handle: hwloc_topology_t?
        guard hwloc_topology_init(&handle) == 0, let handle else { throw .internal("hwloc_topology_init failed") }
        raw = handle
        self.source = source
        switch source {
        case .host:
            break
        case .synthetic(let text):
            guard hwloc_topology_set_synthetic(raw, text) == 0 else {
                throw .usage("--topology '\(printable(text))': not an existing file nor a valid hwloc synthetic description (e.g. 'pack:2 numa:2 core:8 pu:2')")
            }
        case .xml(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                let why = FileManager.default.fileExists(atPath: path) ? "cannot read it" : "no such file"
                throw .noInput("--topology \(path): \(why) (give an hwloc XML export, e.g. from 'lstopo --of xml')")
            }
            var bytes = [CChar](repeating: 0, count: data.count + 1)
            data.withUnsafeBytes { raw in
                for (index, byte) in raw.enumerated() { bytes[index] = CChar(bitPattern: byte) }
            }
            guard data.count < Int(Int32.max), hwloc_topology_set_xmlbuffer(raw, bytes, Int32(bytes.count)) == 0 else {
                throw .usage("--topology \(path): not an hwloc XML topology (give an export from 'lstopo --of xml')")
            }
        }
        guard hwloc_topology_load(raw) == 0 else {
            throw source == .host ? .internal("hwloc cannot load this machine's topology")
                : .usage("--topology \(source.argument): hwloc cannot load it as a topology (give 'lstopo --of xml' output or a synthetic description such as 'pack:2 numa:2 core:8 pu:2')")
        }
    }

    deinit { hwloc_topology_destroy(raw) }

    /// Whether the topology is the running machine's, so binding means something.
    package var isThisSystem: Bool { hwloc_topology_is_thissystem(raw) != 0 }

    /// The PUs this process may use. On this machine: the topology's allowed
    /// set (cgroup cpuset) narrowed by the process's affinity from before any
    /// binding of ours (taskset, numactl, srun); elsewhere the allowed set
    /// recorded in the description.
    package func allowedCPUs() -> Set<Int> {
        let set = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(raw))!
        defer { hwloc_bitmap_free(set) }
        let allowed = Set(members(set))
        // The affinity from before any engine pinned a thread of ours.
        if isThisSystem, source == .host, let initial = initialAffinity {
            return allowed.intersection(initial)
        }
        return allowed
    }

    /// The Swift snapshot of this topology.
    package func snapshot() -> Topology {
        let allowed = allowedCPUs()
        var numaNodes: [Topology.NUMANode] = []
        var nodeCPUs: [(os: Int, set: hwloc_const_cpuset_t)] = []
        for index in 0..<max(hwloc_get_nbobjs_by_type(raw, HWLOC_OBJ_NUMANODE), 0) {
            guard let node = hwloc_get_obj_by_type(raw, HWLOC_OBJ_NUMANODE, UInt32(index)) else { continue }
            let os = Int(node.pointee.os_index)
            numaNodes.append(.init(osIndex: os, logicalIndex: Int(node.pointee.logical_index),
                                   memoryBytes: Int(uk_hwloc_numa_memory(node)), pus: members(node.pointee.cpuset)))
            nodeCPUs.append((os, node.pointee.cpuset))
        }
        var pus: [Topology.PU] = []
        for index in 0..<max(hwloc_get_nbobjs_by_type(raw, HWLOC_OBJ_PU), 0) {
            guard let pu = hwloc_get_obj_by_type(raw, HWLOC_OBJ_PU, UInt32(index)) else { continue }
            let os = Int(pu.pointee.os_index)
            let core = hwloc_get_ancestor_obj_by_type(raw, HWLOC_OBJ_CORE, pu)
            let package = hwloc_get_ancestor_obj_by_type(raw, HWLOC_OBJ_PACKAGE, pu)
            pus.append(.init(osIndex: os, logicalIndex: Int(pu.pointee.logical_index),
                             core: Int(core?.pointee.logical_index ?? pu.pointee.logical_index),
                             package: Int(package?.pointee.logical_index ?? 0),
                             numaNode: nodeCPUs.first { hwloc_bitmap_isset($0.set, UInt32(os)) != 0 }?.os,
                             allowed: allowed.contains(os)))
        }
        let root = objects(hwloc_get_root_obj(raw), allowed: allowed).first!
        return Topology(source: source, isThisMachine: isThisSystem && source == .host,
                        root: root, pus: pus, numaNodes: numaNodes)
    }

    /// The hwloc XML export of this topology (what `lstopo --of xml` writes).
    /// The corresponding C function is `hwloc_topology_export_xmlbuffer`.
    package func exportXML() throws(UnlockedError) -> String {
        var buffer: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        guard hwloc_topology_export_xmlbuffer(raw, &buffer, &length, 0) == 0, let buffer else {
            throw .internal("hwloc cannot export the topology as XML")
        }
        defer { hwloc_free_xmlbuffer(raw, buffer) }
        return String(cString: buffer)
    }

    /// `object` as tree nodes; instruction caches and I/O objects are left
    /// out (their children move up), as they say nothing about placement.
    private func objects(_ object: hwloc_obj_t, allowed: Set<Int>) -> [Topology.Object] {
        var children: [Topology.Object] = []
        for first in [object.pointee.memory_first_child, object.pointee.first_child] {
            var child = first
            while let current = child {
                children += objects(current, allowed: allowed)
                child = current.pointee.next_sibling
            }
        }
        let type = object.pointee.type
        if hwloc_obj_type_is_icache(type) != 0 || hwloc_obj_type_is_io(type) != 0 || type == HWLOC_OBJ_MISC {
            return children
        }
        let os = object.pointee.os_index
        let cache = uk_hwloc_cache_size(object), memory = uk_hwloc_numa_memory(object)
        return [Topology.Object(
            type: typeName(object),
            logicalIndex: Int(object.pointee.logical_index),
            osIndex: os == uk_hwloc_unknown_index() ? nil : Int(os),
            cacheBytes: cache > 0 ? Int(cache) : nil,
            memoryBytes: type == HWLOC_OBJ_NUMANODE ? Int(memory) : nil,
            allowed: type == HWLOC_OBJ_PU ? allowed.contains(Int(os)) : nil,
            children: children)]
    }

    /// hwloc's short type name: `L3`, `L1d`, `Core`, `PU`, `NUMANode`, `Group0`.
    private func typeName(_ object: hwloc_obj_t) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = hwloc_obj_type_snprintf(&buffer, buffer.count, object, 0)
        return string(fromCBuffer: buffer)
    }

    private func members(_ set: hwloc_const_bitmap_t?) -> [Int] {
        guard let set else { return [] }
        var result: [Int] = []
        var index = hwloc_bitmap_first(set)
        while index >= 0 {
            result.append(Int(index))
            index = hwloc_bitmap_next(set, index)
        }
        return result
    }
}

extension HwlocTopology: @unchecked Sendable {}
// Safe to share: the handle is loaded in init and only read afterwards;
// hwloc allows concurrent queries and binding on a loaded topology.

extension Topology.Source {
    /// The value as given to `--topology`.
    package var argument: String {
        switch self {
        case .host: "host"
        case .synthetic(let text): "'\(printable(text))'"
        case .xml(let path): path
        }
    }
}

extension Topology {
    /// Loads a topology with hwloc. `allowed` restricts the usable PUs
    /// further (OS numbers), to plan as under `taskset` or a job allocation.
    ///
    /// Invalid synthetic strings and XML files are usage errors (64); an
    /// unreadable file is `noInput` (66).
    public static func load(_ source: Source = .host, allowed: [Int]? = nil) throws(UnlockedError) -> Topology {
        let topology = source == .host ? try HwlocTopology.host.get().snapshot() : try HwlocTopology(source).snapshot()
        return try allowed.map { list throws(UnlockedError) in try topology.restricted(to: list) } ?? topology
    }

    /// The hwloc XML export of `source`, as `lstopo --of xml` writes it.
    public static func exportXML(_ source: Source) throws(UnlockedError) -> String {
        try (source == .host ? HwlocTopology.host.get() : HwlocTopology(source)).exportXML()
    }
}
#endif
