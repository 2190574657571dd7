#if os(Linux)
import CKernels
import CSupport
import Glibc
import UnlockedCore
import UnlockedKernels
import UnlockedTopology

/// How process workers get their chunks' elements.
public enum WorkerTransport: String, Sendable, CaseIterable {
    /// Workers map the job's memfd; only chunk indices and results cross the pipe.
    case sharedMemory = "shm"
    /// Every chunk's bytes cross the pipe to the worker, and map output back.
    case pipe
}

/// The messages between an engine and its worker processes. Every message is
/// a little-endian u32 length and that many bytes; in `pipe` transport each
/// chunk's raw bytes follow a run message (and map output comes back per
/// chunk) in lockstep, so neither side ever blocks on a full pipe.
package enum WorkerOp: UInt32 {
    case run = 1, fill = 2, exit = 3
}

/// A buffer as a worker process sees it: the parent's memfd, which it opens
/// through /proc/<parent>/fd/<fd>, and a process-unique id to cache mappings.
package struct SharedBufferReference: Equatable {
    package var id: UInt64
    package var fd: Int32
    package var byteCount: Int

    package init(id: UInt64 = 0, fd: Int32 = -1, byteCount: Int = 0) {
        self.id = id
        self.fd = fd
        self.byteCount = byteCount
    }

    package init(_ buffer: JobBuffer?) {
        if let buffer, let fd = buffer.sharedFileDescriptor {
            self.init(id: buffer.id, fd: fd, byteCount: buffer.byteCount)
        } else {
            self.init()
        }
    }
}

/// A worker's share of a job: chunks `[firstChunk, endChunk)` of size `chunkSize` over `count` elements.
package struct WorkerShare: Equatable {
    package var count: Int
    package var chunkSize: Int
    package var firstChunk: Int
    package var endChunk: Int

    package var plan: ChunkPlan { ChunkPlan(count: count, chunkSize: chunkSize, workers: 1) }
}

package struct MessageWriter {
    package private(set) var bytes: [UInt8] = [0, 0, 0, 0]

    package mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    package mutating func append(_ value: Double) { append(value.bitPattern) }
    package mutating func append(_ text: String) {
        append(UInt32(text.utf8.count))
        bytes.append(contentsOf: text.utf8)
    }
    package mutating func append(_ buffer: SharedBufferReference) {
        append(buffer.id)
        append(buffer.fd)
        append(UInt64(buffer.byteCount))
    }
    package mutating func append(_ share: WorkerShare) {
        for value in [share.count, share.chunkSize, share.firstChunk, share.endChunk] { append(UInt64(value)) }
    }
    package mutating func append(_ pages: PageLocationReport) {
        for value in [pages.pageSize, pages.totalPages, pages.notPresent, pages.unknown, pages.pagesPerNode.count] { append(UInt64(value)) }
        for (node, count) in pages.pagesPerNode.sorted(by: { $0.key < $1.key }) {
            append(UInt64(node))
            append(UInt64(count))
        }
        append(pages.error ?? "")
    }

    /// The message with its length prefix filled in.
    package var framed: [UInt8] {
        var framed = bytes
        withUnsafeBytes(of: UInt32(bytes.count - 4).littleEndian) { framed.replaceSubrange(0..<4, with: $0) }
        return framed
    }
}

