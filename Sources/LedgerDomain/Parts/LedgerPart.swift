import LedgerStorage
import LedgerBytes

/// One projection of a ledger's state with one job (the orders, the idempotency answers, the
/// segment membership, …). A part owns its storage and the events it applies, writes and
/// restores its own snapshot section, and checks its own invariants; nothing else changes it.
///
/// The state drives a fixed set of parts (``LedgerParts``) through generics: no existential in
/// the per-event loop. Adding a part is writing its type and adding one line to each of
/// ``LedgerParts``'s lists; no other part changes. The client records, their lots and
/// purchases stay one core beside the parts: their columns share one row layout, which the
/// snapshot maps in place (data-format.md §13).
public protocol LedgerPart: Sendable {
    /// The snapshot section this part writes.
    static var section: SnapshotSection { get }
    /// Applies one event, in log order, after the core state has applied it.
    mutating func apply(_ event: borrowing AppliedEvent)
    /// Ends a rebuild: a part that keeps less while rebuilding starts keeping it all.
    mutating func finishRebuild()
    /// Writes this part's snapshot section (canonical bytes: a live state's and a replay's of
    /// the same log are equal).
    func write(to e: SectionEncoder)
    /// Restores the part from its section, every reference checked against the state's
    /// `clients` registered clients.
    init(from d: inout SectionDecoder, clients: Int) throws(SectionError)
    /// Stops the process when the part's storage contradicts itself (tests call it after every
    /// command).
    func checkInvariants(clients: Int)
}

extension LedgerPart {
    public mutating func finishRebuild() {}
}

/// What a part sees of an event as it applies: where and when it is, its type, its client,
/// whether it was derived, its idempotency key, and the event itself.
public struct AppliedEvent {
    public var position: UInt64
    public var at: Micros
    public var kind: EventKind
    /// True for an event derived from the one before it in the same command.
    public var derived: Bool
    /// The number of the event's client, when it has a registered one.
    public var client: Int32?
    /// The command's idempotency key (only on its first event), valid during the call.
    public var key: UnsafeRawBufferPointer?
    /// The decoded event; nil when a rebuild applies it straight from its bytes: registrations
    /// and the kinds the byte-level replay reads (purchases, accruals, activations, expiries,
    /// write-offs, mailings, level changes, Wallet, messengers, custom events; see Replay.swift),
    /// none of whose fields a part reads today. A part that needs them must be given the body.
    public var event: DomainEvent?
    /// The event's body as the log holds it, when ``event`` is nil (valid during the call).
    public var body: UnsafeRawBufferPointer? = nil
}

/// Visits every part of a ``LedgerParts``, each with its own type.
public protocol LedgerPartVisitor {
    mutating func visit<Part: LedgerPart>(_ part: Part)
}

/// The fixed set of parts a ``LedgerState`` keeps beside its client records.
public struct LedgerParts: Sendable {
    public internal(set) var idempotency: IdempotencyAnswers
    public internal(set) var orders = OrderBook()
    public internal(set) var segments = SegmentMembership()
    public internal(set) var clientEvents = ClientEvents()
    public internal(set) var namedEvents = NamedEventIndex()
    public internal(set) var eventKinds = EventKindBlocks()
    public internal(set) var facts = ClientFacts()
    /// False in a state that only decides and is compared (a rule-change rebuild's): the
    /// journal's indexes (client events, named events, event kinds) are not kept.
    var keepsIndexes = true

    init(keepsKeyBytes: Bool, rebuilding: Bool) {
        idempotency = IdempotencyAnswers(keepsKeyBytes: keepsKeyBytes, rebuilding: rebuilding)
    }

    /// Applies one event to every part, in this order.
    @inline(__always)
    mutating func apply(_ event: borrowing AppliedEvent) {
        idempotency.apply(event)
        orders.apply(event)
        segments.apply(event)
        facts.apply(event)
        guard keepsIndexes else { return }
        clientEvents.apply(event)
        namedEvents.apply(event)
        eventKinds.apply(event)
    }

    mutating func finishRebuild() {
        idempotency.finishRebuild()
        orders.finishRebuild()
        segments.finishRebuild()
        clientEvents.finishRebuild()
        namedEvents.finishRebuild()
        eventKinds.finishRebuild()
        facts.finishRebuild()
    }

    public func visit<Visitor: LedgerPartVisitor>(_ visitor: inout Visitor) {
        visitor.visit(idempotency)
        visitor.visit(orders)
        visitor.visit(segments)
        visitor.visit(clientEvents)
        visitor.visit(namedEvents)
        visitor.visit(eventKinds)
        visitor.visit(facts)
    }

    /// The parts a snapshot holds, each from its section.
    init(snapshot section: (SnapshotSection) -> SectionDecoder, clients: Int) throws(SectionError) {
        func restore<Part: LedgerPart>(_: Part.Type) throws(SectionError) -> Part {
            var d = section(Part.section)
            let part = try Part(from: &d, clients: clients)
            try d.end()
            return part
        }
        idempotency = try restore(IdempotencyAnswers.self)
        orders = try restore(OrderBook.self)
        segments = try restore(SegmentMembership.self)
        clientEvents = try restore(ClientEvents.self)
        namedEvents = try restore(NamedEventIndex.self)
        eventKinds = try restore(EventKindBlocks.self)
        facts = try restore(ClientFacts.self)
    }

    /// Whether `section` belongs to a part, and if so writes it.
    func write(_ section: SnapshotSection, to e: SectionEncoder) -> Bool {
        struct Writer: LedgerPartVisitor {
            let section: SnapshotSection
            let e: SectionEncoder
            var wrote = false
            mutating func visit<Part: LedgerPart>(_ part: Part) {
                guard Part.section == section else { return }
                part.write(to: e)
                wrote = true
            }
        }
        var writer = Writer(section: section, e: e)
        visit(&writer)
        return writer.wrote
    }

    func checkInvariants(clients: Int) {
        struct Checker: LedgerPartVisitor {
            let clients: Int
            func visit<Part: LedgerPart>(_ part: Part) { part.checkInvariants(clients: clients) }
        }
        var checker = Checker(clients: clients)
        visit(&checker)
    }
}
