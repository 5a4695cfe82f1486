/// A log's commands decided again, in order, into a fresh state: what a rule-change rebuild
/// computes (domain.md §8). The state decides each command with ``LedgerState/execute(_:now:into:keyAt:)``,
/// the same function the live ledger decided it with, so under the log's own rules it makes
/// the same decisions and reaches the same state.
///
/// What is fed is the log's records, in order:
/// - a record the engine derived from the command before it (`derived`) is passed over: the
///   command derives it again, under the rules in force;
/// - an activation, an expiry, a birthday bonus or a birthday refused, which only the advance
///   step makes (a birthday bonus as it writes one: source `birthday-YEAR`, no operator, no
///   comment), says that an advance step ran up to at least its time: before the next
///   command, the state is advanced to the latest such time (and at ``finish(advancedTo:)``),
///   so due dates the rules move fall due where the live ledger's advance steps ran;
/// - `rules.changed` sets the rules it recorded, except the fields the override gives, which
///   hold from the log's start;
/// - a correction names its accrual by the accrual's position in the log: it is mapped to the
///   position the same accrual has here;
/// - `level.changed` recorded as a command (`level.set`) is set again (by hand, or back to
///   the rules);
/// - a refusal the live ledger recorded is recorded as it is: the command it refused is not in
///   the log, so it stays refused;
/// - `segment.entered` and `segment.left` are the engine's to make: derived ones are made
///   again with their command, the advance step's (a new day moving a time-based segment) say
///   how far it ran, as its other events do;
/// - any other event is its command, decided again.
///
/// Limits, said where they matter (the DocC article *Rebuilds*): an advance step that appended
/// nothing leaves no trace, so the state is advanced only as far as the log shows; the
/// ledger-wide accrued total is not checked across partitions.
public struct Redecision: Sendable {
    public private(set) var state: LedgerState
    let override: RulesPatch?
    /// The latest time an advance step is known to have reached and the state has not.
    var advanceTo: Micros = .min
    /// A manual or API accrual's position in the log → its position here.
    var accrualPositions: [UInt64: UInt64] = [:]
    var out: [EventRecord] = []

    /// Commands decided again, and those the live ledger accepted that are refused here (or
    /// the other way round: a recorded refusal stays one, so only this way).
    public private(set) var commands = 0
    public private(set) var newlyRefused: [(client: String, position: UInt64, reason: String)] = []

    /// A fresh state under the log's rules with `override`'s fields (nil: the log's own rules).
    public init(override: RulesPatch?) {
        var state = LedgerState(rebuilding: false, keepsKeyBytes: true)
        state.parts.keepsIndexes = false
        if let override {
            let version = state.rules.version
            state.rules = override.applied(to: state.rules)
            state.rules.version = version
        }
        self.state = state
        self.override = override
    }

    /// Whether only the advance step makes this event.
    public static func isTimeDriven(_ record: EventRecord) -> Bool {
        guard !record.derived else { return false }
        switch record.event {
        case .bonusActivated, .bonusExpired, .segmentEntered, .segmentLeft: return true
        case .bonusAccrued(let a):
            // The advance step's birthday bonus, as it writes one: for the year's birthday, no
            // operator, no comment, its own dates (an operator's birthday bonus is a command).
            return a.reason == .birthday && a.operatorName == nil && a.comment == nil && !a.customExpiry && a.activatesAt == record.at
                && a.source?.hasPrefix("birthday-") == true
        case .operationRefused(let r): return r.source?.hasPrefix("birthday-") == true
        default: return false
        }
    }

