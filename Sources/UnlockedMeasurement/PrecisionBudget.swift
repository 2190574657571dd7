/// One cell still in a group's rotation, as `PrecisionTarget.cellsToVisit` sees it.
package struct PendingCell: Sendable, Equatable {
    /// Timed samples so far, sorted.
    package var sortedSamples: [Double]
    /// Sum of the cell's timed repetitions (for `minimumSeconds`).
    package var timedNanoseconds: Double
    /// What one more visit costs: the median wall time of its visits so far,
    /// start-up samples excluded (they stop after the first few).
    package var visitNanoseconds: Double

    package init(sortedSamples: [Double], timedNanoseconds: Double, visitNanoseconds: Double) {
        self.sortedSamples = sortedSamples
        self.timedNanoseconds = timedNanoseconds
        self.visitNanoseconds = visitNanoseconds
    }
}

extension PrecisionTarget {
    /// The part of the time left that group `index` of groups with
    /// `cellCounts` cells may use when it starts: every cell has an equal
    /// claim, so its cells over those still to run (the last group, all).
    /// A group whose cells are precise, or projected not to get there in its
    /// share (`cellsToVisit`), stops early and leaves the rest to the next.
    /// (Shares by bytes gave the twelve cells of the table's 100,000 elements
    /// a fifth of the budget: 185 samples each, and eight ended at ±4–9%.)
    package static func share(ofGroup index: Int, cellCounts: [Int]) -> Double {
        Double(cellCounts[index]) / Double(cellCounts[index...].reduce(0, +))
    }

    /// Whether `cell` must be visited whatever it costs: under `minimumReps`
    /// (no interval yet) or `minimumSeconds`.
    package func owesMinimum(_ cell: PendingCell) -> Bool {
        cell.sortedSamples.count < minimumReps || cell.timedNanoseconds < minimumSeconds * 1e9
    }

    /// Samples a projection is trusted from: at 20 the 95% interval spans
    /// about the middle half of the sample, so a burst of load over a few
    /// rounds no longer reads as a hopeless spread (at 7, three slow samples of
    /// `lockfree-pool` projected 300,000 repetitions where 28 were enough).
    package static let trialRepetitions = 20

    /// Whether `cell` is still on trial: too few samples to trust its
    /// projection, and the samples it lacks cost no more than an equal share
    /// of the `remainingNanoseconds` among `pendingCount` cells (a cheap cell
    /// gets its trial; one of 0.3–1.5 s a repetition is judged after its minimum).
    package func onTrial(_ cell: PendingCell, remainingNanoseconds: Double, pendingCount: Int) -> Bool {
        let lacking = Self.trialRepetitions - cell.sortedSamples.count
        return lacking > 0 && Double(lacking) * cell.visitNanoseconds <= remainingNanoseconds / Double(max(pendingCount, 1))
    }

    /// What `cell` is projected to cost before its median is within target:
    /// the repetitions `projectedRepetitions` says it lacks (at least one, since
    /// it is not precise yet) times one visit.
    package func remainingCost(_ cell: PendingCell) -> Double {
        let needed = projectedRepetitions(sorted: cell.sortedSamples, within: relativeHalfWidth)
        return max(1, needed - Double(cell.sortedSamples.count)) * cell.visitNanoseconds
    }

    /// Which of a group's `pending` cells (none precise yet) the next round
    /// visits, given `remainingNanoseconds` until the group's deadline.
    ///
    /// Equal turns waste a budget: a cell projected to need hundreds of
    /// repetitions of 0.3–1.5 s each (`processes-pipe` at the large size)
    /// takes the rounds that would have brought every cheaper cell within
    /// target, and ends imprecise anyway. So cells owing their minimum, or on
    /// trial, are always visited, and the others in order of `remainingCost`, as many as
    /// fit together in the time left; the rest wait, keeping what they
    /// measured, and rejoin when cheaper cells finish sooner than projected.
    /// The chosen cells are still visited in interleaved rounds, so drift
    /// hits them alike.
    ///
    /// When not one cell fits, `spendRest` (the sweep's last group) gives the
    /// rest to all of them round-robin, which only narrows their intervals;
    /// otherwise the result is empty and the group stops, leaving its time
    /// to the groups after it.
    package func cellsToVisit(_ pending: [PendingCell], remainingNanoseconds: Double, spendRest: Bool) -> [Int] {
        let owed = pending.indices.filter {
            owesMinimum(pending[$0]) || onTrial(pending[$0], remainingNanoseconds: remainingNanoseconds, pendingCount: pending.count)
        }
        var chosen = owed
        var left = remainingNanoseconds - chosen.reduce(0) { $0 + pending[$1].visitNanoseconds }
        let costs = pending.map(remainingCost)
        for index in pending.indices.filter({ !owed.contains($0) }).sorted(by: { costs[$0] < costs[$1] }) {
            guard costs[index] <= left else { break }
            chosen.append(index)
            left -= costs[index]
        }
        if chosen.isEmpty && spendRest { return Array(pending.indices) }
        return chosen.sorted()
    }
}
