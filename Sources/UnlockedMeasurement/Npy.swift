#if os(Linux)
import CSupport
import Foundation
import Glibc
import Synchronization
import UnlockedCore

/// The header of a numpy `.npy` file (format versions 1.0, 2.0 and 3.0).
///
/// Layout: the magic `\x93NUMPY`, major and minor version bytes, the header
/// length (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), then a
/// Python dict literal — latin-1 in 1.0 and 2.0, UTF-8 in 3.0 — with keys
/// `descr`, `fortran_order` and `shape`, padded with spaces and a newline so
/// the data starts on a 64-byte boundary (16 in old files).
public struct NpyHeader: Sendable, Equatable {
    public var major: UInt8
    public var elementType: OutputType
    public var shape: [Int]
    /// Offset of the first data byte from the start of the file.
    public var dataOffset: Int

    public var count: Int { shape.reduce(1, *) }

    package static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
    /// numpy.load's `max_header_size` default (format.py `_MAX_HEADER_SIZE`).
    package static let maximumHeaderBytes = 10_000

    /// The `descr` numpy writes for each supported little-endian type.
    package static func descr(_ type: OutputType) -> String {
        switch type {
        case .i32: "<i4"
        case .i64: "<i8"
        case .f32: "<f4"
        case .f64: "<f8"
        case .u32: "<u4"
        case .u64: "<u8"
        }
    }

    /// Whether `bytes` start like an `.npy` file.
    public static func hasMagic(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= magic.count && zip(bytes.prefix(magic.count), magic).allSatisfy { $0 == $1 }
    }

    /// Parses the header at the start of `bytes` (the whole file, or at least
    /// its header). `name` is the file's name for messages.
    public static func parse(_ bytes: UnsafeRawBufferPointer, name: String) throws(UnlockedError) -> NpyHeader {
        func bad(_ what: String) -> UnlockedError { .badData("\(name): \(what)") }
        guard hasMagic(bytes) else { throw bad("not an .npy file (it does not start with \\x93NUMPY)") }
        guard bytes.count >= 10 else { throw bad("truncated .npy header (\(bytes.count) bytes)") }
        let major = bytes[6]
        let lengthBytes: Int
        switch (major, bytes[7]) {
        case (1, 0): lengthBytes = 2
        case (2, 0), (3, 0): lengthBytes = 4
        default: throw bad("unsupported .npy format version \(major).\(bytes[7]) (accepted: 1.0, 2.0, 3.0)")
        }
        guard bytes.count >= 8 + lengthBytes else { throw bad("truncated .npy header (\(bytes.count) bytes)") }
        var length = 0
        for i in 0..<lengthBytes { length |= Int(bytes[8 + i]) << (8 * i) }
        guard length <= maximumHeaderBytes else {
            throw bad("the .npy header is \(length) bytes, more than numpy's limit of \(maximumHeaderBytes) (numpy.load refuses it too)")
        }
        let start = 8 + lengthBytes
        guard bytes.count >= start + length else {
            throw bad("truncated .npy header (it declares \(length) bytes, the file has \(bytes.count - start) after the prefix)")
        }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)])
        guard let text = major == 3 ? String(validating: raw, as: UTF8.self) : String(bytes: raw, encoding: .isoLatin1) else {
            throw bad("the .npy header is not valid \(major == 3 ? "UTF-8" : "latin-1") text")
        }
        var parser = NpyDictParser(text: text, name: name)
        let dict = try parser.parse()
        // numpy requires exactly these keys (format.py, _read_array_header).
        if let extra = dict.keys.sorted().first(where: { !["descr", "fortran_order", "shape"].contains($0) }) {
            throw bad("the .npy header has the key '\(printable(extra))' (numpy accepts exactly descr, fortran_order and shape)")
        }
        guard case .string(let descr)? = dict["descr"] else {
            if dict["descr"] != nil { throw bad("structured or object dtype is not supported (accepted: <i4 <i8 <f4 <f8)") }
            throw bad("the .npy header has no 'descr'")
        }
        guard case .bool(let fortran)? = dict["fortran_order"] else { throw bad("the .npy header has no 'fortran_order'") }
        guard case .tuple(let shape)? = dict["shape"] else { throw bad("the .npy header has no 'shape' tuple") }
        guard !fortran else { throw bad("Fortran-order arrays are not supported (save with numpy.ascontiguousarray)") }
        if descr.hasPrefix(">") && descr.count == 3 {
            throw bad("big-endian dtype \(printable(descr)) is not supported (accepted: <i4 <i8 <f4 <f8; convert with a.astype(a.dtype.newbyteorder('<')))")
        }
        if descr == "|O" { throw bad("object dtype '|O' is not supported (accepted: <i4 <i8 <f4 <f8)") }
        guard let type = OutputType.allCases.first(where: { Self.descr($0) == descr }) else {
            throw bad("dtype '\(printable(descr))' is not supported (accepted: <i4 <i8 <f4 <f8)")
        }
        var bytesNeeded = type.byteWidth
        for dimension in shape {
            let (product, overflow) = bytesNeeded.multipliedReportingOverflow(by: dimension)
            guard dimension >= 0, !overflow, product <= Int.max - (start + length) else {
                throw bad("shape \(formatShape(shape)) of \(descr) is larger than any file can hold")
            }
            bytesNeeded = product
        }
        return NpyHeader(major: major, elementType: type, shape: shape, dataOffset: start + length)
    }

    /// The header bytes for an array of `type` and `shape`, version 1.0 unless
    /// the text needs 2.0's longer length field.
    public static func encode(type: OutputType, shape: [Int]) -> [UInt8] {
        let dict = "{'descr': '\(descr(type))', 'fortran_order': False, 'shape': \(formatShape(shape)), }"
        for (major, lengthBytes) in [(UInt8(1), 2), (2, 4)] {
            let prefix = 8 + lengthBytes
            let unpadded = prefix + dict.utf8.count + 1  // + "\n"
            let total = (unpadded + 63) / 64 * 64
            let length = total - prefix
            guard length < 1 << (8 * lengthBytes) else { continue }
            var bytes = magic + [major, 0]
            for i in 0..<lengthBytes { bytes.append(UInt8((length >> (8 * i)) & 0xFF)) }
            bytes += Array(dict.utf8) + [UInt8](repeating: 0x20, count: total - unpadded) + [0x0A]
            return bytes
        }
        preconditionFailure("an .npy header longer than 4 GiB")
    }
}

