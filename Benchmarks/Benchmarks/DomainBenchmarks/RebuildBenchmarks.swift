import Benchmark
import Ledger
import LedgerDomain

/// Rule-change rebuilds of the full-size program (issue 24): a shorter bonus lifetime and 50
/// segments, decided again on one worker and on two in the same run (the ratio is the
/// two-core speed-up), beside the plain replay (`rebuild: every projection from the log`).
/// Events per second: the program's events ÷ the wall-clock time; the report prints them.
func rebuildBenchmarks() {
    for workers in [1, 2] {
        let program = Program()
        Benchmark("rebuild: the full-size program decided again under a shorter lifetime, 50 segments, \(workers) worker\(workers == 1 ? "" : "s") (whole)",
                  configuration: .init(metrics: [.wallClock, .peakMemoryResident], timeUnits: .seconds,
                                       maxDuration: .seconds(120), maxIterations: 2)) { _ in
            let view = try! LedgerView(directory: program.directory)
            var rules = RulesPatch()
            rules.lifetimeDays = 90
            let report = try! Rebuild.run(view, directory: program.directory, options: .init(rules: rules, segments: fiftySegments(), workers: workers))
            program.report = "rebuild, \(workers) worker(s): \(report.events) events in \(Int(report.seconds)) s, \(Int(report.eventsPerSecond)) events/s; \(report.balances.count) clients' balances change, \(report.segments.count) segments change"
        } setup: {
            program.directory = try programDirectory(clients: environment("LEDGER_BENCH_CLIENTS", 1_000_000),
                                                     days: environment("LEDGER_BENCH_DAYS", 240))
        } teardown: {
            print(program.report)
        }
    }
}

/// 50 segments of five filters each, thresholds varied so that they select different clients.
func fiftySegmentTexts() -> [(name: String, filters: String)] {
    let genders = ["female", "male"]
    return (0..<50).map { k in
        ("bench-\(k)", """
            [{"field":"purchaseSum","op":"gte","values":[\(100_000 * (k % 10 + 1))]},{"field":"daysWithoutPurchases","op":"lte","values":[\(30 + k)]},
             {"field":"gender","op":"in","values":["\(genders[k % 2])"]},{"field":"status","op":"in","values":["participant"]},
             {"field":"bonusesAvailable","op":"gte","values":[\(1_000 * (k % 7))]}]
            """)
    }
}

func fiftySegments() -> [String: [SegmentFilter]] {
    Dictionary(uniqueKeysWithValues: fiftySegmentTexts().map { ($0.name, try! SegmentFilter.parseList($0.filters)) })
}

/// Dynamic membership's cost to submit: the million commands of `submit: the first million
/// commands…` after the same warm-up, with the 50 segments above defined (each command's
/// client evaluated again in the segments its events can move, the transitions recorded).
/// Compare with that benchmark in the same run: the target is at most half its throughput.
func dynamicSegmentBenchmarks() {
    dynamicSegmentBenchmark("submit: the same million commands with 50 dynamic segments defined (whole)", fiftySegmentTexts())
    dynamicSegmentBenchmark("submit: the same million commands with 10 dynamic product segments (contains) defined (whole)", productSegmentTexts())
}

/// 10 segments on what was bought, by a part of the product's name (`contains`, the filter
/// that reads every name the program has met) and two items or more of it.
func productSegmentTexts() -> [(name: String, filters: String)] {
    ["кросс", "наушн", "палат", "корм", "серьг", "детск", "ярк", "спорт", "a", "о"].enumerated().map { k, part in
        ("product-\(k)", #"[{"field":"boughtProduct","op":"contains","values":["\#(part)"]},{"field":"itemCount","op":"gte","values":[2]}]"#)
    }
}

/// The million commands of `submit: the first million commands…` after the same warm-up,
/// with these segments defined.
func dynamicSegmentBenchmark(_ name: String, _ segments: [(name: String, filters: String)]) {
    let dynamic = Program()
    Benchmark(name, configuration: .init(metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 0,
                                         maxDuration: .seconds(60), maxIterations: 1)) { _ in
        dynamic.submitFirstMillion()
    } setup: {
        try dynamic.prepareSubmit()
        let at = dynamic.commands[0..<200_000].compactMap(\.at).max()!
        let definitions = segments.map { Command(at: at, client: "", event: .segmentDefined(SegmentDefinition(name: $0.name, filters: $0.filters))) }
        let outcomes = try dynamic.ledger!.submit(definitions)
        precondition(outcomes.allSatisfy { $0.isAccepted }, "the segments were not defined")
    } teardown: {
        let stats = dynamic.ledger!.stats()
        print("dynamic segments: \(stats.perType["segment.entered"] ?? 0) entries and \(stats.perType["segment.left"] ?? 0) exits recorded among \(stats.events) events")
        try dynamic.close()
    }
}
