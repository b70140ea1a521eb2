// swift-tools-version: 6.0
// Offramp: adaptive inference for BERT-family encoders on the CPU.
//
// No unsafeFlags here (a package with them cannot be a dependency). Release
// tuning flags (-target-cpu) are passed on the command line: see scripts/flags.
import PackageDescription

let package = Package(
    name: "Offramp",
    products: [
        .library(name: "Offramp", targets: ["Offramp"]),
        .library(name: "OfframpServer", targets: ["OfframpServer"]),
        // The command is `offramp`; its target is OfframpCLI so that its folder
        // does not collide with Sources/Offramp on case-insensitive file systems.
        .executable(name: "offramp", targets: ["OfframpCLI"]),
        // The C ABI (Sources/OfframpC/offramp.h) the Python package loads with
        // ctypes; scripts/wheel builds it with the Swift runtime linked in.
        .library(name: "OfframpC", type: .dynamic, targets: ["OfframpC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
    ],
    targets: [
        // OpenBLAS's CBLAS interface (apt: libopenblas-dev, found through pkg-config).
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "pkg-config"])]
        ),
        // Small-M matrix products in C with AVX-512 (per-function target
        // attributes, chosen at run time: no special flags needed).
        .target(name: "CKernels"),
        // renameat2(RENAME_EXCHANGE), which Swift's Glibc module does not
        // declare: checkpoints swap in whole (Support/AtomicFile.swift).
        .target(name: "CFileSystem"),
        .target(name: "Offramp", dependencies: ["COpenBLAS", "CKernels", "CFileSystem"]),
        // `offramp serve`: HTTP inference with dynamic, continuous batching.
        // A target of its own so the library does not pull in a web stack.
        .target(
            name: "OfframpServer",
            dependencies: [
                "Offramp",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // `@_cdecl` functions over the library: opaque handles, caller-owned
        // buffers, status codes with messages. It depends on the library,
        // never the reverse.
        .target(name: "OfframpC", dependencies: ["Offramp"], exclude: ["offramp.h"]),
        // A blocking loopback HTTP client and a closed-loop load generator:
        // for `offramp loadtest` and the server's tests, not for the server.
        .target(name: "OfframpLoadTest"),
        .executableTarget(
            name: "OfframpCLI",
            dependencies: [
                "Offramp",
                "OfframpServer",
                "OfframpLoadTest",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Fuzzing the parsers that take outside bytes (scripts/fuzz); a plain
        // build replays saved inputs.
        .executableTarget(name: "offramp-fuzz", dependencies: ["Offramp", "OfframpServer"], path: "Sources/OfframpFuzz"),
        .testTarget(
            name: "OfframpTests",
            dependencies: ["Offramp", "OfframpServer", "OfframpLoadTest"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
