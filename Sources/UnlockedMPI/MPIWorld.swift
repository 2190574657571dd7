#if os(Linux)
import CMPI
import Glibc

/// The job's ranks, joined by MPI: initialised once per process, after `MPILaunch.detect`
/// found a launcher, and finalised (or aborted) once, which `~Copyable` enforces.
///
/// Threads: MPI is initialised at `MPI_THREAD_FUNNELED` unless asked otherwise, so only
/// the thread that created the world may call its methods; worker threads of the engines
/// never call MPI. Collective methods (all but `abort`) must be called by every rank in
/// the same order, or the job hangs in MPI.
public struct MPIWorld: ~Copyable {
    public let rank: Int
    public let size: Int
    /// This rank's index among the ranks on its node (`MPI_COMM_TYPE_SHARED`).
    public let localRank: Int
    /// The number of ranks on this rank's node.
    public let localSize: Int
    public let host: String
    /// The thread level MPI provides, at least the one asked for.
    public let threadLevel: MPIThreadLevel

    // MPI handles import as optional pointers; MPI itself never hands out null ones.
    private let world: MPI_Comm?
    /// Three contiguous `MPI_UINT64_T` limbs and their exact sum, for `ExactSum`.
    private let exactSumType: MPI_Datatype?
    private let exactSumOp: MPI_Op?

