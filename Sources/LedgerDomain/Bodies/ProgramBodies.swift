/// The bodies of the program's events (rules, segment definitions, refusals, custom and system
/// events): their tags, and how each is written and read.

enum RulesField: UInt64, FieldTag {
    case version = 1, accrualBasisPoints, pendingDays, lifetimeDays, returnPolicy, birthdayBonus, welcomeBonus, levelBasisIsCount,
         levelWindowDays, level, noLevels, newClientDays, activeDays, lostDays
}

/// Tag 3 held a level's rate before a rate of 0 had to survive (tag 4, present-but-zero); it
/// still reads.
enum LevelRuleField: UInt64, FieldTag { case name = 1, threshold, rate, optionalRate }

extension Rules {
    func write(_ w: FieldWriter) {
        w.int(RulesField.version, version); w.int(RulesField.accrualBasisPoints, Optional(accrualBasisPoints))
        w.int(RulesField.pendingDays, Optional(pendingDays)); w.int(RulesField.lifetimeDays, Optional(lifetimeDays))
        w.string(RulesField.returnPolicy, returnPolicy.rawValue); w.int(RulesField.birthdayBonus, birthdayBonus)
        w.int(RulesField.welcomeBonus, welcomeBonus); w.bool(RulesField.levelBasisIsCount, levelBasisIsCount)
        w.int(RulesField.levelWindowDays, Optional(levelWindowDays))
        for level in levels {
            w.message(RulesField.level) { m in
                m.string(LevelRuleField.name, level.name); m.int(LevelRuleField.threshold, level.threshold)
                m.int(LevelRuleField.optionalRate, level.percentBasisPoints)
            }
        }
        if levels.isEmpty { w.bool(RulesField.noLevels, true) }
        w.int(RulesField.newClientDays, Optional(newClientDays)); w.int(RulesField.activeDays, Optional(activeDays))
        w.int(RulesField.lostDays, Optional(lostDays))
    }

    static func read(_ r: inout FieldReader) throws(BodyError) -> Rules {
        var rules = Rules()
        var levels: [LevelRule] = []
        var noLevels = false
        while let (tag, wire) = try r.next() {
            switch RulesField(rawValue: tag) {
            case .version?: rules.version = try r.int(wire)
            case .accrualBasisPoints?: rules.accrualBasisPoints = try r.optionalInt(wire)
            case .pendingDays?: rules.pendingDays = try r.optionalInt(wire)
            case .lifetimeDays?: rules.lifetimeDays = try r.optionalInt(wire)
            case .returnPolicy?: rules.returnPolicy = try r.named(wire, "returnPolicy")
            case .birthdayBonus?: rules.birthdayBonus = try r.int(wire)
            case .welcomeBonus?: rules.welcomeBonus = try r.int(wire)
            case .levelBasisIsCount?: rules.levelBasisIsCount = try r.uint(wire) != 0
            case .levelWindowDays?: rules.levelWindowDays = try r.optionalInt(wire)
            case .level?: levels.append(try LevelRule.read(try r.bytes(wire)))
            case .noLevels?: noLevels = try r.uint(wire) != 0
            case .newClientDays?: rules.newClientDays = try r.optionalInt(wire)
            case .activeDays?: rules.activeDays = try r.optionalInt(wire)
            case .lostDays?: rules.lostDays = try r.optionalInt(wire)
            case nil: try r.skip(wire)
            }
        }
        if !levels.isEmpty || noLevels { rules.levels = levels }
        return rules
    }
}

extension LevelRule {
    static func read(_ bytes: UnsafeRawBufferPointer) throws(BodyError) -> LevelRule {
        var m = FieldReader(bytes)
        var level = LevelRule(name: "", threshold: 0, percentBasisPoints: nil)
        while let (t, w) = try m.next() {
            switch LevelRuleField(rawValue: t) {
            case .name?: level.name = try m.string(w)
            case .threshold?: level.threshold = try m.int(w)
            case .rate?: level.percentBasisPoints = try m.int(w)
            case .optionalRate?: level.percentBasisPoints = try m.optionalInt(w)
            case nil: try m.skip(w)
            }
        }
        return level
    }
}

enum SegmentDefinitionField: UInt64, FieldTag { case name = 1, color, filters, version }

extension SegmentDefinition {
    func write(_ w: FieldWriter) {
        w.string(SegmentDefinitionField.name, name); w.string(SegmentDefinitionField.color, color)
        w.string(SegmentDefinitionField.filters, filters); w.int(SegmentDefinitionField.version, version)
    }

