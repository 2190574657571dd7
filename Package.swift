// swift-tools-version: 6.1
import PackageDescription

// Our own targets build with warnings as errors, so a clean build stays clean
// (dependencies are not affected: the flag applies per target).
let strict: [SwiftSetting] = [.unsafeFlags(["-warnings-as-errors"])]

// The library's layers, lowest first. A target that reaches them through the
// umbrella `Unlocked` also declares them: SwiftPM rebuilds a target only when a
// module it declares changes, so a layout change behind `@_exported import`
// left the CLI stale and an incremental build crashed (swiftlang/swift#89636).
let layers: [Target.Dependency] = ["UnlockedCore", "UnlockedTopology", "UnlockedKernels", "UnlockedEngines",
                                   "UnlockedMeasurement", "UnlockedReports"]

let package = Package(
    name: "Unlocked",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "unlocked", targets: ["UnlockedCLI"]),
        .library(name: "Unlocked", targets: ["Unlocked"]),
        // The C API as a shared library (installed as libunlocked.so; a product may not
        // be named `unlocked` as well: SwiftPM then silently builds only the executable).
        .library(name: "UnlockedCAPI", type: .dynamic, targets: ["UnlockedCAPI"]),
        // Example plugins (plugins/README.md), built as the .so files `--plugin` loads.
        .library(name: "PluginSqdist", type: .dynamic, targets: ["PluginSqdist"]),
        .library(name: "PluginPerWorker", type: .dynamic, targets: ["PluginPerWorker"]),
        .library(name: "PluginScratch", type: .dynamic, targets: ["PluginScratch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Vectorized kernels: one file per ISA, compiled with per-function target
        // attributes so a single binary runs on any CPU of its architecture.
        .target(
            name: "CKernels",
            path: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-strict-aliasing"])]
        ),
        .systemLibrary(
            name: "CHwloc",
            pkgConfig: "hwloc",
            providers: [.apt(["libhwloc-dev"])]
        ),
        .systemLibrary(
            name: "CNuma",
            pkgConfig: "numa",
            providers: [.apt(["libnuma-dev"])]
        ),
        // Open MPI, for cluster jobs only: the CLI's launch path links it, the library does not.
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]
        ),
        // Ranks, exact reductions, gathers and agreed failures over MPI (issue 12).
        .target(name: "UnlockedMPI", dependencies: ["CMPI"], swiftSettings: strict),
        // Drives UnlockedMPI under real launchers for the tests; not installed.
        .executableTarget(name: "unlocked-mpi-probe", dependencies: ["UnlockedMPI", "CMPI"], swiftSettings: strict),
        // Linux calls the engines need that Swift cannot reach (futex, memfd, prctl).
        .target(name: "CSupport"),
        // The `openmp` engine's region ABI. Its region/ is compiled by gcc -fopenmp (the
        // OpenMPRegion plugin), not by this target: clang here has no OpenMP runtime.
        .target(name: "COpenMP", exclude: ["region"]),
        .plugin(name: "OpenMPRegion", capability: .buildTool()),

        // The library's layers, lowest first. Each target may import only the ones
        // above it in this list, so a wrong-way dependency is a compile error
        // (README.md, "Architecture").
        .target(
            name: "UnlockedCore",
            dependencies: ["CKernels", "CSupport"],
            swiftSettings: strict
        ),
        .target(
            name: "UnlockedTopology",
            dependencies: ["UnlockedCore", "CHwloc", "CNuma", "CSupport"],
            swiftSettings: strict
        ),
        .target(
            name: "UnlockedKernels",
            dependencies: ["UnlockedCore", "CKernels", "CSupport"],
            swiftSettings: strict
        ),
        .target(
            name: "UnlockedEngines",
            dependencies: ["UnlockedCore", "UnlockedTopology", "UnlockedKernels", "CSupport", "COpenMP"],
            swiftSettings: strict,
            plugins: ["OpenMPRegion"]
        ),
        .target(
            name: "UnlockedMeasurement",
            dependencies: ["UnlockedCore", "UnlockedTopology", "UnlockedKernels", "UnlockedEngines", "CSupport"],
            swiftSettings: strict
        ),
        .target(
            name: "UnlockedReports",
            dependencies: ["UnlockedCore", "UnlockedTopology", "UnlockedKernels", "UnlockedEngines",
                           "UnlockedMeasurement"],
            swiftSettings: strict
        ),
        .target(
            name: "Unlocked",
            dependencies: layers,
            swiftSettings: strict
        ),
        // The C API's header (include/unlocked.h); its one source freezes the ABI layout.
        .target(name: "CUnlockedAPI"),
        // The C API: @c functions over the public API of Unlocked, each checked by the
        // compiler against its declaration in unlocked.h (@implementation).
        .target(
            name: "UnlockedCAPI",
            dependencies: ["Unlocked", "CUnlockedAPI", "CKernels"] + layers,
            exclude: ["exports.map"],
            swiftSettings: strict,
            linkerSettings: [.unsafeFlags(["-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/UnlockedCAPI/exports.map"])]
        ),
        // The library across MPI ranks: what `mpirun`/`srun` launches run (issue 12).
        // Only the CLI links it, so the library product `Unlocked` never links MPI.
        .target(
            name: "UnlockedCluster",
            dependencies: ["Unlocked", "UnlockedMPI"] + layers,
            swiftSettings: strict
        ),
        .executableTarget(
            name: "UnlockedCLI",
            dependencies: [
                "Unlocked",
                "UnlockedCluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ] + layers,
            swiftSettings: strict
        ),
        // Fuzz harnesses (Tests/Fuzz/README.md): part of every build, so `swift test`
        // replays the committed corpora through the functions the fuzzer calls.
        .target(
            name: "UnlockedFuzzHarnesses",
            dependencies: ["Unlocked", "CKernels"] + layers,
            path: "Tests/Fuzz/Harnesses",
            swiftSettings: strict
        ),
        .testTarget(
            name: "UnlockedTests",
            dependencies: ["Unlocked", "CKernels", "COpenMP", "UnlockedCLI", "UnlockedFuzzHarnesses"] + layers,
            // Fixture .npy files and C sources the tests compile into fixture plugins.
            exclude: ["Fixtures"]
        ),
        // The real `unlocked` (and the probe) under real `mpirun`.
        .testTarget(name: "UnlockedMPITests", dependencies: ["UnlockedMPI", "UnlockedCluster", "unlocked-mpi-probe", "UnlockedCLI"] + layers),
        // Example plugins: they see only the standalone ABI header, as an
        // outside plugin would, and link nothing of Unlocked.
        .target(name: "PluginSqdist", path: "plugins/sqdist", publicHeadersPath: ".",
                cSettings: [.headerSearchPath("../../CKernels/include")]),
        .target(name: "PluginPerWorker", path: "plugins/perworker", publicHeadersPath: ".",
                cSettings: [.headerSearchPath("../../CKernels/include")]),
        .target(name: "PluginScratch", path: "plugins/scratch", publicHeadersPath: ".",
                cSettings: [.headerSearchPath("../../CKernels/include")]),
    ],
    swiftLanguageModes: [.v6]
)

// The libFuzzer driver links only with -sanitize=fuzzer (which supplies main),
// so it exists only when `make fuzz` sets UNLOCKED_FUZZ.
if Context.environment["UNLOCKED_FUZZ"] != nil {
    package.targets.append(.executableTarget(name: "unlocked-fuzz", dependencies: ["UnlockedFuzzHarnesses"],
                                             path: "Tests/Fuzz/Driver", swiftSettings: strict))
    package.products.append(.executable(name: "unlocked-fuzz", targets: ["unlocked-fuzz"]))
}
