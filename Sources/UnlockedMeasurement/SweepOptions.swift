import Foundation
import UnlockedCore

/// Parsers for the list options of `unlocked bench`, in the style of
/// `parseCount`: pure, and errors quote the bad piece and what is accepted.

/// `1,2,4`, `1..max`, `2..8`, `max`: worker counts, each in 1...`maximum`, in the given order, each once.
public func parseWorkerList(_ text: String, maximum: Int) throws(UnlockedError) -> [Int] {
    try parseCountList(text, maximum: maximum, option: "--workers", noun: "worker", limit: "allowed CPUs")
}

/// A list of counts in 1...`maximum` (`1,2,4`, `1..max`, `max`) for `option`, each once;
/// errors name the `noun` counted and the `limit` that `maximum` is.
public func parseCountList(_ text: String, maximum: Int, option: String, noun: String,
                           limit: String) throws(UnlockedError) -> [Int] {
    func value(_ piece: Substring) throws(UnlockedError) -> Int {
        if piece == "max" { return maximum }
        guard let count = Int(piece), count >= 1 else {
            throw .usage("\(option) \(text): '\(piece)' is not a \(noun) count (accepted: 1,2,4 or 1..max or max)")
        }
        guard count <= maximum else {
            throw .usage("\(option) \(text): \(count) is more than the \(maximum) \(limit) (accepted: 1...\(maximum), or max)")
        }
        return count
    }
    var result: [Int] = []
    for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
        let bounds = piece.components(separatedBy: "..")
        switch bounds.count {
        case 1: result.append(try value(piece))
        case 2:
            let low = try value(Substring(bounds[0])), high = try value(Substring(bounds[1]))
            guard low <= high else { throw .usage("\(option) \(text): range '\(piece)' is empty (write low..high)") }
            result += Array(low...high)
        default: throw .usage("\(option) \(text): '\(piece)' is not a \(noun) count or range (accepted: 1,2,4 or 1..max)")
        }
    }
    var seen = Set<Int>()
    return result.filter { seen.insert($0).inserted }
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