/// Python's spelling of a shape: `(3,)`, `(2, 3)`, `()`.
package func formatShape(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}

/// The subset of Python literals an `.npy` header uses: a dict of strings to
/// strings, booleans and tuples of integers.
package struct NpyDictParser {
    package enum Value: Equatable {
        case string(String), bool(Bool), tuple([Int]), other
    }

    package let chars: [Character]
    package let name: String
    package var position = 0

    package init(text: String, name: String) {
        chars = Array(text)
        self.name = name
    }

    package func bad(_ what: String) -> UnlockedError {
        .badData("\(name): malformed .npy header: \(what) at character \(position + 1)")
    }

    /// Python's white space between tokens; NUL and other control bytes are not.
    package mutating func skipSpace() { while position < chars.count && " \t\n\r\u{0C}".contains(chars[position]) { position += 1 } }

    package mutating func expect(_ c: Character) throws(UnlockedError) {
        skipSpace()
        guard position < chars.count, chars[position] == c else { throw bad("expected '\(c)'") }
        position += 1
    }

    package mutating func peek() -> Character? { skipSpace(); return position < chars.count ? chars[position] : nil }

    package mutating func parse() throws(UnlockedError) -> [String: Value] {
        try expect("{")
        var dict: [String: Value] = [:]
        while peek() != "}" {
            let key = try string()
            try expect(":")
            dict[key] = try value()
            if peek() == "," { position += 1 } else { break }
        }
        try expect("}")
        // What follows the dict is padding: Python's literal_eval accepts only white space there.
        skipSpace()
        guard position == chars.count else { throw bad("unexpected text after the header's dict") }
        return dict
    }

    package mutating func string() throws(UnlockedError) -> String {
        guard let quote = peek(), quote == "'" || quote == "\"" else { throw bad("expected a quoted string") }
        position += 1
        let start = position
        while position < chars.count && chars[position] != quote { position += 1 }
        guard position < chars.count else { throw bad("unterminated string") }
        defer { position += 1 }
        return String(chars[start..<position])
    }

    package mutating func value() throws(UnlockedError) -> Value {
        switch peek() {
        case "'", "\"": return .string(try string())
        case "(": 
            position += 1
            var items: [Int] = []
            while peek() != ")" {
                let start = position
                while position < chars.count, chars[position].isNumber || chars[position] == "L" { position += 1 }
                guard let item = Int(String(chars[start..<position]).replacingOccurrences(of: "L", with: "")) else {
                    throw bad("expected a whole number in the shape")
                }
                items.append(item)
                if peek() == "," { position += 1 } else { break }
            }
            try expect(")")
            return .tuple(items)
        case "[", "{":
            // A structured dtype's field list: skip it balanced, report it as unsupported.
            var depth = 0
            repeat {
                guard position < chars.count else { throw bad("unterminated list") }
                if "[{(".contains(chars[position]) { depth += 1 }
                if "]})".contains(chars[position]) { depth -= 1 }
                position += 1
            } while depth > 0
            return .other
        default:
            for (word, value) in [("True", true), ("False", false)]
            where chars[position...].starts(with: word) {
                position += word.count
                return .bool(value)
            }
            throw bad("unexpected value")
        }
    }
}

