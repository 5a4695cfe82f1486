extension LedgerState {
    /// Starts fetching what executing these commands will read first: each client id's place
    /// in the id table, stage by stage for all of them, then each client's record. A submit
    /// calls it a stretch of commands ahead of executing them; the lookups themselves still
    /// happen, in order, when the commands run. Changes nothing. (Prefetching the slots of the
    /// commands' idempotency keys and purchase ids as well measured no better.)
    public func prefetch(_ commands: ArraySlice<Command>) {
        let entries = clientIDs.prefetchLookups(commands.map(\.client))
        for entry in entries where entry >= 0 { records.prefetch(Int(entry), offsets: 0, 0) }
    }

    /// Checks `command` against the state, and when it is accepted appends its events to `out`
    /// (positions from ``nextPosition`` on) and applies them, so that the next command sees
    /// them. `now` is the engine's clock, used when the command gives no time. `keyAt` reads
    /// an idempotency key back from the log (see ``answer(forKey:keyAt:)``); only its error is
    /// thrown, before anything changed.
    public mutating func execute(_ command: Command, now: Micros, into out: inout [EventRecord],
                                 keyAt: (UInt64) throws -> [UInt8]?) rethrows -> Outcome {
        if let key = command.key, let answer = try answer(forKey: key, keyAt: keyAt) { return .repeated(answer) }
        let at: Micros
        if let given = command.at {
            guard Time.supported.contains(given) else {
                return .refused(.invalidEvent(field: "at"), message: "field 'at' must be a time from year 0000 to 9999, got \(given) µs", recorded: nil)
            }
            guard given >= lastEventAt else {
                return .refused(.outOfOrder(at: Timestamp(microsecondsSince1970: given), last: Timestamp(microsecondsSince1970: lastEventAt)), message: "at \(Time.iso(given)) is earlier than the log's last event at \(Time.iso(lastEventAt))", recorded: nil)
            }
            at = given
        } else {
            at = max(now, lastEventAt)
        }
        let start = nextPosition
        // The emitter appends straight to `out` (moved in and back out: no copy of the records).
        let first = out.count
        var emitter = Emitter(at: at, client: command.client, key: command.key, first: first)
        swap(&emitter.events, &out)
        defer { swap(&emitter.events, &out) }
        do {
            try decide(command, at: at, emitter: &emitter)
        } catch let refusal as Refuse {
            emitter.events.removeSubrange(first...)
            // Recorded when the client is known (support must see why); never for strangers,
            // and never for malformed input.
            guard refusal.journaled, !command.client.isEmpty, clientIndex(command.client) != nil else {
                return .refused(refusal.reason, message: refusal.message, recorded: nil)
            }
            let amount: Int64? = Self.amount(of: command)
            var record = EventRecord(position: nextPosition, at: at, client: command.client, idempotencyKey: command.key, derived: false,
                                     event: .operationRefused(Refusal(code: refusal.code.rawValue, operation: command.typeName, message: refusal.message, amount: amount)))
            record.clientNumber = apply(record)
            emitter.events.append(record)
            return .refused(refusal.reason, message: refusal.message, recorded: record.position)
        } catch {
            preconditionFailure("decide throws only Refuse")
        }
        if let repeatedReturn = emitter.repeatedReturn {
            emitter.events.removeSubrange(first...)
            return .repeated(.accepted(repeatedReturn))
        }
        // The ledger's accrued total bounds every balance it sums: keep it within its limit.
        var accruing: Int64 = 0
        for k in first..<emitter.events.count { if case .bonusAccrued(let a) = emitter.events[k].event { accruing += a.amount } }
        if accruing > 0 && totals.balances.accrued > AmountLimits.ledgerAccruedMax - accruing {
            emitter.events.removeSubrange(first...)
            return .refused(.notAllowed, message: "these accruals would bring the ledger's accrued total past \(AmountLimits.ledgerAccruedMax) (minor units)", recorded: nil)
        }
        // A definition or deletion: the segment it names.
        let defined: String?
        switch command.operation {
        case .event(.segmentDefined(let definition)): defined = definition.name
        case .event(.segmentDeleted(let name)): defined = name
        default: defined = nil
        }
        let dynamicBefore = defined != nil ? Set(parts.segments.dynamic.map(\.name)) : []
        // Applied in place: an element read through the array's subscript would be copied
        // (every string and payload of the event retained, then released) to be passed.
        emitter.events.withUnsafeMutableBufferPointer { events in
            for k in first..<events.count {
                // Moved out and back (bitwise, no retain): passed from the buffer to a
                // mutating method, the record would be copied in case the call wrote there.
                let slot = events.baseAddress! + k
                var record = slot.move()
                record.position = nextPosition
                let number = apply(record)
                record.clientNumber = number
                slot.initialize(to: consume record)
            }
        }
        // Dynamic membership: the transitions these events make, in the same batch.
        if let defined {
            // Only the segment defined and those reading it through memberOf can move: the
            // others' time-based filters move with the advance step, not with a definition.
            recordAllTransitions(cause: start, at: at, derived: true, only: parts.segments.readers(of: defined),
                                 leaving: dynamicBefore.subtracting(parts.segments.dynamic.map(\.name)), into: &emitter.events)
        } else if hasDynamicSegments, let number = emitter.events[first].clientNumber {
            var facts: FactMask = []
            for k in first..<emitter.events.count { facts.formUnion(emitter.events[k].event.kind.facts) }
            recordTransitions(client: Int(number), facts: facts, cause: start, at: at, derived: true, into: &emitter.events)
        }
        return .accepted(start...(nextPosition - 1))
    }

    /// The same, for a state that holds every key's bytes (``keepsKeyBytes``).
    public mutating func execute(_ command: Command, now: Micros, into out: inout [EventRecord]) -> Outcome {
        precondition(keepsKeyBytes, "this state does not keep its keys' bytes: execute with keyAt and a reader of the log")
        return execute(command, now: now, into: &out, keyAt: { _ in nil })
    }

    private static func amount(of command: Command) -> Int64? {
        guard case .event(let e) = command.operation else { return nil }
        switch e {
        case .bonusAccrued(let a): return a.amount
        case .bonusWrittenOff(let o): return o.amount
        case .bonusReserved(let r): return r.amount
        case .purchaseMade(let p): return p.paid
        case .purchaseReturned(let r): return r.amount
        default: return nil
        }
    }

    /// Collects a command's events before they are applied. ``decide`` does not change the
    /// state: what a derived event depends on that its cause changes (the level after this
    /// purchase, the debt after this clawback) it computes directly.
    struct Emitter {
        var at: Micros
        var client: String
        var key: String?
        /// Where this command's events begin in `events` (which holds earlier commands' too).
        var first: Int
        var events: [EventRecord] = []
        var repeatedReturn: ClosedRange<UInt64>? = nil
        /// The command's client's number once ``decide`` has found it: its events carry it, so
        /// applying them does not look the client up again.
        var clientNumber: Int32? = nil

        mutating func emit(_ event: consuming DomainEvent) {
            let isFirst = events.count == first
            let record = EventRecord(at: at, client: client, idempotencyKey: isFirst ? key : nil, derived: !isFirst, event: event,
                                     clientNumber: clientNumber)
            events.append(consume record)
        }
    }

    /// The number of the command's client, which must be registered and not deleted (noted
    /// in the emitter, so that the command's events carry it).
    private func liveClient(_ id: String, _ e: inout Emitter) throws -> Int {
        guard let index = clientIndex(id) else { throw Refuse(.unknownClient(client: id), message: "there is no client '\(id)'") }
        guard !records[Int(index)].deleted else { throw Refuse(.clientDeleted(client: id), message: "client '\(id)' was deleted") }
        e.clientNumber = index
        return Int(index)
    }

    private func notBlocked(_ i: Int, _ what: String) throws {
        if records[i].blocked {
            throw Refuse(.clientBlocked(client: clientID(i)), message: "client '\(clientID(i))' is blocked: no \(what) until unblocked")
        }
    }

    /// Free parts of active lots, in the order write-offs consume them: earliest expiry
    /// first, then earliest accrual.
    func takes(_ i: Int, amount: Int64, excluding: UInt64? = nil) -> [LotTake] {
        var left = amount
        var result: [LotTake] = []
        if let index = lotPool.index(of: Int32(i), records[i].lotList) {
            // A client with many lots: only the lots taken, and those passed over, are read.
            index.forEachInSpendingOrder { slot in
                let lot = lotPool[slot]
                if lot.free > 0 && lot.position != excluding {
                    let take = min(left, lot.free)
                    result.append(LotTake(lot: lot.position, amount: take))
                    left -= take
                }
                return left > 0
            }
            return result
        }
        var order = lots(of: i).filter { $0.free > 0 && $0.position != excluding }
        order.sort { a, b in a.expiresAt != b.expiresAt ? a.expiresAt < b.expiresAt : a.position < b.position }
        for lot in order where left > 0 {
            let take = min(left, lot.free)
            result.append(LotTake(lot: lot.position, amount: take))
            left -= take
        }
        return result
    }

    /// An accrual by the rules: active at once unless told otherwise, living `lifetimeDays`
    /// from activation, paying the debt first when active at once. `debt` overrides the
    /// client's debt when the same command changed it before this accrual.
    func accrual(_ i: Int, amount: Int64, reason: AccrualReason, at: Micros, activatesAt: Micros? = nil,
                         expiresAt: Micros? = nil, source: String?, comment: String? = nil, operatorName: String? = nil,
                         debt: Int64? = nil) -> Accrual {
        let activates = activatesAt ?? at
        let expires = expiresAt ?? activates + rules.lifetimeDays * Time.microsPerDay
        let debtPaid = activates <= at ? min(debt ?? records[i].balances.debt, amount) : 0
        return Accrual(amount: amount, reason: reason, activatesAt: activates, expiresAt: expires, source: source,
                       comment: comment, operatorName: operatorName, debtPaid: debtPaid, customExpiry: expiresAt != nil)
    }

    /// The level the rules give a client now (nil when no level applies): the money the
    /// client's purchases inside the window kept after returns (or how many of them kept some).
    /// `newPurchase` is a purchase the command is adding; `returning` a return it is making.
    func automaticLevel(_ i: Int, at: Micros, newPurchase: Int64? = nil, returning: (purchase: Int32, amount: Int64)? = nil) -> String? {
        let (sum, count) = levelMeasure(i, at: at, newPurchase: newPurchase, returning: returning)
        return rules.level(forAmount: rules.levelBasisIsCount ? count : sum)?.name
    }

    /// What levels are measured by: the money the client's purchases in the window kept after
    /// returns, and how many of them kept some.
    func levelMeasure(_ i: Int, at: Micros, newPurchase: Int64? = nil, returning: (purchase: Int32, amount: Int64)? = nil) -> (sum: Int64, count: Int64) {
        // The window as of the client's last purchase, less what has left it since.
        let window = window(i, at: at)
        var (sum, count) = (window.sum, window.count)
        let first = window.start
        if let paid = newPurchase {
            sum += paid
            count += paid > 0 ? 1 : 0
        }
        if let returning, inWindow(i, returning.purchase), first >= 0, returning.purchase >= first {
            let before = kept(returning.purchase)
            sum -= returning.amount
            if before > 0 && before - returning.amount <= 0 { count -= 1 }
        }
        return (sum, count)
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private func decide(_ command: Command, at: Micros, emitter e: inout Emitter) throws {
        try checkAmounts(command.operation)
        switch command.operation {
        case .changeRules(let patch):
            let changed = patch.applied(to: rules)
            // A client's level is kept as a one-byte code: the names clients reached and the
            // names these rules can give must stay within 255.
            let names = Set(levelNames).union(changed.levels.map(\.name))
            guard names.count <= 255 else {
                throw Refuse(.notAllowed, message: "these rules would make \(names.count) level names over the ledger's life, with those clients reached; at most 255")
            }
            e.emit(.rulesChanged(changed))
            return
        case .correct(let lotPosition, let comment):
            let i = try liveClient(command.client, &e)
            try correct(i, lotPosition, comment: comment, emitter: &e)
            return
        case .setLevel(let level):
            let i = try liveClient(command.client, &e)
            if let level, !rules.levels.contains(where: { $0.name == level }) {
                throw Refuse(.unknownLevel(level: level), message: "the rules have no level '\(level)' (they have \(rules.levels.map(\.name).joined(separator: ", ")))")
            }
            let to = level ?? automaticLevel(i, at: at)
            e.emit(.levelChanged(LevelChange(from: self.level(i), to: to, manual: level != nil)))
            return
        case .event(let event):
            try decideEvent(event, command: command, at: at, emitter: &e)
        }
    }

    // swiftlint:disable:next cyclomatic_complexity
    private func decideEvent(_ event: DomainEvent, command: Command, at: Micros, emitter e: inout Emitter) throws {
        switch event {
        case .segmentDefined(let definition):
            try checkSegmentDefinition(definition)
            e.emit(event)
            return
        case .segmentDeleted(let name):
            // (Clientless: refused, not journaled, as a definition's bad filters are.)
            guard segmentDefinitions[name] != nil else { throw Refuse.malformed(.notAllowed, "no segment is defined as '\(name)'") }
            e.emit(event)
            return
        case .system, .rulesChanged:
            e.emit(event)
            return
        case .clientRegistered(let r):
            try decideRegistration(r, command: command, at: at, emitter: &e)
            return
        default:
            break
        }
        let i = try liveClient(command.client, &e)
        let available = records[i].balances.available
        switch event {
        case .bonusAccrued(let request):
            try notBlocked(i, "accruals")
            if let expires = request.expiresAt as Micros?, request.customExpiry, expires <= (request.activatesAt == 0 ? at : request.activatesAt) {
                throw Refuse.malformed(.invalidEvent(field: "expiresAt"), "field 'expiresAt': \(Time.iso(expires)) is not after the bonuses activate (\(Time.iso(request.activatesAt == 0 ? at : request.activatesAt)))")
            }
            let activates = request.activatesAt == 0 ? at : request.activatesAt
            e.emit(.bonusAccrued(accrual(i, amount: request.amount, reason: request.reason, at: at, activatesAt: activates,
                                         expiresAt: request.customExpiry ? request.expiresAt : nil, source: request.source,
                                         comment: request.comment, operatorName: request.operatorName)))
        case .bonusWrittenOff(let request):
            try notBlocked(i, "write-offs")
            guard request.amount <= available else {
                throw Refuse(.insufficientBalance(requested: Bonus(minorUnits: request.amount), available: Bonus(minorUnits: available)), message: "write-off of \(Money.format(request.amount)) exceeds the available \(Money.format(available))")
            }
            var off = request
            off.lots = takes(i, amount: request.amount)
            e.emit(.bonusWrittenOff(off))
        case .bonusReserved, .bonusReserveCaptured, .bonusReserveReleased, .orderPlaced, .orderClosed, .orderCancelled:
            try decideOrderEvent(i, event, at: at, emitter: &e)
        case .purchaseMade(let p):
            try purchase(i, p, at: at, emitter: &e)
        case .purchaseReturned(let r):
            try purchaseReturn(i, r, at: at, emitter: &e)
        case .mailingSent:
            try notBlocked(i, "mailings")
            e.emit(event)
        case .profileChanged(let requested):
            e.emit(.profileChanged(try profileChanges(i, requested)))
        case .cardAdded(let card):
            if let holder = holder(ofCard: card), holder != Int32(i) {
                throw Refuse(.cardTaken(card: card, holder: clientID(Int(holder))), message: "card \(card) belongs to client '\(clientID(Int(holder)))'")
            }
            e.emit(event)
        case .cardRemoved(let card):
            let cards = cards(of: i)
            guard cards.contains(card) else { throw Refuse(.unknownCard(card: card), message: "client '\(clientID(i))' has no card \(card)") }
            guard profile(i).phone != nil || cards.count > 1 else {
                throw Refuse(.missingIdentity, message: "card \(card) is the client's only identity: a profile needs a phone or a card")
            }
            e.emit(event)
        case .clientDeleted, .clientBlocked, .clientUnblocked, .walletInstalled, .walletRemoved, .noteAdded, .npsRated, .custom,
             .mailingDelivered, .mailingOpened, .mailingClicked, .mailingGoalReached, .mailingFailed,
             .messengerSubscribed, .messengerUnsubscribed, .segmentAssigned, .segmentUnassigned:
            // Facts the engine records as given: nothing in the state can refuse them.
            e.emit(event)
        case .bonusActivated, .bonusExpired, .bonusCancelled, .levelChanged, .segmentEntered, .segmentLeft, .operationRefused:
            // Only the engine makes these (as the JSON input refuses them by name).
            throw Refuse.malformed(.invalidEvent(field: "type"), "'\(event.kind.name)' is derived by the engine and cannot be submitted")
        case .clientRegistered, .system, .segmentDefined, .segmentDeleted, .rulesChanged:
            // Decided above, before the client is looked up.
            preconditionFailure("\(event.kind.name) is decided before its client is looked up")
        }
    }

    private func decideRegistration(_ r: Registration, command: Command, at: Micros, emitter e: inout Emitter) throws {
        if let existing = clientIndex(command.client), !records[Int(existing)].deleted {
            throw Refuse(.duplicateClient(client: command.client), message: "client '\(command.client)' is already registered")
        }
        if clientIndex(command.client) != nil {
            throw Refuse(.duplicateClient(client: command.client), message: "client id '\(command.client)' belonged to a deleted client and is not given out again")
        }
        guard r.phone != nil || !r.cards.isEmpty else {
            throw Refuse(.missingIdentity, message: "a profile needs a phone or a card")
        }
        if let phone = r.phone, let holder = holder(ofPhone: phone) {
            throw Refuse(.phoneTaken(phone: phone, holder: clientID(Int(holder))), message: "phone \(Phone.display(phone)) belongs to client '\(clientID(Int(holder)))'")
        }
        for card in r.cards { if let holder = holder(ofCard: card) { throw Refuse(.cardTaken(card: card, holder: clientID(Int(holder))), message: "card \(card) belongs to client '\(clientID(Int(holder)))'") } }
        e.emit(.clientRegistered(r))
        if rules.welcomeBonus > 0 && r.status == .participant {
            let expires = at + rules.lifetimeDays * Time.microsPerDay
            e.emit(.bonusAccrued(Accrual(amount: rules.welcomeBonus, reason: .welcome, activatesAt: at, expiresAt: expires, source: nil)))
        }
    }

    /// A reservation, its capture or release, or an order placed, closed or cancelled.
    private func decideOrderEvent(_ i: Int, _ event: DomainEvent, at: Micros, emitter e: inout Emitter) throws {
        let available = records[i].balances.available
        switch event {
        case .bonusReserved(let request):
            try notBlocked(i, "reservations")
            if let order = orders[request.order] {
                guard order.client == Int32(i) else { throw Refuse(.unknownOrder(order: request.order), message: "order '\(request.order)' belongs to another client") }
                guard order.phase == .open else { throw Refuse(.orderClosed(order: request.order), message: "order '\(request.order)' is already \(order.phase == .closed ? "closed" : "cancelled")") }
            }
            guard request.amount <= available else {
                throw Refuse(.insufficientBalance(requested: Bonus(minorUnits: request.amount), available: Bonus(minorUnits: available)), message: "reservation of \(Money.format(request.amount)) exceeds the available \(Money.format(available))")
            }
            e.emit(.bonusReserved(Reservation(order: request.order, amount: request.amount, lots: takes(i, amount: request.amount))))
        case .bonusReserveCaptured(let request), .bonusReserveReleased(let request):
            let order = try openOrder(i, request.order)
            let amount = request.amount == 0 ? order.reserved : request.amount
            guard amount > 0, amount <= order.reserved else {
                throw Refuse(.insufficientBalance(requested: Bonus(minorUnits: amount), available: Bonus(minorUnits: order.reserved)), message: "order '\(request.order)' holds \(Money.format(order.reserved)), not \(Money.format(amount))")
            }
            if case .bonusReserveCaptured = event {
                e.emit(.bonusReserveCaptured(Reservation(order: request.order, amount: amount, lots: orderTakes(order, amount))))
            } else {
                emitRelease(i, order: request.order, takes: orderTakes(order, amount), at: at, emitter: &e)
            }
        case .orderPlaced(let o):
            if let order = orders[o.order] {
                guard order.client == Int32(i) else { throw Refuse(.unknownOrder(order: o.order), message: "order '\(o.order)' belongs to another client") }
                guard order.phase == .open else { throw Refuse(.orderClosed(order: o.order), message: "order '\(o.order)' is already closed") }
            }
            e.emit(event)
        case .orderClosed(let o), .orderCancelled(let o):
            let order = try openOrder(i, o.order)
            e.emit(event)
            if order.reserved > 0 {
                if case .orderClosed = event {
                    e.emit(.bonusReserveCaptured(Reservation(order: o.order, amount: order.reserved, lots: order.lots)))
                } else {
                    emitRelease(i, order: o.order, takes: order.lots, at: at, emitter: &e)
                }
            }
        default:
            preconditionFailure("\(event.kind.name) is not an order's event")
        }
    }

    private func openOrder(_ i: Int, _ id: String) throws -> OrderState {
        guard let order = orders[id], order.client == Int32(i) else {
            throw Refuse(.unknownOrder(order: id), message: "client '\(clientID(i))' has no order '\(id)'")
        }
        guard order.phase == .open else {
            throw Refuse(.orderClosed(order: id), message: "order '\(id)' is already \(order.phase == .closed ? "closed" : "cancelled")")
        }
        return order
    }

    private func orderTakes(_ order: OrderState, _ amount: Int64) -> [LotTake] {
        var left = amount
        var result: [LotTake] = []
        for take in order.lots where left > 0 {
            let part = min(left, take.amount)
            result.append(LotTake(lot: take.lot, amount: part))
            left -= part
        }
        return result
    }

    /// A release; any part that returns to a lot already past its expiry burns at once.
    private func emitRelease(_ i: Int, order: String, takes: [LotTake], at: Micros, emitter e: inout Emitter) {
        let amount = takes.reduce(0) { $0 + $1.amount }
        e.emit(.bonusReserveReleased(Reservation(order: order, amount: amount, lots: takes)))
        for take in takes {
            if let l = lotSlot(i, take.lot), lotPool[l].expiresAt <= at {
                e.emit(.bonusExpired(Expiry(lot: take.lot, amount: take.amount)))
            }
        }
    }

    private func purchase(_ i: Int, _ p: Purchase, at: Micros, emitter e: inout Emitter) throws {
        guard purchaseIDs.find(p.purchase) == nil else {
            throw Refuse(.duplicatePurchase(purchase: p.purchase), message: "purchase '\(p.purchase)' is already recorded")
        }
        if p.bonusesSpent > 0 {
            try notBlocked(i, "bonus payments")
            guard p.bonusesSpent <= records[i].balances.available else {
                throw Refuse(.insufficientBalance(requested: Bonus(minorUnits: p.bonusesSpent), available: Bonus(minorUnits: records[i].balances.available)), message: "the receipt spends \(Money.format(p.bonusesSpent)) bonuses but \(Money.format(records[i].balances.available)) are available")
            }
        }
        // A client's purchase sum bounds its return sum and level window: kept within 2⁶²,
        // none of them can pass Int64.
        guard records[i].stats.purchaseSum <= AmountLimits.ledgerAccruedMax - p.paid else {
            throw Refuse(.notAllowed, message: "this purchase would bring client '\(clientID(i))''s purchase sum past \(AmountLimits.ledgerAccruedMax) (minor units)")
        }
        e.emit(.purchaseMade(p))
        if p.bonusesSpent > 0 {
            e.emit(.bonusWrittenOff(WriteOff(amount: p.bonusesSpent, reason: .purchase, purchase: p.purchase, lots: takes(i, amount: p.bonusesSpent))))
        }
        let current = self.level(i)
        let level = records[i].levelManual ? current : automaticLevel(i, at: at, newPurchase: p.paid)
        if level != current {
            e.emit(.levelChanged(LevelChange(from: current, to: level, manual: false)))
        }
        let amount = Arithmetic.share(p.paid, times: rules.basisPoints(level: level), over: 10_000)
        guard amount > 0 else { return }
        if records[i].blocked {
            e.emit(.operationRefused(Refusal(code: ErrorCode.clientBlocked.rawValue, operation: EventKind.bonusAccrued.name,
                                             message: "no bonuses for purchase \(p.purchase): the client is blocked", amount: amount)))
            return
        }
        let activates = at + rules.pendingDays * Time.microsPerDay
        e.emit(.bonusAccrued(accrual(i, amount: amount, reason: .purchase, at: at, activatesAt: activates, source: p.purchase)))
    }

    private func purchaseReturn(_ i: Int, _ r: PurchaseReturn, at: Micros, emitter e: inout Emitter) throws {
        guard let index = purchaseIDs.find(r.purchase), purchaseStates[Int(index)].client == Int32(i) else {
            throw Refuse(.unknownPurchase(purchase: r.purchase), message: "client '\(clientID(i))' has no purchase '\(r.purchase)'")
        }
        if let original = returns[ReturnKey(index, r.returnID)] {
            e.repeatedReturn = original
            return
        }
        let purchase = purchaseState(index)
        let totals = returnTotals[index] ?? ReturnTotals()
        guard totals.returnedPaid + r.amount <= purchase.paid else {
            throw Refuse(.returnExceedsPaid(requested: Money(minorUnits: r.amount), returnable: Money(minorUnits: purchase.paid - totals.returnedPaid)), message: "returning \(Money.format(r.amount)) would bring the returns of purchase '\(r.purchase)' to \(Money.format(totals.returnedPaid + r.amount)), above the \(Money.format(purchase.paid)) paid")
        }
        e.emit(.purchaseReturned(r))
        let returned = totals.returnedPaid + r.amount
        // Cumulative shares, so that several partial returns add up to exactly the whole.
        // In 128 bits: 10¹⁰ bonuses × 10¹⁰ kopecks returned is past Int64 (it crashed the writer).
        let claw = purchase.paid == 0 ? 0 : Arithmetic.share(purchase.accrued, times: returned, over: purchase.paid) - totals.clawedBack
        let refund = purchase.paid == 0 ? 0 : Arithmetic.share(bonusesSpent(of: index), times: returned, over: purchase.paid) - totals.refunded
        var debtAfter = records[i].balances.debt
        if claw > 0 {
            var lots: [LotTake] = []
            var left = claw
            if let own = purchase.lot, let l = lotSlot(i, own) {
                let lot = lotPool[l]
                let takeable = lot.phase == .pending ? lot.remaining : (rules.returnPolicy == .onlyPending ? 0 : lot.free)
                let take = min(left, max(0, takeable))
                if take > 0 { lots.append(LotTake(lot: own, amount: take)); left -= take }
            }
            var debt: Int64 = 0
            var forgiven: Int64 = 0
            switch rules.returnPolicy {
            case .onlyPending:
                forgiven = left
            case .withinBalance:
                let ownActive = lots.first.flatMap { t in lotSlot(i, t.lot).map { lotPool[$0].phase == .active ? t.amount : 0 } } ?? 0
                let room = max(0, min(left, records[i].balances.available - ownActive))
                lots += takes(i, amount: room, excluding: purchase.lot)
                let taken = lots.reduce(0) { $0 + $1.amount }
                forgiven = claw - taken
            case .unlimited:
                lots += takes(i, amount: left, excluding: purchase.lot)
                debt = claw - lots.reduce(0) { $0 + $1.amount }
            }
            debtAfter += debt
            e.emit(.bonusCancelled(Cancellation(amount: claw - debt - forgiven, reason: .return, purchase: r.purchase, returnID: r.returnID,
                                                lots: lots, debt: debt, forgiven: forgiven)))
        }
        if refund > 0 {
            e.emit(.bonusAccrued(accrual(i, amount: refund, reason: .refund, at: at, source: r.purchase,
                                         comment: "bonuses spent on the returned share of \(r.purchase)", debt: debtAfter)))
        }
        if !records[i].levelManual {
            let level = automaticLevel(i, at: at, returning: (index, r.amount))
            if level != self.level(i) { e.emit(.levelChanged(LevelChange(from: self.level(i), to: level, manual: false))) }
        }
    }

    private func correct(_ i: Int, _ position: UInt64, comment: String?, emitter e: inout Emitter) throws {
        guard let l = lotSlot(i, position) else {
            throw Refuse(.unknownLot(position: position), message: "client '\(clientID(i))' has no accrual at position \(position)")
        }
        let lot = lotPool[l]
        guard lot.reason == .manual || lot.reason == .api else {
            throw Refuse(.notCorrectable(position: position), message: "only manual accruals can be corrected; the accrual at \(position) is for \(lot.reason.rawValue)")
        }
        guard !lot.corrected else { throw Refuse(.alreadyCorrected(position: position), message: "the accrual at \(position) was already corrected") }
        let left = lot.phase == .pending ? lot.remaining : lot.free
        var lots: [LotTake] = left > 0 ? [LotTake(lot: position, amount: left)] : []
        var debt: Int64 = 0
        var forgiven: Int64 = 0
        switch rules.returnPolicy {
        case .unlimited: debt = lot.spent
        case .onlyPending: forgiven = lot.spent
        case .withinBalance:
            let room = max(0, min(lot.spent, records[i].balances.available - (lot.phase == .active ? left : 0)))
            lots += takes(i, amount: room, excluding: position)
            forgiven = lot.spent - room
        }
        let taken = lots.reduce(0) { $0 + $1.amount }
        e.emit(.bonusCancelled(Cancellation(amount: taken, reason: .correction, correctedLot: position, lots: lots, debt: debt,
                                            forgiven: forgiven, comment: comment)))
    }

    private func profileChanges(_ i: Int, _ requested: [FieldChange]) throws -> [FieldChange] {
        let client = profile(i)
        let record = records[i]
        var result: [FieldChange] = []
        var phoneAfter = client.phone
        for change in requested {
            let old: String?
            switch change.field {
            case "name": old = client.name
            case "email": old = client.email
            case "gender": old = record.gender?.rawValue
            case "place": old = client.place
            case "status": old = record.status.rawValue
            case "birthday": old = record.birthday.map(Time.isoDate(day:))
            case "phone":
                old = client.phone
                if let new = change.new, let holder = holder(ofPhone: new), holder != Int32(i) {
                    throw Refuse(.phoneTaken(phone: new, holder: clientID(Int(holder))), message: "phone \(Phone.display(new)) belongs to client '\(clientID(Int(holder)))'")
                }
                phoneAfter = change.new
            default: old = nil
            }
            if old != change.new { result.append(FieldChange(field: change.field, old: old, new: change.new)) }
        }
        guard phoneAfter != nil || !cards(of: i).isEmpty else {
            throw Refuse(.missingIdentity, message: "a profile needs a phone or a card")
        }
        return result
    }
}
