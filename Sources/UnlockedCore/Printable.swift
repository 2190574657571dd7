/// `text` made safe to quote in a one-line message: control and format
/// characters and line or paragraph separators become `\u{…}` escapes, so a
/// value from a file or an argument can neither break the line nor drive the
/// terminal. Everything else, including any other non-ASCII text, is kept.
package func printable(_ text: some StringProtocol) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
            result += "\\u{\(String(scalar.value, radix: 16))}"
        default:
            result.unicodeScalars.append(scalar)
        }
    }
    return result
}
