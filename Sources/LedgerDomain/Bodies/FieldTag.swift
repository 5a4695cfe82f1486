/// The tags of one event body's fields (data-format.md §11.3), each type's written once: its
/// codec writes and reads them, and the byte-level replay reads the same enumeration, so a
/// field cannot be read under one tag and written under another. A switch over
/// `Tag(rawValue: tag)` is exhaustive: a new tag must be handled (or passed over) everywhere
/// the compiler finds the switch, and `nil` is a tag this build does not know (skipped, and
/// counted, as an older reader meeting a newer writer's field). Tags are never reused.
protocol FieldTag: RawRepresentable<UInt64> {}

extension FieldWriter {
    func uint<Tag: FieldTag>(_ tag: Tag, _ value: UInt64) { uint(tag.rawValue, value) }
    func int<Tag: FieldTag>(_ tag: Tag, _ value: Int64) { int(tag.rawValue, value) }
    /// Present-but-zero survives (see ``FieldWriter/int(_:_:)-(UInt64,Int64?)``).
    func int<Tag: FieldTag>(_ tag: Tag, _ value: Int64?) { int(tag.rawValue, value) }
    func bool<Tag: FieldTag>(_ tag: Tag, _ value: Bool) { bool(tag.rawValue, value) }
    func string<Tag: FieldTag>(_ tag: Tag, _ value: String?) { string(tag.rawValue, value) }
    /// A lot position, stored plus one so that position 0 is not an omitted zero.
    func position<Tag: FieldTag>(_ tag: Tag, _ value: UInt64?) { if let value { uint(tag.rawValue, value + 1) } }
    func message<Tag: FieldTag>(_ tag: Tag, _ body: (FieldWriter) -> Void) { message(tag.rawValue, body) }
}

extension FieldReader {
    /// A lot position stored plus one (see ``FieldWriter/position(_:_:)``).
    mutating func position(_ wire: UInt64) throws(BodyError) -> UInt64 {
        let stored = try uint(wire)
        guard stored > 0 else { throw .malformed("a lot position field holds 0") }
        return stored - 1
    }

    /// An enumeration's value by its name.
    mutating func named<E: RawRepresentable>(_ wire: UInt64, _ field: String) throws(BodyError) -> E where E.RawValue == String {
        try EventCodec.enumValue(try string(wire), field)
    }

    /// A text that only the journal shows (a comment, an operator, a store): nil and passed
    /// over in a `brief` reading (a rebuild), read otherwise.
    mutating func text(_ wire: UInt64, unless brief: Bool) throws(BodyError) -> String? {
        if brief {
            try pass(wire)
            return nil
        }
        return try string(wire)
    }
}

/// The one field of the bodies that carry a single text or name (segment, card, comment,
/// note, Wallet platform, messenger channel).
enum SingleField: UInt64, FieldTag { case value = 1 }

extension EventCodec {
    /// A body's single text (see ``SingleField``): empty when absent.
    static func singleString(_ r: inout FieldReader) throws(BodyError) -> String {
        var value = ""
        while let (tag, wire) = try r.next() {
            switch SingleField(rawValue: tag) {
            case .value?: value = try r.string(wire)
            case nil: try r.skip(wire)
            }
        }
        return value
    }
}

/// `segment.entered` and `segment.left`: the segment's name under the single text's tag, so
/// that a body written before the cause was recorded reads the same; the cause's position.
enum SegmentTransitionField: UInt64, FieldTag { case segment = 1, cause = 2 }

extension SegmentTransition {
    func write(_ w: FieldWriter) {
        w.string(SegmentTransitionField.segment, segment)
        w.position(SegmentTransitionField.cause, cause)
    }

    static func read(_ r: inout FieldReader) throws(BodyError) -> SegmentTransition {
        var t = SegmentTransition(segment: "", cause: nil)
        while let (tag, wire) = try r.next() {
            switch SegmentTransitionField(rawValue: tag) {
            case .segment?: t.segment = try r.string(wire)
            case .cause?: t.cause = try r.position(wire)
            case nil: try r.skip(wire)
            }
        }
        return t
    }
}
