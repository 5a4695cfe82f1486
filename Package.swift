// swift-tools-version: 6.2
import PackageDescription

// Layers, each importing only those below it:
//   CLZ4, CCRC32C,       C libraries and shims
//   CPrefetch
//   LedgerBytes          the byte codec: WriteBuffer, ByteReader, varints
//   LedgerSync           the lock every shared value sits behind (a pthread mutex the thread
//                        sanitizer sees)
//   LedgerLog            the binary append-only log (segments, batches, recovery, readers)
//   LedgerStorage        the state's data structures (id tables, chunked arrays, the text
//                        arena, …), a folder each; `package` access, hot paths @inlinable
//   LedgerDomain         the loyalty domain: events, codecs, rules, the bonus ledger (no files)
//   Ledger               the facade other services call: a log plus the domain's state
//   LedgerService        the facade as a swift-service-lifecycle Service (open, advance, close)
//   LedgerExport         the client list as CSV or an xlsx workbook (ZIPFoundation)
//   LedgerGenerator      a seeded generator of realistic loyalty programs
//   LedgerCommand        the `ledger` executable
//   LedgerFuzz           a libFuzzer target for the parsers and the replay of bodies
// The benchmark harness lives in Benchmarks/, its own package, so users of the library never
// build it.
let package = Package(
    name: "LoyaltyLedger",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LedgerLog", targets: ["LedgerLog"]),
        .library(name: "Ledger", targets: ["Ledger"]),
        .library(name: "LedgerGenerator", targets: ["LedgerGenerator"]),
        .library(name: "LedgerService", targets: ["LedgerService"]),
        .library(name: "LedgerExport", targets: ["LedgerExport"]),
        .executable(name: "ledger", targets: ["LedgerCommand"]),
        .executable(name: "ledger-fuzz", targets: ["LedgerFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        .target(name: "CCRC32C"),
        .target(name: "CPrefetch"),
        .target(name: "LedgerBytes"),
        .target(name: "LedgerSync"),
        .target(
            name: "LedgerLog",
            dependencies: ["CLZ4", "CCRC32C", "LedgerBytes", "LedgerSync"]
        ),
        .target(
            name: "LedgerStorage",
            dependencies: ["LedgerBytes", "CPrefetch"]
        ),
        .target(
            name: "LedgerDomain",
            dependencies: ["LedgerBytes", "LedgerStorage", "CPrefetch"]
        ),
        .target(
            name: "Ledger",
            dependencies: ["LedgerLog", "LedgerStorage", "LedgerDomain", "LedgerSync",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        // The ledger as a swift-service-lifecycle Service (a product of its own: services that
        // do not use ServiceGroup do not build it).
        .target(
            name: "LedgerService",
            dependencies: ["Ledger", .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        // The client list written as CSV or an xlsx workbook (a product of its own: ZIPFoundation
        // and zlib only for those who export).
        .target(
            name: "LedgerExport",
            dependencies: ["Ledger", "LedgerDomain", .product(name: "ZIPFoundation", package: "ZIPFoundation")]
        ),
        .target(
            name: "LedgerGenerator",
            dependencies: ["LedgerDomain"]
        ),
        .executableTarget(
            name: "LedgerCommand",
            dependencies: [
                "LedgerLog", "Ledger", "LedgerStorage", "LedgerDomain", "LedgerGenerator", "LedgerSync", "LedgerExport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A libFuzzer target (built with --sanitize=fuzzer -Xswiftc -DFUZZING; see the README).
        .executableTarget(
            name: "LedgerFuzz",
            dependencies: ["LedgerDomain"]
        ),
        .testTarget(
            name: "LedgerLogTests",
            dependencies: ["LedgerLog", "LedgerBytes"]
        ),
        .testTarget(
            name: "LedgerDomainTests",
            dependencies: ["LedgerStorage", "LedgerDomain", "Ledger", "LedgerGenerator"]
        ),
        .testTarget(
            name: "LedgerTests",
            dependencies: ["Ledger", "LedgerStorage", "LedgerDomain", "LedgerGenerator", "LedgerLog", "LedgerBytes", "LedgerCommand", "LedgerSync",
                           "LedgerExport", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                           .product(name: "InMemoryLogging", package: "swift-log"),
                           .product(name: "MetricsTestKit", package: "swift-metrics"),
                           "LedgerService", .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
