import LedgerStorage

/// Applying events: the only code that changes a ``LedgerState`` (see the Decide, emit, apply
/// article). `apply(_:)` takes a decoded event; Replay.swift's `replay` takes one from its
/// bytes through the same functions below.
extension LedgerState {
    /// Applies one event. The events must come in log order; `record.position` must be the
    /// state's `nextPosition`. Returns the number (index) of the event's client, if it has one.
    /// A record that carries a client number (of a registered client) is trusted to name its
    /// client by it; `ledger verify` checks the numbers in the log.
    @discardableResult
    public mutating func apply(_ record: EventRecord) -> Int32? {
        var index: Int32? = nil
        begin(position: record.position, at: record.at, typeCode: record.event.typeCode)
        noteCommand(position: record.position, derived: record.derived)
        if case .clientRegistered = record.event {} else if !record.client.isEmpty {
            // (A registration's client does not exist yet: `register` counts its event.)
            if let number = record.clientNumber, number >= 0, Int(number) < records.count {
                index = number
            } else {
                index = appliedClient(record.client)
            }
        }
        if let index { touch(Int(index), at: record.at) }
        switch record.event {
        case .clientRegistered(let r):
            register(record, r)
            index = Int32(records.count - 1)
        case .rulesChanged(let rules):
            if rules.birthdayBonus > 0 && self.rules.birthdayBonus == 0 { birthdayBonusSince = record.at }
            let windowChanged = rules.levelWindowDays != self.rules.levelWindowDays
            self.rules = rules
            if windowChanged && !isRebuilding { recomputeWindows(at: record.at) }
        default:
            if let index { applyToClient(Int(index), record) }
        }
        applyToParts(position: record.position, at: record.at, kind: record.event.kind, derived: record.derived,
                     client: index, key: record.idempotencyKey, event: record.event)
        return index
    }

    @inline(__always)
    mutating func begin(position: UInt64, at: Micros, typeCode: UInt32) {
        precondition(position == nextPosition, "events must be applied in log order without a gap")
        nextPosition = position + 1
        lastEventAt = max(lastEventAt, at)
        typeCounts[Int(typeCode & 127)] += 1
    }

    /// A command's events usually share one client: compare with the last before hashing.
    private mutating func appliedClient(_ id: String) -> Int32? {
        if let last = lastReplayedClient, Int(last) < records.count, clientIDs.has(last, key: id) { return last }
        lastReplayedClient = clientIDs.find(id)
        return lastReplayedClient
    }

    @inline(__always)
    mutating func touch(_ i: Int, at: Micros) {
        records[i].eventCount += 1
        records[i].lastEventAt = at
    }

    /// Notes an event skipped because this reader does not know its type.
    public mutating func skipUnknown(position: UInt64, at: Micros) {
        precondition(position == nextPosition)
        nextPosition = position + 1
        lastEventAt = max(lastEventAt, at)
        unknownTypeEvents += 1
    }

    public mutating func noteUnknownFields(_ count: Int) { unknownFields += Int64(count) }

    /// Notes where a command starts, for the return it may answer to: a return's derived
    /// events extend its range.
    @inline(__always)
    mutating func noteCommand(position: UInt64, derived: Bool) {
        if !derived {
            openReturn = nil
        } else if let key = openReturn, let first = returns[key]?.lowerBound {
            returns[key] = first...position
        }
    }

    /// Applies one event to the parts, once the core has applied it.
    @inline(__always)
    mutating func applyToParts(position: UInt64, at: Micros, kind: EventKind, derived: Bool, client: Int32?,
                               key: UnsafeRawBufferPointer?, event: DomainEvent?, body: UnsafeRawBufferPointer? = nil) {
        if let client, client >= 0, Int(client) < records.count {
            let facts = kind.facts
            if !facts.isDisjoint(with: RecordColumns.facts) { columns.sync(Int(client), of: records, facts: facts) }
        }
        guard keepsParts else { return }
        parts.apply(AppliedEvent(position: position, at: at, kind: kind, derived: derived, client: client, key: key, event: event, body: body))
    }

    mutating func applyToParts(position: UInt64, at: Micros, kind: EventKind, derived: Bool, client: Int32?,
                               key: String?, event: DomainEvent?) {
        guard var key else {
            return applyToParts(position: position, at: at, kind: kind, derived: derived, client: client, key: nil as UnsafeRawBufferPointer?, event: event)
        }
        key.withUTF8 { applyToParts(position: position, at: at, kind: kind, derived: derived, client: client, key: UnsafeRawBufferPointer($0), event: event) }
    }

