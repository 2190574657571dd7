import Foundation

/// Parses element counts the way HPC users write them: `100000`, `1e5`,
/// `64Ki`, `1Gi` (binary suffixes Ki Mi Gi Ti) or `10k`, `2M`, `1G` (decimal).
///
/// Returns nil for anything else, including zero-or-negative and fractional
/// counts; callers turn that into a usage error naming their flag.
public func parseCount(_ text: String) -> Int? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let suffixes: [(String, Int)] = [
        ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40),
        ("k", 1_000), ("K", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000),
    ]
    var number = Substring(trimmed)
    var multiplier = 1
    for (suffix, value) in suffixes where trimmed.hasSuffix(suffix) {
        number = number.dropLast(suffix.count)
        multiplier = value
        break
    }
    if let whole = Int(number) {
        let (product, overflow) = whole.multipliedReportingOverflow(by: multiplier)
        return whole > 0 && !overflow ? product : nil
    }
    // Scientific notation such as 1e5 or 2.5e6, accepted only when whole.
    guard number.contains(where: { $0 == "e" || $0 == "E" || $0 == "." }),
          let real = Double(number), real.isFinite else { return nil }
    let scaled = real * Double(multiplier)
    guard scaled >= 1, scaled < 9.2e18, scaled.rounded() == scaled else { return nil }
    return Int(scaled)
}
