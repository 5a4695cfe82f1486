import LedgerBytes
/// What reading one batch at an offset found.
enum BatchRead {
    /// A whole batch whose header and batch checksums hold; `payload` is decompressed and
    /// valid until the cursor reads again.
    case batch(BatchHeader, offset: UInt64, payload: UnsafeRawBufferPointer)
    /// Nothing more: the end was reached, or the header bytes there are all zero.
    case end(offset: UInt64)
    /// Bytes that are not a valid batch, with what is wrong.
    case bad(offset: UInt64, reason: String)
}

/// Reads a segment file's batches in order through one reusable buffer, checking the header
/// checksum, the batch checksum and the LZ4 block of each. It does not check the chain or the
/// positions: the caller knows what it expects.
final class BatchCursor {
    let syscalls: SystemCalls
    let fd: Int32
    let path: String
    private var buffer: UnsafeMutableRawBufferPointer
    private var bufferOffset: UInt64 = 0
    private var bufferCount = 0
    private let decompressed: WriteBuffer
    private static let chunkBytes = 1 << 20

    init(syscalls: SystemCalls, fd: Int32, path: String) {
        self.syscalls = syscalls
        self.fd = fd
        self.path = path
        buffer = .allocate(byteCount: Self.chunkBytes, alignment: 16)
        decompressed = WriteBuffer(capacity: Self.chunkBytes)
    }

    deinit { buffer.deallocate() }

    /// Makes `[offset, offset + count)` resident, reading ahead up to `limit`; returns its bytes.
    private func bytes(at offset: UInt64, count: Int, limit: UInt64) throws -> UnsafeRawBufferPointer {
        if offset >= bufferOffset && offset + UInt64(count) <= bufferOffset + UInt64(bufferCount) {
            let start = Int(offset - bufferOffset)
            return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[start..<(start + count)])
        }
        if count > buffer.count {
            buffer.deallocate()
            buffer = .allocate(byteCount: max(count, buffer.count * 2), alignment: 16)
        }
        let want = Int(min(UInt64(buffer.count), max(UInt64(count), limit - offset)))
        let got = try syscalls.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), atAbsoluteOffset: offset, path: path)
        bufferOffset = offset
        bufferCount = got
        guard got >= count else { throw LogError.corrupt("the file ends \(count - got) bytes early", file: path, offset: offset + UInt64(got)) }
        return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<count])
    }

    /// Drops what is buffered (after the file changed underneath).
    func invalidate() { bufferCount = 0 }

    /// Reads the batch at `offset`, not past `limit` (the end of the data to consider).
    func read(at offset: UInt64, limit: UInt64) throws -> BatchRead {
        if offset >= limit { return .end(offset: offset) }
        let available = limit - offset
        if available < UInt64(BatchHeader.byteCount) {
            let rest = try bytes(at: offset, count: Int(available), limit: limit)
            return rest.allSatisfy({ $0 == 0 }) ? .end(offset: offset) : .bad(offset: offset, reason: "\(available) stray bytes where a 64-byte batch header would start")
        }
        let headerBytes = try bytes(at: offset, count: BatchHeader.byteCount, limit: limit)
        let header: BatchHeader
        switch BatchHeader.decode(headerBytes) {
        case .success(let decoded): header = decoded
        case .failure(.allZero): return .end(offset: offset)
        case .failure(.badMagic): return .bad(offset: offset, reason: "no batch magic where a batch header must start")
        case .failure(.badHeaderCRC): return .bad(offset: offset, reason: "the batch header checksum does not match")
        case .failure(.short): return .bad(offset: offset, reason: "the batch header is cut short")
        case .failure(.badField(let why)): return .bad(offset: offset, reason: "the batch header is invalid: \(why)")
        }
        guard UInt64(header.length) <= available else {
            return .bad(offset: offset, reason: "the batch claims \(header.length) bytes but only \(available) follow")
        }
        let whole = try bytes(at: offset, count: Int(header.length), limit: limit)
        let covered = UnsafeRawBufferPointer(rebasing: whole[16..<whole.count])
        guard CRC32C.checksum(covered) == header.batchCRC else {
            return .bad(offset: offset, reason: "the batch checksum does not match its bytes")
        }
        let stored = UnsafeRawBufferPointer(rebasing: whole[BatchHeader.byteCount..<whole.count])
        switch header.codec {
        case .none:
            return .batch(header, offset: offset, payload: stored)
        case .lz4:
            decompressed.removeAll()
            var ok = false
            decompressed.appendUninitialized(maxBytes: Int(header.payloadLength)) { target in
                ok = LZ4Block.decompress(stored, into: target)
                return ok ? target.count : 0
            }
            guard ok else { return .bad(offset: offset, reason: "the LZ4 block does not decompress to \(header.payloadLength) bytes") }
            return decompressed.withUnsafeBytes { .batch(header, offset: offset, payload: $0) }
        }
    }

    /// Reads `[offset, end)` in chunks and calls `body` with each, for scans of raw bytes.
    func forEachChunk(from offset: UInt64, to end: UInt64, _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws {
        var at = offset
        while at < end {
            let count = Int(min(UInt64(Self.chunkBytes), end - at))
            let chunk = try bytes(at: at, count: count, limit: end)
            if try !body(at, chunk) { return }
            at += UInt64(count)
        }
    }
}
