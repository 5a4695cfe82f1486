/// An error of the log: a stable ``code`` for programs and a message that says what happened
/// and where (file, byte offset, position, limit).
public struct LogError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// Another writer holds the directory's lock.
        case locked
        /// A system call failed (errno in the message).
        case io
        /// The file system has no room (ENOSPC): the message says how much is free. Freeing
        /// space, not reopening, is what helps.
        case diskFull = "disk_full"
        /// Bytes on disk are not what the format says they must be.
        case corrupt
        /// A named limit was exceeded.
        case limitExceeded = "limit_exceeded"
        /// An earlier write or sync failed; the writer acknowledges nothing more until the log
        /// is opened again and has re-read what is really on disk.
        case writerPoisoned = "writer_poisoned"
        /// An event's timestamp is earlier than the log's last one.
        case timestampRegression = "timestamp_regression"
        /// A bad argument (an option out of range, a position beyond the end).
        case invalidArgument = "invalid_argument"
        /// The log was closed.
        case closed
    }

    public let code: Code
    public let message: String
    /// The file the error concerns, when there is one.
    public let file: String?
    /// The byte offset in ``file`` the error concerns, when there is one.
    public let offset: UInt64?
    /// The errno of a failed system call.
    public let errno: Int32?

    public init(_ code: Code, _ message: String, file: String? = nil, offset: UInt64? = nil, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.file = file
        self.offset = offset
        self.errno = errno
    }

    public var description: String {
        var text = "\(code.rawValue): \(message)"
        if let file {
            text += " [\(file)"
            if let offset { text += " at byte offset \(offset)" }
            text += "]"
        }
        return text
    }

    static func corrupt(_ message: String, file: String, offset: UInt64) -> LogError {
        LogError(.corrupt, message, file: file, offset: offset)
    }

    static func limit(_ name: String, value: some BinaryInteger, max: some BinaryInteger) -> LogError {
        LogError(.limitExceeded, "\(name) is \(value), above the limit of \(max)")
    }
}