/// A read-only array mapped from a file: an `.npy` file, or raw native
/// little-endian elements of a given type. The pages stay in the page cache
/// and are never copied; unmapped in `deinit`. Only the elements of one part
/// are mapped (all of them unless a part is given), so each MPI rank maps its
/// own block of a file on a shared file system. Immutable after init, so any
/// thread may read `base`.
public final class MappedArray {
    public let path: String
    public let elementType: OutputType
    /// The whole array's shape, as the file declares it.
    public let shape: [Int]
    /// Whether the file is `.npy` (its header set type and shape), not raw elements.
    public let isNpy: Bool
    /// The global indices of the mapped elements: the part asked for.
    public let elements: Range<Int>
    /// The first mapped element, `elements.lowerBound`.
    public let base: UnsafeRawPointer
    private let mapping: UnsafeMutableRawPointer?
    private let mappedLength: Int

    /// Elements of the whole array.
    public var count: Int { shape.reduce(1, *) }
    public var byteCount: Int { count * elementType.byteWidth }

    /// The element type as a kernel input, or a data error naming what is accepted.
    public var dtype: DType {
        get throws(UnlockedError) {
            guard let type = DType(rawValue: elementType.rawValue) else {
                throw .badData("\(path): dtype \(NpyHeader.descr(elementType)) is not a kernel input (accepted: <i4 <i8 <f4 <f8)")
            }
            return type
        }
    }

    /// Maps `part` of the array in `path`. Files with the `.npy` magic are parsed as
    /// `.npy`; any other file is raw elements of `rawType`, or refused when `rawType` is
    /// nil or the name ends in `.npy`. Missing or unreadable: `.noInput` (66);
    /// malformed: `.badData` (65).
    public init(path: String, rawType: DType? = nil, part: ArrayPart = .whole) throws(UnlockedError) {
        self.path = path
        let fd: Int32
        switch valueOrErrno({ open(path, O_RDONLY | O_CLOEXEC) }) {
        case .success(let opened): fd = opened
        case .failure(let error): throw .noInput("\(path): cannot open: \(error)")
        }
        defer { close(fd) }
        var info = stat()
        if case .failure(let error) = valueOrErrno({ fstat(fd, &info) }) { throw .noInput("\(path): cannot stat: \(error)") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .noInput("\(path): not a regular file") }
        let size = Int(info.st_size)
        // The header is read, not mapped: only the part's elements are mapped below.
        var prefix = [UInt8](repeating: 0, count: min(size, 12 + NpyHeader.maximumHeaderBytes))
        var filled = 0
        while filled < prefix.count {
            let got = prefix.withUnsafeMutableBytes { buffer in
                valueOrErrno { pread(fd, buffer.baseAddress! + filled, buffer.count - filled, off_t(filled)) }
            }
            switch got {
            case .success(0): prefix.removeLast(prefix.count - filled)
            case .success(let count): filled += count
            case .failure(let error): throw .noInput("\(path): cannot read: \(error)")
            }
        }
        let type: OutputType, dataOffset: Int, arrayShape: [Int]
        if prefix.withUnsafeBytes({ NpyHeader.hasMagic($0) }) || path.hasSuffix(".npy") {
            let parsed = prefix.withUnsafeBytes { bytes in Result { () throws(UnlockedError) in try NpyHeader.parse(bytes, name: path) } }
            let header = try parsed.get()
            let needed = header.count * header.elementType.byteWidth
            guard size - header.dataOffset == needed else {
                throw .badData("\(path): shape \(formatShape(header.shape)) of \(NpyHeader.descr(header.elementType)) needs \(needed) data bytes, the file has \(size - header.dataOffset)\(size - header.dataOffset < needed ? " (truncated)" : "")")
            }
            (type, dataOffset, arrayShape) = (header.elementType, header.dataOffset, header.shape)
            isNpy = true
        } else {
            guard let rawType else { throw .badData("\(path): not an .npy file, and no --dtype given to read it as raw elements") }
            guard size % rawType.byteWidth == 0 else {
                throw .badData("\(path): \(size) bytes is not a whole number of \(rawType.rawValue) elements (\(rawType.byteWidth) bytes each)")
            }
            (type, dataOffset, arrayShape) = (OutputType(rawValue: rawType.rawValue)!, 0, [size / rawType.byteWidth])
            isNpy = false
        }
        elementType = type
        shape = arrayShape
        elements = part.range(of: arrayShape.reduce(1, *))
        // mmap offsets are whole pages: map from the page holding the part's first byte.
        let first = dataOffset + elements.lowerBound * type.byteWidth
        let pageStart = first / pageSize * pageSize
        let length = first - pageStart + elements.count * type.byteWidth
        var mapping: UnsafeMutableRawPointer?
        if elements.count > 0 {
            switch mapOrErrno({ mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, off_t(pageStart)) }) {
            case .success(let pointer): mapping = pointer
            case .failure(let error): throw .noInput("\(path): cannot map \(length) bytes: \(error)")
            }
        }
        base = UnsafeRawPointer(mapping.map { $0 + (first - pageStart) } ?? UnsafeMutableRawPointer(bitPattern: 64)!)
        self.mapping = mapping
        self.mappedLength = length
    }

    deinit { if let mapping { munmap(mapping, mappedLength) } }
}

