import UnlockedCore
/// CPU lists as users write them for `taskset -c`, `numactl -C` and `--pin`:
/// `0-3,8,10-11`, strides `0-10:2`, open ends `12-`, and taskset-style hex
/// masks `0xf0`. Numbers are whatever the caller says they are (OS CPU
/// numbers for `--pin`, indices inside a domain for `S0:0-3`).
///
/// Pure functions: any thread may call them.
public enum CPUList {
    /// Largest number accepted, so `0-999999999` is an error and not an
    /// allocation of a billion entries.
    public static let maximum = 65_535

    /// Parses `text` into numbers in the order written. `last` is what an
    /// open range `12-` runs up to; without it open ranges are refused.
    ///
    /// Throws a one-line usage error quoting the bad item and its 1-based
    /// position; nothing is returned on failure (hwloc-calc's rule).
    public static func parse(_ text: String, last: Int? = nil) throws(UnlockedError) -> [Int] {
        try _parse(text, last: last).get()
    }

    /// The shortest list form of `numbers`, ascending: `[0,1,2,3,8]` → `0-3,8`.
    public static func format<S: Sequence<Int>>(_ numbers: S) -> String {
        let sorted = numbers.sorted()
        var parts: [String] = []
        var index = 0
        while index < sorted.count {
            var end = index
            // A repeated number extends nothing and is skipped (&+: Int.max has no successor to meet).
            while end + 1 < sorted.count, sorted[end + 1] == sorted[end] || sorted[end + 1] == sorted[end] &+ 1 { end += 1 }
            parts.append(sorted[end] == sorted[index] ? "\(sorted[index])" : "\(sorted[index])-\(sorted[end])")
            index = end + 1
        }
        return parts.joined(separator: ",")
    }

    package static func _parse(_ text: String, last: Int?) -> Result<[Int], UnlockedError> {
        func failure(_ why: String) -> Result<[Int], UnlockedError> {
            .failure(.usage("invalid CPU list '\(printable(text))': \(why) (accepted: 0-3,8,10-11  0-10:2  12-  0xf0)"))
        }
        guard !text.isEmpty else { return failure("it is empty") }
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return _parseMask(text, failure: failure) }

        var numbers: [Int] = []
        // One bit per possible number: a 65536-CPU range costs no hashing.
        var seen = [UInt64](repeating: 0, count: maximum / 64 + 1)
        var position = 1
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            defer { position += item.count + 1 }
            let quoted = "'\(printable(item))' at position \(position)"
            guard !item.isEmpty else { return failure("empty item at position \(position)") }
            // item := first [ '-' [end] [ ':' stride ] ]
            let (rangePart, stridePart) = split(item, at: ":")
            let (firstText, endText) = split(rangePart, at: "-")
            guard let first = number(firstText) else { return failure("item \(quoted) is not a CPU number or range") }
            var end = first
            if let endText {
                if endText.isEmpty {
                    guard let last else { return failure("open range \(quoted) needs a known last CPU") }
                    end = last
                } else {
                    guard let value = number(endText) else { return failure("item \(quoted) has a bad range end '\(printable(endText))'") }
                    end = value
                }
            }
            var stride = 1
            if let stridePart {
                guard endText != nil else { return failure("stride in \(quoted) needs a range (0-10:2)") }
                guard let value = number(stridePart), value > 0 else { return failure("item \(quoted) has a bad stride '\(printable(stridePart))' (a whole number ≥ 1)") }
                stride = value
            }
            guard first <= maximum, end <= maximum else { return failure("item \(quoted) is above the largest CPU number \(maximum)") }
            guard first <= end else { return failure("range \(quoted) runs backwards") }
            for cpu in Swift.stride(from: first, through: end, by: stride) {
                let (word, bit) = (cpu / 64, UInt64(1) << UInt64(cpu % 64))
                guard seen[word] & bit == 0 else { return failure("CPU \(cpu) appears twice (again in item \(quoted))") }
                seen[word] |= bit
                numbers.append(cpu)
            }
        }
        return .success(numbers)
    }

    /// `0xf0` (bit i set = number i), as `taskset` prints masks; `,` groups
    /// of 32 bits as in /proc are accepted.
    package static func _parseMask(_ text: String, failure: (String) -> Result<[Int], UnlockedError>) -> Result<[Int], UnlockedError> {
        let digits = text.dropFirst(2).filter { $0 != "," }
        guard !digits.isEmpty else { return failure("mask has no hex digits") }
        var numbers: [Int] = []
        for (offset, character) in digits.reversed().enumerated() {
            guard let nibble = character.hexDigitValue else {
                return failure("'\(printable(String(character)))' is not a hex digit of the mask")
            }
            for bit in 0..<4 where nibble & (1 << bit) != 0 {
                let cpu = offset * 4 + bit
                guard cpu <= maximum else { return failure("mask sets a bit above the largest CPU number \(maximum)") }
                numbers.append(cpu)
            }
        }
        guard !numbers.isEmpty else { return failure("the mask selects no CPU") }
        return .success(numbers)
    }

    private static func split(_ text: Substring, at separator: Character) -> (Substring, Substring?) {
        guard let index = text.firstIndex(of: separator) else { return (text, nil) }
        return (text[..<index], text[text.index(after: index)...])
    }

    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber) else { return nil }
        return Int(text)
    }
}