package struct MessageReader {
    private let bytes: [UInt8]
    private var offset = 0

    package init(_ bytes: [UInt8]) { self.bytes = bytes }

    package mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(UnlockedError) -> T {
        let size = MemoryLayout<T>.size
        guard offset + size <= bytes.count else { throw .internal("worker protocol: message too short") }
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes[offset..<(offset + size)]) }
        offset += size
        return T(littleEndian: value)
    }
    package mutating func readDouble() throws(UnlockedError) -> Double { Double(bitPattern: try read(UInt64.self)) }
    package mutating func readString() throws(UnlockedError) -> String {
        let length = Int(try read(UInt32.self))
        guard offset + length <= bytes.count else { throw .internal("worker protocol: string too long") }
        defer { offset += length }
        return String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
    }
    package mutating func readBuffer() throws(UnlockedError) -> SharedBufferReference {
        SharedBufferReference(id: try read(), fd: try read(), byteCount: Int(try read(UInt64.self)))
    }
    package mutating func readShare() throws(UnlockedError) -> WorkerShare {
        WorkerShare(count: Int(try read(UInt64.self)), chunkSize: Int(try read(UInt64.self)),
                    firstChunk: Int(try read(UInt64.self)), endChunk: Int(try read(UInt64.self)))
    }
    package mutating func readPages() throws(UnlockedError) -> PageLocationReport {
        var pages = PageLocationReport(pageSize: Int(try read(UInt64.self)), totalPages: Int(try read(UInt64.self)), pagesPerNode: [:],
                                       notPresent: Int(try read(UInt64.self)), unknown: Int(try read(UInt64.self)))
        for _ in 0..<Int(try read(UInt64.self)) { pages.pagesPerNode[Int(try read(UInt64.self))] = Int(try read(UInt64.self)) }
        let error = try readString()
        pages.error = error.isEmpty ? nil : error
        return pages
    }
}

/// Finds the kernel a worker process is asked to run. Built-in kernels are
/// looked up by name and type in `KernelCatalog`; a plugin kernel comes from
/// the plugin at `pluginPath` (the resolved path the engine loaded it from),
/// loaded with the same checks once per process and kept in `plugins`.
/// The permission checks run again: the file could have been replaced since
/// the engine checked it.
package func resolveWorkerKernel(name: String, dtype: DType, pluginPath: String,
                         plugins: inout [String: PluginInstance]) throws(UnlockedError) -> Kernel {
    guard !pluginPath.isEmpty else { return try KernelCatalog().kernel(named: name, dtype: dtype) }
    let plugin: PluginInstance
    if let loaded = plugins[pluginPath] {
        plugin = loaded
    } else {
        plugin = try PluginLoader.load(path: pluginPath)
        plugins[pluginPath] = plugin
    }
    // Qualified, so a plugin kernel that reuses a built-in name is not taken for the built-in.
    return try KernelCatalog(plugins: [plugin]).kernel(named: "\(plugin.name):\(name)", dtype: dtype)
}

/// How a process engine starts one worker: the hidden entry point of this
/// executable and its arguments, defined once here for both sides. The
/// engine builds `arguments`; the CLI's hidden subcommand hands what follows
/// the subcommand name to `init(parsing:)` and calls `runWorkerProcess`.
public struct WorkerProcessArguments: Equatable, Sendable {
    /// The hidden subcommand that runs a worker.
    public static let subcommand = "__worker"

    /// The worker's index in its engine.
    public var index: Int
    /// The engine's pid; the worker dies with it (PR_SET_PDEATHSIG) and opens
    /// its memfds through /proc/<parent>/fd.
    public var parent: Int32
    /// The PU to bind to (nil: unbound).
    public var cpu: Int?
    /// A failed bind is a warning instead of an error.
    public var bestEffort: Bool

    public init(index: Int, parent: Int32, cpu: Int?, bestEffort: Bool) {
        self.index = index
        self.parent = parent
        self.cpu = cpu
        self.bestEffort = bestEffort
    }

    /// The words after the executable: `__worker INDEX PARENT CPU|- strict|best-effort`.
    public var arguments: [String] {
        [Self.subcommand, "\(index)", "\(parent)", cpu.map(String.init) ?? "-", bestEffort ? "best-effort" : "strict"]
    }

