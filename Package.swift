// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Unlocked",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "unlocked", targets: ["unlocked"]),
        .library(name: "Unlocked", targets: ["Unlocked"]),
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
        .target(name: "UnlockedMPI", dependencies: ["CMPI"]),
        // Drives UnlockedMPI under real launchers for the tests; not installed.
        .executableTarget(name: "unlocked-mpi-probe", dependencies: ["UnlockedMPI", "CMPI"]),
        // Linux calls the engines need that Swift cannot reach (futex, memfd, prctl).
        .target(name: "CSupport"),
        .target(
            name: "Unlocked",
            dependencies: ["CKernels", "CHwloc", "CNuma", "CSupport"]
        ),
        .executableTarget(
            name: "unlocked",
            dependencies: [
                "Unlocked",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "UnlockedTests",
            dependencies: ["Unlocked", "CKernels", "unlocked"],
            // Fixture .npy files and C sources the tests compile into fixture plugins.
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "UnlockedMPITests", dependencies: ["UnlockedMPI", "unlocked-mpi-probe"]),
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
