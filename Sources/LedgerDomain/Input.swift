/// Why an input line is refused as malformed, naming the line and field: `invalid_event`, or
/// `invalid_amount` for an amount outside its range. Malformed input is never recorded.
public struct InvalidInput: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var field: String?
    public var reason: String
    public var code: ErrorCode
    public init(line: Int, field: String?, reason: String, code: ErrorCode = .invalidEvent) {
        self.line = line; self.field = field; self.reason = reason; self.code = code
    }
    public var description: String {
        // Escaped: a field name or value quoted back may hold characters a terminal acts on.
        Printable.escaped("line \(line)" + (field.map { ": field '\($0)'" } ?? "") + ": " + reason)
    }
}

/// Parses the JSON Lines of interface.md into commands, strictly: an unknown type, a missing,
/// ill-typed or unknown field is an ``InvalidInput`` naming the line and the field.
public enum CommandParser {
    /// What an input line's `type` names: an event type, or an operation that only input has
    /// (the engine turns it into events: `bonus.corrected` into cancellations, `level.set`
    /// into a level change).
    enum InputType: Equatable {
        case event(EventKind)
        case correction
        case levelSet

        init?(_ name: String) {
            switch name {
            case "bonus.corrected": self = .correction
            case "level.set": self = .levelSet
            default:
                guard let kind = EventKind.byName[name] else { return nil }
                self = .event(kind)
            }
        }

        /// Whether lines of this type name no client (one given is tolerated, and ignored).
        var isClientless: Bool {
            switch self {
            case .event(let kind): kind == .system || kind == .rulesChanged || kind == .segmentDefined || kind == .segmentDeleted
            case .correction, .levelSet: false
            }
        }
    }

    public static func parse(line text: String, number line: Int) throws(InvalidInput) -> Command {
        var text = text
        var result: Result<Command, InvalidInput>!
        text.withUTF8 { utf8 in result = Result { () throws(InvalidInput) in try parse(utf8: utf8, number: line) } }
        return try result.get()
    }

    /// Parses one line's bytes (without its line break). Bytes that are not UTF-8 are refused
    /// like any other malformed input, naming the byte.
    public static func parse(utf8 bytes: UnsafeBufferPointer<UInt8>, number line: Int) throws(InvalidInput) -> Command {
        let value: JSONValue
        do { value = try JSONParser.parse(utf8: bytes) } catch {
            if let bad = UTF8Check.firstInvalid(bytes, 0..<bytes.count) {
                throw InvalidInput(line: line, field: nil, reason: "the line is not valid UTF-8 (byte \(bad + 1))")
            }
            throw InvalidInput(line: line, field: nil, reason: error.description)
        }
        guard case .object(let fields) = value else { throw InvalidInput(line: line, field: nil, reason: "a line must be a JSON object") }
        var f = Fields(fields: fields, line: line)
        let typeName = try f.string("type")
        guard let type = InputType(typeName) else {
            throw InvalidInput(line: line, field: "type", reason: "'\(typeName)' is not an event type (see interface.md)")
        }
        if case .event(let kind) = type, kind.isDerivedOnly {
            throw InvalidInput(line: line, field: "type", reason: "'\(typeName)' is derived by the engine and cannot be submitted")
        }
        let at = try f.optionalTime("at")
        let key = try f.optionalString("key")
        if let key, key.utf8.count > 255 { throw f.bad("key", "is longer than 255 bytes") }
        let clientless = type.isClientless
        if clientless { f.allow("client") }  // tolerated, and ignored
        let client = clientless ? "" : try f.string("client")
        if client.utf8.count > 64 { throw f.bad("client", "is longer than 64 bytes") }
        let operation: Command.Operation
        do {
            switch type {
            case .event(let kind): operation = try parseEvent(kind, &f)
            case .correction: operation = try parseCorrection(&f)
            case .levelSet: operation = try parseLevelSet(&f)
            }
        } catch {
            // A required field missing beside a field this type does not have is most likely
            // a misspelling: name that one.
            if error.reason == "is missing", let unknown = f.firstUnused {
                throw InvalidInput(line: line, field: unknown, reason: "is not a field of \(typeName) (is it a misspelling of '\(error.field ?? "")'?)")
            }
            throw error
        }
        try f.rejectUnknown()
        return Command(at: at, client: client, key: key, operation)
    }

