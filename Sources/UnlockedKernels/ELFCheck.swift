#if os(Linux)
import Glibc
import UnlockedCore

/// Reads an ELF file's headers before `dlopen` sees it.
///
/// `dlopen` alone is not enough: a truncated library whose segments reach
/// past the end of the file is mapped anyway and dies with SIGBUS on first
/// touch, and glibc reports another architecture's library with a message
/// that does not say so. Checking the headers turns both into one line.
package enum ELFCheck {
    /// The `e_machine` of libraries this process can load.
    package static var hostMachine: UInt16 {
        #if arch(x86_64)
        62
        #elseif arch(arm64)
        183
        #elseif arch(riscv64)
        243
        #elseif arch(powerpc64le)
        21
        #elseif arch(s390x)
        22
        #else
        0
        #endif
    }

    package static func machineName(_ machine: UInt16) -> String {
        switch machine {
        case 3: "x86 (i386)"
        case 8: "MIPS"
        case 20: "PowerPC"
        case 21: "PowerPC64"
        case 22: "s390"
        case 40: "ARM (32-bit)"
        case 62: "x86-64"
        case 183: "AArch64"
        case 243: "RISC-V"
        default: "machine \(machine)"
        }
    }

    /// Throws a one-line `.badData` reason (without the path prefix) if the
    /// file cannot be a loadable shared object for this host.
    package static func check(fd: Int32, fileSize: Int) throws(UnlockedError) {
        func read(_ count: Int, at offset: Int) -> [UInt8]? {
            guard offset >= 0, count >= 0, offset <= fileSize - count else { return nil }
            var bytes = [UInt8](repeating: 0, count: count)
            let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return got == count ? bytes : nil
        }
        func integer(_ bytes: [UInt8], _ offset: Int, _ width: Int) -> Int {
            // Little-endian, checked below; 64-bit fields above Int.max are absurd anyway.
            var value: UInt64 = 0
            for i in (0..<width).reversed() { value = value << 8 | UInt64(bytes[offset + i]) }
            return Int(truncatingIfNeeded: min(value, UInt64(Int.max)))
        }
        guard let magic = read(4, at: 0), magic == [0x7F, 0x45, 0x4C, 0x46] else {
            throw .badData("not a shared object (no ELF header)")
        }
        guard let header = read(64, at: 0) else {
            throw .badData("truncated: \(fileSize) bytes is shorter than an ELF header")
        }
        guard header[4] == 2 else { throw .badData("built as 32-bit ELF (class \(header[4])), this host loads 64-bit ELF only") }
        guard header[5] == 1 else { throw .badData("built big-endian (ELF data \(header[5])), this host is little-endian") }
        let type = integer(header, 16, 2)
        guard type == 3 else {
            let kind = [1: "a relocatable object (.o)", 2: "an executable", 4: "a core dump"][type] ?? "ELF type \(type)"
            throw .badData("not a shared object but \(kind); link it with -shared -fPIC")
        }
        let machine = UInt16(integer(header, 18, 2))
        guard machine == hostMachine else {
            throw .badData("built for \(machineName(machine)) (e_machine \(machine)), this host is \(machineName(hostMachine))")
        }
        let phoff = integer(header, 32, 8), shoff = integer(header, 40, 8)
        let phentsize = integer(header, 54, 2), phnum = integer(header, 56, 2)
        let shentsize = integer(header, 58, 2), shnum = integer(header, 60, 2)
        guard phentsize >= 56, let table = read(phentsize * phnum, at: phoff) else {
            throw .badData("truncated: the program headers end past the file's \(fileSize) bytes")
        }
        for index in 0..<phnum where integer(table, index * phentsize, 4) == 1 /* PT_LOAD */ {
            let offset = integer(table, index * phentsize + 8, 8), size = integer(table, index * phentsize + 32, 8)
            guard offset <= fileSize, size <= fileSize - offset else {
                throw .badData("truncated: a loadable segment ends at byte \(offset.addingReportingOverflow(size).partialValue), the file has \(fileSize)")
            }
        }
        guard shoff == 0 || (shoff <= fileSize && shentsize * shnum <= fileSize - shoff) else {
            throw .badData("truncated: the section headers end past the file's \(fileSize) bytes")
        }
    }
}
#endif
