/// Dynamic membership (domain.md §6): the defined segments whose filters this build evaluates
/// are kept up to date as events change clients' facts. After a command's events apply, the
/// segments that read a fact those events change are evaluated again for its client, and each
/// change of membership is recorded in the same batch as `segment.entered` or `segment.left`,
/// naming the command's position; a definition (or its deletion) re-evaluates that segment,
/// and those that read it through `memberOf`, over every client; the advance step
/// re-evaluates, for the clients whose bonuses it moves, the segments that read bonuses, and,
/// for every client, the segments whose filters count days from today. A transition is recorded only when the recorded membership differs from the
/// evaluation, so each one is recorded once.

/// The kinds of a client's facts, for knowing which segments an event can move.
public struct FactMask: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let profile = FactMask(rawValue: 1 << 0)
    public static let channels = FactMask(rawValue: 1 << 1)
    public static let mailings = FactMask(rawValue: 1 << 2)
    public static let standing = FactMask(rawValue: 1 << 3)
    public static let wallet = FactMask(rawValue: 1 << 4)
    public static let level = FactMask(rawValue: 1 << 5)
    public static let bonuses = FactMask(rawValue: 1 << 6)
    public static let purchases = FactMask(rawValue: 1 << 7)
    public static let returns = FactMask(rawValue: 1 << 8)
    public static let membership = FactMask(rawValue: 1 << 9)
    public static let events = FactMask(rawValue: 1 << 10)
    /// Counted in days from today: moves as time passes.
    public static let time = FactMask(rawValue: 1 << 11)
    public static let all = FactMask(rawValue: (1 << 12) - 1)
}

extension FilterField {
    /// The facts a filter on this field reads.
    public var facts: FactMask {
        switch self {
        case .name, .gender, .birthday, .joinPlace, .addedBy, .card, .email, .joinDate: .profile
        case .age, .birthdaySoon: [.profile, .time]
        case .daysInProgram: [.profile, .time]
        case .messenger: .channels
        case .mailingReceived: .mailings
        case .status: .standing
        case .walletInstalled: .wallet
        case .level: .level
        case .bonusesAvailable, .bonusesUsed, .bonusesExpired, .nextExpiryDate: .bonuses
        case .purchaseCount, .purchaseSum, .averageCheck, .maxCheck, .daysBetweenPurchases, .purchaseDate, .lastPurchaseDate,
             .promotion, .promoCode, .itemCount, .frequentPlace, .lastPlace, .boughtAt, .seller, .boughtProduct, .boughtSku, .boughtCategory:
            .purchases
        case .purchaseDaysAgo, .daysWithoutPurchases: [.purchases, .time]
        case .returnCount, .returnSum, .returnDate, .lastReturnDate, .returnedAt, .acceptedBy, .returnedProduct, .returnedSku, .returnedCategory:
            .returns
        case .returnDaysAgo, .daysWithoutReturns: [.returns, .time]
        case .eventName, .eventDate, .lastEventDate, .eventContext: .events
        case .daysSinceLastEvent, .eventTimes: [.events, .time]
        case .memberOf: .membership
        }
    }
}

extension EventKind {
    /// The facts of its client an event of this kind changes.
    public var facts: FactMask {
        switch self {
        case .clientRegistered: .all
        case .profileChanged, .cardAdded, .cardRemoved: [.profile, .standing]
        case .clientBlocked, .clientUnblocked, .clientDeleted: .standing
        case .walletInstalled, .walletRemoved: .wallet
        case .messengerSubscribed, .messengerUnsubscribed: .channels
        case .mailingSent, .mailingDelivered, .mailingOpened, .mailingClicked, .mailingGoalReached, .mailingFailed: [.mailings, .channels]
        case .bonusAccrued, .bonusActivated, .bonusWrittenOff, .bonusReserved, .bonusReserveReleased, .bonusReserveCaptured,
             .bonusExpired, .bonusCancelled, .orderPlaced, .orderClosed, .orderCancelled:
            .bonuses
        case .purchaseMade: [.purchases, .bonuses, .level]
        case .purchaseReturned: [.returns, .purchases, .bonuses, .level]
        case .levelChanged: .level
        case .segmentAssigned, .segmentUnassigned: .membership
        case .custom: .events
        case .segmentEntered, .segmentLeft, .npsRated, .noteAdded, .system, .rulesChanged, .segmentDefined, .segmentDeleted, .operationRefused: []
        }
    }
}

