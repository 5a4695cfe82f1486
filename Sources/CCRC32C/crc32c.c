// CRC-32C with the SSE4.2 instruction where the CPU has it, a slicing-by-8 table otherwise.
// The choice is made once, at the first call, with __builtin_cpu_supports.
#include "ccrc32c.h"
#include <string.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static int table_ready = 0;

static void build_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int k = 1; k < 8; k++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[k][n] = c;
        }
    }
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t ledger_crc32c_update_portable(uint32_t crc, const void *bytes, size_t count) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_table();
    const unsigned char *p = (const unsigned char *)bytes;
    uint32_t c = ~crc;
    while (count && ((uintptr_t)p & 7)) { c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8); count--; }
    while (count >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= c;
        c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
            table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
            table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        count -= 8;
    }
    while (count--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

// Three independent streams hide the instruction's 3-cycle latency; their results are joined
// by multiplying with x^(8*BLOCK) mod P, done by the table-free shift below.
#define BLOCK 1024

static uint32_t shift_table[4][256];  // c -> c * x^(8*BLOCK*1) mod P, byte-wise
static uint32_t shift_table2[4][256]; // c -> c * x^(8*BLOCK*2) mod P
static int shift_ready = 0;

// Multiply a (reflected) by b modulo P.
static uint32_t gf_multiply(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (int i = 0; i < 32; i++) {
        if (a & 0x80000000u) product ^= b;
        a <<= 1;
        b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
    }
    return product;
}

// x^(2^k) for k... computes x^(n) mod P for n bits, reflected.
static uint32_t x_power(uint64_t n) {
    uint32_t result = 0x80000000u; // x^0
    uint32_t square = 0x40000000u; // x^1
    while (n) {
        if (n & 1) result = gf_multiply(square, result);
        square = gf_multiply(square, square);
        n >>= 1;
    }
    return result;
}

static void build_shift(uint32_t (*t)[256], uint32_t xp) {
    for (int byte = 0; byte < 4; byte++)
        for (uint32_t v = 0; v < 256; v++) t[byte][v] = gf_multiply(v << (8 * byte), xp);
}

static void build_shift_tables(void) {
    build_shift(shift_table, x_power((uint64_t)BLOCK * 8));
    build_shift(shift_table2, x_power((uint64_t)BLOCK * 16));
    __atomic_store_n(&shift_ready, 1, __ATOMIC_RELEASE);
}

static inline uint32_t apply_shift(uint32_t (*t)[256], uint32_t c) {
    return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24];
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_hardware(uint32_t crc, const void *bytes, size_t count) {
    const unsigned char *p = (const unsigned char *)bytes;
    uint64_t c0 = (uint32_t)~crc;
    while (count && ((uintptr_t)p & 7)) { c0 = _mm_crc32_u8((uint32_t)c0, *p++); count--; }
    if (count >= 3 * BLOCK) {
        if (!__atomic_load_n(&shift_ready, __ATOMIC_ACQUIRE)) build_shift_tables();
        while (count >= 3 * BLOCK) {
            uint64_t c1 = 0, c2 = 0;
            const unsigned char *end = p + BLOCK;
            while (p < end) {
                uint64_t w0, w1, w2;
                memcpy(&w0, p, 8);
                memcpy(&w1, p + BLOCK, 8);
                memcpy(&w2, p + 2 * BLOCK, 8);
                c0 = _mm_crc32_u64(c0, w0);
                c1 = _mm_crc32_u64(c1, w1);
                c2 = _mm_crc32_u64(c2, w2);
                p += 8;
            }
            c0 = apply_shift(shift_table2, (uint32_t)c0) ^ apply_shift(shift_table, (uint32_t)c1) ^ (uint32_t)c2;
            p += 2 * BLOCK;
            count -= 3 * BLOCK;
        }
    }
    while (count >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c0 = _mm_crc32_u64(c0, w);
        p += 8;
        count -= 8;
    }
    while (count--) c0 = _mm_crc32_u8((uint32_t)c0, *p++);
    return ~(uint32_t)c0;
}
#endif

static int hardware_choice = -1;

int ledger_crc32c_is_hardware(void) {
    int choice = __atomic_load_n(&hardware_choice, __ATOMIC_ACQUIRE);
    if (choice < 0) {
#if defined(__x86_64__)
        __builtin_cpu_init();
        choice = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
        choice = 0;
#endif
        __atomic_store_n(&hardware_choice, choice, __ATOMIC_RELEASE);
    }
    return choice;
}

uint32_t ledger_crc32c_update(uint32_t crc, const void *bytes, size_t count) {
#if defined(__x86_64__)
    if (ledger_crc32c_is_hardware()) return crc32c_hardware(crc, bytes, count);
#endif
    return ledger_crc32c_update_portable(crc, bytes, count);
}
