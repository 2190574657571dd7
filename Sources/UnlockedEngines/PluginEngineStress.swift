#if os(Linux)
import CKernels
import UnlockedCore
import UnlockedKernels
import UnlockedTopology

extension PluginConformance {
    /// The concurrency stress through the real pool engines, calling the
    /// kernel exactly as `run` does: persistent workers, PER_WORKER contexts
    /// and the SERIAL lock from `KernelInvoker`, each job split into long
    /// chunks (two per worker), so calls overlap as they do in a real run.
    package static func engineDrivers(workers: Int) -> [Driver] {
        [EngineKind.lockfreePool, .lockedPool].map { kind in
            Driver(name: kind.rawValue) { kernel, data, rounds, check throws(CheckFailure) in
                let engine: any Engine
                let job: EngineJob
                do throws(UnlockedError) {
                    engine = try makeEngine(EngineConfiguration(kind: kind, placement: .unbound(workers),
                                                                chunk: max(1, data.count / (2 * workers))))
                    let input = try engine.makeBuffer(count: data.count, width: kernel.inputType.byteWidth)
                    input.base.copyMemory(from: data.input, byteCount: data.count * kernel.inputType.byteWidth)
                    let output = try kernel.outputType.map { type throws(UnlockedError) in
                        try engine.makeBuffer(count: data.count, width: type.byteWidth)
                    }
                    job = EngineJob(kernel: kernel, input: input, output: output, count: data.count, params: data.params)
                } catch {
                    throw CheckFailure("cannot start \(kind.rawValue): \(error.message)")
                }
                defer { engine.close() }
                for round in 1...rounds {
                    let acc: uk_acc
                    do throws(UnlockedError) {
                        acc = try engine.run(job).acc
                    } catch {
                        throw CheckFailure("job \(round): \(error.message)")
                    }
                    if let output = job.output, let type = kernel.outputType {
                        try check(.copyOfMap(UnsafeRawBufferPointer(start: output.base, count: data.count * type.byteWidth)))
                    } else {
                        try check(.reduce(acc))
                    }
                }
            }
        }
    }
}

extension PluginVerifier {
    /// The verification child's entry point: loads the plugin and checks one
    /// kernel, the concurrency stress also through `lockfree-pool` and
    /// `locked-pool`. Returns the exit status: 0 when every check passed.
    public static func runChild(_ invocation: ChildArguments) throws(UnlockedError) -> Int32 {
        try runChild(invocation, drivers: PluginConformance.engineDrivers(workers: invocation.threads))
    }
}
#endif