    /// A line naming an event type, by its kind: every kind is here, and those only the engine
    /// makes are refused before (``EventKind/isDerivedOnly``).
    private static func parseEvent(_ kind: EventKind, _ f: inout Fields) throws(InvalidInput) -> Command.Operation {
        switch kind {
        case .clientRegistered: return .event(.clientRegistered(try parseRegistration(&f)))
        case .profileChanged: return .event(.profileChanged(try parseProfileChanges(&f)))
        case .cardAdded: return .event(.cardAdded(try f.string("card")))
        case .cardRemoved: return .event(.cardRemoved(try f.string("card")))
        case .clientBlocked: return .event(.clientBlocked(comment: try f.optionalString("comment")))
        case .clientUnblocked: return .event(.clientUnblocked(comment: try f.optionalString("comment")))
        case .clientDeleted: return .event(.clientDeleted(comment: try f.optionalString("comment")))
        case .bonusAccrued: return .event(.bonusAccrued(try parseAccrual(&f)))
        case .bonusWrittenOff:
            return .event(.bonusWrittenOff(WriteOff(
                amount: try f.amount("amount"), reason: try f.optionalEnum("reason") ?? .manual, purchase: try f.optionalString("purchase"),
                comment: try f.optionalString("comment"), operatorName: try f.optionalString("operator"), lots: [])))
        case .bonusReserved:
            return .event(.bonusReserved(Reservation(order: try f.string("order"), amount: try f.amount("amount"), lots: [])))
        case .bonusReserveCaptured, .bonusReserveReleased:
            let r = Reservation(order: try f.string("order"), amount: try f.optionalAmount("amount", least: 1) ?? 0, lots: [])
            return .event(kind == .bonusReserveCaptured ? .bonusReserveCaptured(r) : .bonusReserveReleased(r))
        case .orderPlaced: return .event(.orderPlaced(OrderEvent(order: try f.string("order"), amount: try f.optionalAmount("amount"))))
        case .orderClosed: return .event(.orderClosed(OrderEvent(order: try f.string("order"), amount: nil)))
        case .orderCancelled: return .event(.orderCancelled(OrderEvent(order: try f.string("order"), amount: nil)))
        case .purchaseMade: return .event(.purchaseMade(try parsePurchase(&f)))
        case .purchaseReturned:
            return .event(.purchaseReturned(PurchaseReturn(
                purchase: try f.string("purchase"), returnID: try f.string("return"), amount: try f.amount("amount"),
                items: try f.items("items"), store: try f.optionalString("store"), acceptedBy: try f.optionalString("acceptedBy"))))
        case .mailingSent, .mailingDelivered, .mailingOpened, .mailingClicked, .mailingGoalReached, .mailingFailed:
            return .event(try parseMailing(kind, &f))
        case .messengerSubscribed: return .event(.messengerSubscribed(try f.enumField("channel")))
        case .messengerUnsubscribed: return .event(.messengerUnsubscribed(try f.enumField("channel")))
        case .segmentAssigned: return .event(.segmentAssigned(try f.string("segment")))
        case .segmentUnassigned: return .event(.segmentUnassigned(try f.string("segment")))
        case .walletInstalled: return .event(.walletInstalled(try f.enumField("platform")))
        case .walletRemoved: return .event(.walletRemoved(try f.enumField("platform")))
        case .npsRated:
            let score = try f.int("score")
            guard (0...10).contains(score) else { throw f.bad("score", "must be 0 to 10, got \(score)") }
            return .event(.npsRated(score: score, comment: try f.optionalString("comment")))
        case .noteAdded: return .event(.noteAdded(try f.string("text")))
        case .custom: return .event(.custom(NamedEvent(name: try f.string("name"), context: try f.context("context"))))
        case .system: return .event(.system(NamedEvent(name: try f.string("name"), context: try f.context("context"))))
        case .rulesChanged: return .changeRules(try f.rules("rules"))
        case .segmentDefined:
            let filters = try f.raw("filters")
            guard case .array(let list) = filters else { throw f.bad("filters", "must be a JSON array of filters") }
            // Each filter checked against the catalog (see SegmentFilter), naming the one at fault.
            for (k, item) in list.enumerated() {
                do throws(FilterError) { _ = try SegmentFilter.parse(item, number: k + 1) } catch { throw f.bad("filters", error.description) }
            }
            return .event(.segmentDefined(SegmentDefinition(name: try f.string("name"), color: try f.optionalString("color"),
                                                            filters: filters.text, version: try f.optionalInt("version") ?? 1)))
        case .segmentDeleted: return .event(.segmentDeleted(try f.string("name")))
        case .bonusActivated, .bonusExpired, .bonusCancelled, .levelChanged, .segmentEntered, .segmentLeft, .operationRefused:
            throw f.bad("type", "'\(kind.name)' is derived by the engine and cannot be submitted")
        }
    }

