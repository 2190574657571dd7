import Foundation
import Testing
@testable import Unlocked

/// Where a precision sweep spends its budget, on synthetic samples (no timing).
@Suite struct PrecisionBudgetTests {
    let target = PrecisionTarget(relativeHalfWidth: 0.03, minimumReps: 6, budgetSeconds: 30)

    /// `count` samples spread evenly over `spread` around 100 (±spread/2).
    func even(_ count: Int, spread: Double) -> [Double] {
        (0..<count).map { 100 - spread / 2 + spread * Double($0) / Double(count - 1) }
    }

    func pending(_ samples: [Double], visit: Double) -> PendingCell {
        PendingCell(sortedSamples: samples.sorted(), timedNanoseconds: samples.reduce(0, +), visitNanoseconds: visit)
    }

    /// Over 90...110 the quantile at ½ ± δ is 100 ± 20δ: within ±3% up to
    /// δ = 0.15, so n = (0.98/0.15)² ≈ 42.7 (0.98 = z/2 at 95%).
    @Test func projectionReadsTheSampleSpread() {
        let reach = 1.959963985 / 2
        let wide = projectedRepetitions(sorted: even(41, spread: 20), within: 0.03)
        #expect(abs(wide - (reach / 0.15) * (reach / 0.15)) < 0.01)
        // Twice the spread needs four times the repetitions.
        let wider = projectedRepetitions(sorted: even(41, spread: 40), within: 0.03)
        #expect(abs(wider / wide - 4) < 1e-3)
        // Every sample within ±3%: the 6 any 95% interval needs, no fewer.
        #expect(projectedRepetitions(sorted: even(9, spread: 4), within: 0.03) == 6)
        #expect(projectedRepetitions(sorted: [], within: 0.03) == .infinity)
        #expect(projectedRepetitions(sorted: [0, 0, 0], within: 0.03) == .infinity)
    }

    /// The projection is of the interval the sweep checks: a sample drawn
    /// like the one projected meets the target near the projected count.
    @Test func projectionAgreesWithTheInterval() throws {
        let generator = DataGenerator(seed: 7)
        // A skewed, timing-like shape: 100 plus an exponential tail of mean 5.
        let draws = (0..<4000).map { 100 - 5 * log(Double(generator.bits($0) % 1_000_000 + 1) / 1_000_001) }
        let projected = projectedRepetitions(sorted: Array(draws.prefix(40)).sorted(), within: 0.03)
        let met = try #require((6...4000).first { n in
            SampleStatistics(Array(draws.prefix(n)))?.isPrecise(within: 0.03) == true
                && SampleStatistics(Array(draws.prefix(n + 10)))?.isPrecise(within: 0.03) == true
        })
        #expect(Double(met) / projected > 0.5 && Double(met) / projected < 2, "met at \(met), projected \(projected)")
    }

    /// Under `minimumReps` there is no interval: such a cell is not precise and
    /// is visited whatever the budget says.
    @Test func cellsUnderTheMinimumAreVisitedAnyway() {
        #expect(SampleStatistics([100, 100, 100, 100, 100])?.isPrecise(within: 0.03) == false)
        let young = pending([100, 100, 100], visit: 1e9)
        let old = pending(even(20, spread: 40), visit: 1e9)
        #expect(target.owesMinimum(young) && !target.owesMinimum(old))
        #expect(target.cellsToVisit([old, young], remainingNanoseconds: 0, spendRest: false) == [1])
        var slow = PrecisionTarget(minimumSeconds: 10)
        #expect(slow.owesMinimum(old))  // 20 × 100 ns timed, under 10 s
        slow.minimumSeconds = 0
        #expect(!slow.owesMinimum(old))
    }

    /// A cheap cell whose few samples look hopeless (three of seven slowed
    /// by a burst of load) is visited until its projection can be trusted; a
    /// costly one with the same samples is judged after its minimum.
    @Test func cheapCellsGetATrialBeforeTheyAreJudged() {
        let burst: [Double] = [3.03, 3.07, 3.17, 3.18, 12.1, 17.4, 18.3]
        let cheap = pending(burst, visit: 2e6), costly = pending(burst, visit: 1e9)
        #expect(target.remainingCost(cheap) > 10e9)  // hopeless, by its projection
        #expect(target.cellsToVisit([cheap], remainingNanoseconds: 10e9, spendRest: false) == [0])
        #expect(target.cellsToVisit([costly], remainingNanoseconds: 10e9, spendRest: false) == [])
        // With its trial's samples, the cell is judged like any other.
        let tried = pending(burst + Array(repeating: 18, count: 13), visit: 2e6)
        #expect(!target.onTrial(tried, remainingNanoseconds: 10e9, pendingCount: 1))
    }

    /// A cell close to the target and cheap to visit is chosen before one that
    /// would take the whole budget and end imprecise anyway; with time for
    /// both, both are visited.
    @Test func theBudgetGoesToCellsItCanMakePrecise() {
        let cheap = pending(even(20, spread: 8), visit: 100e6)  // ±4%, projected precise after one more visit of 0.1 s
        let costly = pending(even(20, spread: 40), visit: 800e6)  // ±20%: ~150 more of 0.8 s
        #expect(target.remainingCost(cheap) < 3e9 && target.remainingCost(costly) > 100e9)
        #expect(target.cellsToVisit([costly, cheap], remainingNanoseconds: 20e9, spendRest: true) == [1])
        #expect(target.cellsToVisit([costly, cheap], remainingNanoseconds: 500e9, spendRest: true) == [0, 1])
        // Cheapest first, as many as fit: two cheap cells fit, the third waits.
        let cells = [cheap, costly, cheap, cheap]
        #expect(target.cellsToVisit(cells, remainingNanoseconds: 2.5 * target.remainingCost(cheap), spendRest: true) == [0, 2])
    }

    /// Groups run one after the other, each cell with an equal claim on the
    /// time left; the last takes all of it.
    @Test func groupsShareTheBudgetByTheirCells() {
        #expect(PrecisionTarget.share(ofGroup: 0, cellCounts: [12, 14]) == 12.0 / 26)
        #expect(PrecisionTarget.share(ofGroup: 1, cellCounts: [12, 14]) == 1)
        #expect(PrecisionTarget.share(ofGroup: 1, cellCounts: [2, 3, 1]) == 0.75)
    }

    /// When nothing fits, the last group spends the rest on every cell left
    /// (the slowest-converging cell gets the remaining budget); an earlier
    /// group stops and leaves it to the next.
    @Test func whatNoCellCanUseGoesOnOrToTheLast() {
        let costly = pending(even(10, spread: 40), visit: 800e6)
        #expect(target.cellsToVisit([costly], remainingNanoseconds: 5e9, spendRest: true) == [0])
        #expect(target.cellsToVisit([costly], remainingNanoseconds: 5e9, spendRest: false) == [])
        #expect(target.cellsToVisit([costly, costly], remainingNanoseconds: 5e9, spendRest: true) == [0, 1])
    }
}
