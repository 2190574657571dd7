/// One of `count` contiguous parts of a global array, as an MPI rank holds it: part
/// `index` of an array of `n` elements is `[index·n / count, (index + 1)·n / count)`,
/// so the parts cover the array in order, without gaps, and differ in length by at
/// most one element.
///
/// A plain value: any thread may use it.
public struct ArrayPart: Sendable, Hashable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, of count: Int) {
        precondition(count >= 1 && (0..<count).contains(index), "part \(index) of \(count)")
        self.index = index
        self.count = count
    }

    /// The whole array: what a single process holds.
    public static let whole = ArrayPart(index: 0, of: 1)

    /// The global indices of this part of an array of `total` elements.
    public func range(of total: Int) -> Range<Int> {
        precondition(total >= 0, "an array of \(total) elements")
        // total·index overflows only past 2^63 / count elements; multipliedFullWidth keeps it exact.
        func bound(_ part: Int) -> Int {
            let product = total.multipliedFullWidth(by: part)
            return Int(truncatingIfNeeded: count.dividingFullWidth(product).quotient)
        }
        return bound(index)..<bound(index + 1)
    }

    public var description: String { "part \(index) of \(count)" }
}
