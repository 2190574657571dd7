/// The NUL-terminated text in a C error buffer (a missing NUL reads the whole buffer).
package func string(fromCBuffer buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
