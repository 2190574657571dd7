import Foundation

/// Fields of `/proc` text files such as `/proc/meminfo` and `/proc/cpuinfo`
/// (`name : value` lines). Pure functions: any thread may call them.

/// The value after `name :` on the first line that starts with `name`.
package func procField(_ name: String, in text: String) -> String? {
    procValues(name, in: text).first
}

package func procValues(_ name: String, in text: String) -> [String] {
    text.split(separator: "\n").compactMap { line in
        guard line.hasPrefix(name), let colon = line.firstIndex(of: ":"),
              line[..<colon].trimmingCharacters(in: .whitespaces) == name else { return nil }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
}

/// "23761 kB" → bytes; nil when not a number or too large.
package func kibibytes(_ text: String) -> Int? {
    guard let value = text.split(separator: " ").first.flatMap({ Int($0) }) else { return nil }
    let (bytes, overflow) = value.multipliedReportingOverflow(by: 1024)
    return overflow ? nil : bytes
}