    private static func parseRegistration(_ f: inout Fields) throws(InvalidInput) -> Registration {
        var cards = try f.optionalStringArray("cards") ?? []
        if let card = try f.optionalString("card") { cards.insert(card, at: 0) }
        let phone = try f.optionalPhone("phone")
        return Registration(
            phone: phone, cards: cards, name: try f.optionalString("name"), email: try f.optionalString("email"),
            gender: try f.optionalEnum("gender"), birthday: try f.optionalTime("birthday").map(Time.day(of:)),
            place: try f.optionalString("place"), addedBy: try f.optionalString("addedBy"),
            status: try f.optionalEnum("status") ?? .participant)
    }

    private static func parseProfileChanges(_ f: inout Fields) throws(InvalidInput) -> [FieldChange] {
        var changes: [FieldChange] = []
        for name in ["name", "email", "gender", "place", "status", "birthday", "phone"] where f.has(name) {
            var new = try f.nullableString(name)
            if let value = new {
                switch name {
                case "phone": new = try f.phone(name, value)
                case "gender": _ = try f.enumValue(name, value) as Gender
                case "status": _ = try f.enumValue(name, value) as ParticipationStatus
                case "birthday": guard let t = Time.parse(value) else { throw f.bad(name, "is not a date like 2025-03-01") }; new = Time.isoDate(day: Time.day(of: t))
                default: break
                }
            }
            changes.append(FieldChange(field: name, old: nil, new: new))
        }
        guard !changes.isEmpty else { throw f.bad(nil, "a profile change names at least one of name, email, gender, place, status, birthday, phone") }
        return changes
    }

    private static func parseAccrual(_ f: inout Fields) throws(InvalidInput) -> Accrual {
        let reason: AccrualReason = try f.optionalEnum("reason") ?? .manual
        guard reason != .purchase && reason != .refund else {
            throw f.bad("reason", "'\(reason.rawValue)' accruals are made by the engine (a purchase's bonuses come with purchase.made)")
        }
        let expiresAt = try f.optionalTime("expiresAt")
        return Accrual(
            amount: try f.amount("amount"), reason: reason, activatesAt: try f.optionalTime("activatesAt") ?? 0,
            expiresAt: expiresAt ?? 0, source: try f.optionalString("source"), comment: try f.optionalString("comment"),
            operatorName: try f.optionalString("operator"), customExpiry: expiresAt != nil)
    }

    private static func parsePurchase(_ f: inout Fields) throws(InvalidInput) -> Purchase {
        let total = try f.amount("total", least: 0)
        let spent = try f.optionalAmount("bonusesSpent") ?? 0
        // Both are checked before their difference is taken, so it cannot overflow.
        let paid = try f.optionalAmount("paid") ?? total - spent
        guard paid <= total - spent else {
            throw InvalidInput(line: f.line, field: "paid", reason: "must be 0 to total − bonusesSpent (\(total - spent)), got \(paid)", code: ErrorCode.invalidAmount)
        }
        return Purchase(
            purchase: try f.string("purchase"), total: total, paid: paid, bonusesSpent: spent, store: try f.optionalString("store"),
            seller: try f.optionalString("seller"), items: try f.items("items"), promotion: try f.optionalString("promotion"),
            promoCode: try f.optionalString("promoCode"))
    }

    private static func parseMailing(_ kind: EventKind, _ f: inout Fields) throws(InvalidInput) -> DomainEvent {
        let m = MailingEvent(mailing: try f.string("mailing"), channel: try f.enumField("channel"),
                             kind: try f.optionalEnum("kind") ?? .manual, error: try f.optionalString("error"))
        switch kind {
        case .mailingSent: return .mailingSent(m)
        case .mailingDelivered: return .mailingDelivered(m)
        case .mailingOpened: return .mailingOpened(m)
        case .mailingClicked: return .mailingClicked(m)
        case .mailingGoalReached: return .mailingGoalReached(m)
        default: return .mailingFailed(m)
        }
    }

