
import LedgerSync
import Glibc



import Synchronization

/// The system calls the log makes, by name, so that a test can aim a fault at one of them.
public enum Syscall: String, Sendable, CaseIterable {
    case open, close, pread, pwrite, fdatasync, fsync, ftruncate, fallocate, flock, rename, unlink, mkdir, fstat
}

/// What an injected fault does to a call.
public enum InjectedFault: Sendable, Equatable {
    /// The call fails with this errno (ENOSPC, EIO, …) and does nothing.
    case fail(errno: Int32)
    /// A pwrite writes only this many bytes of what it was given, then the call fails with
    /// `errno` (a short write followed by, typically, ENOSPC).
    case shortWrite(bytes: Int, thenErrno: Int32)
}

/// Decides, call by call, whether a fault is injected. Deterministic: the same plan over the
/// same run injects the same faults. Tests build one; production passes none.
public final class FaultPlan: Sendable {
    private let decide: Lock<(Syscall, Int) -> InjectedFault?>
    private let counts = Lock<[Syscall: Int]>([:])

    /// `decide` is given the call and how many calls of that kind came before it (0-based).
    public init(_ decide: @escaping @Sendable (Syscall, Int) -> InjectedFault?) {
        self.decide = Lock(decide)
    }

    /// Fails the `n`-th (0-based) call of `syscall` with `fault`, and nothing else.
    public static func once(_ syscall: Syscall, at n: Int, _ fault: InjectedFault) -> FaultPlan {
        FaultPlan { call, index in call == syscall && index == n ? fault : nil }
    }

    /// How many calls of `syscall` have been made through this plan.
    public func calls(of syscall: Syscall) -> Int { counts.withLock { $0[syscall] ?? 0 } }

    func fault(for syscall: Syscall) -> InjectedFault? {
        let index = counts.withLock { counts -> Int in
            let n = counts[syscall] ?? 0
            counts[syscall] = n + 1
            return n
        }
        return decide.withLock { $0(syscall, index) }
    }
}

/// The one thin wrapper every system call of the log goes through: it retries EINTR, turns
/// failures into ``LogError`` naming the call and the file, and lets a ``FaultPlan`` inject
/// faults. Nothing else in the module calls the C library's file functions.
public struct SystemCalls: Sendable {
    public let faults: FaultPlan?

    public init(faults: FaultPlan? = nil) { self.faults = faults }

    public static let live = SystemCalls()

    private func injected(_ call: Syscall, _ path: String) throws(LogError) -> InjectedFault? {
        guard let faults, let fault = faults.fault(for: call) else { return nil }
        if case .fail(let code) = fault { throw Self.error(call, path, code) }
        return fault
    }

    static func error(_ call: Syscall, _ path: String, _ code: Int32) -> LogError {
        if code == ENOSPC {
            let free = freeBytes(near: path).map { "\($0) bytes are free" } ?? "how much is free could not be read"
            return LogError(.diskFull, "the disk is full: \(call.rawValue) found no room (ENOSPC); \(free) on the file system of \(path). Free space, then write again: nothing that was not acknowledged was kept", file: path, errno: code)
        }
        return LogError(.io, "\(call.rawValue) failed: \(String(cString: strerror(code))) (errno \(code))", file: path, errno: code)
    }

    /// Bytes free to an unprivileged writer on the file system that holds `path` (or its
    /// directory, when the file is not there yet).
    public static func freeBytes(near path: String) -> UInt64? {
        var info = statvfs()
        if statvfs(path, &info) == 0 { return UInt64(info.f_bavail) * UInt64(info.f_frsize) }
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        guard statvfs(directory.isEmpty ? "." : directory, &info) == 0 else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    private func retrying(_ call: Syscall, _ path: String, _ body: () -> Int) throws(LogError) -> Int {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            throw Self.error(call, path, code)
        }
    }

    public func open(_ path: String, flags: Int32, mode: mode_t = 0o600) throws(LogError) -> Int32 {
        _ = try injected(.open, path)
        return Int32(try retrying(.open, path) { Int(Glibc.open(path, flags | O_CLOEXEC, mode)) })
    }

    public func close(_ fd: Int32, path: String) throws(LogError) {
        _ = try injected(.close, path)
        // close is never retried: on Linux the descriptor is gone even when it reports EINTR.
        if Glibc.close(fd) != 0 && errno != EINTR { throw Self.error(.close, path, errno) }
    }

