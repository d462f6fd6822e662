/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ts_buf.h: bounded growable byte buffer, plus little-endian and varint helpers.
 *
 * A ts_buf grows geometrically up to `max` bytes; growing past it is TS_ELIMIT and
 * leaves the buffer unchanged. data is always NUL-terminated (not counted in len) so
 * text built in it can be used as a C string.
 */
#ifndef COMMON_TS_BUF_H
#define COMMON_TS_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ts_buf {
	char *data; /* owned; NULL until the first append */
	size_t len; /* bytes used */
	size_t cap; /* bytes allocated (excluding the NUL slot) */
	size_t max; /* growth limit in bytes */
} ts_buf;

/* Initialize an empty buffer that may grow to max_bytes. Cannot fail. */
void ts_buf_init(ts_buf *b, size_t max_bytes);
/* Release the memory; the buffer is empty and reusable afterwards. NULL allowed. */
void ts_buf_free(ts_buf *b);
/* Set len to 0, keeping the allocation. */
void ts_buf_reset(ts_buf *b);
/* Ensure room for `extra` more bytes: TS_OK, TS_ENOMEM or TS_ELIMIT. */
int ts_buf_reserve(ts_buf *b, size_t extra);
int ts_buf_append(ts_buf *b, const void *p, size_t n);
int ts_buf_puts(ts_buf *b, const char *s);
int ts_buf_putc(ts_buf *b, char c);
int ts_buf_printf(ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ts_buf_vprintf(ts_buf *b, const char *fmt, va_list ap);
/* Take ownership of the bytes (NUL-terminated); the buffer is left empty. */
char *ts_buf_take(ts_buf *b, size_t *len);

/* Little-endian fixed-width fields and unsigned/zig-zag varints (protobuf encoding). */
int ts_buf_put_u16le(ts_buf *b, uint16_t v);
int ts_buf_put_u32le(ts_buf *b, uint32_t v);
int ts_buf_put_u64le(ts_buf *b, uint64_t v);
int ts_buf_put_uvarint(ts_buf *b, uint64_t v);
int ts_buf_put_varint(ts_buf *b, int64_t v);

static inline void ts_put_u32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
	p[3] = (uint8_t)(v >> 24);
}
static inline void ts_put_u64le(uint8_t *p, uint64_t v)
{
	ts_put_u32le(p, (uint32_t)v);
	ts_put_u32le(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t ts_get_u16le(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t ts_get_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}
static inline uint64_t ts_get_u64le(const uint8_t *p)
{
	return (uint64_t)ts_get_u32le(p) | ((uint64_t)ts_get_u32le(p + 4) << 32);
}

/*
 * Decode a uvarint from [*p, end). Advances *p and returns TS_OK, or TS_ECORRUPT if the
 * varint is truncated or longer than 10 bytes (*p unchanged then).
 */
int ts_get_uvarint(const uint8_t **p, const uint8_t *end, uint64_t *out);
int ts_get_varint(const uint8_t **p, const uint8_t *end, int64_t *out);

#endif /* COMMON_TS_BUF_H */
