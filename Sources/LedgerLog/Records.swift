import LedgerBytes
import Glibc

/// One record to append, owned. Convenient for tests and small callers; the hot path
/// appends straight into a ``RecordBatchBuilder``.
public struct LogRecord: Sendable, Equatable {
    public var position: UInt64
    /// When the event happened, in microseconds since 1970-01-01T00:00:00Z.
    public var timestamp: Int64
    public var typeCode: UInt32
    /// The stream the event belongs to (a client id); empty for none.
    public var streamKey: [UInt8]
    public var idempotencyKey: [UInt8]?
    public var body: [UInt8]

    public init(position: UInt64 = 0, timestamp: Int64, typeCode: UInt32, streamKey: [UInt8] = [], idempotencyKey: [UInt8]? = nil, body: [UInt8]) {
        self.position = position
        self.timestamp = timestamp
        self.typeCode = typeCode
        self.streamKey = streamKey
        self.idempotencyKey = idempotencyKey
        self.body = body
    }

    public var streamKeyString: String { String(decoding: streamKey, as: UTF8.self) }
}

/// A record as a reader sees it, pointing into the reader's buffer: valid only inside the
/// closure it is given to. Copy what must outlive it (``owned()``).
public struct RecordView {
    public let position: UInt64
    public let timestamp: Int64
    public let typeCode: UInt32
    public let streamKey: UnsafeRawBufferPointer
    public let idempotencyKey: UnsafeRawBufferPointer?
    public let body: UnsafeRawBufferPointer

    public var streamKeyString: String { String(decoding: streamKey, as: UTF8.self) }
    public var idempotencyKeyString: String? { idempotencyKey.map { String(decoding: $0, as: UTF8.self) } }

    public func owned() -> LogRecord {
        LogRecord(position: position, timestamp: timestamp, typeCode: typeCode, streamKey: Array(streamKey),
                  idempotencyKey: idempotencyKey.map { Array($0) }, body: Array(body))
    }
}

/// Encodes records into one batch payload. Reused across batches: ``reset()`` keeps memory.
///
/// Each record is, in order: varint timestamp delta (µs after the previous record of the
/// batch; 0 for the first, whose time is the batch's first timestamp), varint type code,
/// varint stream-key tag (0 = the previous record's key; n > 0 = a key of n − 1 bytes follows),
/// the key, varint idempotency-key tag (0 = none; n > 0 = n − 1 bytes follow), the key, varint
/// body length, the body.
public final class RecordBatchBuilder {
    // One owner at a time: no run-time exclusivity checks on the hot fields.
    let payload: WriteBuffer
    @exclusivity(unchecked) public private(set) var count: UInt32 = 0
    @exclusivity(unchecked) public private(set) var firstTimestamp: Int64 = 0
    @exclusivity(unchecked) public private(set) var lastTimestamp: Int64 = 0
    @exclusivity(unchecked) private var lastKeyOffset = 0
    @exclusivity(unchecked) private var lastKeyLength = -1

    public init(capacity: Int = 256 * 1024) {
        payload = WriteBuffer(capacity: capacity)
    }

    public var isEmpty: Bool { count == 0 }
    public var payloadByteCount: Int { payload.count }
    /// A copy of the encoded payload (for tests and benchmarks).
    public var payloadBytes: [UInt8] { payload.bytes }

    public func reset() {
        payload.removeAll()
        count = 0
        firstTimestamp = 0
        lastTimestamp = 0
        lastKeyLength = -1
    }

    /// Appends one record. Throws, changing nothing, when a limit would be exceeded or the
    /// timestamp is earlier than the previous record's.
    public func append(
        timestamp: Int64, typeCode: UInt32, streamKey: UnsafeRawBufferPointer,
        idempotencyKey: UnsafeRawBufferPointer? = nil, body: UnsafeRawBufferPointer
    ) throws(LogError) {
        guard count < LogLimits.batchEventsMax else {
            throw LogError.limit("events in one batch", value: count + 1, max: LogLimits.batchEventsMax)
        }
        guard streamKey.count <= LogLimits.streamKeyBytesMax else {
            throw LogError.limit("stream key bytes", value: streamKey.count, max: LogLimits.streamKeyBytesMax)
        }
        if let idempotencyKey, idempotencyKey.count > LogLimits.idempotencyKeyBytesMax {
            throw LogError.limit("idempotency key bytes", value: idempotencyKey.count, max: LogLimits.idempotencyKeyBytesMax)
        }
        guard body.count <= Int(LogLimits.recordBodyBytesMax) else {
            throw LogError.limit("record body bytes", value: body.count, max: LogLimits.recordBodyBytesMax)
        }
        if count > 0 && timestamp < lastTimestamp {
            throw LogError(.timestampRegression, "record timestamp \(timestamp) µs precedes the batch's previous record at \(lastTimestamp) µs")
        }
        let worst = encodedSizeMax(streamKey, idempotencyKey, body)
        guard payload.count + worst <= Int(LogLimits.batchPayloadBytesMax) else {
            throw LogError.limit("batch payload bytes", value: payload.count + worst, max: LogLimits.batchPayloadBytesMax)
        }
        payload.reserve(worst)
        if count == 0 { firstTimestamp = timestamp; lastTimestamp = timestamp }
        // timestamp ≥ lastTimestamp, so the difference fits a UInt64 even past Int64.max.
        payload.putVarint(UInt64(bitPattern: timestamp &- lastTimestamp))
        payload.putVarint(UInt64(typeCode))
        if sameAsLastKey(streamKey) {
            payload.putVarint(0)
        } else {
            payload.putVarint(UInt64(streamKey.count) + 1)
            lastKeyOffset = payload.count
            lastKeyLength = streamKey.count
            payload.putBytes(streamKey)
        }
        if let idempotencyKey {
            payload.putVarint(UInt64(idempotencyKey.count) + 1)
            payload.putBytes(idempotencyKey)
        } else {
            payload.putVarint(0)
        }
        payload.putVarint(UInt64(body.count))
        payload.putBytes(body)
        lastTimestamp = timestamp
        count += 1
    }

