import LedgerBytes

extension HolderIndex {
    @inlinable package func write(to e: SectionEncoder) { writeSlots(slots, count: count, to: e) }
    @inlinable package init(from d: inout SectionDecoder, clients: Int, _ what: String) throws(SectionError) {
        self.init()
        (slots, count) = try readSlots(&d, payloadBelow: clients, what)
        mask = slots.count - 1
    }
}
