extension LedgerState {
    /// The advance step: appends, in time order, every activation and expiry due at or before
    /// `time`, and the birthday bonuses of birthdays up to `time` (one a year, for clients
    /// registered before the birthday). Idempotent: a second run to the same time appends
    /// nothing. Each event's time is when it fell due (never earlier than the log's last event).
    public mutating func advance(to time: Micros, into out: inout [EventRecord]) -> (activated: Int, expired: Int, birthdays: Int) {
        advance(to: time, into: &out, flushAt: .max) { _ in }
    }

    /// The same, handing `out` to `flush` at the end of each day that leaves `flushAt` events or
    /// more in it, so that a long advance never holds all its events at once (a month at a
    /// million clients is 655 000 of them). The events and their order are the same.
    public mutating func advance(to time: Micros, into out: inout [EventRecord], flushAt: Int,
                                 flush: (inout [EventRecord]) throws -> Void) rethrows -> (activated: Int, expired: Int, birthdays: Int) {
        var activated = 0, expired = 0, birthdays = 0
        if time >= schedule.horizon { extendSchedule(to: Schedule.horizon(after: time)) }
        let lastDay = Time.day(of: time)
        if birthdayScanDay == Int64.min {
            // Where the last scan stopped is not in the log (a new or rebuilt state): look again
            // from 1 January of the year before the last event, though not before the birthday
            // bonus began. Every birthday found decided there (given or refused) is passed over.
            let reference = lastEventAt == .min ? lastDay : min(lastDay, Time.day(of: lastEventAt))
            var start = Time.days(year: Time.civil(days: reference).year - 1, month: 1, day: 1)
            if birthdayBonusSince != .min { start = max(start, Time.day(of: birthdayBonusSince)) }
            birthdayScanDay = start - 1
        }
        var day = birthdayScanDay + 1
        while true {
            let dayEnd = min(time, (day + 1) * Time.microsPerDay - 1)
            if day <= lastDay && rules.birthdayBonus > 0 { birthdays += birthdayBonuses(day: day, into: &out) }
            while let entry = schedule.next, entry.due <= dayEnd {
                _ = schedule.pop()
                let i = Int(entry.client)
                // The lot is still due then (``scheduledLot`` checks): pending, or active with something free.
                guard let l = scheduledLot(entry) else { continue }
                let lot = lotPool[l]
                let at = max(entry.due, lastEventAt)
                if lot.phase == .pending {
                    let debtPaid = min(records[i].balances.debt, lot.remaining)
                    emit(.bonusActivated(Activation(lot: lot.position, amount: lot.remaining, debtPaid: debtPaid)), at: at, client: i, into: &out)
                    activated += 1
                } else {
                    emit(.bonusExpired(Expiry(lot: lot.position, amount: lot.free)), at: at, client: i, into: &out)
                    expired += 1
                }
            }
            if day >= lastDay { break }
            if out.count >= flushAt { try flush(&out) }
            day += 1
        }
        birthdayScanDay = max(birthdayScanDay, lastDay - 1)
        if time >= (lastDay + 1) * Time.microsPerDay - 1 { birthdayScanDay = lastDay }
        advancedTo = max(advancedTo, time)
        // A new day moves the segments that count days from today.
        // (Only forward: an advance to an earlier time changes nothing.)
        if lastDay > segmentsTimeDay && parts.segments.dynamic.contains(where: { $0.facts.contains(.time) }) {
            recordAllTransitions(cause: nil, at: max(lastDay * Time.microsPerDay, lastEventAt), derived: false, onlyTime: true, into: &out)
        }
        segmentsTimeDay = max(segmentsTimeDay, lastDay)
        return (activated, expired, birthdays)
    }

    private mutating func emit(_ event: DomainEvent, at: Micros, client i: Int, into out: inout [EventRecord]) {
        var record = EventRecord(position: nextPosition, at: at, client: clientID(i), derived: false, event: event)
        record.clientNumber = apply(record)
        let (position, facts) = (record.position, record.event.kind.facts)
        out.append(record)
        recordTransitions(client: i, facts: facts, cause: position, at: at, derived: true, into: &out)
    }

    private mutating func birthdayBonuses(day: Int64, into out: inout [EventRecord]) -> Int {
        let (_, month, dayOfMonth) = Time.civil(days: day)
        var count = birthdayBonuses(day: day, bornOn: (month, dayOfMonth), into: &out)
        // Born on 29 February: on 28 February in the years without one.
        if month == 2 && dayOfMonth == 28 && Time.civil(days: day + 1).month == 3 {
            count += birthdayBonuses(day: day, bornOn: (2, 29), into: &out)
        }
        return count
    }

    private mutating func birthdayBonuses(day: Int64, bornOn: (month: Int64, day: Int64), into out: inout [EventRecord]) -> Int {
        let year = Time.civil(days: day).year
        guard let bucket = birthdays[Int(bornOn.month * 32 + bornOn.day)] else { return 0 }
        var count = 0
        for index in bucket {
            let i = Int(index)
            let c = records[i]
            guard !c.deleted, Int64(c.lastBirthdayYear) < year,
                  let birthday = c.birthday, Time.civil(days: birthday).month == bornOn.month, Time.civil(days: birthday).day == bornOn.day,
                  Time.day(of: c.registeredAt) <= day else { continue }
            let at = max(day * Time.microsPerDay, lastEventAt)
            if c.blocked || c.status != .participant {
                // Journaled, so that support sees why, and the year stays decided after a rebuild.
                let (code, why) = c.blocked ? (ErrorCode.clientBlocked, "is blocked") : (ErrorCode.notAllowed, "is not a participant (\(c.status.rawValue))")
                emit(.operationRefused(Refusal(code: code.rawValue, operation: EventKind.bonusAccrued.name,
                                               message: "client '\(clientID(i))' \(why): no birthday bonus for \(year)",
                                               amount: rules.birthdayBonus, source: "birthday-\(year)")), at: at, client: i, into: &out)
                continue
            }
            let bonus = accrual(i, amount: rules.birthdayBonus, reason: .birthday, at: at, source: "birthday-\(year)")
            emit(.bonusAccrued(bonus), at: at, client: i, into: &out)
            count += 1
        }
        return count
    }
}