/// A defined segment dynamic membership keeps up to date (a class: the list is walked for
/// every command, and an element read is then one reference, not its arrays).
final class DynamicSegment: Sendable {
    let name: String
    /// Its code in the membership set.
    let code: UInt32
    let filters: [SegmentEvaluator.Compiled]
    /// The facts its filters read (through `memberOf` too).
    let facts: FactMask
    init(name: String, code: UInt32, filters: [SegmentEvaluator.Compiled], facts: FactMask) {
        self.name = name; self.code = code; self.filters = filters; self.facts = facts
    }
}

extension SegmentMembership {
    /// Parses and compiles the definitions, and lists the segments whose filters can be read
    /// (through `memberOf` too) as dynamic, in name order.
    mutating func compile() {
        parsed = [:]; compiled = [:]; unreadable = [:]; dynamic = []; containsResolved = [:]; containsFilters = []
        for (name, definition) in definitions {
            do throws(FilterError) {
                let filters = try SegmentFilter.parseList(definition.filters)
                parsed[name] = filters
                compiled[name] = SegmentEvaluator.Compiled.list(filters)
            } catch {
                unreadable[name] = error
            }
        }
        /// The facts a segment's filters read, nil when they (or a segment they name) cannot be read.
        func facts(_ name: String, _ path: [String]) -> FactMask? {
            guard let filters = parsed[name] else { return nil }
            var mask: FactMask = []
            for f in filters {
                mask.formUnion(f.field.facts)
                guard f.field == .memberOf else { continue }
                for case .text(let inner) in f.values where !path.contains(inner) {
                    if definitions[inner] != nil {
                        guard let innerFacts = facts(inner, path + [inner]) else { return nil }
                        mask.formUnion(innerFacts)
                    }
                }
            }
            return mask
        }
        containsFilters = compiled.values.joined().filter { $0.op == .contains && $0.filter.field.readsNames }
        for name in definitions.keys.sorted() {
            guard let mask = facts(name, [name]) else { continue }
            dynamic.append(DynamicSegment(name: name, code: code(name), filters: compiled[name]!, facts: mask))
        }
    }

    /// The names every defined segment's `contains` filters on names match, brought up to the
    /// names table's end: one pass over the names added since the last call, instead of one
    /// over every name per evaluated client.
    mutating func resolveContains(_ facts: borrowing ClientFacts) -> [ObjectIdentifier: Set<Int32>] {
        var resolved: [ObjectIdentifier: Set<Int32>] = [:]
        for c in containsFilters {
            let key = ObjectIdentifier(c)
            var entry = containsResolved[key] ?? ([], 0)
            if entry.scanned < facts.names.count {
                entry.names.formUnion(facts.resolve(c, from: entry.scanned))
                entry.scanned = facts.names.count
                containsResolved[key] = entry
            }
            resolved[key] = entry.names
        }
        return resolved
    }

    /// Segment `name` and every defined segment that reads it through `memberOf`, directly or
    /// through others.
    func readers(of name: String) -> Set<String> {
        var found: Set<String> = [name]
        var grew = true
        while grew {
            grew = false
            for (reader, filters) in parsed where !found.contains(reader) {
                let reads = filters.contains { f in f.field == .memberOf && f.values.contains { if case .text(let t) = $0 { found.contains(t) } else { false } } }
                if reads { found.insert(reader); grew = true }
            }
        }
        return found
    }

    /// A segment name's code, given on first use.
    mutating func code(_ name: String) -> UInt32 {
        if let code = codes[name] { return code }
        let code = UInt32(names.count)
        names.append(name)
        codes[name] = code
        return code
    }

    func isMember(_ client: Int32, _ code: UInt32) -> Bool { members.contains(Self.membership(client, code)) }
}

extension LedgerState {
    /// Whether segment `name` is kept up to date by dynamic membership (its recorded members
    /// are then its members as of the ledger's latest event or advance).
    public func isKeptUpToDate(_ name: String) -> Bool { parts.segments.dynamic.contains { $0.name == name } }

    /// Whether any segment is kept up to date.
    var hasDynamicSegments: Bool { !parts.segments.dynamic.isEmpty }

