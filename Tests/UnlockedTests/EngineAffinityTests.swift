import Foundation
import Synchronization
import Testing
@testable import Unlocked

/// Engines side by side must not disturb each other: every engine's threads
/// run where its placement report says, whether it runs alone or right after
/// another engine in the same sweep (both alive, the calling thread handed
/// back between them, as `BenchSweep` does). Affinities are read, not timed:
/// the fixture kernel `affinity.sum` reports the CPU sets of the threads that
/// run it (worker processes included), and a poller reads `processes-pipe`'s
/// per-job conversation threads from /proc while a job holds them.
@Suite("Engine affinity", .serialized) struct EngineAffinityTests {
    /// What the census kernel saw over one job.
    struct Census {
        /// CPUs some thread could use.
        var union: Set<Int>
        /// CPUs some thread could not use.
        var excluded: Set<Int>
        /// Some thread could use more than one CPU.
        var someUnbound: Bool

        init(_ value: KernelValue) throws {
            guard case .unsigned(let bits) = value else { throw Failure("census value \(value) is not unsigned") }
            let lo = UInt64(truncatingIfNeeded: bits), hi = UInt64(truncatingIfNeeded: bits >> 64)
            union = Set((0..<64).filter { lo & (1 << UInt64($0)) != 0 })
            excluded = Set((0..<63).filter { hi & (1 << UInt64($0)) != 0 })
            someUnbound = hi & (1 << 63) != 0
        }

        func description(within allowed: Set<Int>) -> String {
            "threads on \(union.sorted()), CPUs some thread lacked \(excluded.intersection(allowed).sorted())"
                + (someUnbound ? ", some thread on several CPUs" : "")
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The CPU sets of this process's threads named `prefix*`, from /proc.
    static func threadAffinities(named prefix: String) -> [(name: String, cpus: Set<Int>)] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { tid in
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8),
                  comm.hasPrefix(prefix),
                  let status = try? String(contentsOfFile: "/proc/self/task/\(tid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }),
                  let cpus = try? CPUList.parse(String(line.dropFirst("Cpus_allowed_list:".count)).trimmingCharacters(in: .whitespaces))
            else { return nil }
            return (comm.trimmingCharacters(in: .newlines), Set(cpus))
        }
    }

    /// One sweep's worth of cells over one input, and the checks. Runs on a
    /// thread of its own, outside the test's task, so it collects problems
    /// for the test to report rather than recording issues itself.
    final class Bench {
        var problems: [String] = []
        let allowed: Set<Int>
        let kernel: Kernel
        let input: JobBuffer
        let runner = EngineCellRunner(workerExecutable: CommandLineTool.executable.path)
        static let count = 128 << 10

        init(allowed: Set<Int>) throws {
            self.allowed = allowed
            let catalog = try KernelCatalog.loading(explicit: [try PluginFixtures.path("AFFINITY")], searchPath: nil)
            kernel = try catalog.kernel(named: "affinity.sum", dtype: .i32)
            input = try JobBuffer(sharedCount: Self.count, width: 4)
        }

        /// A cell as `unlocked` runs it: all allowed CPUs, compact, `sleep` µs per chunk.
        func prepare(_ engine: EngineKind, sleep: Int) throws -> EnginePreparedCell {
            let workers = engine == .sequential ? 1 : allowed.count
            let params = try DType.i32.parseCenter("\(sleep)")
            let cell = BenchCell(engine: engine.rawValue, kernel: kernel.name, dtype: .i32, size: Self.count, workers: workers,
                                 pin: "compact", mem: "first-touch")
            let data = CellData(input: input, output: nil, count: Self.count, params: params)
            guard let prepared = try runner.prepare(cell, kernel: kernel, data: data) as? EnginePreparedCell else {
                throw Failure("\(engine.rawValue): the runner did not prepare an engine cell")
            }
            prepared.handBack()
            return prepared
        }

        func expect(_ condition: Bool, _ problem: @autoclosure () -> String) {
            if !condition { problems.append(problem()) }
        }

