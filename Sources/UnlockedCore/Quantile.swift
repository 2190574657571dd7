/// The type-7 quantile of already sorted, non-empty `sorted` at `p` in [0, 1].
public func quantile(sorted: [Double], _ p: Double) -> Double {
    precondition(!sorted.isEmpty && (0...1).contains(p), "quantile of an empty sample or p outside [0, 1]")
    let h = Double(sorted.count - 1) * p
    let low = Int(h.rounded(.down))
    let high = Swift.min(low + 1, sorted.count - 1)
    return sorted[low] + (h - Double(low)) * (sorted[high] - sorted[low])
}
