import Testing
@testable import LedgerLog
import LedgerBytes

@Suite("Codecs")
struct CodecTests {
    @Test("property: the one varint reads back what it writes, by every reader, padded or not; cut short, too long or past 64 bits is nil")
    func oneVarint() {
        var r = SeededRandom(seed: 17)
        var values: [UInt64] = [0, 1, 127, 128, 16_383, 16_384, UInt64(UInt32.max), 1 << 62, UInt64.max]
        for _ in 0..<2000 { values.append(r.next() >> (r.next() % 64)) }
        for value in values {
            var bytes: [UInt8] = []
            Varint.append(value, to: &bytes)
            #expect(bytes.count == max(1, (64 - value.leadingZeroBitCount + 6) / 7))
            bytes.withUnsafeBytes { raw in
                var i = 0
                #expect(Varint.read(raw, at: &i) == value && i == bytes.count)
                if value <= UInt64(Int.max) {
                    var j = 0
                    #expect(Varint.readTrusted(raw, &j) == Int(value) && j == bytes.count)
                }
                var k = 0
                #expect(Varint.read(UnsafeRawBufferPointer(rebasing: raw[0..<(bytes.count - 1)]), at: &k) == nil, "cut short")
                if bytes.count > 1 {
                    var m = 0
                    #expect(Varint.read(raw, at: &m, maxBytes: bytes.count - 1) == nil, "longer than allowed")
                }
            }
            if value < 1 << 35 {
                var padded = [UInt8](repeating: 0, count: 5)
                padded.withUnsafeMutableBytes { Varint.writePadded(value, into: $0) }
                var i = 0
                #expect(padded.withUnsafeBytes { Varint.read($0, at: &i) } == value && i == 5)
            }
        }
        let tooBig: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02]
        var i = 0
        #expect(tooBig.withUnsafeBytes { Varint.read($0, at: &i) } == nil, "past 64 bits")
    }

    @Test("CRC-32C of 123456789 is the standard check value")
    func crcCheckValue() {
        let bytes = Array("123456789".utf8)
        #expect(CRC32C.checksum(bytes) == 0xE306_9283)
        #expect(bytes.withUnsafeBytes { CRC32C.portableChecksum($0) } == 0xE306_9283)
    }

    @Test("the hardware CRC-32C equals the table one at every length and alignment, and continues")
    func crcHardwareMatchesPortable() {
        var random = SeededRandom(seed: 7)
        let data = random.bytes(20_000)
        data.withUnsafeBytes { all in
            for length in [0, 1, 7, 8, 9, 63, 64, 1000, 3071, 3072, 3073, 6144, 10_000, 19_990] {
                for start in 0..<3 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    #expect(CRC32C.checksum(slice) == CRC32C.portableChecksum(slice), "length \(length) start \(start)")
                    let half = length / 2
                    let continued = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: slice[half...]),
                                                    continuing: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: slice[..<half])))
                    #expect(continued == CRC32C.checksum(slice))
                }
            }
        }
    }

    @Test("a varint round-trips for every bit width, and a truncated or overlong one is refused")
    func varints() {
        let buffer = WriteBuffer()
        var values: [UInt64] = [0, 1, 127, 128, 255, 16383, 16384, UInt64.max]
        for shift in 0..<64 { values.append(1 << UInt64(shift)); values.append((1 << UInt64(shift)) - 1) }
        buffer.reserve(values.count * 10)
        for v in values { buffer.putVarint(v) }
        buffer.withUnsafeBytes { bytes in
            var reader = ByteReader(bytes)
            for v in values { #expect(reader.readVarint() == v) }
            #expect(reader.remaining == 0)
        }
        let truncated: [UInt8] = [0x80, 0x80]
        truncated.withUnsafeBytes { var r = ByteReader($0); #expect(r.readVarint() == nil) }
        let overlong: [UInt8] = Array(repeating: 0xFF, count: 10) + [0x01]
        overlong.withUnsafeBytes { var r = ByteReader($0); #expect(r.readVarint() == nil) }
    }

    @Test("property: encoding then decoding random records is the identity", arguments: 1...40)
    func recordCodecRoundTrip(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let builder = RecordBatchBuilder(capacity: 64)
        var records: [LogRecord] = []
        var time = Int64.random(in: -1_000_000...4_000_000_000_000_000, using: &random)
        let keys = (0..<3).map { _ in random.bytes(Int.random(in: 0...LogLimits.streamKeyBytesMax, using: &random)) }
        for _ in 0..<Int.random(in: 1...300, using: &random) {
            time += Int64.random(in: 0...(Bool.random(using: &random) ? 0 : 10_000_000), using: &random)
            let record = LogRecord(
                timestamp: time, typeCode: UInt32.random(in: 0...UInt32.max, using: &random),
                streamKey: keys.randomElement(using: &random)!,
                idempotencyKey: Bool.random(using: &random) ? random.bytes(Int.random(in: 0...LogLimits.idempotencyKeyBytesMax, using: &random)) : nil,
                body: random.bytes(Int.random(in: 0...(Int.random(in: 0...9, using: &random) == 0 ? 5000 : 80), using: &random)))
            records.append(record)
            try builder.append(record)
        }
        let header = BatchHeader(length: 0, batchCRC: 0, codec: .none, eventCount: builder.count, basePosition: 1000,
                                 firstTimestamp: builder.firstTimestamp, lastTimestamp: builder.lastTimestamp,
                                 payloadLength: UInt32(builder.payloadByteCount), previousBatchCRC: 0, committedPositionAtWrite: 0)
        var decoded: [LogRecord] = []
        let problem = builder.payload.withUnsafeBytes { payload in
            RecordDecoder.decode(payload, header: header) { decoded.append($0.owned()); return true }
        }
        #expect(problem == nil)
        #expect(decoded.count == records.count)
        for (i, record) in records.enumerated() {
            var expected = record
            expected.position = 1000 + UInt64(i)
            #expect(decoded[i] == expected)
        }
    }

    @Test("property: a payload cut short or with bytes added never decodes as whole", arguments: 1...20)
    func recordCodecRejectsDamage(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let builder = RecordBatchBuilder()
        for i in 0..<20 { try builder.append(sampleRecord(batch: 0, index: i, timestamp: Int64(i), random: &random)) }
        let payload = builder.payload.bytes
        let header = BatchHeader(length: 0, batchCRC: 0, codec: .none, eventCount: builder.count, basePosition: 0,
                                 firstTimestamp: builder.firstTimestamp, lastTimestamp: builder.lastTimestamp,
                                 payloadLength: UInt32(payload.count), previousBatchCRC: 0, committedPositionAtWrite: 0)
        let cut = Int.random(in: 0..<payload.count, using: &random)
        let short = Array(payload[0..<cut])
        #expect(short.withUnsafeBytes { RecordDecoder.decode($0, header: header) { _ in true } } != nil)
        let longer = payload + [0]
        #expect(longer.withUnsafeBytes { RecordDecoder.decode($0, header: header) { _ in true } } != nil)
    }

    @Test("LZ4 blocks round-trip and a damaged block is refused")
    func lz4() {
        var random = SeededRandom(seed: 3)
        let source = (0..<10_000).map { UInt8(($0 / 7) % 251) } + random.bytes(100)
        var compressed = [UInt8](repeating: 0, count: LZ4Block.compressBound(source.count))
        let length = source.withUnsafeBytes { src in compressed.withUnsafeMutableBytes { LZ4Block.compress(src, into: $0) } }!
        #expect(length < source.count)
        var output = [UInt8](repeating: 0, count: source.count)
        let ok = compressed[0..<length].withUnsafeBytes { src in output.withUnsafeMutableBytes { LZ4Block.decompress(src, into: $0) } }
        #expect(ok && output == source)
        var wrongSize = [UInt8](repeating: 0, count: source.count + 1)
        #expect(!compressed[0..<length].withUnsafeBytes { src in wrongSize.withUnsafeMutableBytes { LZ4Block.decompress(src, into: $0) } })
    }

    @Test("a batch header round-trips, and any flipped bit fails its checksum")
    func batchHeader() {
        let header = BatchHeader(length: 200, batchCRC: 0xDEAD_BEEF, codec: .lz4, eventCount: 3, basePosition: 42,
                                 firstTimestamp: 10, lastTimestamp: 20, payloadLength: 150, previousBatchCRC: 7, committedPositionAtWrite: 40)
        var bytes = [UInt8](repeating: 0, count: 64)
        bytes.withUnsafeMutableBytes { header.encode(into: $0) }
        #expect(bytes.withUnsafeBytes { BatchHeader.decode($0) } == .success(header))
        for bit in 0..<(64 * 8) {
            var flipped = bytes
            flipped[bit / 8] ^= UInt8(1 << (bit % 8))
            if case .success = flipped.withUnsafeBytes({ BatchHeader.decode($0) }) { Issue.record("bit \(bit) flipped went unnoticed") }
        }
    }

    @Test("a record over a limit is a typed error and changes nothing")
    func limits() throws {
        let builder = RecordBatchBuilder()
        try builder.append(LogRecord(timestamp: 5, typeCode: 1, body: [1]))
        let before = builder.payload.bytes
        #expect(throws: LogError.self) { try builder.append(LogRecord(timestamp: 6, typeCode: 1, body: [UInt8](repeating: 0, count: Int(LogLimits.recordBodyBytesMax) + 1))) }
        #expect(throws: LogError.self) { try builder.append(LogRecord(timestamp: 6, typeCode: 1, streamKey: [UInt8](repeating: 65, count: 256), body: [])) }
        #expect(throws: LogError.self) { try builder.append(LogRecord(timestamp: 4, typeCode: 1, body: [])) }
        #expect(builder.payload.bytes == before && builder.count == 1)
        do {
            try builder.append(LogRecord(timestamp: 4, typeCode: 1, body: []))
        } catch {
            #expect(error.code == .timestampRegression)
        }
    }
}
