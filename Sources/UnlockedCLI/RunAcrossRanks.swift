import ArgumentParser
import Unlocked
import UnlockedCluster
import UnlockedMPI

extension RunCommand {
    /// `--json` and `--csv` are alternatives.
    func validateFormat() throws(UnlockedError) {
        if json && csv { throw .usage("--json and --csv: give one or the other") }
    }

    /// `run` under an MPI launcher: every rank runs its block of the global size or file,
    /// rank 0 prints the job's report; an error on any rank ends them all with one line.
    func runAcrossRanks(_ launch: MPILaunch) throws {
        try stopCleanlyOnSignals(quiet: launch.task != 0)
        let job = ClusterJob(launch, label: "unlocked")
        let report = job.runBenchmark { () throws(UnlockedError) in
            try validateFormat()
            if engine.roundTrip { throw .usage("--round-trip: measures one engine in one process; run it without a launcher") }
            try ISA.initializeDispatch()
            return ClusterRunInputs(
                request: RunRequest(kernel: workload.kernel, dtype: workload.dtype, size: workload.size,
                                    center: workload.data.center, seed: workload.data.seed,
                                    input: workload.input, output: workload.output, warmup: warmup, reps: reps),
                placement: try placement.request(),
                catalog: { () throws(UnlockedError) in try plugins.catalog() },
                engine: { plan throws(UnlockedError) in try engine.configuration(placement: plan) })
        }
        job.finish()
        guard let report else { return }
        print(json ? jsonString(report.jsonObject) : csv ? report.csv : report.text, terminator: csv ? "" : "\n")
    }
}