    private mutating func register(_ record: EventRecord, _ r: Registration) {
        let profile = texts.append(Profile(name: r.name, phone: r.phone, email: r.email, place: r.place, addedBy: r.addedBy, cards: r.cards))
        var key = record.client
        let index = key.withUTF8 { addClient(at: record.at, id: UnsafeRawBufferPointer($0), status: r.status, gender: r.gender, birthday: r.birthday, profile: profile) }
        if let phone = r.phone { setHolder(phone, index, cards: false) }
        for card in r.cards { setHolder(card, index, cards: true) }
    }

    /// What every registration does, whichever way its fields were read: the client's record,
    /// its id, its birthday. Returns the client's number.
    private mutating func addClient(at: Micros, id: UnsafeRawBufferPointer, status: ParticipationStatus, gender: Gender?,
                                    birthday: Int64?, profile: TextRef) -> Int32 {
        let index = Int32(records.count)
        var client = ClientRecord(status: status, registeredAt: at)
        client.profile = profile
        client.setGender(gender)
        client.setBirthday(birthday)
        client.eventCount = 1
        client.lastEventAt = at
        records.append(client)
        coreTotals.clients += 1
        let (inserted, isNew) = clientIDs.findOrInsert(id)
        precondition(isNew && inserted == index, "a client registers once")
        if let birthday { noteBirthday(index, birthday) }
        return index
    }

    /// A registration straight from its body's bytes (a rebuild): the same state as
    /// ``apply(_:)`` gives, without a String for any field.
    mutating func registerFromBytes(at: Micros, client key: UnsafeRawBufferPointer, _ r: RegistrationBytes) {
        let profile = texts.append(bytes: [r.name, r.phone, r.email, r.place, r.addedBy] + r.cards.map { Optional($0) })
        let index = addClient(at: at, id: key, status: r.status, gender: r.gender, birthday: r.birthday, profile: profile)
        let (records, texts) = (self.records, self.texts)
        if let phone = r.phone { phoneIndex.set(phone, to: index, holds: Self.holds(records, texts, cards: false)) }
        for card in r.cards { cardIndex.set(card, to: index, holds: Self.holds(records, texts, cards: true)) }
    }

    mutating func noteBirthday(_ index: Int32, _ day: Int64) {
        let (_, m, d) = Time.civil(days: day)
        birthdays[Int(m * 32 + d), default: []].append(index)
    }

    // swiftlint:disable:next cyclomatic_complexity
    private mutating func applyToClient(_ i: Int, _ record: EventRecord) {
        switch record.event {
        case .bonusAccrued(let a):
            applyAccrual(i, a, position: record.position, at: record.at)
        case .bonusActivated(let a):
            applyActivation(i, lot: a.lot, debtPaid: a.debtPaid)
        case .bonusWrittenOff(let o):
            applyWriteOff(i, amount: o.amount, takes: o.lots)
        case .bonusReserved(let r):
            for take in r.lots { if let l = lotSlot(i, take.lot) { lotPool[l].reserved += take.amount } }
            changeBalances(i) { $0.available -= r.amount; $0.reserved += r.amount }
        case .bonusReserveCaptured(let r):
            applyCapture(i, r)
        case .bonusReserveReleased(let r):
            for take in r.lots { if let l = lotSlot(i, take.lot) { lotPool[l].reserved -= take.amount } }
            changeBalances(i) { $0.reserved -= r.amount; $0.available += r.amount }
        case .bonusExpired(let e):
            applyExpiry(i, lot: e.lot, amount: e.amount)
        case .bonusCancelled(let c):
            applyCancellation(i, c)
        case .purchaseMade(let p):
            let (index, isNew) = purchaseIDs.findOrInsert(p.purchase)
            precondition(isNew, "a purchase id is recorded once")
            applyPurchase(i, index: index, at: record.at, paid: p.paid, spent: p.bonusesSpent)
        case .purchaseReturned(let r):
            applyReturn(i, r, position: record.position)
        case .orderPlaced, .orderClosed, .orderCancelled:
            break
        case .mailingSent(let m):
            applyContact(i, channel: m.channel, delivered: false, at: record.at)
        case .mailingDelivered(let m):
            applyContact(i, channel: m.channel, delivered: true, at: record.at)
        case .mailingOpened, .mailingClicked, .mailingGoalReached, .mailingFailed:
            break
        case .messengerSubscribed(let c):
            applySubscription(i, channel: c, subscribed: true)
        case .messengerUnsubscribed(let c):
            applySubscription(i, channel: c, subscribed: false)
        case .segmentEntered, .segmentAssigned, .segmentLeft, .segmentUnassigned:
            break
        case .profileChanged(let changes):
            applyProfile(i, changes)
        case .cardAdded(let card):
            applyCard(i, card, added: true)
        case .cardRemoved(let card):
            applyCard(i, card, added: false)
        case .clientBlocked:
            changeStanding(i) { $0.blocked = true }
        case .clientUnblocked:
            changeStanding(i) { $0.blocked = false }
        case .clientDeleted:
            changeStanding(i) { $0.deleted = true }
            // A deleted client holds no phone or card: another may take them.
            let profile = profile(i)
            if let phone = profile.phone { phoneIndex.remove(phone, heldBy: Int32(i)) }
            for card in profile.cards { cardIndex.remove(card, heldBy: Int32(i)) }
        case .walletInstalled(let p):
            applyWallet(i, platform: p, installed: true)
        case .walletRemoved(let p):
            applyWallet(i, platform: p, installed: false)
        case .levelChanged(let l):
            applyLevel(i, to: l.to, manual: l.manual)
        case .npsRated(let score, let comment):
            clientNPS.append(Int32(i), at: record.at, text: comment.map { texts.append([$0]) } ?? .none, value: score)
        case .noteAdded(let text):
            clientNotes.append(Int32(i), at: record.at, text: texts.append([text]), value: 0)
        case .operationRefused(let refusal):
            if let year = Self.birthdayYear(source: refusal.source?.utf8, at: nil) { decideBirthday(i, year: year) }
        case .custom, .clientRegistered, .rulesChanged, .segmentDefined, .segmentDeleted, .system:
            // (What the parts alone keep: the order book, the segments.)
            break
        }
    }

