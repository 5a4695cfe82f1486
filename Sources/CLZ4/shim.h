#ifndef LEDGER_CLZ4_SHIM_H
#define LEDGER_CLZ4_SHIM_H
// The LZ4 block API from Debian's liblz4-dev. Only the block functions are used:
// LZ4_compress_fast, LZ4_compressBound, LZ4_decompress_safe.
#include <lz4.h>
#endif
