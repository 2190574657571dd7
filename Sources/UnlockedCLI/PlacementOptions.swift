import ArgumentParser
import Unlocked

/// Where workers run and where their memory lives. Shared by `run` and `topo`.
struct PlacementOptions: ParsableArguments {
    @Option(help: "Workers (default: one per allowed core, honouring affinity, cgroup cpuset and CPU quota).")
    var workers: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Pinning (default compact): compact | spread | numa:K | none | OS CPU list | likwid domain.",
        discussion: """
        compact: one worker per core in topology order, SMT siblings last. spread: round-robin over \
        NUMA nodes, then packages, then cores. numa:K: only NUMA node K (OS number). \
        CPU lists and masks use OS CPU numbers as taskset -c and /proc do: 0-3,8,10-11, strides 0-10:2, \
        hex masks 0xf0. Domain form uses indices INSIDE the domain (one PU per core first, then SMT \
        siblings): S0:0-3 (package 0, logical order), N1:0-1 or M1:0-1 (NUMA node with OS number 1), \
        N:0-3 (whole machine); join several with @. `unlocked topo` shows both numberings: P# is OS, L# logical.
        """))
    var pin: String?

    @Option(help: "Memory placement: first-touch | interleave | node:K (OS number) | none.")
    var mem = "first-touch"

    @Option(help: "Plan on another machine: an hwloc synthetic description ('pack:2 numa:2 core:8 pu:2') or an XML file from 'lstopo --of xml'. Threads are not bound then.")
    var topology: String?

    @Flag(help: "Allow more workers than allowed CPUs (they share CPUs; a warning is reported).")
    var oversubscribe = false

    @Flag(help: "A failed bind becomes a warning in the report instead of an error.")
    var pinBestEffort = false

    @OptionGroup var hugePages: HugePagesOption

    /// The library request these options describe; bad values are one-line usage errors.
    func request() throws(UnlockedError) -> PlacementRequest {
        PlacementRequest(workers: workers, pin: try pin.map { text throws(UnlockedError) in try PinPolicy(parsing: text) } ?? .compact, memory: try MemoryPolicy(parsing: mem),
                         topology: topology.map { Topology.Source(argument: $0) } ?? .host,
                         oversubscribe: oversubscribe, bestEffort: pinBestEffort, hugePages: try hugePages.mode())
    }

    /// Loads the topology and plans: what `run` hands to its engine.
    func resolve() throws(UnlockedError) -> ResolvedPlacement {
        let resolved = try request().resolve()
        for warning in resolved.plan.warnings { printError("warning: \(warning)") }
        return resolved
    }
}

/// `--huge-pages on|off|auto`, shared by `run`, `topo`, `bench` and `compare`.
struct HugePagesOption: ParsableArguments {
    @Option(name: .customLong("huge-pages"), help: ArgumentHelp("Transparent huge pages on data buffers: on | off | auto.", discussion: """
        auto (default): madvise(MADV_HUGEPAGE) on buffers of 8 MiB or more where \
        /sys/kernel/mm/transparent_hugepage/enabled is [always] or [madvise]. on: ask on every buffer and report \
        a refusal. off: never ask (MADV_NOHUGEPAGE where THP is [always]).
        """, valueName: "mode"))
    var text = "auto"

    /// The mode; a bad value is a one-line usage error.
    func mode() throws(UnlockedError) -> HugePageMode { try HugePageMode(parsing: text) }
}
