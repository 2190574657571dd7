/// How `[0, count)` is cut into chunks and which worker owns which.
///
/// Every engine and the initialise job use the same plan, so the worker that
/// first touches a chunk's pages is the one that later processes it.
public struct ChunkPlan: Sendable, Equatable {
    public let count: Int
    public let chunkSize: Int
    public let workers: Int

    public init(count: Int, chunkSize: Int?, workers: Int) {
        self.count = count
        self.workers = max(1, workers)
        // Never wider than the job: a chunk of Int.max elements would overflow `lower + chunkSize`.
        self.chunkSize = min(max(1, chunkSize ?? Self.automaticChunk(count: count, workers: self.workers)), max(1, count))
    }

    public var chunkCount: Int { count == 0 ? 0 : (count - 1) / chunkSize + 1 }

    public func range(ofChunk index: Int) -> Range<Int> {
        let lower = index * chunkSize
        return lower..<min(count, lower + chunkSize)
    }

    /// The contiguous run of chunks worker `worker` owns (balanced to one chunk).
    public func ownedChunks(worker: Int) -> Range<Int> {
        (worker * chunkCount / workers)..<((worker + 1) * chunkCount / workers)
    }

    /// Eight chunks per worker, so stealing can balance uneven cores, but at
    /// least 16Ki elements (a claim costs tens of nanoseconds, a chunk then
    /// microseconds) and at most 1Mi (large inputs still get many chunks).
    /// Rounded to 16 elements: chunks of map output never share a cache line.
    public static func automaticChunk(count: Int, workers: Int) -> Int {
        let target = (count + workers * 8 - 1) / max(1, workers * 8)
        let clamped = min(max(target, 16 << 10), 1 << 20)
        return (clamped + 15) / 16 * 16
    }
}