    /// Parses the words after the subcommand, as `arguments` wrote them.
    public init(parsing words: [String]) throws(UnlockedError) {
        guard words.count == 4, let index = Int(words[0]), index >= 0, let parent = Int32(words[1]),
              words[2] == "-" || Int(words[2]) != nil, ["strict", "best-effort"].contains(words[3]) else {
            throw .usage("\(Self.subcommand) \(words.joined(separator: " ")): not a worker invocation "
                         + "(started by the processes-* engines as INDEX PARENT CPU|- strict|best-effort)")
        }
        self.init(index: index, parent: parent, cpu: Int(words[2]), bestEffort: words[3] == "best-effort")
    }
}

/// Exit statuses of a worker process, read by the engine when one dies.
package enum WorkerExit {
    /// The job's data or kernel failed; the reason went over the pipe first.
    package static let jobFailed = UnlockedError.Kind.badData.rawValue
    /// The engine is gone or the pipe broke.
    package static let lostEngine = UnlockedError.Kind.internal.rawValue
}

/// The worker side: what `unlocked __worker` runs. Reads jobs from stdin,
/// answers on `replies` (the stdout the engine gave it, which the program
/// may have moved off descriptor 1 so that a plugin's printf cannot corrupt
/// the protocol), and returns the process exit code.
public func runWorkerProcess(_ invocation: WorkerProcessArguments, replies: Int32 = STDOUT_FILENO) -> Int32 {
    let index = invocation.index, parent = invocation.parent
    // Die with the engine, and leave Ctrl-C to it: it stops every worker and exits 130.
    _ = uk_set_parent_death_signal(SIGKILL)
    guard getppid() == parent else { return WorkerExit.lostEngine }
    signal(SIGINT, SIG_IGN)
    // Named like the library's threads (in `ps`, and for tests telling workers from the fork server).
    _ = uk_set_thread_name(workerThreadName("proc", index))
    var worker = ProcessWorker(index: index, parent: parent, replies: replies)
    var placement = PlacementPlan.unbound(index + 1)
    placement.workers[index].osPU = invocation.cpu
    placement.bestEffort = invocation.bestEffort
    var ready = MessageWriter()
    do throws(UnlockedError) {
        // The engine's variant, which it passes in UNLOCKED_ISA; the engine
        // checks the one reported here.
        try ISA.initializeDispatch()
        let observation = try placement.bindCurrentThread(worker: index)
        ready.append(Int32(observation.observedCPU))
        ready.append(observation.warning ?? "")
        ready.append(ISA.selected.rawValue)
        // This thread runs every job (`serve`): the engine reads its context switches.
        ready.append(uk_thread_id())
    } catch {
        ready.append(Int32(-1))
        ready.append("!" + error.message)
        ready.append("")
    }
    guard FileDescriptorIO.writeAll(replies, ready.framed) else { return WorkerExit.lostEngine }
    return worker.serve()
}

/// The state of one worker process: its mapped buffers and plugin contexts.
private struct ProcessWorker {
    let index: Int
    let parent: Int32
    /// Where answers go (see `runWorkerProcess`).
    let replies: Int32
    var mappings: [UInt64: (base: UnsafeMutableRawPointer, byteCount: Int)] = [:]
    var contexts: WorkerKernelContexts
    var scratchIn: JobBuffer?
    var scratchOut: JobBuffer?
    /// Plugins loaded for jobs, by path: each is loaded (and initialised) once per process.
    var plugins: [String: PluginInstance] = [:]
    /// Set while a pipe-transport job streams: after an error the stream is
    /// out of step, so the worker replies and exits instead of reading on.
    var streaming = false
    let crashHook = getenv("UNLOCKED_TEST_WORKER_CRASH").map { String(cString: $0) }

    init(index: Int, parent: Int32, replies: Int32) {
        self.index = index
        self.parent = parent
        self.replies = replies
        contexts = WorkerKernelContexts(worker: index)
    }

