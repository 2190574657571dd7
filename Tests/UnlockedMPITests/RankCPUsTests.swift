import Testing
@testable import UnlockedCluster

/// Which SLURM variable caps a rank's CPUs: only inside a step, srun's own first.
@Suite struct RankCPUsTests {
    @Test func capsOnlyInsideAStep() {
        #expect(RankCPUs.slurmCPUsPerTask(["SLURM_CPUS_PER_TASK": "2"]) == nil)
        #expect(RankCPUs.slurmCPUsPerTask(["SLURM_STEP_ID": "0"]) == nil)
        let step = ["SLURM_STEP_ID": "0", "SLURM_CPUS_PER_TASK": "2"]
        #expect(RankCPUs.slurmCPUsPerTask(step).map { "\($0.0)=\($0.1)" } == "SLURM_CPUS_PER_TASK=2")
        let srun = step.merging(["SRUN_CPUS_PER_TASK": "4"]) { $1 }
        #expect(RankCPUs.slurmCPUsPerTask(srun).map { "\($0.0)=\($0.1)" } == "SRUN_CPUS_PER_TASK=4")
        #expect(RankCPUs.slurmCPUsPerTask(["SLURM_STEP_ID": "0", "SLURM_CPUS_PER_TASK": "zero"]) == nil)
    }
}