    /// Reads up to `buffer.count` bytes at `offset` (pread); loops until the buffer is full or
    /// the file ends, and returns how many bytes it read.
    public func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, atAbsoluteOffset offset: UInt64, path: String) throws(LogError) -> Int {
        _ = try injected(.pread, path)
        var done = 0
        while done < buffer.count {
            let n = try retrying(.pread, path) {
                Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes all of `bytes` at `offset` (pwrite), looping over short writes.
    public func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, toAbsoluteOffset offset: UInt64, path: String) throws(LogError) {
        var limit = bytes.count
        var thenErrno: Int32? = nil
        if let fault = try injected(.pwrite, path), case .shortWrite(let count, let code) = fault {
            limit = min(count, bytes.count)
            thenErrno = code
        }
        var done = 0
        while done < limit {
            let n = try retrying(.pwrite, path) {
                Glibc.pwrite(fd, bytes.baseAddress! + done, limit - done, off_t(offset) + off_t(done))
            }
            done += n
        }
        if let thenErrno { throw Self.error(.pwrite, path, thenErrno) }
    }

    public func fdatasync(_ fd: Int32, path: String) throws(LogError) {
        _ = try injected(.fdatasync, path)
        _ = try retrying(.fdatasync, path) { Int(Glibc.fdatasync(fd)) }
    }

    public func fsync(_ fd: Int32, path: String) throws(LogError) {
        _ = try injected(.fsync, path)
        _ = try retrying(.fsync, path) { Int(Glibc.fsync(fd)) }
    }

    public func truncate(_ fd: Int32, toSize size: UInt64, path: String) throws(LogError) {
        _ = try injected(.ftruncate, path)
        _ = try retrying(.ftruncate, path) { Int(Glibc.ftruncate(fd, off_t(size))) }
    }

    /// Reserves `[offset, offset + length)` (posix_fallocate: the file grows, zero-filled).
    /// Returns false when the file system cannot preallocate; the file then grows by writes.
    public func preallocate(_ fd: Int32, offset: UInt64, length: UInt64, path: String) throws(LogError) -> Bool {
        _ = try injected(.fallocate, path)
        while true {
            // posix_fallocate returns the error instead of setting errno.
            let code = posix_fallocate(fd, off_t(offset), off_t(length))
            if code == 0 { return true }
            if code == EINTR { continue }
            if code == EOPNOTSUPP || code == ENOSYS || code == EINVAL { return false }
            throw Self.error(.fallocate, path, code)
        }
    }

    /// Takes the exclusive, non-blocking lock; returns false when another holds it.
    public func lockExclusive(_ fd: Int32, path: String) throws(LogError) -> Bool {
        _ = try injected(.flock, path)
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK { return false }
            throw Self.error(.flock, path, code)
        }
    }

    /// Whether another open file holds an exclusive `flock` on `path` (a writer holds the
    /// log's `LOCK`). Probes with a shared lock, released at once; a missing file is unlocked.
    /// A writer opening in that instant retries its own lock (see ``Log/init(directory:options:)``),
    /// so the probe never makes it fail.
    public func isLockedExclusively(_ path: String) -> Bool {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        while true {
            if flock(fd, LOCK_SH | LOCK_NB) == 0 {
                flock(fd, LOCK_UN)
                return false
            }
            if errno == EINTR { continue }
            return errno == EWOULDBLOCK
        }
    }

    public func rename(_ from: String, to: String) throws(LogError) {
        _ = try injected(.rename, from)
        _ = try retrying(.rename, from) { Int(Glibc.rename(from, to)) }
    }

    public func unlink(_ path: String) throws(LogError) {
        _ = try injected(.unlink, path)
        _ = try retrying(.unlink, path) { Int(Glibc.unlink(path)) }
    }

    /// Creates a directory and any missing parents, each with mode 0700; existing ones are fine.
    public func makeDirectory(_ path: String) throws(LogError) {
        _ = try injected(.mkdir, path)
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if Glibc.mkdir(prefix, 0o700) != 0 && errno != EEXIST { throw Self.error(.mkdir, prefix, errno) }
            prefix += "/"
        }
    }

    public func fileSize(_ fd: Int32, path: String) throws(LogError) -> UInt64 {
        _ = try injected(.fstat, path)
        var info = stat()
        _ = try retrying(.fstat, path) { Int(Glibc.fstat(fd, &info)) }
        return UInt64(info.st_size)
    }

    /// fsyncs a directory, so that files created or renamed in it survive a crash.
    public func syncDirectory(_ path: String) throws(LogError) {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { try? close(fd, path: path) }
        try fsync(fd, path: path)
    }

    /// Replaces the file at `path` with `bytes` so that a crash leaves the old file or the new
    /// one whole: written to `path.tmp`, synced, renamed into place, the directory synced.
    public func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws {
        let temporary = path + ".tmp"
        let fd = try open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try bytes.withUnsafeBytes { try write(fd, $0, toAbsoluteOffset: 0, path: temporary) }
            try fdatasync(fd, path: temporary)
            try close(fd, path: temporary)
        } catch {
            try? close(fd, path: temporary)
            throw error
        }
        try rename(temporary, to: path)
        try syncDirectory(directory)
    }

    /// The names in a directory (not `.` and `..`).
    public func listDirectory(_ path: String) throws(LogError) -> [String] {
        guard let dir = opendir(path) else { throw Self.error(.open, path, errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Removes a file, or a directory and everything in it (for tools and tests; the log itself
    /// never removes a directory). Missing paths are fine.
    public static func removeTree(_ path: String) {
        guard let dir = opendir(path) else { Glibc.unlink(path); return }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
            if name == "." || name == ".." { continue }
            let child = path + "/" + name
            if entry.pointee.d_type == UInt8(DT_DIR) { removeTree(child) } else { Glibc.unlink(child) }
        }
        closedir(dir)
        rmdir(path)
    }
}
