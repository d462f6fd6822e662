/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hash.c: xxHash64 and CRC-32C (see ts_hash.h).
 *
 * xxHash64 follows the published algorithm: 4 accumulators over 32-byte stripes, then
 * 8-, 4- and 1-byte tails, then the avalanche. Reads are little-endian regardless of
 * the host so the partition of a series is the same on every machine. The streaming
 * form (ts_hash64_state) buffers at most one partial 32-byte stripe and gives the same
 * result as the one-shot ts_hash64 however the input is split.
 * CRC-32C uses the SSE4.2 crc32 instruction when available and a slicing-by-8 table
 * (built once with pthread_once; read-only afterwards) otherwise.
 */
#include "common/ts_hash.h"

#include "common/ts_buf.h"

#include <pthread.h>
#include <string.h>

/* ---------------------------------------------------------------- xxHash64 */

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t xround(uint64_t acc, uint64_t input)
{
	acc += input * P2;
	acc = rotl64(acc, 31);
	return acc * P1;
}

static inline uint64_t xmerge(uint64_t acc, uint64_t val)
{
	acc ^= xround(0, val);
	return acc * P1 + P4;
}

/* Fold the four stripe accumulators into one (inputs of 32 bytes or more). */
static uint64_t converge(const uint64_t v[4])
{
	uint64_t h = rotl64(v[0], 1) + rotl64(v[1], 7) + rotl64(v[2], 12) + rotl64(v[3], 18);
	for (int i = 0; i < 4; i++)
		h = xmerge(h, v[i]);
	return h;
}

/* Consume whole 32-byte stripes from p[0..n); returns the bytes consumed. */
static size_t stripes(uint64_t v[4], const uint8_t *p, size_t n)
{
	size_t done = 0;
	for (; n - done >= 32; done += 32) {
		v[0] = xround(v[0], ts_get_u64le(p + done));
		v[1] = xround(v[1], ts_get_u64le(p + done + 8));
		v[2] = xround(v[2], ts_get_u64le(p + done + 16));
		v[3] = xround(v[3], ts_get_u64le(p + done + 24));
	}
	return done;
}

static void seed_lanes(uint64_t v[4], uint64_t seed)
{
	v[0] = seed + P1 + P2;
	v[1] = seed + P2;
	v[2] = seed;
	v[3] = seed - P1;
}

/* The 8-, 4- and 1-byte tails (fewer than 32 bytes) and the final avalanche. */
static uint64_t finalize(uint64_t h, const uint8_t *p, size_t n)
{
	for (; n >= 8; p += 8, n -= 8) {
		h ^= xround(0, ts_get_u64le(p));
		h = rotl64(h, 27) * P1 + P4;
	}
	if (n >= 4) {
		h ^= (uint64_t)ts_get_u32le(p) * P1;
		h = rotl64(h, 23) * P2 + P3;
		p += 4;
		n -= 4;
	}
	for (; n > 0; n--) {
		h ^= (uint64_t)(*p++) * P5;
		h = rotl64(h, 11) * P1;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

uint64_t ts_hash64(const void *data, size_t n, uint64_t seed)
{
	const uint8_t *p = n ? data : (const uint8_t *)"";
	uint64_t h;
	size_t done = 0;
	if (n >= 32) {
		uint64_t v[4];
		seed_lanes(v, seed);
		done = stripes(v, p, n);
		h = converge(v);
	} else {
		h = seed + P5;
	}
	return finalize(h + (uint64_t)n, p + done, n - done);
}

void ts_hash64_init(ts_hash64_state *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->seed = seed;
	seed_lanes(s->v, seed);
}

void ts_hash64_update(ts_hash64_state *s, const void *data, size_t n)
{
	const uint8_t *p = data;
	if (n == 0)
		return;
	s->total_len += n;
	if (s->buf_len + n < 32) {
		memcpy(s->buf + s->buf_len, p, n);
		s->buf_len += n;
		return;
	}
	if (s->buf_len) {
		size_t fill = 32 - s->buf_len;
		memcpy(s->buf + s->buf_len, p, fill);
		stripes(s->v, s->buf, 32);
		p += fill;
		n -= fill;
		s->buf_len = 0;
	}
	size_t done = stripes(s->v, p, n);
	memcpy(s->buf, p + done, n - done);
	s->buf_len = n - done;
}

uint64_t ts_hash64_digest(const ts_hash64_state *s)
{
	uint64_t h = s->total_len >= 32 ? converge(s->v) : s->seed + P5;
	return finalize(h + s->total_len, s->buf, s->buf_len);
}

/* ---------------------------------------------------------------- CRC-32C */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_hw;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (int t = 1; t < 8; t++)
		for (int i = 0; i < 256; i++)
			crc_table[t][i] =
			    (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw_run(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64 = c;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c64 = __builtin_ia32_crc32di(c64, w);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while (n--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#endif

static uint32_t crc_sw_run(uint32_t c, const uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint32_t lo = c ^ ts_get_u32le(p);
		uint32_t hi = ts_get_u32le(p + 4);
		c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		    crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		    crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

uint32_t ts_crc32c(uint32_t crc, const void *data, size_t n)
{
	pthread_once(&crc_once, crc_init);
	uint32_t c = ~crc;
#if defined(__x86_64__)
	if (crc_hw)
		return ~crc_hw_run(c, data, n);
#endif
	return ~crc_sw_run(c, data, n);
}