    static func read(_ r: inout FieldReader) throws(BodyError) -> SegmentDefinition {
        var s = SegmentDefinition(name: "", color: nil, filters: "", version: 0)
        while let (tag, wire) = try r.next() {
            switch SegmentDefinitionField(rawValue: tag) {
            case .name?: s.name = try r.string(wire)
            case .color?: s.color = try r.string(wire)
            case .filters?: s.filters = try r.string(wire)
            case .version?: s.version = try r.int(wire)
            case nil: try r.skip(wire)
            }
        }
        return s
    }
}

enum RefusalField: UInt64, FieldTag { case code = 1, operation, message, amount, source }

extension Refusal {
    func write(_ w: FieldWriter) {
        w.string(RefusalField.code, code); w.string(RefusalField.operation, operation); w.string(RefusalField.message, message)
        w.int(RefusalField.amount, amount); w.string(RefusalField.source, source)
    }

    static func read(_ r: inout FieldReader) throws(BodyError) -> Refusal {
        var ref = Refusal(code: "", operation: "", message: "", amount: nil)
        while let (tag, wire) = try r.next() {
            switch RefusalField(rawValue: tag) {
            case .code?: ref.code = try r.string(wire)
            case .operation?: ref.operation = try r.string(wire)
            case .message?: ref.message = try r.string(wire)
            case .amount?: ref.amount = try r.optionalInt(wire)
            case .source?: ref.source = try r.string(wire)
            case nil: try r.skip(wire)
            }
        }
        return ref
    }
}

enum NamedEventField: UInt64, FieldTag { case name = 1, context }

/// A context entry: its key, and its value under the tag of its type. A string value that is
/// empty is marked by tag 6 (an empty text is not written); a number is its bit pattern under
/// tag 3 (0 omitted) and marked by tag 7; a boolean is 1 (false) or 2 (true).
enum ContextField: UInt64, FieldTag { case key = 1, string, number, bool, date, emptyString, isNumber }

extension NamedEvent {
    func write(_ w: FieldWriter) {
        w.string(NamedEventField.name, name)
        for (key, value) in context {
            w.message(NamedEventField.context) { m in
                m.string(ContextField.key, key)
                switch value {
                case .string(let s): m.string(ContextField.string, s.isEmpty ? nil : s); if s.isEmpty { m.bool(ContextField.emptyString, true) }
                case .number(let d): m.uint(ContextField.number, d.bitPattern); m.bool(ContextField.isNumber, true)
                case .bool(let b): m.uint(ContextField.bool, b ? 2 : 1)
                case .date(let t): m.int(ContextField.date, Optional(t))
                }
            }
        }
    }

    /// `brief` (a rebuild) walks over the fields, each context entry's too, without keeping
    /// them (nothing of a custom event changes the state), so that a body the full reading
    /// would refuse is refused here as well; it returns nil then.
    static func read(_ r: inout FieldReader, brief: Bool) throws(BodyError) -> NamedEvent? {
        var n = NamedEvent(name: "", context: [])
        while let (tag, wire) = try r.next() {
            switch NamedEventField(rawValue: tag) {
            case .name?: if brief { try r.pass(wire) } else { n.name = try r.string(wire) }
            case .context?:
                let entry = try readContext(try r.bytes(wire), brief: brief)
                if let entry { n.context.append(entry) }
            case nil: try r.skip(wire)
            }
        }
        return brief ? nil : n
    }

    private static func readContext(_ bytes: UnsafeRawBufferPointer, brief: Bool) throws(BodyError) -> (String, ContextValue)? {
        var m = FieldReader(bytes)
        if brief {
            while let (_, w) = try m.next() { try m.pass(w) }
            return nil
        }
        var key = ""
        var value = ContextValue.string("")
        var number: UInt64 = 0
        var isNumber = false
        while let (t, w) = try m.next() {
            switch ContextField(rawValue: t) {
            case .key?: key = try m.string(w)
            case .string?: value = .string(try m.string(w))
            case .number?: number = try m.uint(w)
            case .bool?: value = .bool(try m.uint(w) == 2)
            case .date?: value = .date(try m.optionalInt(w))
            case .emptyString?: value = .string(""); _ = try m.uint(w)
            case .isNumber?: isNumber = try m.uint(w) != 0
            case nil: try m.skip(w)
            }
        }
        if isNumber { value = .number(Double(bitPattern: number)) }
        return (key, value)
    }
}
