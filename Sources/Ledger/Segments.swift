import LedgerDomain

/// The clients a segment selects, as of a moment (interface.md's `segment members`).
public struct SegmentMembers: Sendable, Equatable {
    public var segment: String
    public var asOf: Timestamp
    public var clients: [ClientID]
    public var count: Int { clients.count }

    /// As `ledger segment members --json` prints it.
    public var contractJSON: JSONValue {
        .object([("segment", .string(segment)), ("asOf", .string(asOf.description)),
                 ("clients", .array(clients.map { .string($0.rawValue) })), ("count", .integer(Int64(count)))])
    }
}

/// A segment question that cannot be answered: no such segment (`unknown_segment`), or a
/// defined segment whose recorded filters this build cannot read (`invalid_event`, naming them).
public struct SegmentError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var description: String { message }
}

enum SegmentQuery {
    /// The members of `name` in `state` as of `asOf`: a defined segment's filters evaluated
    /// (``LedgerDomain/SegmentEvaluator``); a segment only assigned by operators, its members.
    static func members(_ name: String, state: borrowing LedgerState, asOf: Micros) throws(SegmentError) -> SegmentMembers {
        let numbers: [Int32]
        if let computed = try computedMembers(name, state: state, asOf: asOf) {
            numbers = computed
        } else if let definition = state.segmentDefinitions[name] {
            let filters: [SegmentFilter]
            do throws(FilterError) {
                // (A definition recorded with filters this build cannot read is refused, never
                // read as no filters.)
                filters = try SegmentFilter.parseList(definition.filters)
                numbers = try SegmentEvaluator(state: copy state, asOf: asOf).members(filters)
            } catch {
                throw SegmentError(code: ErrorCode.invalidEvent.rawValue, message: "segment '\(name)': \(error.description)")
            }
        } else if let assigned = state.members(ofSegment: name) {
            numbers = assigned.compactMap(state.clientIndex).sorted()
        } else {
            throw SegmentError(code: "unknown_segment", message: "no segment is named '\(name)'")
        }
        return SegmentMembers(segment: name, asOf: Timestamp(microsecondsSince1970: asOf),
                              clients: numbers.map { ClientID(state.clientID(Int($0))) })
    }

    /// The members of an RFM segment (`rfm:Champions`) or a lifetime stage (`lifetime:sleeping`),
    /// computed as of `asOf` with the default thresholds; nil for any other name.
    static func computedMembers(_ name: String, state: borrowing LedgerState, asOf: Micros) throws(SegmentError) -> [Int32]? {
        if name.hasPrefix("rfm:") {
            guard let segment = RFMSegment(rawValue: String(name.dropFirst(4))) else {
                throw SegmentError(code: "unknown_segment", message: "no RFM segment is named '\(name.dropFirst(4))' (they are \(RFMSegment.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return state.rfm(asOf: asOf).scored.filter { $0.segment == segment }.map(\.client)
        }
        if name.hasPrefix("lifetime:") {
            guard let stage = LifetimeStage(rawValue: String(name.dropFirst(9))) else {
                throw SegmentError(code: "unknown_segment", message: "no lifetime stage is named '\(name.dropFirst(9))' (they are new, active, sleeping, lost)")
            }
            return state.rfm(asOf: asOf).stages.filter { $0.stage == stage }.map(\.client)
        }
        return nil
    }

    /// The clients `filters` select in `state` as of `asOf` (a segment not saved: a preview).
    static func preview(_ filters: [SegmentFilter], state: borrowing LedgerState, asOf: Micros) throws(SegmentError) -> SegmentMembers {
        let numbers: [Int32]
        do throws(FilterError) { numbers = try SegmentEvaluator(state: copy state, asOf: asOf).members(filters) } catch {
            throw SegmentError(code: ErrorCode.invalidEvent.rawValue, message: error.description)
        }
        return SegmentMembers(segment: "", asOf: Timestamp(microsecondsSince1970: asOf), clients: numbers.map { ClientID(state.clientID(Int($0))) })
    }

    /// The ledger's own "now": its latest event or advance step (time-based filters move with
    /// `advance(to:)`).
    static func now(_ state: borrowing LedgerState) -> Micros { max(state.lastEventAt, state.advancedTo) }
}

extension LedgerView {
    /// Every client's RFM scores and segment and lifetime stage, as of the view's latest event
    /// or advance (or `at`); the stages by the rules' thresholds unless `thresholds` are given.
    public func rfm(at: Timestamp? = nil, thresholds: LifetimeThresholds? = nil) -> RFMAnalysis {
        state.rfm(asOf: at?.microsecondsSince1970 ?? SegmentQuery.now(state), thresholds: thresholds)
    }

    /// The members of segment `name` as the view stands, as of its latest event (or `at`).
    public func segmentMembers(_ name: String, at: Timestamp? = nil) throws(SegmentError) -> SegmentMembers {
        try SegmentQuery.members(name, state: state, asOf: at?.microsecondsSince1970 ?? SegmentQuery.now(state))
    }
}

extension LedgerView {
    /// The clients `filters` would select, as the view stands (a segment tried before it is
    /// saved); `segment` is empty in the answer.
    public func segmentMembers(filters: [SegmentFilter], at: Timestamp? = nil) throws(SegmentError) -> SegmentMembers {
        try SegmentQuery.preview(filters, state: state, asOf: at?.microsecondsSince1970 ?? SegmentQuery.now(state))
    }
}

extension Ledger {
    /// The members of segment `name` now, as of the ledger's latest event or advance (or `at`).
    public func segmentMembers(_ name: String, at: Timestamp? = nil) throws(SegmentError) -> SegmentMembers {
        let result: Result<SegmentMembers, SegmentError> = read { state in
            Result { () throws(SegmentError) in try SegmentQuery.members(name, state: state, asOf: at?.microsecondsSince1970 ?? SegmentQuery.now(state)) }
        }
        return try result.get()
    }
}