    mutating func serve() -> Int32 {
        defer {
            contexts.releaseAll()
            for mapping in mappings.values { munmap(mapping.base, max(mapping.byteCount, 1)) }
        }
        while let body = FileDescriptorIO.readMessage(STDIN_FILENO) {
            var reader = MessageReader(body)
            var reply = MessageWriter()
            do throws(UnlockedError) {
                guard let op = WorkerOp(rawValue: try reader.read(UInt32.self)) else { throw .internal("worker protocol: unknown op") }
                switch op {
                case .exit: return 0
                case .fill:
                    let pages = try fill(&reader)
                    reply.append(UInt32(0))
                    reply.append(pages)
                case .run:
                    if crashHook == "\(index)" {
                        signal(SIGSEGV, SIG_DFL)
                        raise(SIGSEGV)
                    }
                    let (acc, chunks) = try run(&reader)
                    reply.append(UInt32(0))
                    reply.append(acc.lo)
                    reply.append(acc.hi)
                    reply.append(acc.f)
                    reply.append(UInt64(chunks))
                }
            } catch {
                reply = MessageWriter()
                reply.append(UInt32(1))
                reply.append(error.message)
                if streaming {
                    _ = FileDescriptorIO.writeAll(replies, reply.framed)
                    return WorkerExit.jobFailed
                }
            }
            guard FileDescriptorIO.writeAll(replies, reply.framed) else { return WorkerExit.lostEngine }
        }
        return 0
    }

    /// Maps the parent's memfd `buffer` (cached by id). Checks the file's
    /// size first: touching a page past its end would be a SIGBUS.
    mutating func map(_ buffer: SharedBufferReference) throws(UnlockedError) -> UnsafeMutableRawPointer {
        if let mapping = mappings[buffer.id] { return mapping.base }
        let fd = try open(buffer)
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, Int(info.st_size) >= buffer.byteCount else {
            throw .internal("worker \(index): shared memory of \(buffer.byteCount) bytes (fd \(buffer.fd) of the engine) is \(info.st_size) bytes")
        }
        let pointer: UnsafeMutableRawPointer
        switch mapOrErrno({ mmap(nil, max(buffer.byteCount, 1), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) }) {
        case .success(let mapped): pointer = mapped
        case .failure(let error): throw .internal("worker \(index): cannot map \(buffer.byteCount) bytes of shared memory: \(error)")
        }
        mappings[buffer.id] = (pointer, buffer.byteCount)
        return pointer
    }

    /// Opens the parent's memfd `buffer`; the caller closes it.
    func open(_ buffer: SharedBufferReference) throws(UnlockedError) -> Int32 {
        let path = "/proc/\(parent)/fd/\(buffer.fd)"
        switch valueOrErrno({ Glibc.open(path, O_RDWR | O_CLOEXEC) }) {
        case .success(let opened): return opened
        case .failure(let error): throw .internal("worker \(index): cannot open shared memory \(path): \(error)")
        }
    }

    /// Unmaps buffers the current job does not use (the parent may have freed them).
    mutating func keepMappings(_ ids: Set<UInt64>) {
        for (id, mapping) in mappings where !ids.contains(id) {
            munmap(mapping.base, max(mapping.byteCount, 1))
            mappings[id] = nil
        }
    }

