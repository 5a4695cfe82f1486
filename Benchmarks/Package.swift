// swift-tools-version: 6.2
import PackageDescription

// The benchmark harness, a package of its own so that users of the library never build it
// (as swift-nio does). Run from this folder:
//   swift package --allow-writing-to-package-directory benchmark
//
// `.package(path: "..")` is known by the parent folder's name, lowercased: derive it, so a
// clone in a folder of any name builds.
let parent = Context.packageDirectory.split(separator: "/").dropLast().last.map { $0.lowercased() } ?? "main"

let package = Package(
    name: "LedgerBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "LogBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LedgerLog", package: parent),
            ],
            path: "Benchmarks/LogBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "DomainBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Ledger", package: parent),
                .product(name: "LedgerGenerator", package: parent),
            ],
            path: "Benchmarks/DomainBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Not a benchmark: a program to count submit's instructions with valgrind (README).
        .executableTarget(
            name: "SubmitInstructions",
            dependencies: [
                .product(name: "Ledger", package: parent),
                .product(name: "LedgerGenerator", package: parent),
            ],
            path: "Instruments/SubmitInstructions"
        ),
    ],
    swiftLanguageModes: [.v6]
)
