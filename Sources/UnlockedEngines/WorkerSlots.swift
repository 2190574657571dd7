#if os(Linux)
import CKernels
import Glibc
import Synchronization
import UnlockedCore
import UnlockedKernels

/// One worker's partial result and counters of a job.
package struct WorkerSlot {
    package var acc = uk_acc()
    package var tally = WorkerTally()
}

/// Per-worker partial results, each in its own 128-byte block (two cache
/// lines, as adjacent-line prefetch pairs them) so workers never write a
/// line another worker writes.
///
/// Slot `i` is written only by worker `i` during a job and read by the job's
/// owner after the job completed (a release/acquire pair or a join orders it).
package final class WorkerSlots {
    package static let stride = 128
    package let count: Int
    private let raw: UnsafeMutableRawPointer
    private let firstError = LockedValue<UnlockedError?>(nil)
    /// Set with the first error, so a job without one never takes the lock.
    private let failed = Atomic<Bool>(false)

    package init(count: Int) {
        self.count = count
        raw = .allocate(byteCount: count * Self.stride, alignment: Self.stride)
        for index in 0..<count {
            (raw + index * Self.stride).bindMemory(to: WorkerSlot.self, capacity: 1).initialize(to: WorkerSlot())
        }
    }

    deinit { raw.deallocate() }

    @inline(__always)
    package func slot(_ index: Int) -> UnsafeMutablePointer<WorkerSlot> {
        (raw + index * Self.stride).assumingMemoryBound(to: WorkerSlot.self)
    }

    /// Keeps the first error of a job; later ones are consequences.
    package func record(_ error: UnlockedError) {
        firstError.withLock { if $0 == nil { $0 = error } }
        failed.store(true, ordering: .releasing)
    }

    /// The job's first error, cleared for the next job.
    package func takeError() -> UnlockedError? {
        guard failed.load(ordering: .acquiring), failed.exchange(false, ordering: .acquiring) else { return nil }
        return firstError.withLock { error in
            defer { error = nil }
            return error
        }
    }

    /// The partials merged in worker order with the kernel's `combine`.
    package func merged(_ kernel: Kernel) -> uk_acc {
        var acc = uk_acc()
        for index in 0..<count { kernel.combine(&acc, slot(index).pointee.acc) }
        return acc
    }

    package var tallies: [WorkerTally] { (0..<count).map { slot($0).pointee.tally } }
}

// Slots are disjoint per worker and handed over by the engines' job
// completion; the error is behind a LockedValue.
extension WorkerSlots: @unchecked Sendable {}

/// A shared next-chunk index for engines whose workers are not ours to pin
/// (tasks, gcd): each worker claims the next unprocessed chunk.
package final class ChunkCounter: Sendable {
    package let next = Atomic<Int>(0)

    @inline(__always)
    package func claim() -> Int { next.add(1, ordering: .relaxed).oldValue }
}

/// The loop of a worker that claims chunks from a shared counter until none
/// are left, recording its partial and counters in `slots`.
package func runClaimedChunks(worker: Int, plan: ChunkPlan, counter: ChunkCounter, invoker: KernelInvoker, slots: WorkerSlots) {
    let slot = slots.slot(worker)
    var contexts = WorkerKernelContexts(worker: worker)
    defer { contexts.releaseAll() }
    do throws(UnlockedError) {
        while true {
            let chunk = counter.claim()
            guard chunk < plan.chunkCount else { break }
            try invoker.run(plan.range(ofChunk: chunk), acc: &slot.pointee.acc, contexts: &contexts, tally: &slot.pointee.tally)
        }
    } catch {
        slots.record(error)
        // Drain the counter so the other workers stop too.
        counter.next.store(plan.chunkCount, ordering: .relaxed)
    }
}
#endif
