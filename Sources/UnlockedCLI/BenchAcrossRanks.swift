import ArgumentParser
import Unlocked
import UnlockedCluster
import UnlockedMPI

/// How `bench` sweeps across MPI ranks; meaningful only under a launcher.
struct RankSweepOptions: ParsableArguments {
    @Option(help: "Under MPI: strong (--sizes is the whole job's element count, split over the ranks) or weak (--sizes per rank).")
    var scaling: Scaling?

    @Option(name: .customLong("ranks"), help: "Under MPI: rank counts to measure, 1,2,4 or 1..max or max (default 1, 2, 4, … and all); the other ranks wait.")
    var counts: String?

    /// Refuses the options without a launcher, where there is one rank.
    func requireLauncher() throws(UnlockedError) {
        if let scaling { throw .usage("--scaling \(scaling.rawValue): needs a launch across MPI ranks (mpirun, or srun --mpi=pmix)") }
        if let counts { throw .usage("--ranks \(counts): needs a launch across MPI ranks (mpirun, or srun --mpi=pmix)") }
    }
}

extension Scaling: ExpressibleByArgument {}

extension BenchCommand {
    /// `bench` under an MPI launcher: every rank sweeps the same cells per rank count,
    /// rank 0 prints; a failure outside a cell ends every rank with one line.
    func benchAcrossRanks(_ launch: MPILaunch) throws {
        try stopCleanlyOnSignals(quiet: launch.task != 0)
        let job = ClusterJob(launch, label: "unlocked")
        let report = job.bench { () throws(UnlockedError) in
            if !compare.isEmpty { throw .usage("--compare: compares two files in one process; run it without a launcher") }
            if let plot = output.plot { throw .usage("--plot \(plot): not drawn across ranks; use --json and plot from it") }
            try ISA.initializeDispatch()
            return ClusterBenchInputs(request: benchRequest, scaling: ranks.scaling ?? .strong, ranks: ranks.counts,
                                      catalog: { () throws(UnlockedError) in try plugins.catalog() })
        }
        job.finish()
        guard let report else { return }
        switch output.format {
        case .table: print(report.text)
        case .markdown: print(report.markdown)
        case .csv: print(report.csv, terminator: "")
        case .json: print(jsonString(report.jsonObject))
        }
    }
}