    /// Records the transitions of client `i` in the segments that read `facts`, as of `at`:
    /// appended to `out` (derived from the event before them when `derived`) and applied.
    mutating func recordTransitions(client i: Int, facts: FactMask, cause: UInt64?, at: Micros, derived: Bool, into out: inout [EventRecord]) {
        guard hasDynamicSegments, !facts.isEmpty, i < records.count else { return }
        var changes: [(String, Bool)] = []
        // The state is read in place (borrowed), never copied: a copy alive while the state
        // changes would make it copy its tables.
        // "Today" is the ledger's own (its latest event or advance step), never behind what an
        // advance step already evaluated the time-based segments as of.
        var matcher = FilterMatcher(today: Time.day(of: max(at, advancedTo)), compiledDefinitions: parts.segments.compiled)
        matcher.resolved = parts.segments.resolveContains(parts.facts)
        let deleted = records[inPlace: i].deleted
        for segment in parts.segments.dynamic where !segment.facts.isDisjoint(with: facts) {
            let now = !deleted && matcher.matches(self, i, segment.filters, depth: 0)
            if now != parts.segments.isMember(Int32(i), segment.code) { changes.append((segment.name, now)) }
        }
        for (name, entered) in changes { emitTransition(client: i, segment: name, entered: entered, cause: cause, at: at, derived: derived, into: &out) }
    }

    /// Records every client's transitions in every dynamic segment (`onlyTime`: those whose
    /// filters count days from today; `only`: those named), as of `at`, in client order; the
    /// members of `leaving` (segments no longer kept up to date) leave them.
    mutating func recordAllTransitions(cause: UInt64?, at: Micros, derived: Bool, onlyTime: Bool = false, only: Set<String>? = nil,
                                       leaving: Set<String> = [], into out: inout [EventRecord]) {
        func emit(_ changes: [(client: Int32, segment: String, entered: Bool)]) {
            for c in changes.sorted(by: { ($0.client, $0.segment) < ($1.client, $1.segment) }) {
                emitTransition(client: Int(c.client), segment: c.segment, entered: c.entered, cause: cause, at: at, derived: derived, into: &out)
            }
        }
        // Segments no longer kept up to date (deleted, or redefined with filters this build
        // cannot read): their members leave first, so that a segment reading them through
        // memberOf is evaluated without them.
        var leaves: [(client: Int32, segment: String, entered: Bool)] = []
        for name in leaving {
            guard let code = parts.segments.codes[name] else { continue }
            for m in parts.segments.members where UInt32(m & 0xFFFF_FFFF) == code { leaves.append((Int32(bitPattern: UInt32(m >> 32)), name, false)) }
        }
        emit(leaves)
        var changes: [(client: Int32, segment: String, entered: Bool)] = []
        do {
            // (The evaluator holds the state: it is gone before the state changes, so that no
            // table is copied.)
            let evaluator = SegmentEvaluator(state: self, asOf: max(at, advancedTo))
            for segment in parts.segments.dynamic where (!onlyTime || segment.facts.contains(.time)) && only?.contains(segment.name) != false {
                // (Dynamic segments' filters are all evaluated: members() cannot refuse them.)
                guard let now = try? evaluator.members(segment.filters.map(\.filter)) else { continue }
                let nowSet = Set(now)
                var was: [Int32] = []
                for m in parts.segments.members where UInt32(m & 0xFFFF_FFFF) == segment.code { was.append(Int32(bitPattern: UInt32(m >> 32))) }
                let wasSet = Set(was)
                for c in now where !wasSet.contains(c) { changes.append((c, segment.name, true)) }
                for c in was where !nowSet.contains(c) { changes.append((c, segment.name, false)) }
            }
        }
        emit(changes)
    }

    private mutating func emitTransition(client i: Int, segment: String, entered: Bool, cause: UInt64?, at: Micros, derived: Bool,
                                         into out: inout [EventRecord]) {
        let t = SegmentTransition(segment: segment, cause: cause)
        var record = EventRecord(position: nextPosition, at: at, client: clientID(i), derived: derived,
                                 event: entered ? .segmentEntered(t) : .segmentLeft(t), clientNumber: Int32(i))
        record.clientNumber = apply(record)
        out.append(record)
    }
}