    /// The same from an event's bytes, read only as far as needed: for another worker's client,
    /// whose advance events still say how far the live ledger's advance steps ran.
    public static func isTimeDriven(typeCode: UInt32, at: Micros, body: UnsafeRawBufferPointer) -> Bool {
        guard let kind = EventKind(rawValue: typeCode), let header = try? EventCodec.header(body), !header.derived else { return false }
        switch kind {
        case .bonusActivated, .bonusExpired, .segmentEntered, .segmentLeft:
            return true
        case .bonusAccrued:
            var r = FieldReader(UnsafeRawBufferPointer(rebasing: body[header.fieldsStart...]))
            guard case .accrual(_, let reason, _, _, _, _)? = try? LedgerState.readFast(.bonusAccrued, &r), reason == .birthday else { return false }
        case .operationRefused:
            break
        default:
            return false
        }
        guard let decoded = try? EventCodec.decode(typeCode: typeCode, body) else { return false }
        return isTimeDriven(EventRecord(at: at, client: "", derived: decoded.derived, event: decoded.event))
    }

    /// Notes an advance step that reached `time` (seen in another worker's client's events).
    public mutating func noteAdvance(to time: Micros) { advanceTo = max(advanceTo, time) }

    /// Notes the time of another worker's client's command (or what it derived): the ledger's
    /// latest event time, which the advance step's event times are taken from (`max(due,
    /// latest)`), is the whole log's, so that every worker dates them as one worker would.
    public mutating func noteTime(_ at: Micros) { if at > state.lastEventAt { state.lastEventAt = at } }

    /// Decides the command `record` recorded (see the type's comment).
    public mutating func feed(_ record: EventRecord) {
        if record.derived { return }
        if Self.isTimeDriven(record) {
            advanceTo = max(advanceTo, record.at)
            return
        }
        catchUp()
        let operation: Command.Operation
        switch record.event {
        case .segmentEntered, .segmentLeft:
            return
        case .operationRefused:
            var copy = record
            copy.position = state.nextPosition
            copy.clientNumber = nil
            state.apply(copy)
            return
        case .rulesChanged(let recorded):
            // The recorded rules with the override's fields (as rules: every field given).
            operation = .changeRules(RulesPatch(override?.applied(to: recorded) ?? recorded))
        case .bonusCancelled(let c) where c.reason == .correction:
            operation = .correct(lot: c.correctedLot.flatMap { accrualPositions[$0] } ?? UInt64.max, comment: c.comment)
        case .levelChanged(let change):
            operation = .setLevel(change.manual ? change.to : nil)
        default:
            operation = .event(record.event)
        }
        commands += 1
        out.removeAll(keepingCapacity: true)
        let outcome = state.execute(Command(at: record.at, client: record.client, operation), now: record.at, into: &out, keyAt: { _ in nil })
        switch outcome {
        case .accepted(let range):
            if case .bonusAccrued(let a) = record.event, a.reason == .manual || a.reason == .api { accrualPositions[record.position] = range.lowerBound }
        case .refused(let reason, let message, _):
            newlyRefused.append((record.client, record.position, "\(reason.code.rawValue): \(message)"))
        case .repeated:
            break
        }
    }

    /// Advances the state as far as the log shows the live ledger's advance steps went, and no
    /// less than `advancedTo` (the live state's own advance, when it knows it).
    public mutating func finish(advancedTo: Micros = .min) {
        advanceTo = max(advanceTo, advancedTo)
        catchUp()
    }

    private mutating func catchUp() {
        guard advanceTo > state.advancedTo, advanceTo != .min else { return }
        out.removeAll(keepingCapacity: true)
        _ = state.advance(to: advanceTo, into: &out)
    }
}

extension RulesPatch {
    /// Every field of `rules`.
    init(_ rules: Rules) {
        self.init()
        accrualBasisPoints = rules.accrualBasisPoints
        pendingDays = rules.pendingDays
        lifetimeDays = rules.lifetimeDays
        returnPolicy = rules.returnPolicy
        birthdayBonus = rules.birthdayBonus
        welcomeBonus = rules.welcomeBonus
        levels = rules.levels
        levelBasisIsCount = rules.levelBasisIsCount
        levelWindowDays = rules.levelWindowDays
        newClientDays = rules.newClientDays
        activeDays = rules.activeDays
        lostDays = rules.lostDays
    }
}