    private static func parseCorrection(_ f: inout Fields) throws(InvalidInput) -> Command.Operation {
        let lot = try f.int("accrual")
        guard lot >= 0 else { throw f.bad("accrual", "must be the position of an accrual") }
        return .correct(lot: UInt64(lot), comment: try f.optionalString("comment"))
    }

    private static func parseLevelSet(_ f: inout Fields) throws(InvalidInput) -> Command.Operation {
        guard f.has("level") else { throw f.bad("level", "is missing (null sets the level back to the rules')") }
        return .setLevel(try f.nullableString("level"))
    }
}

/// Typed access to an input object's fields; remembers which were read, so that an unknown
/// field can be reported.
struct Fields {
    let fields: [(String, JSONValue)]
    let line: Int
    /// Which fields were read, by index: a bit each for the first 64, a set beyond (only an
    /// object with more fields than any type has needs it, and it is refused).
    private var usedMask: UInt64 = 0
    private var usedBeyond: Set<Int> = []

    init(fields: [(String, JSONValue)], line: Int) {
        self.fields = fields
        self.line = line
    }

    /// Lengths are compared first: they are at hand, and most keys differ in length from the
    /// name sought, which spares a full comparison.
    private func index(of name: String) -> Int? {
        let length = name.utf8.count
        return fields.firstIndex { $0.0.utf8.count == length && $0.0 == name }
    }

    private mutating func markUsed(_ index: Int) {
        if index < 64 { usedMask |= 1 << UInt64(index) } else { usedBeyond.insert(index) }
    }

    private func isUsed(_ index: Int) -> Bool { index < 64 ? usedMask & (1 << UInt64(index)) != 0 : usedBeyond.contains(index) }

    /// Counts a field as known without reading it.
    mutating func allow(_ name: String) {
        if let k = index(of: name) { markUsed(k) }
    }

    /// The first field that nothing read.
    var firstUnused: String? { fields.indices.first { !isUsed($0) }.map { fields[$0].0 } }

    func bad(_ field: String?, _ reason: String) -> InvalidInput { InvalidInput(line: line, field: field, reason: reason) }

    func has(_ name: String) -> Bool { fields.contains { $0.0 == name } }

    mutating func raw(_ name: String) throws(InvalidInput) -> JSONValue {
        guard let k = index(of: name) else { throw bad(name, "is missing") }
        markUsed(k)
        return fields[k].1
    }

    mutating func optionalRaw(_ name: String) -> JSONValue? {
        guard let k = index(of: name) else { return nil }
        markUsed(k)
        if case .null = fields[k].1 { return nil }
        return fields[k].1
    }

    func rejectUnknown() throws(InvalidInput) {
        if let unknown = firstUnused { throw bad(unknown, "is not a field of this event type") }
    }

    mutating func string(_ name: String) throws(InvalidInput) -> String {
        guard case .string(let s) = try raw(name) else { throw bad(name, "must be a string") }
        guard !s.isEmpty else { throw bad(name, "must not be empty") }
        return s
    }

    mutating func optionalString(_ name: String) throws(InvalidInput) -> String? {
        guard let value = optionalRaw(name) else { return nil }
        guard case .string(let s) = value else { throw bad(name, "must be a string") }
        return s.isEmpty ? nil : s
    }

    /// A string that may be given as null (to clear it).
    mutating func nullableString(_ name: String) throws(InvalidInput) -> String? {
        try optionalString(name)
    }

    mutating func optionalStringArray(_ name: String) throws(InvalidInput) -> [String]? {
        guard let value = optionalRaw(name) else { return nil }
        guard case .array(let items) = value else { throw bad(name, "must be an array of strings") }
        var out: [String] = []
        for item in items {
            guard case .string(let s) = item, !s.isEmpty else { throw bad(name, "must be an array of non-empty strings") }
            out.append(s)
        }
        return out
    }

    mutating func int(_ name: String) throws(InvalidInput) -> Int64 {
        guard case .integer(let i) = try raw(name) else { throw bad(name, "must be an integer (minor units: 1 bonus or rouble = 100)") }
        return i
    }

    /// An amount in minor units, from `least` (0 or 1) to ``AmountLimits/amountMax``: anything
    /// else is `invalid_amount`, and the message states the range that is accepted. An integer
    /// too large for Int64 is out of that range too, not "not an integer".
    mutating func amount(_ name: String, least: Int64 = 1) throws(InvalidInput) -> Int64 {
        try checkedAmount(name, try raw(name), least: least)
    }

