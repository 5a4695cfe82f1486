// swift-tools-version: 6.2
import PackageDescription

// Layers, each importing only those below it:
//   CLZ4, CCRC32C        C libraries and shims
//   LedgerLog            the binary append-only log (segments, batches, recovery, readers)
//   LedgerCommand        the `ledger` executable
// The benchmark harness lives in Benchmarks/, its own package, so users of the library never
// build it.
let package = Package(
    name: "LoyaltyLedger",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LedgerLog", targets: ["LedgerLog"]),
        .executable(name: "ledger", targets: ["LedgerCommand"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .target(name: "CCRC32C"),
        .target(
            name: "LedgerLog",
            dependencies: ["CLZ4", "CCRC32C"]
        ),
        .executableTarget(
            name: "LedgerCommand",
            dependencies: [
                "LedgerLog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "LedgerLogTests",
            dependencies: ["LedgerLog"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