    /// Writes this worker's chunks of a generated input, allocating their
    /// pages first (posix_fallocate, here: under this process's binding and
    /// memory policy, and a full memory is an error rather than a SIGBUS),
    /// and returns where its pages are: those starting in its chunks.
    mutating func fill(_ reader: inout MessageReader) throws(UnlockedError) -> PageLocationReport {
        guard let dtype = DType(abiValue: uk_dtype(try reader.read(UInt32.self))) else { throw .internal("worker protocol: bad dtype") }
        let generator = DataGenerator(seed: try reader.read(), low: try reader.read(), high: try reader.read())
        let buffer = try reader.readBuffer()
        let share = try reader.readShare()
        keepMappings([buffer.id])
        let base = try map(buffer)
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard share.firstChunk < share.endChunk else {
            return PageLocationReport(pageSize: pageSize)
        }
        let bytes = share.plan.range(ofChunk: share.firstChunk).lowerBound * dtype.byteWidth
            ..< share.plan.range(ofChunk: share.endChunk - 1).upperBound * dtype.byteWidth
        let fd = try open(buffer)
        var status: Int32
        repeat { status = posix_fallocate(fd, off_t(bytes.lowerBound), off_t(bytes.count)) } while status == EINTR
        close(fd)
        guard status == 0 else {
            throw .usage("cannot allocate \(bytes.count) bytes of shared memory for its chunks: \(SystemCallError(code: status)) (reduce --size)")
        }
        for chunk in share.firstChunk..<share.endChunk {
            generator.fill(base, dtype: dtype, range: share.plan.range(ofChunk: chunk))
        }
        return locatePages(base, pages: (bytes.lowerBound + pageSize - 1) / pageSize ..< (bytes.upperBound + pageSize - 1) / pageSize)
    }

    mutating func run(_ reader: inout MessageReader) throws(UnlockedError) -> (uk_acc, Int) {
        let name = try reader.readString()
        guard let dtype = DType(abiValue: uk_dtype(try reader.read(UInt32.self))) else { throw .internal("worker protocol: bad dtype") }
        let pluginPath = try reader.readString()
        var params = uk_params()
        params.size = UInt32(MemoryLayout<uk_params>.size)
        params.center_int = try reader.read()
        params.center_float = try reader.readDouble()
        params.flags = try reader.read()
        let input = try reader.readBuffer()
        let output = try reader.readBuffer()
        let share = try reader.readShare()
        let kernel = try resolveWorkerKernel(name: name, dtype: dtype, pluginPath: pluginPath, plugins: &plugins)
        var acc = uk_acc()
        var tally = WorkerTally()
        let plan = share.plan
        if input.id != 0 {
            // Shared memory: run straight on the mapped job buffers.
            keepMappings(output.id != 0 ? [input.id, output.id] : [input.id])
            let inputBase = try map(input)
            let outputBase = output.id != 0 ? try map(output) : nil
            try withKernelInvoker(kernel, input: inputBase, output: outputBase, params: params) { invoker throws(UnlockedError) in
                for chunk in share.firstChunk..<share.endChunk {
                    try invoker.run(plan.range(ofChunk: chunk), acc: &acc, contexts: &contexts, tally: &tally)
                }
            }
            return (acc, tally.chunks)
        }
        // Pipe: each chunk's bytes arrive after the message; map output goes back per chunk.
        streaming = true
        if (scratchIn?.byteCount ?? -1) < share.chunkSize * dtype.byteWidth {
            scratchIn = try JobBuffer(count: share.chunkSize, width: dtype.byteWidth)
            scratchOut = try JobBuffer(count: share.chunkSize, width: 8)
        }
        let (chunkInput, chunkOutput, index) = (scratchIn!.base, scratchOut!.base, self.index)
        try withKernelInvoker(kernel, input: chunkInput, output: kernel.isMap ? chunkOutput : nil, params: params) { invoker throws(UnlockedError) in
            for chunk in share.firstChunk..<share.endChunk {
                let range = plan.range(ofChunk: chunk)
                guard FileDescriptorIO.readExactly(STDIN_FILENO, chunkInput, range.count * dtype.byteWidth) else {
                    throw .internal("worker \(index): the engine closed the pipe mid-job")
                }
                try invoker.run(0..<range.count, acc: &acc, contexts: &contexts, tally: &tally)
                if let type = kernel.outputType, !FileDescriptorIO.writeAll(replies, chunkOutput, range.count * type.byteWidth) {
                    throw .internal("worker \(index): the engine closed the pipe mid-job")
                }
            }
        }
        streaming = false
        return (acc, tally.chunks)
    }
}
#endif