    private mutating func applyAccrual(_ i: Int, _ a: Accrual, position: UInt64, at: Micros) {
        // A purchase's accrual follows the purchase: try the last one before hashing.
        let last = Int32(purchaseStates.count - 1)
        let purchase = a.reason == .purchase || a.reason == .refund
            ? a.source.flatMap { purchaseIDs.has(last, key: $0) ? last : purchaseIDs.find($0) } : nil
        applyAccrual(i, position: position, at: at, amount: a.amount, reason: a.reason,
                     activatesAt: a.activatesAt, expiresAt: a.expiresAt, debtPaid: a.debtPaid, purchase: purchase)
        if a.reason == .birthday, let year = Self.birthdayYear(source: a.source?.utf8, at: at) { decideBirthday(i, year: year) }
    }

    /// An order's reserved bonuses spent: out of the lots they were held in.
    private mutating func applyCapture(_ i: Int, _ r: Reservation) {
        for take in r.lots {
            if let l = lotSlot(i, take.lot) {
                lotPool[l].reserved -= take.amount
                lotPool[l].remaining -= take.amount
                lotPool[l].spent += take.amount
            }
        }
        changeBalances(i) { $0.reserved -= r.amount; $0.used += r.amount }
        compactLots(i, touched: r.lots.lazy.map(\.lot))
    }

    /// Bonuses taken back (a return's clawback, a correction), and the debt it leaves.
    private mutating func applyCancellation(_ i: Int, _ c: Cancellation) {
        var fromPending: Int64 = 0
        for take in c.lots {
            guard let l = lotSlot(i, take.lot) else { continue }
            if lotPool[l].phase == .pending { fromPending += take.amount }
            lotPool[l].remaining -= take.amount
            if c.reason == .correction && take.lot == c.correctedLot { lotPool[l].corrected = true }
        }
        if let lot = c.correctedLot, let l = lotSlot(i, lot) { lotPool[l].corrected = true }
        let taken = c.lots.reduce(0) { $0 + $1.amount }
        changeBalances(i) {
            $0.pending -= fromPending
            $0.available -= taken - fromPending + c.debt
            $0.debt += c.debt
            $0.cancelled += taken + c.debt
        }
        if let purchase = c.purchase, let p = purchaseIDs.find(purchase) { returnTotals[p, default: ReturnTotals()].clawedBack += taken + c.debt + c.forgiven }
        compactLots(i, touched: c.lots.lazy.map(\.lot))
    }

    private mutating func applyReturn(_ i: Int, _ r: PurchaseReturn, position: UInt64) {
        if let p = purchaseIDs.find(r.purchase) {
            if !isRebuilding, inWindow(i, p) {
                let before = kept(p)
                records[i].windowSum -= r.amount
                if before > 0 && before - r.amount <= 0 { records[i].windowCount -= 1 }
            }
            returnTotals[p, default: ReturnTotals()].returnedPaid += r.amount
            returns[ReturnKey(p, r.returnID)] = position...position
            openReturn = ReturnKey(p, r.returnID)
        }
        records[i].stats.returnCount += 1
        records[i].stats.returnSum += r.amount
    }

    private mutating func applyCard(_ i: Int, _ card: String, added: Bool) {
        var profile = profile(i)
        if added { profile.cards.append(card) } else { profile.cards.removeAll { $0 == card } }
        records[i].profile = texts.append(profile)
        if added { setHolder(card, Int32(i), cards: true) } else { cardIndex.remove(card, heldBy: Int32(i)) }
    }
}
