import LedgerBytes

extension AscendingValues {
    @inlinable package func write(to e: SectionEncoder) {
        e.putArray(indexes)
        e.putArray(values)
    }
    @inlinable package init(from d: inout SectionDecoder, _ what: String) throws(SectionError) {
        self.init()
        indexes = try d.getArray(Int32.self, "\(what): indexes")
        values = try d.getArray(Int64.self, "\(what): values")
        guard indexes.count == values.count, zip(indexes, indexes.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw d.fail("\(what): indexes must ascend, one value each")
        }
    }
}
