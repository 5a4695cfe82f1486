#ifndef LEDGER_CCRC32C_H
#define LEDGER_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every batch and
/// header in the log. `crc` is the running value: start from 0 and feed the result of one
/// call into the next; the result is already finalised (pre- and post-inverted), so
/// ledger_crc32c_update(0, "123456789", 9) == 0xE3069283.
uint32_t ledger_crc32c_update(uint32_t crc, const void *bytes, size_t count);

/// 1 when the SSE4.2 `crc32` instruction is used, 0 when the portable table is.
int ledger_crc32c_is_hardware(void);

/// The portable table implementation, always available (tests compare both).
uint32_t ledger_crc32c_update_portable(uint32_t crc, const void *bytes, size_t count);

#endif