    mutating func optionalAmount(_ name: String, least: Int64 = 0) throws(InvalidInput) -> Int64? {
        guard let value = optionalRaw(name) else { return nil }
        return try checkedAmount(name, value, least: least)
    }

    func checkedAmount(_ name: String, _ value: JSONValue, least: Int64) throws(InvalidInput) -> Int64 {
        // The range in words, made only for a refusal (this runs for every amount of every line).
        func range() -> String { "must be \(least) to \(AmountLimits.amountMax) (minor units: 1 bonus or rouble = 100)" }
        switch value {
        case .integer(let i):
            guard i >= least && i <= AmountLimits.amountMax else { throw InvalidInput(line: line, field: name, reason: "\(range()), got \(i)", code: ErrorCode.invalidAmount) }
            return i
        case .number(let d) where d == d.rounded(.towardZero) && abs(d) >= 9.2e18:
            throw InvalidInput(line: line, field: name, reason: "\(range()), got a number beyond 64 bits", code: ErrorCode.invalidAmount)
        default:
            throw bad(name, "must be an integer (minor units: 1 bonus or rouble = 100)")
        }
    }

    mutating func optionalInt(_ name: String) throws(InvalidInput) -> Int64? {
        guard let value = optionalRaw(name) else { return nil }
        guard case .integer(let i) = value else { throw bad(name, "must be an integer") }
        return i
    }

    mutating func optionalTime(_ name: String) throws(InvalidInput) -> Micros? {
        guard let value = optionalRaw(name) else { return nil }
        guard case .string(let s) = value, let t = Time.parse(s) else {
            throw bad(name, "must be an ISO 8601 time like 2025-03-01T10:00:00Z or a date like 2025-03-01")
        }
        return t
    }

    func phone(_ name: String, _ text: String) throws(InvalidInput) -> String {
        guard let normalized = Phone.normalize(text) else { throw bad(name, "'\(text)' is not a phone number") }
        return normalized
    }

    mutating func optionalPhone(_ name: String) throws(InvalidInput) -> String? {
        guard let text = try optionalString(name) else { return nil }
        return try phone(name, text)
    }

