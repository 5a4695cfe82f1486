import LedgerDomain

// A libFuzzer target for what reads untrusted bytes: the JSON Lines parser, the binary body
// decoder, a rebuild's replay of bodies into a state, and commands executed on a state (lines
// of JSON, with advance steps between them), and commands whose amounts, quantities and times
// are drawn from the edges of what input can say (0, 1, 10¹², Int64's ends, year 0 and 9999).
// The first input byte picks which.
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
    switch mode % 5 {
    case 4:
        limitCommands(rest)
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

/// Amounts and counts at and around every limit input can reach.
let edgeAmounts: [Int64] = [0, 1, 2, 99, 100, 4_294_967_295, 4_294_967_296, 1 << 31, AmountLimits.amountMax - 1, AmountLimits.amountMax,
                            AmountLimits.amountMax + 1, AmountLimits.quantityMax, AmountLimits.quantityMax + 1, AmountLimits.ledgerAccruedMax,
                            Int64.max - 1, Int64.max, -1, Int64.min, Int64.min + 1]
/// Times at and around the ends of what the engine holds.
let edgeTimes: [Int64] = [Time.supported.lowerBound, Time.supported.lowerBound - 1, Time.supported.upperBound, Time.supported.upperBound + 1,
                          0, -1, 1_750_000_000_000_000, Int64.max, Int64.min]

/// Commands built in Swift (no parser in between, as a library caller builds them) from the input's
/// bytes: each four bytes pick a kind of command, an amount, a second amount and a time from
/// the edge tables; executed in order, with advance steps to edge times between them.
func limitCommands(_ bytes: UnsafeRawBufferPointer) {
    var state = seeded
    var out: [EventRecord] = []
    var k = 0
    var serial = 0
    func pick<T>(_ table: [T], _ byte: UInt8) -> T { table[Int(byte) % table.count] }
    while k + 4 <= bytes.count {
        let (kind, a, b, t) = (bytes[k], pick(edgeAmounts, bytes[k + 1]), pick(edgeAmounts, bytes[k + 2]), pick(edgeTimes, bytes[k + 3]))
        k += 4
        serial += 1
        let client = "c\(Int(kind >> 4) % 3)"
        let at: Int64? = kind & 8 != 0 ? t : nil
        let event: DomainEvent
        switch kind % 8 {
        case 0: event = .bonusAccrued(Accrual(amount: a, reason: .manual, expiresAt: kind & 16 != 0 ? t : 0, customExpiry: kind & 16 != 0))
        case 1: event = .purchaseMade(Purchase(purchase: "p\(serial)", total: a, paid: b, items: [Item(sku: "s", name: "", category: "", quantity: b, price: a)]))
        case 2: event = .purchaseReturned(PurchaseReturn(purchase: "p\(max(1, serial - Int(kind >> 5)))", returnID: "r\(serial)", amount: a))
        case 3: event = .bonusWrittenOff(WriteOff(amount: a, reason: .manual))
        case 4: event = .bonusReserved(Reservation(order: "o\(kind >> 6)", amount: a))
        case 5: event = .bonusReserveCaptured(Reservation(order: "o\(kind >> 6)", amount: b))
        case 6: event = .orderPlaced(OrderEvent(order: "o\(kind >> 6)", amount: a))
        default:
            _ = state.advance(to: max(state.lastEventAt, min(t, Time.supported.upperBound)), into: &out)
            continue
        }
        _ = state.execute(Command(at: at, client: client, event: event), now: 1_750_000_000_000_000, into: &out)
        if out.count > 4096 { out.removeAll(keepingCapacity: true) }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
