import LedgerDomain

/// The JSON of the contract for what the ledger answers: one place names each field, and the
/// `ledger` command prints exactly this.
extension ClientCard {
    /// The card as `ledger client --json` prints it (TheContract.md, "The client card"): the
    /// contract's names, amounts in minor units, times in ISO 8601. (The card's `Codable` form
    /// keeps the Swift names instead, for a round trip through JSON.)
    public var contractJSON: JSONValue {
        let c = self
        let b = c.balances, s = c.stats
        var f: [(String, JSONValue)] = []
        f.append(("client", .string(c.id.rawValue)))
        f.append(("displayName", .string(c.displayName)))
        f.append(("status", .string(c.status.rawValue)))
        f.append(("phone", string(c.phone.map { "+" + $0 })))
        f.append(("cards", .array(c.cards.map { JSONValue.string($0) })))
        f.append(("level", string(c.level)))
        f.append(("levelSetByHand", .bool(c.levelManual)))
        f.append(("balances", b.contractJSON))
        let stats: [(String, JSONValue)] = [
            ("purchaseCount", .integer(s.purchaseCount)), ("purchaseSum", money(s.purchaseSum)), ("returnCount", .integer(s.returnCount)),
            ("returnSum", money(s.returnSum)), ("averageCheck", money(s.averageCheck)), ("maxCheck", money(s.maxCheck)),
            ("firstPurchaseAt", time(s.firstPurchaseAt)), ("lastPurchaseAt", time(s.lastPurchaseAt)),
        ]
        f.append(("stats", .object(stats)))
        f.append(("segments", .array(c.segments.map { JSONValue.string($0) })))
        f.append(("name", string(c.name)))
        f.append(("email", string(c.email)))
        f.append(("birthday", string(c.birthday.map { Time.isoDate(day: Time.day(of: $0.microsecondsSince1970)) })))
        f.append(("registeredAt", time(c.registeredAt)))
        f.append(("deleted", .bool(c.deleted)))
        f.append(("wallet", .array(c.wallet.map { JSONValue.string($0.rawValue) })))
        var messengers: [(String, JSONValue)] = []
        for m in c.messengers {
            let fields: [(String, JSONValue)] = [("subscribed", .bool(m.subscribed)), ("lastContactAt", time(m.lastContactAt)), ("received", .integer(m.received))]
            messengers.append((m.channel.rawValue, .object(fields)))
        }
        f.append(("messengers", .object(messengers)))
        if let next = c.nextExpiry {
            f.append(("nextExpiry", .object([("at", time(next.at)), ("amount", bonus(next.amount))])))
        } else {
            f.append(("nextExpiry", .null))
        }
        var lots: [JSONValue] = []
        for lot in c.openLots {
            let fields: [(String, JSONValue)] = [
                ("accrual", .integer(Int64(clamping: lot.accrual))), ("reason", .string(lot.reason.rawValue)), ("amount", bonus(lot.amount)),
                ("remaining", bonus(lot.remaining)), ("reserved", bonus(lot.reserved)), ("state", .string(lot.state.rawValue)),
                ("activatesAt", time(lot.activatesAt)), ("expiresAt", time(lot.expiresAt)),
            ]
            lots.append(.object(fields))
        }
        f.append(("lots", .array(lots)))
        var receipts: [JSONValue] = []
        for r in c.receipts {
            let fields: [(String, JSONValue)] = [
                ("purchase", .string(r.purchase)), ("at", time(r.at)), ("paid", money(r.paid)), ("bonusesSpent", bonus(r.bonusesSpent)),
                ("bonusesAccrued", bonus(r.bonusesAccrued)), ("returned", money(r.returned)),
            ]
            receipts.append(.object(fields))
        }
        f.append(("receipts", .array(receipts)))
        f.append(("nps", .array(c.nps.map { n in JSONValue.object([("at", time(n.at)), ("score", .integer(n.score)), ("comment", string(n.comment))]) })))
        f.append(("notes", .array(c.notes.map { n in JSONValue.object([("at", time(n.at)), ("text", .string(n.text))]) })))
        f.append(("events", .integer(c.eventCount)))
        return .object(f)
    }
}

extension ClientCard.Balances {
    /// The balances as every JSON of the contract gives them (the card, the stats, the replay).
    public var contractJSON: JSONValue {
        .object([("available", bonus(available)), ("pending", bonus(pending)), ("reserved", bonus(reserved)), ("used", bonus(used)),
                 ("expired", bonus(expired)), ("accrued", bonus(accrued)), ("cancelled", bonus(cancelled)), ("debt", bonus(debt))])
    }
}

extension LedgerStats {
    /// Event types with their counts, most frequent first (then by name).
    public var typesByCount: [(type: String, events: Int64)] {
        perType.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// The figures as `ledger stats --json` prints them (the command adds its own process's
    /// figures after these: `bytesPerEvent`, `rebuildSeconds`, `snapshotPosition`,
    /// `residentPeakBytes`). Event types most frequent first.
    public var contractJSON: [(String, JSONValue)] {
        return [
            ("events", .integer(Int64(clamping: events))), ("clients", .integer(Int64(clients))),
            ("blockedClients", .integer(Int64(blockedClients))), ("deletedClients", .integer(Int64(deletedClients))),
            ("segments", .integer(Int64(segments))), ("logBytes", .integer(Int64(clamping: logBytes))),
            ("firstEventAt", time(firstEventAt)), ("lastEventAt", time(lastEventAt)),
            ("rulesVersion", .integer(rulesVersion)), ("purchases", .integer(Int64(purchases))), ("openOrders", .integer(Int64(openOrders))),
            ("balances", ClientCard.Balances(balances).contractJSON),
            ("perType", .object(typesByCount.map { ($0.type, .integer($0.events)) })),
            ("unknownTypeEvents", .integer(unknownTypeEvents)),
        ]
    }
}

private func time(_ t: Micros?) -> JSONValue { t.map { .string(Time.iso($0)) } ?? .null }

private func time(_ t: Timestamp?) -> JSONValue { t.map { .string($0.description) } ?? .null }

private func money(_ m: Money) -> JSONValue { .integer(m.minorUnits) }

private func bonus(_ b: Bonus) -> JSONValue { .integer(b.minorUnits) }

private func string(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
