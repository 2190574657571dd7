#if os(Linux)
import Glibc
import UnlockedCore

/// One `.npy` output written by several processes at once — the ranks of an MPI job —
/// each through a shared mapping of its own part, and put in place by the process that
/// created it once every part is written.
///
/// An unnamed `O_TMPFILE` (what `NpyOutputFile` uses) cannot be opened by a process on
/// another node, so the creator makes a hidden name beside the target
/// (`.NAME.unlocked-XXXXXX.tmp`), writes the header and reserves every block (so a full
/// file system is an error here, never a SIGBUS in a kernel); the others open that name.
/// Only the creator removes it: on `commit()` by renaming it over the target, otherwise
/// in `deinit` or in `removeUncommittedOutputs()` after a signal. A creator killed by
/// SIGKILL leaves the hidden file behind, which a one-process run never does.
///
/// The target follows `NpyOutputFile`'s rules: a new path or a regular file, written
/// through symbolic links; devices, FIFOs and directories are refused. Used by one thread.
public final class SharedNpyOutput {
    public let path: String
    /// The hidden file every process maps; the creator hands it to the others.
    public let temporaryPath: String
    /// The first element of this process's part.
    public let base: UnsafeMutableRawPointer
    /// The global indices this process writes.
    public let elements: Range<Int>
    private let fd: Int32
    private let mapping: UnsafeMutableRawPointer?
    private let mappedLength: Int
    /// The resolved target, for the creator's rename; nil in the other processes.
    private let target: String?
    private var committed = false

    /// Creates the hidden file for an array of `type` and `shape` beside `path`'s target,
    /// with its header and every block reserved, and maps the global `elements` of it.
    public init(creating path: String, type: OutputType, shape: [Int], elements: Range<Int>) throws(UnlockedError) {
        precondition(elements.lowerBound >= 0 && elements.upperBound <= shape.reduce(1, *), "elements outside the array")
        self.path = path
        let target = try NpyOutputFile.resolveTarget(path)
        let directory = target.contains("/") ? String(target[..<target.lastIndex(of: "/")!]) : "."
        let name = target.split(separator: "/").last.map(String.init) ?? "output"
        var existing = stat()
        let mode: mode_t = stat(target, &existing) == 0 ? existing.st_mode & 0o7777 : 0o666 & ~currentUmask()
        let header = NpyHeader.encode(type: type, shape: shape)
        let total = try Self.totalBytes(path: path, header: header.count, type: type, shape: shape)

        var template = Array("\(directory.isEmpty ? "" : directory)/.\(name).unlocked-XXXXXX.tmp".utf8CString)
        let descriptor: Int32
        switch valueOrErrno({ mkstemps(&template, 4) }) {
        case .success(let opened): descriptor = opened
        case .failure(let error): throw .noInput("\(path): cannot create the output beside it: \(error)")
        }
        let temporary = string(fromCBuffer: template)
        uncommittedOutputs.withLock { _ = $0.insert(temporary) }
        func fail(_ what: String, _ error: SystemCallError) -> UnlockedError {
            close(descriptor)
            unlink(temporary)
            uncommittedOutputs.withLock { _ = $0.remove(temporary) }
            return outputWriteError(path, total: total, what, error)
        }
        // mkstemps creates with 0600; the mode decided above wins, as for one process.
        _ = fchmod(descriptor, mode)
        let reserved = posix_fallocate(descriptor, 0, off_t(total))
        guard reserved == 0 else { throw fail("posix_fallocate", SystemCallError(code: reserved)) }
        var written = 0
        while written < header.count {
            let result = header.withUnsafeBytes { bytes in
                valueOrErrno { pwrite(descriptor, bytes.baseAddress! + written, bytes.count - written, off_t(written)) }
            }
            switch result {
            case .success(let count): written += count
            case .failure(let error): throw fail("writing the header", error)
            }
        }
        let mapped: (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer)
        switch Self.map(descriptor, header: header.count, type: type, elements: elements) {
        case .success(let result): mapped = result
        case .failure(let error): throw fail("mmap", error)
        }
        (mapping, mappedLength, base) = mapped
        (self.fd, self.target, temporaryPath, self.elements) = (descriptor, target, temporary, elements)
    }