/// The page size, the unit of mmap offsets.
package let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

// Immutable after init; the mapping is read-only.
extension MappedArray: @unchecked Sendable {}

/// An `.npy` file being written through a shared mapping: kernels write
/// `base` directly, then `commit()` flushes it and puts it in place.
///
/// Until `commit()` the file has no name: it is created with `O_TMPFILE` in
/// the target's directory, so a run that fails, is interrupted or killed
/// (even by SIGKILL) leaves nothing behind. Its blocks are reserved before
/// mapping (`posix_fallocate`), so a full file system is a clear error here
/// and never a SIGBUS inside a kernel. `commit()` links it in under a hidden
/// name and renames that over the target (atomic). Where the file system
/// has no `O_TMPFILE`, the hidden name exists from the start and
/// `removeUncommittedOutputs()` (for a signal handler) or `deinit` remove it.
///
/// The target must be a new path or a regular file; a symbolic link is
/// written through (its target is replaced). A new file's mode follows the
/// umask as `numpy.save` and `cp` do; a replaced file keeps its mode.
/// Used by one thread.
public final class NpyOutputFile {
    public let path: String
    /// The first element.
    public let base: UnsafeMutableRawPointer
    private let fd: Int32
    private let mapping: UnsafeMutableRawPointer
    private let length: Int
    /// The path written to: `path`, or what its symbolic links lead to.
    private let target: String
    /// The hidden name, when the file system had no `O_TMPFILE`.
    private let namedTemporary: String?
    private var committed = false

