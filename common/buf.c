/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.c: bounded growable buffer and varint helpers (see ts_buf.h).
 */
#include "common/ts_buf.h"

#include "common/ts_alloc.h"
#include "common/ts_err.h"

#include <stdio.h>
#include <string.h>

void ts_buf_init(ts_buf *b, size_t max_bytes)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max_bytes;
}

void ts_buf_free(ts_buf *b)
{
	if (!b)
		return;
	ts_free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void ts_buf_reset(ts_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int ts_buf_reserve(ts_buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return TS_ELIMIT;
	size_t need = b->len + extra;
	if (need <= b->cap && b->data)
		return TS_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 4 ? need : cap * 2;
	if (cap > b->max)
		cap = b->max;
	char *p = ts_realloc(b->data, cap + 1);
	if (!p)
		return TS_ENOMEM;
	b->data = p;
	b->cap = cap;
	b->data[b->len] = '\0';
	return TS_OK;
}

int ts_buf_append(ts_buf *b, const void *p, size_t n)
{
	int rc = ts_buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return TS_OK;
}

int ts_buf_puts(ts_buf *b, const char *s)
{
	return ts_buf_append(b, s, strlen(s));
}

int ts_buf_putc(ts_buf *b, char c)
{
	return ts_buf_append(b, &c, 1);
}

int ts_buf_vprintf(ts_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char small[256];
	int n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return TS_EINVAL;
	if ((size_t)n < sizeof(small))
		return ts_buf_append(b, small, (size_t)n);
	int rc = ts_buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return TS_OK;
}

int ts_buf_printf(ts_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = ts_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *ts_buf_take(ts_buf *b, size_t *len)
{
	if (!b->data && ts_buf_reserve(b, 0) != TS_OK)
		return NULL;
	char *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

int ts_buf_put_u16le(ts_buf *b, uint16_t v)
{
	uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	return ts_buf_append(b, p, 2);
}

int ts_buf_put_u32le(ts_buf *b, uint32_t v)
{
	uint8_t p[4];
	ts_put_u32le(p, v);
	return ts_buf_append(b, p, 4);
}

int ts_buf_put_u64le(ts_buf *b, uint64_t v)
{
	uint8_t p[8];
	ts_put_u64le(p, v);
	return ts_buf_append(b, p, 8);
}

int ts_buf_put_uvarint(ts_buf *b, uint64_t v)
{
	uint8_t p[10];
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return ts_buf_append(b, p, n);
}

int ts_buf_put_varint(ts_buf *b, int64_t v)
{
	return ts_buf_put_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int ts_get_uvarint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	const uint8_t *q = *p;
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (q >= end)
			return TS_ECORRUPT;
		uint8_t c = *q++;
		if (shift == 63 && c > 1)
			return TS_ECORRUPT;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*p = q;
			*out = v;
			return TS_OK;
		}
	}
	return TS_ECORRUPT;
}

int ts_get_varint(const uint8_t **p, const uint8_t *end, int64_t *out)
{
	uint64_t u;
	int rc = ts_get_uvarint(p, end, &u);
	if (rc)
		return rc;
	*out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return TS_OK;
}
