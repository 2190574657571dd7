// A small program for the MPI tests (Tests/UnlockedMPITests, Tests/cluster): it drives
// every part of UnlockedMPI under a real launcher and prints `key=value` lines on rank 0.
//
//   unlocked-mpi-probe [--values V,V,...] [--doubles D,D,...]
//                      [--fail RANK:CODE] [--abort RANK:CODE] [--die RANK]
//
// --values and --doubles are global lists; each rank sums its contiguous block of them
// (rank r of n takes indices [r*count/n, (r+1)*count/n)). A value that fits UInt128 is
// added unsigned, any other (negative) as Int128. --fail makes RANK report a failure to
// `agree`, --abort makes it abort alone while the others wait, --die makes it kill itself.
import CMPI
import Glibc
import UnlockedMPI

let label = "unlocked-mpi-probe"

func fail(_ message: String, _ code: Int32 = 64) -> Never {
    let line = Array("\(label): \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    exit(code)
}

/// Ends with an MPI error's line and exit code; of tasks that would each be a 1-rank
/// world, task 0 alone writes the line.
func end(_ error: MPIError) -> Never {
    if case .singletonTasks(_, let task) = error, task != 0 { exit(error.exitCode) }
    fail(error.description, error.exitCode)
}

struct Options {
    var values: [ExactSum] = []
    var doubles: [Double] = []
    var fail: (rank: Int, code: Int32)?
    var abort: (rank: Int, code: Int32)?
    var die: Int?
}

func rankAndCode(_ text: String, _ option: String) -> (rank: Int, code: Int32) {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let rank = Int(parts[0]), let code = Int32(parts[1]) else {
        fail("\(option) '\(text)' is not RANK:CODE")
    }
    return (rank, code)
}

func parse(_ arguments: [String]) -> Options {
    var options = Options()
    var iterator = arguments.makeIterator()
    while let option = iterator.next() {
        guard let value = iterator.next() else { fail("\(option) needs a value") }
        switch option {
        case "--values":
            options.values = value.split(separator: ",").map { token in
                if let unsigned = UInt128(token) { return ExactSum(unsigned) }
                if let signed = Int128(token) { return ExactSum(signed) }
                fail("--values: '\(token)' is not a 128-bit integer")
            }
        case "--doubles":
            options.doubles = value.split(separator: ",").map { token in
                guard let double = Double(token) else { fail("--doubles: '\(token)' is not a number") }
                return double
            }
        case "--fail": options.fail = rankAndCode(value, option)
        case "--abort": options.abort = rankAndCode(value, option)
        case "--die":
            guard let rank = Int(value) else { fail("--die '\(value)' is not a rank") }
            options.die = rank
        default: fail("unknown option '\(option)'")
        }
    }
    return options
}

/// This rank's block of `count` items.
func block(_ count: Int, rank: Int, size: Int) -> Range<Int> {
    (rank * count / size)..<((rank + 1) * count / size)
}

/// The CPUs this process may run on, as the kernel lists them.
func allowedCPUs() -> String {
    guard let file = fopen("/proc/self/status", "r") else { return "?" }
    defer { fclose(file) }
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    defer { free(line) }
    while getline(&line, &capacity, file) > 0, let line {
        let text = String(cString: line)
        if text.hasPrefix("Cpus_allowed_list:") {
            return String(text.dropFirst("Cpus_allowed_list:".count).filter { !$0.isWhitespace })
        }
    }
    return "?"
}

func hex(_ value: Double) -> String { String(value.bitPattern, radix: 16) }

let options = parse(Array(CommandLine.arguments.dropFirst()))
let launch: MPILaunch
do { launch = try MPILaunch.detect() } catch { end(error) }

var initialized: Int32 = 0
MPI_Initialized(&initialized)
guard launch.launcher != nil else {
    // No launcher: a plain run, which must not have touched MPI.
    print("launch=none")
    print("initialized=\(initialized)")
    let total = options.values.reduce(ExactSum(), +)
    print("sum=\(total)")
    print("double=\(options.doubles.reduce(0, +)) bits=\(hex(options.doubles.reduce(0, +)))")
    if let failure = options.fail { fail("rank 0 on local host: failure on purpose", failure.code) }
    exit(0)
}

/// Initialises MPI or ends the process with the error's line and exit code. (Assigning a
/// noncopyable `let` inside `do`/`catch` trips Swift 6.3 into "copy of noncopyable typed value".)
func joinWorld(_ launch: MPILaunch) -> MPIWorld {
    do { return try MPIWorld(launch: launch) } catch { end(error) }
}

/// The probe's work across ranks; a function, since a noncopyable world cannot be a global.
func runRanks(_ launch: MPILaunch, _ options: Options, initialized: Int32) {
    let world = joinWorld(launch)
    do {
        if let die = options.die {
            if world.rank == die { kill(getpid(), SIGKILL) }
            try world.barrier()
        }
        if let abort = options.abort {
            if world.rank == abort.rank {
                world.abort(exitCode: abort.code, message: "abort on purpose", label: label)
            }
            try world.barrier()    // never completes: the aborting rank ends the job
        }
        let own = options.fail.flatMap { $0.rank == world.rank ? (exitCode: $0.code, message: "failure on purpose") : nil }
        try world.agree(failure: own)

        let values = options.values[block(options.values.count, rank: world.rank, size: world.size)]
        let total = try world.sum(values.reduce(ExactSum(), +))
        let doubles = options.doubles[block(options.doubles.count, rank: world.rank, size: world.size)]
        let double = try world.sum(doubles.reduce(0, +))
        let record = "{\"rank\":\(world.rank),\"local_rank\":\(world.localRank),\"local_size\":\(world.localSize),"
            + "\"host\":\"\(world.host)\",\"cpus\":\"\(allowedCPUs())\",\"values\":\(values.count)}"
        let records = try world.gather(record)
        if world.rank == 0, let records {
            print("launch=\(launch.launcher!.rawValue)")
            print("initialized=\(initialized)")
            print("size=\(world.size)")
            print("thread_level=\(world.threadLevel)")
            print("sum=\(total)")
            print("double=\(double) bits=\(hex(double))")
            for record in records { print("record=\(record)") }
        }
    } catch {
        world.abort(error, label: label)
    }
    // Consumed here, so a failed finalize cannot be followed by any other MPI call.
    do { try world.finalize() } catch { end(error) }
}

runRanks(launch, options, initialized: initialized)