    public init(path: String, type: OutputType, shape: [Int]) throws(UnlockedError) {
        self.path = path
        let target = try Self.resolveTarget(path)
        self.target = target
        let directory = target.contains("/") ? String(target[..<target.lastIndex(of: "/")!]) : "."
        var existing = stat()
        let mode: mode_t = stat(target, &existing) == 0 ? existing.st_mode & 0o7777 : 0o666 & ~currentUmask()

        let header = NpyHeader.encode(type: type, shape: shape)
        let (dataBytes, overflow) = shape.reduce(1, *).multipliedReportingOverflow(by: type.byteWidth)
        guard !overflow else { throw .usage("\(path): an output of shape \(formatShape(shape)) is too large") }
        let total = header.count + dataBytes
        length = total

        var temporary: String?
        var created = valueOrErrno { uk_open_tmpfile(directory.isEmpty ? "/" : directory, UInt32(mode)) }
        if case .failure = created {
            // No O_TMPFILE here (some network and older file systems): a hidden name instead.
            var template = Array("\(directory)/.\(target.split(separator: "/").last ?? "output").XXXXXX".utf8CString)
            created = valueOrErrno { mkstemp(&template) }
            if case .success = created { temporary = string(fromCBuffer: template) }
        }
        let descriptor: Int32
        switch created {
        case .success(let opened): descriptor = opened
        case .failure(let error): throw .noInput("\(path): cannot create the output: \(error)")
        }
        namedTemporary = temporary
        fd = descriptor
        func fail(_ what: String, _ error: SystemCallError) -> UnlockedError {
            close(descriptor)
            if let temporary { unlink(temporary) }
            return outputWriteError(path, total: total, what, error)
        }
        // open and mkstemp apply the umask (mkstemp: 0600); the mode decided above wins.
        _ = fchmod(descriptor, mode)
        let reserved = posix_fallocate(descriptor, 0, off_t(total))
        guard reserved == 0 else { throw fail("posix_fallocate", SystemCallError(code: reserved)) }
        let pointer: UnsafeMutableRawPointer
        switch mapOrErrno({ mmap(nil, total, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0) }) {
        case .success(let mapped): pointer = mapped
        case .failure(let error): throw fail("mmap", error)
        }
        mapping = pointer
        header.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: header.count) }
        base = pointer + header.count
        if let temporary { uncommittedOutputs.withLock { _ = $0.insert(temporary) } }
    }

    /// The path `path` leads to through symbolic links, refusing anything
    /// but a regular file or a new name (renaming over a device or a FIFO
    /// would replace it).
    package static func resolveTarget(_ path: String) throws(UnlockedError) -> String {
        var target = path
        for _ in 0..<40 {  // the kernel's own limit on link hops
            var info = stat()
            guard lstat(target, &info) == 0 else { return target }  // a new name
            switch info.st_mode & S_IFMT {
            case S_IFREG: return target
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let count = readlink(target, &buffer, buffer.count - 1)
                guard count > 0 else { return target }
                let next = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                target = next.hasPrefix("/") || !target.contains("/") ? next
                    : String(target[...target.lastIndex(of: "/")!]) + next
            default:
                throw .usage("--output \(path): not a regular file (accepted: a new path or an existing regular file; devices, FIFOs and directories are never replaced)")
            }
        }
        throw .usage("--output \(path): too many levels of symbolic links")
    }

    /// Flushes the data and puts the file in place under `path`.
    public func commit() throws(UnlockedError) {
        let flushed = valueOrErrno { msync(mapping, length, MS_SYNC) }
        if case .failure(let error) = flushed { throw .ioError("\(path): cannot write the output: \(error)") }
        let hidden: String
        if let namedTemporary {
            hidden = namedTemporary
        } else {
            // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc link works for everyone.
            hidden = "\(target).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
            let linked = valueOrErrno { linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, hidden, AT_SYMLINK_FOLLOW) }
            if case .failure(let error) = linked { throw .ioError("\(path): cannot write the output: \(error)") }
        }
        if case .failure(let error) = valueOrErrno({ rename(hidden, target) }) {
            unlink(hidden)
            throw .ioError("\(path): cannot write the output: \(error)")
        }
        if let namedTemporary { uncommittedOutputs.withLock { _ = $0.remove(namedTemporary) } }
        committed = true
    }

    deinit {
        munmap(mapping, length)
        close(fd)
        if !committed, let namedTemporary {
            unlink(namedTemporary)
            uncommittedOutputs.withLock { _ = $0.remove(namedTemporary) }
        }
    }
}

/// Hidden output names not yet committed: where `O_TMPFILE` was missing, and the
/// shared files of `SharedNpyOutput` this process created.
let uncommittedOutputs = Mutex<Set<String>>([])

/// Removes every output file still being written under a hidden name. For a
/// program's SIGINT/SIGTERM handling (the library installs no handler): call
/// it before exiting. `unlink` is async-signal-safe; this takes a lock, so
/// call it from a signal-handling thread (sigwait), not a signal handler.
public func removeUncommittedOutputs() {
    for path in uncommittedOutputs.withLock({ $0 }) { unlink(path) }
}

/// The process's umask, read without changing it for long.
func currentUmask() -> mode_t {
    let mask = umask(0o022)
    umask(mask)
    return mask
}

/// Why writing the `total`-byte output `path` failed (`what`: the call), one
/// line, exit 74: a full file system or quota is named as such.
package func outputWriteError(_ path: String, total: Int, _ what: String, _ error: SystemCallError) -> UnlockedError {
    if error.code == ENOSPC || error.code == EDQUOT {
        return .ioError("\(path): no space left for the \(total)-byte output (\(what): \(error))")
    }
    return .ioError("\(path): cannot write the output: \(what): \(error)")
}
#endif
