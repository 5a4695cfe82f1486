import LedgerDomain

// A libFuzzer target for what reads untrusted bytes: the JSON Lines parser, the binary body
// decoder, a rebuild's replay of bodies into a state, and commands executed on a state (lines
// of JSON, with advance steps between them). The first input byte picks which.
// Build and run (see the README):
//   swift build -c release --sanitize=fuzzer -Xswiftc -DFUZZING --product ledger-fuzz
//   .build/release/ledger-fuzz CORPUS_DIR -max_total_time=300
// Without -DFUZZING the same program runs the files it is given (a crash a run saved).

/// A small state with three clients (numbers 0 to 2) for replays to land on; copied per input.
let seeded: LedgerState = {
    var state = LedgerState()
    for (k, line) in [#"{"type":"client.registered","at":"2025-01-01T09:00:00Z","client":"c0","phone":"79160000000"}"#,
                      #"{"type":"client.registered","at":"2025-01-01T09:00:01Z","client":"c1","card":"7001"}"#,
                      #"{"type":"client.registered","at":"2025-01-01T09:00:02Z","client":"c2","phone":"79160000002"}"#,
                      #"{"type":"bonus.accrued","at":"2025-01-01T10:00:00Z","client":"c1","amount":5000}"#].enumerated() {
        var out: [EventRecord] = []
        _ = state.execute(try! CommandParser.parse(line: line, number: k + 1), now: 0, into: &out)
    }
    return state
}()

func fuzzOne(_ input: UnsafeRawBufferPointer) {
    guard let mode = input.first else { return }
    let rest = UnsafeRawBufferPointer(rebasing: input.dropFirst())
    switch mode % 4 {
    case 0:
        let bytes = rest.bindMemory(to: UInt8.self)
        _ = try? JSONParser.parse(utf8: bytes)
        _ = try? CommandParser.parse(utf8: bytes, number: 1)
    case 1:
        guard let code = rest.first else { return }
        _ = try? EventCodec.decode(typeCode: UInt32(code), UnsafeRawBufferPointer(rebasing: rest.dropFirst()))
    case 3:
        // Lines of commands, each parsed and, when it parses, executed and advanced past.
        var state = seeded
        var out: [EventRecord] = []
        var number = 0
        for line in rest.split(separator: 0x0A) {
            number += 1
            guard let command = try? UnsafeRawBufferPointer(rebasing: line).withMemoryRebound(to: UInt8.self, {
                try CommandParser.parse(utf8: $0, number: number)
            }) else { continue }
            _ = state.execute(command, now: 1_750_000_000_000_000, into: &out)
            if number % 4 == 0 { _ = state.advance(to: state.lastEventAt + 86_400_000_000 * Int64(number), into: &out) }
        }
    default:
        guard rest.count >= 2 else { return }
        var state = seeded
        let client = Array("c\(rest[0] % 4)".utf8)
        client.withUnsafeBytes { key in
            _ = try? state.replay(position: state.nextPosition, at: 1_800_000_000_000_000, typeCode: UInt32(rest[1]), client: key,
                                  key: nil, body: UnsafeRawBufferPointer(rebasing: rest.dropFirst(2)))
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
