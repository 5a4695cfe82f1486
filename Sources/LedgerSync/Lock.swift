import Glibc

/// A value guarded by a `pthread_mutex_t`, with the same `withLock` as `Synchronization.Mutex`.
///
/// Why not `Mutex`: on Linux its contended path hands the lock over inside the kernel (a
/// priority-inheritance futex), which the thread sanitizer does not see, so every access made
/// under a contended `Mutex` is reported as a race (a ten-line program shows it: four threads
/// adding 1 under `Mutex.withLock` 10 000 times each end at exactly 40 000 and draw the reports).
/// The sanitizer intercepts `pthread_mutex_lock`/`unlock`, so under this lock its reports are
/// real ones. Uncontended, both are one atomic exchange in and out; the class is one pointer.
public final class Lock<Value: ~Copyable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: consuming sending Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value while holding the lock.
    @inlinable @inline(__always)
    public func withLock<Result: ~Copyable, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        lock()
        defer { unlock() }
        return try body(&valueStorage)
    }

    @usableFromInline var valueStorage: Value {
        _read { yield value }
        _modify { yield &value }
    }

    @usableFromInline func lock() {
        let status = pthread_mutex_lock(mutex)
        precondition(status == 0, "pthread_mutex_lock failed: \(status)")
    }

    @usableFromInline func unlock() {
        let status = pthread_mutex_unlock(mutex)
        precondition(status == 0, "pthread_mutex_unlock failed: \(status)")
    }
}