    /// Appends an owned record (its position is ignored: the log assigns positions).
    public func append(_ record: LogRecord) throws(LogError) {
        do {
            try record.streamKey.withUnsafeBytes { key in
                try record.body.withUnsafeBytes { body in
                    if let idem = record.idempotencyKey {
                        try idem.withUnsafeBytes { idem in
                            try append(timestamp: record.timestamp, typeCode: record.typeCode, streamKey: key, idempotencyKey: idem, body: body)
                        }
                    } else {
                        try append(timestamp: record.timestamp, typeCode: record.typeCode, streamKey: key, idempotencyKey: nil, body: body)
                    }
                }
            }
        } catch let error as LogError {
            throw error
        } catch {
            preconditionFailure("append throws only LogError")
        }
    }

    /// The most bytes one record can take: five varints of at most 10 bytes and the bytes.
    @inline(__always)
    private func encodedSizeMax(_ key: UnsafeRawBufferPointer, _ idem: UnsafeRawBufferPointer?, _ body: UnsafeRawBufferPointer) -> Int {
        50 + key.count + (idem?.count ?? 0) + body.count
    }

    private func sameAsLastKey(_ key: UnsafeRawBufferPointer) -> Bool {
        guard lastKeyLength == key.count, count > 0 else { return false }
        if key.count == 0 { return true }
        return payload.withUnsafeBytes { bytes in
            memcmp(bytes.baseAddress! + lastKeyOffset, key.baseAddress!, key.count) == 0
        }
    }
}

/// Decodes a batch payload record by record, checking it against its header.
enum RecordDecoder {
    /// Calls `body` for each record from `skipBelow` on; `body` returns false to stop. Returns
    /// nil when the payload is whole and consistent, else what is wrong with it.
    @inline(__always)
    static func decode(
        _ payload: UnsafeRawBufferPointer, header: BatchHeader, skipBelow: UInt64 = 0,
        _ body: (RecordView) throws -> Bool
    ) rethrows -> String? {
        var reader = ByteReader(payload)
        var timestamp = header.firstTimestamp
        var key = UnsafeRawBufferPointer(start: nil, count: 0)
        var haveKey = false
        var position = header.basePosition
        for index in 0..<header.eventCount {
            guard let delta = reader.readVarint(), let type = reader.readVarint(), let keyTag = reader.readVarint() else {
                return "record \(index) is cut short"
            }
            if index == 0 && delta != 0 { return "the first record's timestamp delta is not zero" }
            // timestamp ≤ the last, so their difference (and the delta under it) fits a UInt64
            // even where it passes Int64.max; the sum stays within the last.
            guard delta <= UInt64(bitPattern: header.lastTimestamp &- timestamp) else { return "record \(index) is later than the batch's last timestamp" }
            timestamp &+= Int64(bitPattern: delta)
            guard type <= UInt64(UInt32.max) else { return "record \(index) has a type code above 2^32" }
            if keyTag == 0 {
                guard haveKey else { return "record \(index) repeats a stream key no record gave" }
            } else {
                guard keyTag - 1 <= UInt64(LogLimits.streamKeyBytesMax), let bytes = reader.readBytes(Int(keyTag - 1)) else {
                    return "record \(index) has a bad stream key length"
                }
                key = bytes
                haveKey = true
            }
            guard let idemTag = reader.readVarint() else { return "record \(index) is cut short" }
            var idem: UnsafeRawBufferPointer? = nil
            if idemTag > 0 {
                guard idemTag - 1 <= UInt64(LogLimits.idempotencyKeyBytesMax), let bytes = reader.readBytes(Int(idemTag - 1)) else {
                    return "record \(index) has a bad idempotency key length"
                }
                idem = bytes
            }
            guard let bodyLength = reader.readVarint(), bodyLength <= UInt64(LogLimits.recordBodyBytesMax),
                  let bodyBytes = reader.readBytes(Int(bodyLength)) else {
                return "record \(index) has a bad body length"
            }
            if position >= skipBelow {
                let view = RecordView(position: position, timestamp: timestamp, typeCode: UInt32(type),
                                      streamKey: key, idempotencyKey: idem, body: bodyBytes)
                if try !body(view) { return nil }
            }
            position += 1
        }
        if timestamp != header.lastTimestamp { return "the last record's timestamp differs from the batch header's" }
        if reader.remaining != 0 { return "\(reader.remaining) bytes follow the last record" }
        return nil
    }
}
