#if os(Linux)
import Foundation
import Unlocked
import UnlockedMPI

/// `unlocked run` as typed, for every rank: the CLI's parsed request, placement and
/// plugins, and how its options make an engine configuration from a plan.
public struct ClusterRunInputs {
    public var request: RunRequest
    public var placement: PlacementRequest
    public var catalog: () throws(UnlockedError) -> KernelCatalog
    public var engine: (PlacementPlan) throws(UnlockedError) -> EngineConfiguration

    public init(request: RunRequest, placement: PlacementRequest,
                catalog: @escaping () throws(UnlockedError) -> KernelCatalog,
                engine: @escaping (PlacementPlan) throws(UnlockedError) -> EngineConfiguration) {
        self.request = request
        self.placement = placement
        self.catalog = catalog
        self.engine = engine
    }
}

/// Worker processes under MPI are refused: each rank already is a process the launcher
/// placed and watches; workers forked beside it escape its accounting, and forking a
/// process whose memory an RDMA network registered is what Open MPI warns against.
func refuseProcessEngines(_ kind: EngineKind) throws(UnlockedError) {
    guard kind == .processesShm || kind == .processesPipe else { return }
    throw .usage("--engine \(kind.rawValue): worker processes are not run under MPI (each rank is already a process; "
        + "use a thread engine inside each rank, such as lockfree-pool or auto)")
}

extension ClusterJob {
    /// Runs what `inputs` returns on every rank, each over its block of the global
    /// array, and returns the job's report on rank 0 (nil on the others). A failure on any
    /// rank, `inputs` included (bad options, ISA dispatch), ends every rank with that
    /// rank's one line and exit code.
    @available(*, noasync, message: "blocks until every rank finishes")
    public func runBenchmark(_ inputs: () throws(UnlockedError) -> ClusterRunInputs) -> ClusterRunReport? {
        run { job throws(UnlockedError) in try job.runRank(try job.step(inputs)) }
    }

    private func runRank(_ inputs: ClusterRunInputs) throws(UnlockedError) -> ClusterRunReport? {
        let request = inputs.request
        try requireSameCommand([request.kernel, request.dtype?.rawValue ?? "-", request.size ?? "-", request.center,
                                request.seed.map { String($0) } ?? "-", request.input == nil ? "generated" : "file",
                                request.output == nil ? "-" : "output", String(request.warmup), String(request.reps)])
        let spec = try step { () throws(UnlockedError) in try request.resolve(catalog: try inputs.catalog(), part: part) }
        let cpus = try RankCPUs.decide(self)
        let (placement, configuration) = try step { () throws(UnlockedError) in
            var placementRequest = inputs.placement
            placementRequest.allowed = cpus.share
            let placement = try placementRequest.resolve()
            try placement.requireThisMachine(for: "run")
            let configuration = try inputs.engine(placement.plan)
            try refuseProcessEngines(configuration.kind)
            return (placement, configuration)
        }
        let coordinator = RankCoordinator(job: self, warmup: spec.warmup)
        let report = try Unlocked.runBenchmark(spec, engine: configuration, placement: placement, coordinator: coordinator)
        let record = RankRecord(job: self, cpus: cpus, report: report, repetitions: coordinator.repetitions)
        let encoded = try step { () throws(UnlockedError) in
            do { return String(decoding: try JSONEncoder().encode(record), as: UTF8.self) } catch {
                throw .internal("cannot encode rank \(rank)'s record: \(error)")
            }
        }
        guard let texts = try gather(encoded) else { return nil }
        let records = try texts.map { text throws(UnlockedError) in
            do { return try JSONDecoder().decode(RankRecord.self, from: Data(text.utf8)) } catch {
                throw .internal("cannot decode a rank's record: \(error)")
            }
        }
        let total = switch spec.source {
        case .generated: request.size.flatMap(parseCount) ?? RunRequest.defaultSize
        case .file(let array, _): array.count
        }
        return ClusterRunReport(report: report, launch: launch, threadLevel: threadLevel, totalElements: total, ranks: records)
    }

    /// Refuses a job whose ranks were started with different arguments (an MPMD launch,
    /// `mpirun A : B`): they would run different steps and wait for each other forever.
    /// `fields` are what decides the steps and the answer; file names may differ.
    func requireSameCommand(_ fields: [String]) throws(UnlockedError) {
        let own = fields.joined(separator: " ")
        let all = try allGather(own)
        if let other = all.firstIndex(where: { $0 != all[0] }) {
            throw .usage("rank \(other) was started with other arguments than rank 0 (\(all[other]) against \(all[0])): "
                + "every rank must run the same command")
        }
    }
}

/// One rank's part of a cluster run, gathered on rank 0 for the report.
public struct RankRecord: Sendable, Codable {
    public struct Worker: Sendable, Codable {
        public var worker: Int
        public var plannedCPU: Int?
        public var observedCPU: Int
        public var bound: Bool
        public var warning: String?
    }

