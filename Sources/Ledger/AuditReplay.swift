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
    /// Replays the log up to `through` (all when nil) into a fresh state, taking one client's
    /// steps as they apply. Nil when the client is not registered by then.
    static func run(client id: String, reader: LogReader, through: UInt64?, language: Language) throws -> ClientReplay? {
        var state = LedgerState(rebuilding: true, keepsKeyBytes: false)
        let key = Array(id.utf8)
        var steps: [ClientReplay.Step] = []
        let end = through ?? reader.snapshot.endPosition
        let horizon: Micros = end == 0 ? .min : (try reader.record(at: end - 1)?.timestamp ?? .min)
        var notes = AuditNotes(language: language, horizon: horizon)
        var failure: Error? = nil
        _ = try reader.scan { record in
            if record.position >= end { return false }
            do throws(BodyError) {
                _ = try state.replay(position: record.position, at: record.timestamp, typeCode: record.typeCode,
                                     client: record.streamKey, key: record.idempotencyKey, body: record.body)
            } catch .unknownType {
                state.skipUnknown(position: record.position, at: record.timestamp)
                return true
            } catch {
                failure = LedgerError.undecodable(position: record.position, reason: error.description)
                return false
            }
            guard record.streamKey.elementsEqual(key), let index = state.clientIndex(id),
                  let decoded = try? EventCodec.decode(typeCode: record.typeCode, record.body) else { return true }
            let (said, previous) = notes.notes(for: decoded.event, at: record.timestamp, derived: decoded.derived)
            if let previous, !steps.isEmpty { steps[steps.count - 1].notes.append(previous) }
            steps.append(ClientReplay.Step(position: record.position, at: Timestamp(microsecondsSince1970: record.timestamp),
                                           type: decoded.event.kind.name, description: decoded.event.describe(language),
                                           balances: ClientCard.Balances(state.clientState(Int(index)).balances),
                                           lots: lots(of: decoded.event), notes: said))
            return true
        }
        if let failure { throw failure }
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
    /// its past). It reads the whole log up to there: about as long as a full rebuild.
    public func replay(client: ClientID, language: Language = .russian) throws -> ClientReplay? {
        try AuditReplay.run(client: client.rawValue, reader: LogReader(snapshot: snapshot), through: position, language: language)
    }
}

extension Ledger {
    /// One client's audit replay up to the log's durable end, or as of a point in its past.
    public func replay(client: ClientID, asOf: AsOf? = nil, language: Language = .russian) throws -> ClientReplay? {
        let reader = log.reader()
        return try AuditReplay.run(client: client.rawValue, reader: reader, through: asOf?.end(in: reader), language: language)
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
