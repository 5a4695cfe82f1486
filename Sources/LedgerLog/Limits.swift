/// Every limit of the log, named. Exceeding one is a typed ``LogError``, never a crash.
public enum LogLimits {
    /// Bytes of one record's body.
    public static let recordBodyBytesMax: UInt32 = 64 * 1024
    /// Bytes of a stream key (the client id for the loyalty domain).
    public static let streamKeyBytesMax: Int = 255
    /// Bytes of an idempotency key.
    public static let idempotencyKeyBytesMax: Int = 255
    /// Events in one batch.
    public static let batchEventsMax: UInt32 = 65_536
    /// Bytes of one batch's payload before compression.
    public static let batchPayloadBytesMax: UInt32 = 8 * 1024 * 1024
    /// Bytes a batch can occupy on disk: header plus the worst LZ4 expansion of the payload.
    public static var batchBytesMax: UInt32 {
        UInt32(BatchHeader.byteCount) + UInt32(LZ4Block.compressBound(Int(batchPayloadBytesMax)))
    }
    /// The default size at which a segment is sealed and a new one begins.
    public static let segmentBytesDefault: UInt64 = 256 * 1024 * 1024
    /// The smallest segment size a log accepts (tests use tiny segments).
    public static let segmentBytesMin: UInt64 = 1024
    /// The largest segment size a log accepts.
    public static let segmentBytesMax: UInt64 = 1 << 40
    /// How much space is reserved ahead at a time with fallocate, so that fdatasync does not
    /// also have to write the file's growing size and block map with each commit.
    public static let preallocationStepBytes: UInt64 = 16 * 1024 * 1024
    /// Bytes of batches one group commit writes and syncs together at most.
    public static let groupCommitBytesMax: Int = 32 * 1024 * 1024
    /// A sparse index entry is kept for a batch when at least this many bytes of the segment
    /// lie between it and the previous entry.
    public static let indexIntervalBytes: UInt64 = 4096
}
