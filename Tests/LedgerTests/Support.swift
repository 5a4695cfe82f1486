import Glibc
import Testing
@testable import Ledger
import LedgerDomain
import LedgerLog

/// How many times over the randomized tests run: 1 unless LEDGER_SOAK says more (see the
/// README's soak runs).
let soak: Int = getenv("LEDGER_SOAK").flatMap { Int(String(cString: $0)) }.map { max(1, $0) } ?? 1

final class TemporaryDirectory {
    let path: String
    init() {
        var template = Array("/tmp/ledger-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil)
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }
    deinit { SystemCalls.removeTree(path) }
}


func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return bytes
}

func writeFile(_ path: String, _ text: String) { writeFile(path, Array(text.utf8)) }

func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0)
    defer { close(fd) }
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

func commands(_ lines: [String]) -> [Command] {
    lines.enumerated().map { try! CommandParser.parse(line: $0.element, number: $0.offset + 1) }
}

/// The same fingerprint of a client the domain tests use.
func fingerprint(_ c: ClientState) -> String {
    "\(c.id)|\(c.name ?? "")|\(c.phone ?? "")|\(c.cards)|\(c.status)|\(c.blocked)|\(c.deleted)|\(c.level ?? "")|\(c.levelManual)|\(c.lots)|\(c.balances)|\(c.stats)|\(c.segments.sorted())|\(c.walletBits)|\(c.messengers.map { "\($0.0)\($0.1)" })|\(c.eventCount)|\(c.lastBirthdayYear)|\(c.purchases)"
}
