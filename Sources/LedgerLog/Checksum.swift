import CCRC32C

/// CRC-32C (Castagnoli), the checksum used everywhere in the log. Hardware `crc32` where the
/// CPU has SSE4.2, a table otherwise.
public enum CRC32C {
    /// The checksum of `bytes`, continuing from `crc` (0 for a fresh start).
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return ledger_crc32c_update(crc, base, bytes.count)
    }

    /// The checksum of an array of bytes.
    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// The portable table implementation, for tests that compare it with the hardware one.
    public static func portableChecksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return ledger_crc32c_update_portable(crc, base, bytes.count)
    }

    /// Whether the SSE4.2 instruction is in use on this machine.
    public static var isHardwareAccelerated: Bool { ledger_crc32c_is_hardware() != 0 }
}