    /// Opens the hidden file another process created with `init(creating:…)` and maps
    /// its global `elements`; refuses a file that is not the size the header promises
    /// (another job's, or a node that sees a different file system).
    public init(joining temporaryPath: String, path: String, type: OutputType, shape: [Int],
                elements: Range<Int>) throws(UnlockedError) {
        precondition(elements.lowerBound >= 0 && elements.upperBound <= shape.reduce(1, *), "elements outside the array")
        self.path = path
        self.temporaryPath = temporaryPath
        let header = NpyHeader.encode(type: type, shape: shape).count
        let total = try Self.totalBytes(path: path, header: header, type: type, shape: shape)
        let descriptor: Int32
        switch valueOrErrno({ open(temporaryPath, O_RDWR | O_CLOEXEC | O_NOFOLLOW) }) {
        case .success(let opened): descriptor = opened
        case .failure(let error):
            throw .noInput("\(path): cannot open \(temporaryPath), which the first process created: \(error) "
                + "(the output must be on a file system every process shares)")
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int(info.st_size) == total else {
            close(descriptor)
            throw .noInput("\(path): \(temporaryPath) is not the \(total)-byte file the first process created "
                + "(the output must be on a file system every process shares)")
        }
        switch Self.map(descriptor, header: header, type: type, elements: elements) {
        case .success(let mapped): (mapping, mappedLength, base) = mapped
        case .failure(let error):
            close(descriptor)
            throw .ioError("\(path): cannot map the output: \(error)")
        }
        fd = descriptor
        target = nil
        self.elements = elements
    }

    /// Writes this process's part to the file system; every process calls it before
    /// the creator commits.
    public func flush() throws(UnlockedError) {
        guard let mapping else { return }
        if case .failure(let error) = valueOrErrno({ msync(mapping, mappedLength, MS_SYNC) }) {
            throw .ioError("\(path): cannot write the output: \(error)")
        }
    }

    /// The creator's last step, once every process has flushed its part: renames the
    /// hidden file over the target.
    public func commit() throws(UnlockedError) {
        guard let target else { preconditionFailure("only the creating process commits a shared output") }
        try flush()
        if case .failure(let error) = valueOrErrno({ rename(temporaryPath, target) }) {
            throw .ioError("\(path): cannot put the output in place: \(error)")
        }
        uncommittedOutputs.withLock { _ = $0.remove(temporaryPath) }
        committed = true
    }

    deinit {
        if let mapping { munmap(mapping, mappedLength) }
        close(fd)
        if target != nil && !committed {
            unlink(temporaryPath)
            uncommittedOutputs.withLock { _ = $0.remove(temporaryPath) }
        }
    }

    /// Header plus data bytes, or a usage error when they overflow.
    private static func totalBytes(path: String, header: Int, type: OutputType, shape: [Int]) throws(UnlockedError) -> Int {
        let (data, overflow) = shape.reduce(1, *).multipliedReportingOverflow(by: type.byteWidth)
        guard !overflow, data <= Int.max - header else { throw .usage("\(path): an output of shape \(formatShape(shape)) is too large") }
        return header + data
    }

    /// Maps `elements` of the data after a `header`-byte header, from the page holding
    /// their first byte: the mapping, its length, and the first element's address.
    private static func map(_ fd: Int32, header: Int, type: OutputType,
                            elements: Range<Int>) -> Result<(UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer), SystemCallError> {
        let first = header + elements.lowerBound * type.byteWidth
        let pageStart = first / pageSize * pageSize
        let length = first - pageStart + elements.count * type.byteWidth
        guard elements.count > 0 else { return .success((nil, 0, UnsafeMutableRawPointer(bitPattern: 64)!)) }
        return mapOrErrno { mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(pageStart)) }
            .map { ($0, length, $0 + (first - pageStart)) }
    }
}
#endif
