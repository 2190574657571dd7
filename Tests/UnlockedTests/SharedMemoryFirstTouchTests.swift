import Foundation
import Testing
@testable import Unlocked

/// `processes-shm` input is first touched by the worker processes, each its own
/// chunks, in `run` and in `bench`/`compare` cells. This machine cannot show
/// pages per NUMA node of another topology, so the tests check who mapped each
/// page: the page tables of each worker (/proc/<pid>/pagemap) and of this process.
@Suite struct SharedMemoryFirstTouchTests {
    /// 10 chunks of 2 pages over 3 workers: pages 0..<6, 6..<12 and 12..<20.
    static let chunk = 2_048
    static let count = 10 * chunk
    static let workers = 3

    /// Which of `pages` pages from `address` process `pid` has in its page
    /// tables (bit 63 of each pagemap entry, readable without privileges).
    static func presentPages(pid: pid_t, address: UInt, pages: Int) throws -> [Bool] {
        let pageSize = UInt(sysconf(Int32(_SC_PAGESIZE)))
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/pagemap"))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(address / pageSize * 8))
        let entries = try #require(try handle.read(upToCount: pages * 8))
        #expect(entries.count == pages * 8)
        return (0..<pages).map { page in
            let entry = entries[(page * 8)..<(page * 8 + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return entry >> 63 == 1
        }
    }

    /// Where process `pid` mapped the job's memfd (the only one a worker maps after `fill`).
    static func memfdMapping(pid: pid_t) throws -> UInt {
        // Read to the end: String(contentsOfFile:) stops early on /proc files, which report size 0.
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(pid)/maps"))
        defer { try? handle.close() }
        let maps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        let lines = maps.split(separator: "\n").filter { $0.contains("/memfd:unlocked-job") }
        try #require(lines.count == 1, "process \(pid) maps \(lines.count) job memfds")
        return try #require(UInt(lines[0].prefix { $0 != "-" }, radix: 16))
    }

    /// The bytes of `buffer`'s memfd that have pages, whoever allocated them
    /// (posix_fallocate or a fault): its `st_blocks`.
    static func allocatedBytes(_ buffer: JobBuffer) throws -> Int {
        var info = stat()
        #expect(fstat(try #require(buffer.sharedFileDescriptor), &info) == 0)
        return Int(info.st_blocks) * 512
    }

    /// Each worker has exactly the pages of its own chunks in its page tables,
    /// this process none (it only mapped the buffer), and every page exists.
    static func expectWorkersTouchedTheirChunks(_ engine: ProcessEngine, buffer: JobBuffer) throws {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = buffer.byteCount / pageSize
        #expect(Self.chunk * DType.i32.byteWidth % pageSize == 0 && buffer.byteCount % pageSize == 0)
        let plan = ChunkPlan(count: Self.count, chunkSize: Self.chunk, workers: Self.workers)
        #expect(engine.workerProcessIDs.count == Self.workers)
        for (worker, pid) in engine.workerProcessIDs.enumerated() {
            let owned = plan.ownedChunks(worker: worker)
            let first = plan.range(ofChunk: owned.lowerBound).lowerBound * DType.i32.byteWidth / pageSize
            let end = plan.range(ofChunk: owned.upperBound - 1).upperBound * DType.i32.byteWidth / pageSize
            let present = try presentPages(pid: pid, address: try memfdMapping(pid: pid), pages: pages)
            #expect(present == (0..<pages).map { (first..<end).contains($0) }, "worker \(worker) owns pages \(first)..<\(end)")
        }
        let parent = try presentPages(pid: getpid(), address: UInt(bitPattern: buffer.base), pages: pages)
        #expect(!parent.contains(true), "this process touched \(parent.filter { $0 }.count) pages")
        #expect(try allocatedBytes(buffer) == buffer.byteCount)
    }

    /// `run`'s path: a buffer made for `initialize` has no page until the
    /// workers allocate and fill theirs.
    @Test func runInputIsTouchedByEachWorkerOnly() throws {
        let engine = try #require(try makeEngine(EngineFixture.configuration(.processesShm, workers: Self.workers, chunk: Self.chunk))
            as? ProcessEngine)
        defer { engine.close() }
        let buffer = try engine.makeBuffer(count: Self.count, width: DType.i32.byteWidth, forInitialize: true)
        #expect(try Self.allocatedBytes(buffer) == 0)
        try engine.initialize(buffer, dtype: .i32, count: Self.count, generator: DataGenerator(seed: 7))
        try Self.expectWorkersTouchedTheirChunks(engine, buffer: buffer)
        let located = engine.pageLocations(of: buffer)
        #expect(located.totalPages == buffer.byteCount / located.pageSize && located.locatedPages == located.totalPages)
    }

    /// The report of a run says who placed the input and finds every page.
    @Test func runReportSaysTheWorkersTouchedThePages() throws {
        let placement = try PlacementRequest(workers: Self.workers, pin: .none).resolve()
        let configuration = EngineConfiguration(kind: .processesShm, placement: placement.plan, chunk: Self.chunk,
                                                workerExecutable: CommandLineTool.executable.path)
        let spec = try RunRequest(dtype: .i32, size: "\(Self.count)", seed: 7, reps: 1).resolve(catalog: KernelCatalog())
        let report = try runBenchmark(spec, engine: configuration, placement: placement, startupSamples: 1)
        let text = try #require(report.placementText)
        #expect(text.contains("first-touch: applied (each worker process allocates (posix_fallocate) and writes its own chunks first; this process never touches them)"), "\(text)")
        let pages = try #require(report.pages)
        #expect(pages.notPresent == 0 && pages.locatedPages == pages.totalPages, "\(pages.summary)")
    }

    /// `bench`/`compare`'s path: the cell copies nothing from the sweep's
    /// private buffer; its workers write their own input, equal to it.
    @Test func benchCellInputIsTouchedByEachWorkerOnly() throws {
        let kernel = try KernelCatalog().kernel(named: "absdist.sum", dtype: .i32)
        let generator = DataGenerator(seed: 7)
        let sweepInput = try JobBuffer(count: Self.count, width: DType.i32.byteWidth)
        generator.fill(sweepInput.base, dtype: .i32, range: 0..<Self.count)
        let params = EngineFixture.params(.i32)
        let cell = BenchCell(engine: EngineKind.processesShm.rawValue, kernel: kernel.name, dtype: .i32, size: Self.count,
                             workers: Self.workers, pin: "none", mem: "first-touch", chunk: Self.chunk)
        let runner = EngineCellRunner(workerExecutable: CommandLineTool.executable.path)
        let prepared = try #require(try runner.prepare(cell, kernel: kernel, data: CellData(
            input: sweepInput, output: nil, count: Self.count, params: params, generator: generator)) as? EnginePreparedCell)
        let engine = try #require(prepared.engine as? ProcessEngine)
        #expect(prepared.job.input !== sweepInput)
        try Self.expectWorkersTouchedTheirChunks(engine, buffer: prepared.job.input)
        #expect(prepared.placement.hasSuffix("; own input: each worker process allocates (posix_fallocate) and writes its own chunks first; this process never touches them"),
                "\(prepared.placement)")
        #expect(prepared.ownInputHugePages?.note?.hasPrefix("shared memory") == true)
        let (expected, _) = try EngineFixture.reference(kernel, input: sweepInput.base, count: Self.count, params: params)
        #expect(try prepared.runOnce().value == kernel.value(of: expected))
    }
}
