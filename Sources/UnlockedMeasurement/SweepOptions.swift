import Foundation
import UnlockedCore
import UnlockedTopology

/// Parsers for the list options of `unlocked bench`, in the style of
/// `parseCount`: pure, and errors quote the bad piece and what is accepted.

/// `1,2,4`, `1..max`, `2..8`, `max`, `2x`, `1..4x`: worker counts, in the given order, each once.
/// `max` is `maximum` (the allowed CPUs) and `Kx` is K times it. Counts above `maximum`
/// oversubscribe (workers share CPUs): accepted from a `Kx` piece or range ending in one,
/// or anywhere with `oversubscribe` (`--oversubscribe`); never above `PlacementPlan.maximumWorkers`.
public func parseWorkerList(_ text: String, maximum: Int, oversubscribe: Bool = false) throws(UnlockedError) -> [Int] {
    try parseCountList(text, maximum: maximum, option: "--workers", noun: "worker", limit: "allowed CPUs",
                       multiples: (ceiling: PlacementPlan.maximumWorkers, always: oversubscribe))
}

/// A list of counts in 1...`maximum` (`1,2,4`, `1..max`, `max`) for `option`, each once;
/// errors name the `noun` counted and the `limit` that `maximum` is. With `multiples`,
/// `Kx` is K × `maximum` and counts up to `ceiling` are accepted from such pieces (or from
/// any piece when `always`).
public func parseCountList(_ text: String, maximum: Int, option: String, noun: String, limit: String,
                           multiples: (ceiling: Int, always: Bool)? = nil) throws(UnlockedError) -> [Int] {
    let accepted = multiples == nil ? "1,2,4 or 1..max or max" : "1,2,4 or 1..max or max, 2x or 1..4x for multiples of \(maximum)"
    func value(_ piece: Substring) throws(UnlockedError) -> (count: Int, multiple: Bool) {
        if piece == "max" { return (maximum, false) }
        if let multiples, piece.hasSuffix("x") {
            guard let factor = Int(piece.dropLast()), factor >= 1 else {
                throw .usage("\(option) \(text): '\(piece)' is not a multiple of the \(maximum) \(limit) (accepted: 1x, 2x, 4x)")
            }
            guard factor <= multiples.ceiling / maximum else {
                throw .usage("\(option) \(text): \(piece) is more than \(multiples.ceiling) \(noun)s (accepted: up to \(multiples.ceiling / maximum)x)")
            }
            return (factor * maximum, true)
        }
        guard let count = Int(piece), count >= 1 else {
            throw .usage("\(option) \(text): '\(piece)' is not a \(noun) count (accepted: \(accepted))")
        }
        return (count, false)
    }
    func check(_ count: Int, multiple: Bool) throws(UnlockedError) {
        guard count > maximum else { return }
        guard let multiples else {
            throw .usage("\(option) \(text): \(count) is more than the \(maximum) \(limit) (accepted: 1...\(maximum), or max)")
        }
        guard count <= multiples.ceiling else {
            throw .usage("\(option) \(text): \(count) is more than \(multiples.ceiling) \(noun)s (accepted: 1...\(multiples.ceiling))")
        }
        guard multiple || multiples.always else {
            throw .usage("\(option) \(text): \(count) is more than the \(maximum) \(limit) (accepted: 1...\(maximum), max, "
                         + "Kx for K × \(maximum) as in 2x or 1..4x, or --oversubscribe)")
        }
    }
    var result: [Int] = []
    for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
        let bounds = piece.components(separatedBy: "..")
        switch bounds.count {
        case 1:
            let (count, multiple) = try value(piece)
            try check(count, multiple: multiple)
            result.append(count)
        case 2:
            let low = try value(Substring(bounds[0])), high = try value(Substring(bounds[1]))
            guard low.count <= high.count else { throw .usage("\(option) \(text): range '\(piece)' is empty (write low..high)") }
            // A range ending in a multiple (1..4x) asks for the counts beyond the CPUs it reaches.
            try check(high.count, multiple: high.multiple)
            result += Array(low.count...high.count)
        default: throw .usage("\(option) \(text): '\(piece)' is not a \(noun) count or range (accepted: \(accepted))")
        }
    }
    var seen = Set<Int>()
    return result.filter { seen.insert($0).inserted }
}

/// `1Ki,16Ki,auto`: chunk sizes in elements as `parseCount` reads them, `auto`
/// (nil) for the engine's own choice; in the given order, each once.
public func parseChunkList(_ text: String, option: String = "--chunk") throws(UnlockedError) -> [Int?] {
    var result: [Int?] = []
    for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
        let chunk: Int?
        if piece == "auto" { chunk = nil } else {
            guard let count = parseCount(String(piece)) else {
                throw .usage("\(option) \(text): '\(piece)' is not a chunk size (accepted: element counts such as 1Ki,16Ki,256Ki, or auto)")
            }
            chunk = count
        }
        if !result.contains(chunk) { result.append(chunk) }
    }
    return result
}

/// `1e5,64Mi,1Gi`: element counts as `parseCount` reads them.
public func parseSizeList(_ text: String, option: String = "--sizes") throws(UnlockedError) -> [Int] {
    try text.split(separator: ",", omittingEmptySubsequences: false).map { piece throws(UnlockedError) in
        guard let count = parseCount(String(piece)) else {
            throw .usage("\(option) \(text): '\(piece)' is not a positive element count (accepted: 100000, 1e5, 64Ki, 1Gi)")
        }
        return count
    }
}

/// A comma-separated list whose every item is one of `accepted`.
public func parseNameList(_ text: String, option: String, accepted: [String]) throws(UnlockedError) -> [String] {
    let names = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    for name in names where !accepted.contains(name) {
        throw .usage("\(option) \(text): unknown '\(name)' (accepted: \(accepted.joined(separator: ", ")))")
    }
    return names
}
