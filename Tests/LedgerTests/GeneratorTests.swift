import Testing
import LedgerDomain
@testable import LedgerGenerator

@Suite("The program generator")
struct GeneratorTests {
    static func lines(clients: Int = 2_000, days: Int = 70, seed: UInt64 = 42) -> [String] {
        var generator = ProgramGenerator(.init(clients: clients, days: days, seed: seed))
        var lines: [String] = []
        generator.run { lines += $0.lines }
        return lines
    }

    static func parsed(_ lines: [String]) throws -> [Command] {
        try lines.enumerated().map { try CommandParser.parse(line: $0.element, number: $0.offset + 1) }
    }

    @Test("the same seed gives the same program byte for byte; another seed another one")
    func deterministic() {
        let first = Self.lines(clients: 500, days: 30)
        #expect(first == Self.lines(clients: 500, days: 30))
        #expect(first != Self.lines(clients: 500, days: 30, seed: 43))
    }

    @Test("every line parses, and the program holds every kind of action the issue lists")
    func everyKind() throws {
        let commands = try Self.parsed(Self.lines())
        var kinds: [EventKind: Int] = [:]
        for command in commands { if case .event(let event) = command.operation { kinds[event.kind, default: 0] += 1 } }
        let expected: [EventKind] = [.clientRegistered, .purchaseMade, .purchaseReturned, .bonusReserved,
                                     .orderClosed, .orderCancelled, .bonusAccrued, .bonusWrittenOff, .mailingSent,
                                     .mailingDelivered, .mailingOpened, .mailingClicked, .mailingGoalReached, .mailingFailed,
                                     .walletInstalled, .clientBlocked, .custom, .system, .npsRated, .noteAdded,
                                     .profileChanged, .messengerSubscribed, .segmentAssigned]
        for kind in expected { #expect(kinds[kind, default: 0] > 0, Comment(rawValue: "no \(kind.name) in the program")) }
        if case .changeRules = commands.first?.operation {} else { Issue.record("the program does not start with its rules") }
        let manual = commands.filter { if case .event(.bonusAccrued(let a)) = $0.operation { a.reason == .manual && a.comment != nil } else { false } }
        #expect(!manual.isEmpty, "operators accrue by hand, with comments")
        let skus = Set(commands.flatMap { command -> [String] in
            if case .event(.purchaseMade(let p)) = command.operation { p.items.map(\.sku) } else { [] }
        })
        #expect(skus.count > 1_000, "receipts draw on a catalogue of a few thousand SKUs")
    }

    @Test("a name's surname agrees with its first name's gender, and a stated gender with both")
    func namesAgreeWithGender() throws {
        var named = 0, withGender = 0
        for command in try Self.parsed(Self.lines(clients: 3_000, days: 20)) {
            guard case .event(.clientRegistered(let registration)) = command.operation, let name = registration.name else { continue }
            named += 1
            let parts = name.split(separator: " ")
            try #require(parts.count == 2, "\(name)")
            let femaleFirst = ProgramGenerator.femaleNames.contains(String(parts[0]))
            #expect(femaleFirst || ProgramGenerator.maleNames.contains(String(parts[0])), "\(name)")
            // The masculine surname, or its feminine form with "а" (Иванов, Иванова).
            let surname = String(parts[1])
            let masculine = ProgramGenerator.surnames.contains(surname)
            let feminine = surname.hasSuffix("а") && ProgramGenerator.surnames.contains(String(surname.dropLast()))
            #expect(femaleFirst ? feminine : masculine, "\(name)")
            if let gender = registration.gender {
                withGender += 1
                #expect((gender == .female) == femaleFirst, "\(name) is \(gender)")
            }
        }
        #expect(named > 1_000 && withGender > named / 2)
    }

    @Test("activity is Zipf-like: a tenth of the buyers make over a quarter of the purchases, the busiest five times the median")
    func skewedActivity() throws {
        var perClient: [String: Int] = [:]
        for command in try Self.parsed(Self.lines(clients: 2_000, days: 365)) {
            if case .event(.purchaseMade) = command.operation { perClient[command.client, default: 0] += 1 }
        }
        // Drawn uniformly, these buyers (about 5 purchases each) would give the top tenth about
        // a fifth of the purchases and the busiest under three times the median.
        let counts = perClient.values.sorted(by: >)
        let total = counts.reduce(0, +)
        let head = counts.prefix(counts.count / 10).reduce(0, +)
        #expect(total > 5_000)
        #expect(Double(head) > Double(total) / 4, "the top tenth made \(head) of \(total)")
        #expect(counts[0] >= 5 * counts[counts.count / 2], "the busiest made \(counts[0]), the median \(counts[counts.count / 2])")
        #expect(counts[0] < total / 50, "the busiest client made \(counts[0]) of \(total): no single client dominates")
    }
}
