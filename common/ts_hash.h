/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ts_hash.h: the project's two checksums/hashes.
 *
 * - ts_hash64: xxHash64 (XXH64 as specified by the xxHash project), used for series
 *   keys and partitioning. partition = ts_hash64(series_key, len, 0) % n_partitions.
 * - ts_crc32c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), used on every log
 *   record and block section. Hardware (SSE4.2) when the CPU has it, table otherwise.
 */
#ifndef COMMON_TS_HASH_H
#define COMMON_TS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* XXH64 of p[0..n) with the given seed (p may be NULL when n == 0). Pure function,
 * thread-safe. */
uint64_t ts_hash64(const void *p, size_t n, uint64_t seed);

/*
 * Streaming XXH64 for discontiguous input (a series key built from label strings):
 * init, update any number of times, digest. digest() does not change the state, so
 * more bytes may follow. The result equals ts_hash64 of the concatenated bytes. Never
 * allocates; a state is used by one thread at a time.
 */
typedef struct ts_hash64_state {
	uint64_t v[4];      /* stripe accumulators */
	uint64_t seed;      /* seed given to init */
	uint64_t total_len; /* bytes fed so far */
	uint8_t buf[32];    /* pending partial stripe */
	size_t buf_len;     /* bytes in buf, < 32 */
} ts_hash64_state;

void ts_hash64_init(ts_hash64_state *s, uint64_t seed);
/* Feed p[0..n) (p may be NULL when n == 0). */
void ts_hash64_update(ts_hash64_state *s, const void *p, size_t n);
uint64_t ts_hash64_digest(const ts_hash64_state *s);

/*
 * Extend a CRC-32C: start with crc = 0 for a fresh checksum; the result of one call can
 * be fed to the next to checksum discontiguous bytes. ts_crc32c(0, "123456789", 9) is
 * 0xE3069283. Thread-safe.
 */
uint32_t ts_crc32c(uint32_t crc, const void *p, size_t n);

#endif /* COMMON_TS_HASH_H */
