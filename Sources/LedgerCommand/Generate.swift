import ArgumentParser
import Glibc
import LedgerGenerator

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a generated loyalty program as JSON Lines (for `ledger submit`).",
        discussion: "Activations, expiries and birthday bonuses come from `ledger advance`, which the lines do not contain.")

    @Option(name: .long, help: "Clients in the program.")
    var clients: Int = 1000

    @Option(name: .long, help: "Days simulated, from 2025-01-01.")
    var days: Int = 90

    @Option(name: .long, help: "The generator's seed.")
    var seed: UInt64 = 42

    @Option(name: .long, help: "The output file, or - for standard output.")
    var out: String = "-"

    func run() throws {
        guard clients > 0, days > 0 else { throw ValidationError("--clients and --days must be positive") }
        guard let file = out == "-" ? fdopen(1, "w") : fopen(out, "w") else { throw ValidationError("cannot write \(out): \(String(cString: strerror(errno)))") }
        defer { if out != "-" { fclose(file) } else { fflush(file) } }
        var generator = ProgramGenerator(.init(clients: clients, days: days, seed: seed))
        generator.run { day in
            for line in day.lines {
                fputs(line, file)
                fputs("\n", file)
            }
        }
    }
}
