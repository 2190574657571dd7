import Foundation
import Glibc
import Synchronization
import Testing
@testable import Unlocked

/// Binding on this machine, with threads the test creates itself.
@Suite struct PlacementBindingTests {
    /// The CPUs sched_getaffinity reports for this process, read independently of hwloc.
    static func affinityCPUs() throws -> [Int] {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        return try CPUList.parse(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
    }

    @Test func hostTopologyHonoursTheAffinityMask() throws {
        let host = try Topology.load()
        #expect(host.isThisMachine)
        #expect(host.allowedPUs == (try Self.affinityCPUs()))
        #expect(host.defaultWorkerCount() == host.allowedCores.count)
        #expect(!host.numaNodes.isEmpty)
    }

    /// Each worker thread binds and then runs on exactly its planned CPU.
    @Test func bindingLandsOnThePlannedCPU() throws {
        let host = try Topology.load()
        let allowed = host.allowedPUs
        // Twice as many workers as CPUs, each pinned explicitly, so every CPU is used.
        let plan = try PlacementPlan(policy: .cpus(allowed + allowed), topology: host)
        #expect(plan.bindingSkipped == nil)
        let results = Collected()
        let done = DispatchSemaphore(value: 0)
        for worker in plan.workers.indices {
            let thread = Thread {
                let outcome = Result { () throws(UnlockedError) in try plan.bindCurrentThread(worker: worker) }
                // Where the thread runs after some work: the binding must hold.
                var sum = 0
                for step in 0..<1_000_000 { sum &+= step }
                withExtendedLifetime(sum) {}
                results.append(outcome, laterCPU: currentCPU())
                done.signal()
            }
            thread.name = "ukw-test-\(worker)"
            thread.start()
        }
        for _ in plan.workers { done.wait() }
        let collected = results.items.withLock { $0 }
        let observations = try collected.map { try $0.0.get() }.sorted { $0.worker < $1.worker }
        #expect(collected.allSatisfy { (try? $0.0.get().plannedPU) == $0.1 })
        #expect(observations.count == plan.workers.count)
        for observation in observations {
            #expect(observation.bound)
            #expect(observation.warning == nil)
            #expect(observation.observedCPU == observation.plannedPU)
            #expect(observation.plannedPU == plan.workers[observation.worker].osPU)
        }
    }

    /// The probe engines can copy: pinned workers first-touch their chunks,
    /// every worker lands, and every page of the buffer is located.
    @Test(arguments: [MemoryPolicy.firstTouch, .interleave, .none])
    func verifiedPlacementLandsAndLocatesEveryPage(memory: MemoryPolicy) throws {
        let resolved = try PlacementRequest(pin: .compact, memory: memory).resolve()
        let verification = try resolved.verify(byteCount: 8 << 20)
        #expect(verification.observations.count == resolved.plan.workers.count)
        #expect(verification.landed == resolved.plan.workers.count)
        #expect(verification.pages.locatedPages == verification.pages.totalPages)
        #expect(verification.pages.totalPages == (8 << 20) / Int(sysconf(Int32(_SC_PAGESIZE))))
        #expect(verification.memory.map(\.requested) == ["huge-pages auto", memory.description])
    }

    @Test func aFailedBindThrowsUnlessBestEffort() throws {
        let missing = PlacementPlan(workers: [.init(index: 0, osPU: 60_000)])
        let strict = Result { () throws(UnlockedError) in
            try runOnOwnThread { () throws(UnlockedError) in try missing.bindCurrentThread(worker: 0) }
        }
        expectError(.usage, containing: "cannot bind to CPU 60000") { try strict.get() }
        let lenient = PlacementPlan(workers: missing.workers, bestEffort: true)
        let observation = try runOnOwnThread { () throws(UnlockedError) in try lenient.bindCurrentThread(worker: 0) }
        #expect(!observation.bound)
        #expect(observation.warning?.contains("60000") == true)
    }

    /// Runs `body` on a fresh thread, so a successful bind cannot pin the test runner.
    func runOnOwnThread(_ body: @escaping @Sendable () throws(UnlockedError) -> BindingObservation) throws(UnlockedError) -> BindingObservation {
        let result = Collected()
        let done = DispatchSemaphore(value: 0)
        Thread {
            result.append(Result { () throws(UnlockedError) in try body() }, laterCPU: currentCPU())
            done.signal()
        }.start()
        done.wait()
        return try result.items.withLock { $0[0].0 }.get()
    }
}

/// Observations gathered from worker threads, with the CPU each ran on later.
final class Collected: Sendable {
    let items = Mutex<[(Result<BindingObservation, UnlockedError>, Int)]>([])  // protected by its own lock

    func append(_ outcome: Result<BindingObservation, UnlockedError>, laterCPU: Int) {
        items.withLock { $0.append((outcome, laterCPU)) }
    }
}