    func enumValue<E: RawRepresentable & CaseIterable>(_ name: String, _ text: String) throws(InvalidInput) -> E where E.RawValue == String {
        guard let value = E(rawValue: text) else {
            throw bad(name, "'\(text)' is not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    mutating func enumField<E: RawRepresentable & CaseIterable>(_ name: String) throws(InvalidInput) -> E where E.RawValue == String {
        try enumValue(name, try string(name))
    }

    mutating func optionalEnum<E: RawRepresentable & CaseIterable>(_ name: String) throws(InvalidInput) -> E? where E.RawValue == String {
        guard let text = try optionalString(name) else { return nil }
        return try enumValue(name, text)
    }

    mutating func items(_ name: String) throws(InvalidInput) -> [Item] {
        guard let value = optionalRaw(name) else { return [] }
        guard case .array(let list) = value else { throw bad(name, "must be an array of items") }
        var items: [Item] = []
        for (index, element) in list.enumerated() {
            guard case .object(let fields) = element else { throw bad("\(name)[\(index)]", "must be an object") }
            var f = Fields(fields: fields, line: line)
            let field = "\(name)[\(index)]."
            func prefixed(_ e: InvalidInput) -> InvalidInput { InvalidInput(line: e.line, field: field + (e.field ?? ""), reason: e.reason, code: e.code) }
            do throws(InvalidInput) {
                let item = Item(sku: try f.string("sku"), name: try f.optionalString("name") ?? "", category: try f.optionalString("category") ?? "",
                                quantity: try f.optionalInt("qty") ?? 1, price: try f.amount("price", least: 0))
                guard item.quantity > 0 && item.quantity <= AmountLimits.quantityMax else {
                    throw InvalidInput(line: line, field: "qty", reason: "must be 1 to \(AmountLimits.quantityMax), got \(item.quantity)", code: ErrorCode.invalidAmount)
                }
                try f.rejectUnknown()
                items.append(item)
            } catch { throw prefixed(error) }
        }
        return items
    }

    mutating func context(_ name: String) throws(InvalidInput) -> [(String, ContextValue)] {
        guard let value = optionalRaw(name) else { return [] }
        guard case .object(let fields) = value else { throw bad(name, "must be an object of variables") }
        var out: [(String, ContextValue)] = []
        for (key, v) in fields {
            switch v {
            case .string(let s):
                // A full ISO 8601 time is a date; any other text a string.
                if s.count >= 20, let t = Time.parse(s) { out.append((key, .date(t))) } else { out.append((key, .string(s))) }
            case .integer(let i): out.append((key, .number(Double(i))))
            case .number(let d): out.append((key, .number(d)))
            case .bool(let b): out.append((key, .bool(b)))
            default: throw bad("\(name).\(key)", "must be a string, number, boolean or date")
            }
        }
        return out
    }

    static let ruleFields = "accrualPercent, pendingDays, lifetimeDays, levelWindowDays, newClientDays, activeDays, lostDays, "
        + "returnPolicy, birthdayBonus, welcomeBonus, levelBasis, levels"

    mutating func rules(_ name: String) throws(InvalidInput) -> RulesPatch {
        guard case .object(let fields) = try raw(name) else { throw bad(name, "must be an object") }
        var f = Fields(fields: fields, line: line)
        var patch = RulesPatch()
        func basisPoints(_ v: JSONValue, _ field: String) throws(InvalidInput) -> Int64 {
            switch v {
            case .integer(let i): guard (0...100).contains(i) else { throw bad(field, "must be 0 to 100") }; return i * 100
            case .number(let d): guard (0...100).contains(d) else { throw bad(field, "must be 0 to 100") }; return Int64((d * 100).rounded())
            default: throw bad(field, "must be a number (a percent)")
            }
        }
        if let v = f.optionalRaw("accrualPercent") { patch.accrualBasisPoints = try basisPoints(v, "rules.accrualPercent") }
        func days(_ key: String) throws(InvalidInput) -> Int64? {
            guard let d = try f.optionalInt(key) else { return nil }
            guard d >= 0 && d <= Rules.daysMax else { throw bad("rules.\(key)", "must be 0 to \(Rules.daysMax) days, got \(d)") }
            return d
        }
        patch.pendingDays = try days("pendingDays")
        patch.lifetimeDays = try days("lifetimeDays")
        if let life = patch.lifetimeDays, life == 0 { throw bad("rules.lifetimeDays", "must be at least 1 day") }
        patch.levelWindowDays = try days("levelWindowDays")
        patch.newClientDays = try days("newClientDays")
        patch.activeDays = try days("activeDays")
        patch.lostDays = try days("lostDays")
        if let active = patch.activeDays, let lost = patch.lostDays, lost < active {
            throw bad("rules.lostDays", "must be at least activeDays (\(active)), got \(lost)")
        }
        patch.returnPolicy = try f.optionalEnum("returnPolicy")
        do {
            patch.birthdayBonus = try f.optionalAmount("birthdayBonus")
            patch.welcomeBonus = try f.optionalAmount("welcomeBonus")
        } catch { throw InvalidInput(line: line, field: "rules." + (error.field ?? ""), reason: error.reason, code: error.code) }
        if let basis = try f.optionalString("levelBasis") {
            guard basis == "sum" || basis == "count" else { throw bad("rules.levelBasis", "must be sum or count") }
            patch.levelBasisIsCount = basis == "count"
        }
        if let levels = f.optionalRaw("levels") {
            guard case .array(let list) = levels else { throw bad("rules.levels", "must be an array") }
            var out: [LevelRule] = []
            for (index, element) in list.enumerated() {
                guard case .object(let lf) = element else { throw bad("rules.levels[\(index)]", "must be an object") }
                var l = Fields(fields: lf, line: line)
                let levelName = try l.string("name")
                let threshold: Int64
                do { threshold = try l.optionalAmount("threshold") ?? 0 } catch {
                    throw InvalidInput(line: line, field: "rules.levels[\(index)].threshold", reason: error.reason, code: error.code)
                }
                var percent: Int64? = nil
                if let v = l.optionalRaw("percent") { percent = try basisPoints(v, "rules.levels[\(index)].percent") }
                if let unknown = l.firstUnused { throw bad("rules.levels[\(index)].\(unknown)", "is not a field of a level (name, threshold, percent)") }
                out.append(LevelRule(name: levelName, threshold: threshold, percentBasisPoints: percent))
            }
            patch.levels = out
        }
        if let unknown = f.firstUnused { throw bad("rules.\(unknown)", "is not a rule (the rules: \(Self.ruleFields))") }
        return patch
    }
}
