// Submits a generated program in batches of 1000, without sync, then rebuilds the state from
// the log it wrote, for counting instructions with valgrind: the count is exact and does not
// drift with the machine's load, so a change of a few percent shows where wall time cannot.
// Callgrind told to collect inside `Ledger.submit` alone counts the measured batches; told to
// collect inside `rebuildOnce` alone, the rebuild (the README's "Speed" section gives both
// commands). CLIENTS, DAYS (default 40 000 clients over 120 days) and WARM (the commands
// submitted first, default 50 000) shape the run; it prints what it did.
import Glibc
import Ledger
import LedgerDomain
import LedgerGenerator

func environment(_ name: String, _ fallback: Int) -> Int { getenv(name).flatMap { Int(String(cString: $0)) } ?? fallback }

let clients = environment("CLIENTS", 40_000), days = environment("DAYS", 120), warm = environment("WARM", 50_000)
let commands = ProgramGenerator.commands(.init(clients: clients, days: days, seed: 11))
precondition(commands.count > warm, "the program has \(commands.count) commands, not more than WARM (\(warm))")
var template = Array("/tmp/ledger-instructions-XXXXXX".utf8CString)
guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { fatalError("mkdtemp failed") }
let directory = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
defer { _ = system("rm -rf '\(directory)'") }
let ledger = try Ledger(directory: directory, configuration: .init(durability: .none))
_ = try ledger.submit(Array(commands[0..<warm]))
var next = warm, measured = 0
while next < commands.count {
    let batch = Array(commands[next..<min(commands.count, next + 1000)])
    _ = try ledger.submit(batch)
    measured += batch.count
    next += batch.count
}
print("submitted \(warm) commands to warm up, then \(measured) in batches of 1000; the log holds \(ledger.stats().events) events")
try ledger.close()

/// Every projection rebuilt from the log, as a reader beside a writer would (`LedgerView`).
@inline(never)
func rebuildOnce(_ directory: String) throws -> LedgerView { try LedgerView(directory: directory) }

let view = try rebuildOnce(directory)
print("rebuilt \(view.stats().events) events in \(view.rebuildSeconds) s")
