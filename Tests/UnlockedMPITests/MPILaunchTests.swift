import Testing
import UnlockedMPI

/// Environments as the launchers set them, abridged from what they printed on this
/// machine (Open MPI 4.1 `mpirun`, SLURM 22.05 `sbatch` and `srun`).
@Suite struct MPILaunchTests {
    static let batchScript = ["SLURM_JOB_ID": "1", "SLURM_NTASKS": "2", "SLURM_PROCID": "0",
                              "SLURM_CPUS_PER_TASK": "1", "SLURM_TASKS_PER_NODE": "2", "PATH": "/usr/bin"]
    static let srunStep = batchScript.merging(["SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "2",
                                               "SLURM_PROCID": "1", "SLURM_CPU_BIND": "quiet,mask_cpu:0x1,0x2"]) { $1 }

    @Test func noLauncherMeansAPlainRun() throws {
        let launch = try MPILaunch.detect(["PATH": "/usr/bin", "HOME": "/root"])
        #expect(launch.launcher == nil)
        #expect(launch.variables.isEmpty)
    }

    /// A batch script runs once, on the first node: no step, so no MPI.
    @Test func slurmBatchScriptIsAPlainRun() throws {
        let launch = try MPILaunch.detect(Self.batchScript)
        #expect(launch.launcher == nil)
        #expect(launch.variables["SLURM_NTASKS"] == "2")
        #expect(launch.variables["PATH"] == nil)
    }

    @Test func oneTaskStepIsAPlainRun() throws {
        let step = Self.srunStep.merging(["SLURM_STEP_NUM_TASKS": "1", "SLURM_NTASKS": "1"]) { $1 }
        #expect(try MPILaunch.detect(step).launcher == nil)
    }

    @Test func srunWithoutPluginIsRefused() {
        #expect(throws: MPIError.singletonTasks(tasks: 2, task: 1)) { try MPILaunch.detect(Self.srunStep) }
        #expect(MPIError.singletonTasks(tasks: 2, task: 1).exitCode == 64)
    }

    @Test func mpirunAnnouncesItsSize() throws {
        let launch = try MPILaunch.detect(["OMPI_COMM_WORLD_SIZE": "3", "OMPI_COMM_WORLD_RANK": "1",
                                           "PMIX_RANK": "1", "PATH": "/usr/bin"])
        #expect(launch.launcher == .openMPI)
        #expect(launch.announcedSize == 3)
        #expect(launch.task == 1)
        #expect(launch.variables.keys.sorted() == ["OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK"])
    }

    /// mpirun inside a job starts its daemons with srun, so ranks inherit a step of one task
    /// per node; Open MPI's own variables decide.
    @Test func mpirunInsideAJobIsMPIRun() throws {
        let rank = Self.srunStep.merging(["SLURM_STEP_NUM_TASKS": "1", "SLURM_PROCID": "0",
                                          "OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1"]) { $1 }
        let launch = try MPILaunch.detect(rank)
        #expect(launch.launcher == .openMPI)
        #expect(launch.announcedSize == 2)
        #expect(launch.task == 1)
    }

    @Test func srunWithPMIxTakesTheStepSize() throws {
        let launch = try MPILaunch.detect(Self.srunStep.merging(["PMIX_RANK": "1"]) { $1 })
        #expect(launch.launcher == .pmix)
        #expect(launch.announcedSize == 2)
    }

    @Test func pmiTakesPMISize() throws {
        let launch = try MPILaunch.detect(["PMI_RANK": "3", "PMI_SIZE": "4"])
        #expect(launch.launcher == .pmi)
        #expect(launch.announcedSize == 4)
        #expect(launch.task == 3)
    }

    @Test func processEnvironmentReadsEnviron() {
        let environment = MPILaunch.processEnvironment()
        #expect(environment["PATH"] != nil)
        #expect(environment.keys.allSatisfy { !$0.contains("=") })
    }
}