    /// Initialises MPI with at least `threadLevel` and reads this rank's place in the job.
    ///
    /// `launch` is what `MPILaunch.detect` returned; it must name a launcher. A launcher
    /// that announced several tasks while MPI sees a world of one (another MPI's `mpiexec`,
    /// whose PMI this Open MPI cannot reach) throws `MPIError.singletonTasks`, after
    /// finalising again.
    /// The corresponding C function is `MPI_Init_thread`.
    public init(launch: MPILaunch, threadLevel required: MPIThreadLevel = .funneled) throws(MPIError) {
        precondition(launch.launcher != nil, "MPIWorld needs a launcher; check MPILaunch.detect first")
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        guard initialized == 0, finalized == 0 else { throw .alreadyInitialized }

        var providedRaw: Int32 = 0
        // Errors before MPI_Init_thread returns are fatal in MPI itself: nothing to map.
        MPI_Init_thread(nil, nil, Self.cLevel(required), &providedRaw)
        let provided = MPIThreadLevel.allCases.first { Self.cLevel($0) == providedRaw } ?? .single
        let world = uk_mpi_comm_world()
        var type: MPI_Datatype?, op: MPI_Op?
        var rank: Int32 = 0, size: Int32 = 0, localRank: Int32 = 0, localSize: Int32 = 0
        do throws(MPIError) {
            // Return errors to Swift instead of MPI's default of aborting the job.
            try Self.check(MPI_Comm_set_errhandler(world, uk_mpi_errors_return()), "MPI_Comm_set_errhandler")
            guard provided >= required else { throw .threadLevel(required: required, provided: provided) }
            try Self.check(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
            try Self.check(MPI_Comm_size(world, &size), "MPI_Comm_size")
            if size == 1, let announced = launch.announcedSize, announced > 1 {
                throw .singletonTasks(tasks: announced, task: launch.task)
            }
            var node: MPI_Comm?
            try Self.check(MPI_Comm_split_type(world, uk_mpi_comm_type_shared(), rank, uk_mpi_info_null(), &node),
                           "MPI_Comm_split_type")
            defer { MPI_Comm_free(&node) }
            try Self.check(MPI_Comm_rank(node, &localRank), "MPI_Comm_rank")
            try Self.check(MPI_Comm_size(node, &localSize), "MPI_Comm_size")
            try Self.check(MPI_Type_contiguous(3, uk_mpi_uint64(), &type), "MPI_Type_contiguous")
            try Self.check(MPI_Type_commit(&type), "MPI_Type_commit")
            // The reduction adds limb triples in place; MPI may call it with any count.
            try Self.check(MPI_Op_create({ input, inout_, count, _ in
                guard let input, let inout_, let count else { return }
                let sources = input.bindMemory(to: ExactSum.self, capacity: Int(count.pointee))
                let targets = inout_.bindMemory(to: ExactSum.self, capacity: Int(count.pointee))
                for index in 0..<Int(count.pointee) { targets[index] += sources[index] }
            }, 1, &op), "MPI_Op_create")
        } catch {
            MPI_Finalize()
            throw error
        }
        self.world = world
        self.rank = Int(rank)
        self.size = Int(size)
        self.localRank = Int(localRank)
        self.localSize = Int(localSize)
        self.host = Self.hostName()
        self.threadLevel = provided
        self.exactSumType = type
        self.exactSumOp = op
    }

    /// Waits until every rank has called it. The corresponding C function is `MPI_Barrier`.
    public func barrier() throws(MPIError) {
        try Self.check(MPI_Barrier(world), "MPI_Barrier")
    }

    /// The exact sum of every rank's `partial`, the same bits on every rank and for every
    /// rank count. A user-defined `MPI_Op` over three `MPI_UINT64_T` limbs.
    public func sum(_ partial: ExactSum) throws(MPIError) -> ExactSum {
        var input = partial, output = ExactSum()
        try Self.check(MPI_Allreduce(&input, &output, 1, exactSumType, exactSumOp, world), "MPI_Allreduce")
        return output
    }

    /// The sum of every rank's `partial`, added in rank order on every rank, so all ranks
    /// get the same value whatever reduction tree the MPI library would pick.
    public func sum(_ partial: Double) throws(MPIError) -> Double {
        var input = partial
        var all = [Double](repeating: 0, count: size)
        try Self.check(MPI_Allgather(&input, 1, uk_mpi_double(), &all, 1, uk_mpi_double(), world), "MPI_Allgather")
        return all.reduce(0, +)
    }

    /// Every rank's `record`, in rank order, on rank 0; nil on the other ranks. Records are
    /// small (reports of a few hundred bytes): all of them together stay under 2 GiB.
    /// The corresponding C functions are `MPI_Gather` (lengths) and `MPI_Gatherv`.
    public func gather(_ record: [UInt8]) throws(MPIError) -> [[UInt8]]? {
        let length = Int32(record.count)
        var ownLength = length
        var lengths = [Int32](repeating: 0, count: rank == 0 ? size : 0)
        try Self.check(MPI_Gather(&ownLength, 1, uk_mpi_int32(), &lengths, 1, uk_mpi_int32(), 0, world), "MPI_Gather")
        var offsets = [Int32](repeating: 0, count: lengths.count)
        var total = 0
        for (index, length) in lengths.enumerated() {
            offsets[index] = Int32(total)
            total += Int(length)
        }
        var buffer = [UInt8](repeating: 0, count: total)
        try Self.check(MPI_Gatherv(record, length, uk_mpi_byte(), &buffer, &lengths, &offsets, uk_mpi_byte(), 0, world),
                       "MPI_Gatherv")
        guard rank == 0 else { return nil }
        return zip(offsets, lengths).map { Array(buffer[Int($0)..<Int($0) + Int($1)]) }
    }

    /// Every rank's `text` (say, a JSON object), in rank order, on rank 0; nil elsewhere.
    public func gather(_ text: String) throws(MPIError) -> [String]? {
        try gather(Array(text.utf8))?.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Every rank's `value`, in rank order, on every rank: a fixed-size record such as
    /// a repetition's partial result and times. The corresponding C function is `MPI_Allgather`.
    public func allGather<T: BitwiseCopyable>(_ value: T) throws(MPIError) -> [T] {
        var input = value
        let stride = Int32(MemoryLayout<T>.stride)
        var result: [T] = Array(repeating: value, count: size)
        let code = withUnsafeBytes(of: &input) { own in
            result.withUnsafeMutableBytes { all in
                MPI_Allgather(own.baseAddress, stride, uk_mpi_byte(), all.baseAddress, stride, uk_mpi_byte(), world)
            }
        }
        try Self.check(code, "MPI_Allgather")
        return result
    }

    /// Every rank's `text`, in rank order, on every rank (texts stay small: all of them
    /// together under 2 GiB). The corresponding C functions are `MPI_Allgather` and `MPI_Allgatherv`.
    public func allGather(_ text: String) throws(MPIError) -> [String] {
        let bytes = Array(text.utf8)
        var lengths = try allGather(Int32(bytes.count))
        var offsets = [Int32](repeating: 0, count: size)
        for index in lengths.indices.dropFirst() { offsets[index] = offsets[index - 1] + lengths[index - 1] }
        var buffer = [UInt8](repeating: 0, count: Int(offsets.last! + lengths.last!))
        try Self.check(MPI_Allgatherv(bytes, Int32(bytes.count), uk_mpi_byte(), &buffer, &lengths, &offsets, uk_mpi_byte(), world),
                       "MPI_Allgatherv")
        return zip(offsets, lengths).map { String(decoding: buffer[Int($0)..<Int($0) + Int($1)], as: UTF8.self) }
    }

    /// `text` as rank `root` has it, on every rank. The corresponding C function is `MPI_Bcast`.
    public func broadcast(_ text: String, from root: Int) throws(MPIError) -> String {
        var length = Int32(rank == root ? text.utf8.count : 0)
        try Self.check(MPI_Bcast(&length, 1, uk_mpi_int32(), Int32(root), world), "MPI_Bcast")
        var bytes = rank == root ? Array(text.utf8) : [UInt8](repeating: 0, count: Int(length))
        try Self.check(MPI_Bcast(&bytes, length, uk_mpi_byte(), Int32(root), world), "MPI_Bcast")
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Element by element, the largest of every rank's `values` (the same count on every
    /// rank), on every rank. The corresponding C function is `MPI_Allreduce` with `MPI_MAX`.
    public func maximum(_ values: [Double]) throws(MPIError) -> [Double] {
        var output = [Double](repeating: 0, count: values.count)
        try Self.check(MPI_Allreduce(values, &output, Int32(values.count), uk_mpi_double(), uk_mpi_max(), world), "MPI_Allreduce")
        return output
    }

    /// Makes every rank agree whether any rank failed, before any of them goes on.
    ///
    /// Each rank passes its own failure or nil. Returns when no rank failed; otherwise
    /// throws `MPIError.rankFailed` on every rank with one failure, so all ranks end with
    /// the same message and exit code (see `abort`): the lowest rank whose failure
    /// `endsJob`, else the lowest failing rank. `endsJob` lets a rank that must stop
    /// tell ranks that would only skip a step (a benchmark cell) to stop too.
    /// One `MPI_Allreduce` when all is well; an `MPI_Bcast` of the failure otherwise.
    public func agree(failure: (exitCode: Int32, message: String)? = nil, endsJob: Bool = false) throws(MPIError) {
        // Failures that end the job sort first: keys 0..<size, then size..<2·size.
        var own: Int32 = failure == nil ? .max : Int32(endsJob ? rank : size + rank), first: Int32 = .max
        try Self.check(MPI_Allreduce(&own, &first, 1, uk_mpi_int32(), uk_mpi_min(), world), "MPI_Allreduce")
        guard first != .max else { return }
        throw .rankFailed(try self.failure(of: Int(first) % size, own: failure.map { ($0.exitCode, $0.message, endsJob) }))
    }

    /// The failure of rank `failing`, which every rank has learnt failed (from `agree`, or
    /// from records they all gathered), as that rank describes it: every rank calls it,
    /// `failing` passes its own failure. The corresponding C function is `MPI_Bcast`.
    public func failure(of failing: Int, own: (exitCode: Int32, message: String, endsJob: Bool)?) throws(MPIError) -> RankFailure {
        let text = Array((own.map { "\(host)\n\($0.message)" } ?? "").utf8)
        var header: [Int32] = [own?.exitCode ?? 0, Int32(clamping: text.count), own?.endsJob == true ? 1 : 0]
        try Self.check(MPI_Bcast(&header, 3, uk_mpi_int32(), Int32(failing), world), "MPI_Bcast")
        var bytes = rank == failing ? text : [UInt8](repeating: 0, count: Int(header[1]))
        try Self.check(MPI_Bcast(&bytes, header[1], uk_mpi_byte(), Int32(failing), world), "MPI_Bcast")
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        return RankFailure(rank: failing, host: String(parts[0]), exitCode: header[0],
                           message: parts.count > 1 ? String(parts[1]) : "", endsJob: header[2] == 1)
    }

    /// Ends every rank of the job with `error.exitCode` and one line on standard error,
    /// `"<label>: <error>"`.
    ///
    /// After `agree` threw `rankFailed`, every rank holds the same failure and calls this:
    /// rank 0 writes the line and calls `MPI_Abort`, and the launcher kills the others,
    /// which wait for that (and abort themselves after 10 s, should it not come), so the
    /// launcher reports one abort. Any other error is this rank's alone, as with
    /// `abort(exitCode:message:label:)`.
    public consuming func abort(_ error: MPIError, label: String) -> Never {
        guard case .rankFailed = error else {
            abort(exitCode: error.exitCode, message: error.description, label: label)
        }
        if rank == 0 {
            Self.writeLine("\(label): \(error)")
        } else {
            sleep(10)
        }
        Self.abortJob(world, error.exitCode)
    }

    /// Ends every rank of the job from this rank alone, whatever the others are doing:
    /// writes `"<label>: rank <rank> on <host>: <message>"` and calls `MPI_Abort`, so the
    /// launcher kills the other ranks and exits with `exitCode`. Open MPI's `mpirun` adds
    /// its own banner unless started with `-q`.
    public consuming func abort(exitCode: Int32, message: String, label: String) -> Never {
        Self.writeLine("\(label): rank \(rank) on \(host): \(message)")
        Self.abortJob(world, exitCode)
    }

    /// Ends MPI for this process; every rank calls it once, after the last collective call.
    /// The corresponding C function is `MPI_Finalize`.
    public consuming func finalize() throws(MPIError) {
        var type: MPI_Datatype? = exactSumType, op: MPI_Op? = exactSumOp
        MPI_Type_free(&type)
        MPI_Op_free(&op)
        try Self.check(MPI_Finalize(), "MPI_Finalize")
    }

    // MARK: - Internals

    /// The one place MPI return codes become Swift errors.
    private static func check(_ code: Int32, _ function: String) throws(MPIError) {
        guard code != MPI_SUCCESS else { return }
        var text = [CChar](repeating: 0, count: Int(uk_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        throw .call(function: function, code: code, message: Self.text(text.prefix(Int(length))))
    }

    private static func cLevel(_ level: MPIThreadLevel) -> Int32 {
        switch level {
        case .single: Int32(MPI_THREAD_SINGLE)
        case .funneled: Int32(MPI_THREAD_FUNNELED)
        case .serialized: Int32(MPI_THREAD_SERIALIZED)
        case .multiple: Int32(MPI_THREAD_MULTIPLE)
        }
    }

    private static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "unknown-host" }
        return Self.text(name)
    }

    /// The text of a C character buffer, up to its first NUL.
    private static func text(_ characters: some Collection<CChar>) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func writeLine(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    private static func abortJob(_ world: MPI_Comm?, _ exitCode: Int32) -> Never {
        MPI_Abort(world, exitCode)
        // MPI_Abort does not return; should a broken launcher let it, still end this rank.
        Glibc.exit(exitCode)
    }
}
#endif