    public var rank: Int
    public var localRank: Int
    public var localSize: Int
    public var host: String
    public var processID: Int32
    public var cpus: RankCPUs
    /// The global indices of its elements.
    public var firstIndex: Int
    public var elements: Int
    public var engine: String
    public var workers: [Worker]
    public var planWarnings: [String]
    public var memory: [MemoryOutcome]
    /// Per timed repetition, in nanoseconds: its kernel, its wait and exchange, and both
    /// (what it measured from the barrier to the job's value).
    public var computeNanoseconds: [Double]
    public var reduceNanoseconds: [Double]
    public var wallNanoseconds: [Double]
    /// Every rank's kernel time per repetition, as this rank gathered it (rank 0's view
    /// is the one reported).
    public var computeByRankNanoseconds: [[Double]]
    public var joinNanoseconds: Double
    public var readyAfterStartNanoseconds: Double?
    /// Its own partial value in the last repetition.
    public var partial: String

    init(job: ClusterJob, cpus: RankCPUs, report: RunReport, repetitions: [RankRepetition]) {
        rank = job.rank
        localRank = job.localRank
        localSize = job.localSize
        host = job.host
        processID = getpid()
        self.cpus = cpus
        firstIndex = report.spec.firstIndex
        elements = report.spec.count
        engine = report.engine?.statistics.engine.rawValue ?? "-"
        workers = (report.engine?.startup.bindings ?? []).map {
            Worker(worker: $0.worker, plannedCPU: $0.plannedPU, observedCPU: $0.observedCPU, bound: $0.bound, warning: $0.warning)
        }
        planWarnings = report.plan?.warnings ?? []
        memory = report.memory
        computeNanoseconds = repetitions.map(\.compute)
        reduceNanoseconds = repetitions.map(\.reduce)
        wallNanoseconds = report.samplesNanoseconds
        computeByRankNanoseconds = repetitions.map(\.computeByRank)
        joinNanoseconds = Double(job.joinNanoseconds)
        readyAfterStartNanoseconds = job.readyAfterStartNanoseconds.map { Double($0) }
        partial = repetitions.last?.partial.map { "\($0)" } ?? "-"
    }
}

/// What `unlocked run` prints under MPI: the job's answer and time, and every rank's
/// place, placement and times. Built on rank 0.
public struct ClusterRunReport: Sendable {
    /// Rank 0's own report; its value is the job's.
    public var report: RunReport
    public var launch: MPILaunch
    public var threadLevel: MPIThreadLevel
    /// Elements of the whole array.
    public var totalElements: Int
    public var ranks: [RankRecord]

    public var spec: RunSpec { report.spec }
    public var value: KernelValue { report.value }
    public var hosts: [String] { ranks.map(\.host).reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }

    /// Per timed repetition, the job's time: the slowest rank's, kernel and reduction.
    public var jobNanoseconds: [Double] {
        (0..<(ranks.map(\.wallNanoseconds.count).min() ?? 0)).map { rep in ranks.map { $0.wallNanoseconds[rep] }.max()! }
    }
    public var job: SampleStatistics { SampleStatistics(jobNanoseconds)! }

    /// Per repetition, the slowest rank's kernel time, and the spread between the
    /// slowest and fastest kernel (as rank 0 gathered them).
    public var slowestComputeNanoseconds: [Double] { ranks[0].computeByRankNanoseconds.map { $0.max() ?? 0 } }
    public var skewNanoseconds: [Double] { ranks[0].computeByRankNanoseconds.map { ($0.max() ?? 0) - ($0.min() ?? 0) } }
    /// The reduction's cost per repetition: how long the last rank to finish its kernel
    /// waited for the job's value (the others' waits include that rank's lateness).
    public var reductionNanoseconds: [Double] {
        (0..<(ranks.map(\.reduceNanoseconds.count).min() ?? 0)).map { rep in ranks.map { $0.reduceNanoseconds[rep] }.min()! }
    }

    public var bytesPerRep: Int {
        totalElements * (spec.dtype.byteWidth + (spec.kernel.outputType?.byteWidth ?? 0))
    }
    public var bytesPerSecond: Double { Double(bytesPerRep) / (job.median * 1e-9) }
    public var elementsPerSecond: Double { Double(totalElements) / (job.median * 1e-9) }

    /// Ranks whose workers share a CPU, per host; and what each rank's plan warned of.
    public var warnings: [String] {
        var warnings: [String] = []
        for host in hosts {
            var users: [Int: [String]] = [:]
            for record in ranks where record.host == host {
                for worker in record.workers {
                    if let cpu = worker.plannedCPU { users[cpu, default: []].append("rank \(record.rank) worker \(worker.worker)") }
                }
            }
            for cpu in users.keys.sorted() where users[cpu]!.count > 1 {
                warnings.append("oversubscribed: CPU \(cpu) on \(host) runs \(users[cpu]!.joined(separator: ", "))")
            }
        }
        var splits: [String] = []
        for record in ranks {
            let split = "oversubscribed: \(record.cpus.splitCount ?? 0) ranks on \(record.host) were launched on the same CPUs "
                + "\(CPUList.format(record.cpus.launcher)), which have fewer cores than ranks"
            if record.cpus.oversubscribed, !splits.contains(split) { splits.append(split) }
            warnings += record.planWarnings.map { "rank \(record.rank): \($0)" }
        }
        warnings += splits
        return warnings
    }
}
#endif
