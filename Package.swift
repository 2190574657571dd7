// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Unlocked",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "unlocked", targets: ["unlocked"]),
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
        // Linux calls the engines need that Swift cannot reach (futex, memfd, prctl).
        .target(name: "CSupport"),
        .target(
            name: "Unlocked",
            dependencies: ["CKernels", "CHwloc", "CNuma", "CSupport"]
        ),
        // The C API's header (include/unlocked.h); its one source freezes the ABI layout.
        .target(name: "CUnlockedAPI"),
        // The C API: @c functions over the public API of Unlocked, each checked by the
        // compiler against its declaration in unlocked.h (@implementation).
        .target(
            name: "UnlockedCAPI",
            dependencies: ["Unlocked", "CUnlockedAPI", "CKernels"],
            exclude: ["exports.map"],
            linkerSettings: [.unsafeFlags(["-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/UnlockedCAPI/exports.map"])]
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
