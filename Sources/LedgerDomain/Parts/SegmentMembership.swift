import LedgerStorage
import LedgerBytes

/// The segments part: the segments' definitions and which clients are in which segment.
/// Segment names are interned; a client's membership is one (client, name code) pair in a set.
public struct SegmentMembership: LedgerPart {
    public static let section = SnapshotSection.segments

    public internal(set) var definitions: [String: SegmentDefinition] = [:]
    /// Every segment name a membership event named, in first-seen order (a name's code is its index).
    var names: [String] = []
    var codes: [String: UInt32] = [:]
    var members = Set<UInt64>()
    /// The definitions' filters parsed and compiled (for evaluations and dynamic membership),
    /// the definitions that cannot be read and why, and the segments dynamic membership keeps
    /// up to date (``compile()``): derived from `definitions`, never stored.
    var parsed: [String: [SegmentFilter]] = [:]
    var compiled: [String: [SegmentEvaluator.Compiled]] = [:]
    var unreadable: [String: FilterError] = [:]
    var dynamic: [DynamicSegment] = []
    /// Dynamic membership's `contains` filters on names, resolved as far as the names table
    /// went (names are only ever added, so each new name is looked at once); emptied by
    /// ``compile()``.
    var containsResolved: [ObjectIdentifier: (names: Set<Int32>, scanned: Int)] = [:]
    var containsFilters: [SegmentEvaluator.Compiled] = []

    public init() {}

    public mutating func apply(_ event: borrowing AppliedEvent) {
        switch event.event {
        case .segmentDefined(let definition):
            definitions[definition.name] = definition
            compile()
        case .segmentDeleted(let name):
            definitions[name] = nil
            compile()
        case .segmentEntered(let t): enter(t.segment, event.client)
        case .segmentAssigned(let s): enter(s, event.client)
        case .segmentLeft(let t): leave(t.segment, event.client)
        case .segmentUnassigned(let s): leave(s, event.client)
        default:
            break
        }
    }

    mutating func enter(_ s: String, _ client: Int32?) {
        guard let client else { return }
        let code = codes[s] ?? {
            let code = UInt32(names.count)
            names.append(s)
            codes[s] = code
            return code
        }()
        members.insert(Self.membership(client, code))
    }

    mutating func leave(_ s: String, _ client: Int32?) {
        guard let client, let code = codes[s] else { return }
        members.remove(Self.membership(client, code))
    }

    /// The segments client `client` is in.
    public func segments(of client: Int32) -> Set<String> {
        guard !members.isEmpty else { return [] }
        var result: Set<String> = []
        for (code, name) in names.enumerated() where members.contains(Self.membership(client, UInt32(code))) { result.insert(name) }
        return result
    }

    /// The clients in segment `name` now (nil: no segment has that name, defined or assigned).
    /// (A name with no definition and no member now names no segment: a deleted segment's
    /// members have left it.)
    public func members(of name: String) -> [Int32]? {
        guard let code = codes[name] else { return definitions[name] == nil ? nil : [] }
        let list = members.compactMap { $0 & 0xFFFF_FFFF == UInt64(code) ? Int32(bitPattern: UInt32($0 >> 32)) : nil }
        return list.isEmpty && definitions[name] == nil ? nil : list
    }

    /// A client's membership of the segment named by `code`, as ``members`` keeps it.
    static func membership(_ client: Int32, _ code: UInt32) -> UInt64 { UInt64(UInt32(bitPattern: client)) << 32 | UInt64(code) }

    // MARK: snapshot (data-format.md §13.4, section 13)

    public func write(to e: SectionEncoder) {
        let definitions = definitions.values.sorted { $0.name < $1.name }
        e.put(UInt64(definitions.count))
        for s in definitions {
            e.putText(s.name)
            e.putText(s.color)
            e.putText(s.filters)
            e.put(s.version)
        }
        e.put(UInt64(names.count))
        for name in names { e.putText(name) }
        e.putArray(members.sorted())
    }

    public init(from d: inout SectionDecoder, clients: Int) throws(SectionError) {
        for k in 0..<(try d.getCount("segment definitions", width: 13)) {
            let name = try d.getText("segment definition \(k)'s name")
            let color = try d.getOptionalText("segment '\(name)''s colour")
            let filters = try d.getText("segment '\(name)''s filters")
            let version = try d.get(Int64.self, "segment '\(name)''s version")
            let definition = SegmentDefinition(name: name, color: color, filters: filters, version: version)
            guard definitions.updateValue(definition, forKey: name) == nil else { throw d.fail("segment '\(name)' is defined twice") }
        }
        for k in 0..<(try d.getCount("segment names", width: 4)) {
            let name = try d.getText("segment name \(k)")
            guard codes[name] == nil else { throw d.fail("segment name '\(name)' twice") }
            codes[name] = UInt32(k)
            names.append(name)
        }
        let members = try d.getArray(UInt64.self, "segment members")
        guard members.allSatisfy({ Int($0 >> 32) < clients && Int($0 & 0xFFFF_FFFF) < names.count }) else {
            throw d.fail("a segment member names no client or segment")
        }
        self.members = Set(members)
        compile()
    }

    public func checkInvariants(clients: Int) {
        precondition(names.count == codes.count, "segments: \(names.count) names, \(codes.count) codes")
        for (code, name) in names.enumerated() { precondition(codes[name] == UInt32(code), "segments: the code of '\(name)'") }
        precondition(members.allSatisfy { Int($0 >> 32) < clients && Int($0 & 0xFFFF_FFFF) < names.count }, "segments: a member names no client or segment")
        precondition(definitions.allSatisfy { $0.key == $0.value.name }, "segments: a definition under another name")
    }
}
