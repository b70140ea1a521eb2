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
        .executable(name: "offramp", targets: ["offramp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
        .target(name: "Offramp", dependencies: ["COpenBLAS", "CKernels"]),
        .executableTarget(
            name: "offramp",
            dependencies: [
                "Offramp",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "OfframpTests",
            dependencies: ["Offramp"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