        /// Runs one job of `cell` and checks its threads against its report;
        /// `context` names the situation in problems.
        func check(_ cell: EnginePreparedCell, context: String) throws {
            let kind = cell.engine.kind
            let poller = kind == .processesPipe ? ConversationPoller() : nil
            let census = try Census(try cell.runOnce().value)
            let conversations = poller?.stop() ?? []
            cell.handBack()
            expect(currentThreadCPUs() == allowed, "\(context): the calling thread was not handed back")
            let bindings = cell.engine.startup.bindings
            let words = cell.placement
            switch kind {
            case .gcd:
                // Reported as not bound: every thread, the caller included, may use every allowed CPU.
                expect(words.contains("not bound"), "\(context): \(words)")
                expect(census.union == allowed && census.excluded.isDisjoint(with: allowed), "\(context): \(census.description(within: allowed))")
            case .spawn:
                // Reported as bound round-robin to the plan's CPUs: each thread on one of them.
                expect(words.contains("bound round-robin"), "\(context): \(words)")
                expect(!census.someUnbound && census.union.isSubset(of: allowed), "\(context): \(census.description(within: allowed))")
            default:
                // Each worker bound to the CPU its report names (the caller as worker 0 where it computes).
                let reported = Set(bindings.map(\.observedCPU))
                expect(!bindings.isEmpty && bindings.allSatisfy(\.bound), "\(context): report \(words)")
                expect(!census.someUnbound && census.union.isSubset(of: reported), "\(context): \(census.description(within: allowed)); report \(words)")
            }
            if kind == .processesPipe {
                // Reported as not bound: conversation threads start on every allowed CPU, whoever starts them.
                expect(words.contains("conversation thread per worker, not bound"), "\(context): \(words)")
                expect(!conversations.isEmpty, "\(context): no conversation thread seen during a 20 ms job")
                for thread in Set(conversations.filter { $0.cpus != allowed }.map { "\($0.name) on \($0.cpus.sorted())" }).sorted() {
                    problems.append("\(context): \(thread)")
                }
            }
        }
    }

    /// Reads the pipe engine's conversation threads (`ukw-ppipe-*`) from /proc on its own thread until stopped.
    final class ConversationPoller: @unchecked Sendable {
        private let seen = Mutex<[(name: String, cpus: Set<Int>)]>([])
        private let running = Atomic<Bool>(true)
        private let done = DispatchSemaphore(value: 0)

        init() {
            Thread.detachNewThread { [self] in
                while running.load(ordering: .acquiring) {
                    let found = EngineAffinityTests.threadAffinities(named: "ukw-\(EngineKind.processesPipe.threadRole)-")
                    if !found.isEmpty { seen.withLock { $0 += found } }
                }
                done.signal()
            }
        }

        func stop() -> [(name: String, cpus: Set<Int>)] {
            running.store(false, ordering: .releasing)
            done.wait()
            return seen.withLock { $0 }
        }
    }

    @Test func everyEngineRunsWhereItsReportSaysAloneAndAfterEachOther() throws {
        let allowed = try #require(initialAffinity)
        try #require(allowed.max()! < 63, "the census kernel encodes CPUs 0-62; this machine allows \(allowed.sorted())")
        let problems = try EngineFixture.onOwnThread { () throws -> [String] in
            let bench = try Bench(allowed: allowed)
            bench.expect(currentThreadCPUs() == allowed, "the test thread starts pinned")
            // 5 ms per chunk: every worker gets chunks, and jobs last long enough to see their threads.
            for engine in EngineFixture.sanitizableKinds {
                let cell = try bench.prepare(engine, sleep: 5_000)
                try bench.check(cell, context: "\(engine.rawValue) alone")
            }
            for first in EngineFixture.sanitizableKinds {
                for second in EngineFixture.sanitizableKinds where second != first {
                    let before = try bench.prepare(first, sleep: 0)
                    _ = try before.runOnce()
                    before.handBack()
                    let cell = try bench.prepare(second, sleep: 5_000)
                    try bench.check(cell, context: "\(second.rawValue) after \(first.rawValue)")
                    withExtendedLifetime(before) {}
                }
            }
            return bench.problems
        }
        #expect(problems.isEmpty, "\(problems.count) problems:\n\(problems.joined(separator: "\n"))")
    }
}
