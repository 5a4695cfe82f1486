import LedgerDomain
import LedgerLog

/// One client's history from the log (domain.md §8): every event in order with the balances
/// after it, the lots it took, and what the log can explain about it.
public struct ClientReplay: Sendable, Equatable {
    public struct Step: Sendable, Equatable {
        public var position: UInt64
        public var at: Timestamp
        public var type: String
        public var description: String
        /// The client's balances once this event applied.
        public var balances: ClientCard.Balances
        /// The lots a write-off, expiry, reservation or clawback took (by accrual position).
        public var lots: [LotTake]
        /// Why, as far as the log can say: a refusal's reason, bonuses still pending, a
        /// clawback's return, a suspected duplicate, an occasion no rule rewards.
        public var notes: [String]
    }

    public var client: ClientID
    public var steps: [Step]
    /// The balances after the last step: the card's.
    public var balances: ClientCard.Balances
}

enum AuditReplay {
    /// The client's events below `end` (its positions from the journal's index, ascending),
    /// read from the log and applied in a state of their own (see `LedgerState.applyAlone`),
    /// taking the steps as they apply. Nil when the client is not registered by then.
    static func run(client id: String, positions: [UInt64], reader: LogReader, end: UInt64, language: Language) throws -> ClientReplay? {
        var state = LedgerState.alone()
        var steps: [ClientReplay.Step] = []
        let horizon: Micros = end == 0 ? .min : (try reader.record(at: end - 1)?.timestamp ?? .min)
        var notes = AuditNotes(language: language, horizon: horizon)
        // A few thousand records at a time: a client of a million events does not hold them all.
        for run in stride(from: 0, to: positions.count, by: 4096).map({ positions[$0..<min($0 + 4096, positions.count)] }) {
            let records = try reader.records(at: Array(run))
            for position in run {
                guard let record = records[position] else {
                    throw LedgerError.undecodable(position: position, reason: "the journal's index names it, the log does not hold it")
                }
                let decoded: EventCodec.Decoded
                switch record.body.withUnsafeBytes({ body in Result { () throws(BodyError) in try EventCodec.decode(typeCode: record.typeCode, body) } }) {
                case .success(let event): decoded = event
                case .failure(.unknownType): continue
                case .failure(let error): throw LedgerError.undecodable(position: position, reason: error.description)
                }
                state.applyAlone(EventRecord(position: position, at: record.timestamp, client: id,
                                             idempotencyKey: record.idempotencyKey.map { String(decoding: $0, as: UTF8.self) },
                                             derived: decoded.derived, event: decoded.event))
                guard let index = state.clientIndex(id) else { continue }
                let (said, previous) = notes.notes(for: decoded.event, at: record.timestamp, derived: decoded.derived)
                if let previous, !steps.isEmpty { steps[steps.count - 1].notes.append(previous) }
                steps.append(ClientReplay.Step(position: position, at: Timestamp(microsecondsSince1970: record.timestamp),
                                               type: decoded.event.kind.name, description: decoded.event.describe(language),
                                               balances: ClientCard.Balances(state.clientState(Int(index)).balances),
                                               lots: lots(of: decoded.event), notes: said))
            }
        }
        if let last = notes.finish(), !steps.isEmpty { steps[steps.count - 1].notes.append(last) }
        guard let index = state.clientIndex(id) else { return nil }
        return ClientReplay(client: ClientID(id), steps: steps, balances: ClientCard.Balances(state.clientState(Int(index)).balances))
    }

    /// The lots an event took, or the one it concerns.
    static func lots(of event: DomainEvent) -> [LotTake] {
        switch event {
        case .bonusWrittenOff(let o): o.lots
        case .bonusReserved(let r), .bonusReserveCaptured(let r), .bonusReserveReleased(let r): r.lots
        case .bonusCancelled(let c): c.lots
        case .bonusExpired(let e): [LotTake(lot: e.lot, amount: e.amount)]
        case .bonusActivated(let a): [LotTake(lot: a.lot, amount: a.amount)]
        default: []
        }
    }
}

extension LedgerView {
    /// One client's audit replay, up to where the view stands (a view as of the past replays
    /// its past). It reads only the client's events (each batch that holds one, once).
    public func replay(client: ClientID, language: Language = .russian) throws -> ClientReplay? {
        let end = position
        let positions = state.eventPositions(of: client.rawValue, before: end, limit: .max).reversed()
        return try AuditReplay.run(client: client.rawValue, positions: Array(positions), reader: LogReader(snapshot: snapshot), end: end, language: language)
    }
}

extension Ledger {
    /// One client's audit replay up to the log's durable end, or as of a point in its past.
    public func replay(client: ClientID, asOf: AsOf? = nil, language: Language = .russian) throws -> ClientReplay? {
        let reader = log.reader()
        let end = try asOf?.end(in: reader) ?? reader.snapshot.endPosition
        let positions = read { $0.eventPositions(of: client.rawValue, before: end, limit: .max) }.reversed()
        return try AuditReplay.run(client: client.rawValue, positions: Array(positions), reader: reader, end: end, language: language)
    }
}

extension ClientReplay {
    /// As `ledger replay --json` prints it.
    public var contractJSON: JSONValue {
        let steps: [JSONValue] = steps.map { s in
            .object([("position", .integer(Int64(clamping: s.position))), ("at", .string(s.at.description)), ("type", .string(s.type)),
                     ("description", .string(s.description)), ("balances", s.balances.contractJSON),
                     ("lots", .array(s.lots.map { .object([("accrual", .integer(Int64(clamping: $0.lot))), ("amount", .integer($0.amount))]) })),
                     ("note", s.notes.isEmpty ? .null : .string(s.notes.joined(separator: "; ")))])
        }
        return .object([("client", .string(client.rawValue)), ("steps", .array(steps)), ("balances", balances.contractJSON)])
    }
}
