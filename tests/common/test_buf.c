/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_buf.c: unit tests for common/buf.c and the inline helpers of ts_buf.h.
 *
 * Growth and NUL termination, the max limit (TS_ELIMIT leaves the buffer byte-for-byte
 * unchanged), TS_ENOMEM under ts_alloc_fail_after with state intact, printf on both the
 * small and large paths, take, little-endian fields, and uvarint/varint round trips
 * including the 10-byte maximum and truncated or overlong input (TS_ECORRUPT with the
 * cursor unchanged).
 */
#include "common/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int reset_injection(void **state)
{
	ts_alloc_fail_after(-1);
	return 0;
}

/* ---------------------------------------------------------------- basics */

static void test_ts_buf_init_is_empty(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 100);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 100);
	ts_buf_free(&b);
}

static void test_ts_buf_append_grows_and_terminates(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(ts_buf_append(&b, "0123456789", 10), TS_OK);
		assert_int_equal(b.len, (size_t)(i + 1) * 10);
		assert_true(b.cap >= b.len);
		assert_int_equal(b.data[b.len], '\0');
	}
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.data[i], '0' + (int)(i % 10));
	ts_buf_free(&b);
}

static void test_ts_buf_append_growth_is_geometric(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 1 << 24);
	size_t reallocs = 0, last_cap = 0;
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(ts_buf_putc(&b, 'x'), TS_OK);
		if (b.cap != last_cap) {
			reallocs++;
			last_cap = b.cap;
		}
	}
	assert_true(reallocs < 20);
	ts_buf_free(&b);
}

static void test_ts_buf_append_zero_bytes(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 16);
	assert_int_equal(ts_buf_append(&b, NULL, 0), TS_OK);
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	ts_buf_free(&b);
}

static void test_ts_buf_append_binary_with_nul(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 64);
	const char bin[5] = {'a', '\0', 'b', '\xff', '\0'};
	assert_int_equal(ts_buf_append(&b, bin, sizeof(bin)), TS_OK);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, bin, 5);
	ts_buf_free(&b);
}

static void test_ts_buf_puts_putc(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 64);
	assert_int_equal(ts_buf_puts(&b, "abc"), TS_OK);
	assert_int_equal(ts_buf_putc(&b, '-'), TS_OK);
	assert_int_equal(ts_buf_puts(&b, ""), TS_OK);
	assert_int_equal(ts_buf_putc(&b, '\0'), TS_OK);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "abc-\0", 6);
	ts_buf_free(&b);
}

static void test_ts_buf_reset_keeps_allocation(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 1024);
	assert_int_equal(ts_buf_puts(&b, "hello"), TS_OK);
	char *data = b.data;
	size_t cap = b.cap;
	ts_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.cap, cap);
	assert_string_equal(b.data, "");
	ts_buf_reset(&b);
	ts_buf_free(&b);
	ts_buf_reset(&b); /* on an empty, unallocated buffer */
	assert_int_equal(b.len, 0);
}

static void test_ts_buf_free_null_and_reuse(void **state)
{
	ts_buf_free(NULL);
	ts_buf b;
	ts_buf_init(&b, 32);
	assert_int_equal(ts_buf_puts(&b, "one"), TS_OK);
	ts_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(ts_buf_puts(&b, "two"), TS_OK);
	assert_string_equal(b.data, "two");
	ts_buf_free(&b);
	ts_buf_free(&b); /* twice is fine */
}

/* ---------------------------------------------------------------- the limit */

static void test_ts_buf_reserve_exactly_max(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 100);
	assert_int_equal(ts_buf_reserve(&b, 100), TS_OK);
	assert_true(b.cap >= 100 && b.cap <= 100);
	char x[100];
	memset(x, 'q', sizeof(x));
	assert_int_equal(ts_buf_append(&b, x, 100), TS_OK);
	assert_int_equal(b.len, 100);
	assert_int_equal(b.data[100], '\0');
	assert_int_equal(ts_buf_putc(&b, 'y'), TS_ELIMIT);
	ts_buf_free(&b);
}

static void test_ts_buf_append_past_max_is_elimit_unchanged(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 10);
	assert_int_equal(ts_buf_puts(&b, "12345678"), TS_OK);
	char *data = b.data;
	size_t cap = b.cap;
	assert_int_equal(ts_buf_puts(&b, "abc"), TS_ELIMIT);
	assert_int_equal(b.len, 8);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.cap, cap);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(ts_buf_puts(&b, "ab"), TS_OK);
	assert_string_equal(b.data, "12345678ab");
	ts_buf_free(&b);
}

static void test_ts_buf_reserve_huge_is_elimit(void **state)
{
	ts_buf b;
	ts_buf_init(&b, SIZE_MAX);
	assert_int_equal(ts_buf_puts(&b, "x"), TS_OK);
	/* len + extra overflows size_t: must be ELIMIT, never a wrapped small reserve. */
	assert_int_equal(ts_buf_reserve(&b, SIZE_MAX), TS_ELIMIT);
	assert_int_equal(b.len, 1);
	ts_buf_free(&b);
}

static void test_ts_buf_max_zero(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 0);
	assert_int_equal(ts_buf_putc(&b, 'a'), TS_ELIMIT);
	assert_int_equal(ts_buf_append(&b, "", 0), TS_OK);
	assert_int_equal(b.len, 0);
	ts_buf_free(&b);
}

static void test_ts_buf_cap_never_exceeds_max(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 1000);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(ts_buf_putc(&b, 'c'), TS_OK);
		assert_true(b.cap <= 1000);
	}
	assert_int_equal(ts_buf_putc(&b, 'c'), TS_ELIMIT);
	ts_buf_free(&b);
}

static void test_ts_buf_reserve_enomem_unchanged(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	assert_int_equal(ts_buf_puts(&b, "keep me"), TS_OK);
	char *data = b.data;
	size_t cap = b.cap;
	ts_alloc_fail_after(0);
	assert_int_equal(ts_buf_reserve(&b, 4096), TS_ENOMEM);
	assert_int_equal(ts_buf_append(&b, "x", 1), TS_OK); /* fits: no allocation */
	char big[200];
	memset(big, 'b', sizeof(big));
	assert_int_equal(ts_buf_append(&b, big, sizeof(big)), TS_ENOMEM);
	assert_int_equal(ts_buf_printf(&b, "%0300d", 1), TS_ENOMEM);
	ts_alloc_fail_after(-1);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.cap, cap);
	assert_string_equal(b.data, "keep mex");
	ts_buf_free(&b);
}

static void test_ts_buf_take_enomem_on_empty(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 16);
	ts_alloc_fail_after(0);
	size_t len = 99;
	assert_null(ts_buf_take(&b, &len));
	ts_alloc_fail_after(-1);
	assert_int_equal(len, 99);
	ts_buf_free(&b);
}

/* ---------------------------------------------------------------- printf */

static void test_ts_buf_printf_small(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 1024);
	assert_int_equal(ts_buf_printf(&b, "%s=%d", "a", 1), TS_OK);
	assert_int_equal(ts_buf_printf(&b, ",%s=%.2f", "b", 2.5), TS_OK);
	assert_string_equal(b.data, "a=1,b=2.50");
	assert_int_equal(b.len, 10);
	ts_buf_free(&b);
}

static void test_ts_buf_printf_large_path(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	assert_int_equal(ts_buf_puts(&b, "head:"), TS_OK);
	char big[3000];
	memset(big, 'L', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ts_buf_printf(&b, "%s|%d", big, 77), TS_OK);
	assert_int_equal(b.len, 5 + 2999 + 3);
	assert_memory_equal(b.data, "head:LLL", 8);
	assert_string_equal(b.data + b.len - 3, "|77");
	ts_buf_free(&b);
}

static void test_ts_buf_printf_boundary_lengths(void **state)
{
	/* 255, 256 and 257 bytes straddle the 256-byte stack buffer. */
	for (int n = 250; n < 262; n++) {
		ts_buf b;
		ts_buf_init(&b, 4096);
		assert_int_equal(ts_buf_printf(&b, "%0*d", n, 7), TS_OK);
		assert_int_equal(b.len, (size_t)n);
		assert_int_equal(b.data[n - 1], '7');
		assert_int_equal(b.data[0], '0');
		assert_int_equal(b.data[n], '\0');
		ts_buf_free(&b);
	}
}

static void test_ts_buf_printf_elimit_unchanged(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 300);
	assert_int_equal(ts_buf_printf(&b, "%0100d", 1), TS_OK);
	assert_int_equal(ts_buf_printf(&b, "%0400d", 5), TS_ELIMIT); /* large path */
	assert_int_equal(ts_buf_printf(&b, "%0250d", 5), TS_ELIMIT); /* small path */
	assert_int_equal(b.len, 100);
	assert_int_equal(b.data[100], '\0');
	assert_int_equal(ts_buf_printf(&b, "%0200d", 5), TS_OK); /* exactly to max */
	assert_int_equal(b.len, 300);
	assert_int_equal(b.data[299], '5');
	ts_buf_free(&b);
}

static int via_vprintf(ts_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = ts_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

static void test_ts_buf_vprintf_large(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 1 << 16);
	assert_int_equal(via_vprintf(&b, "%01000d%s", 3, "end"), TS_OK);
	assert_int_equal(b.len, 1003);
	assert_string_equal(b.data + 1000, "end");
	ts_buf_free(&b);
}

/* ---------------------------------------------------------------- take */

static void test_ts_buf_take_transfers_ownership(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 64);
	assert_int_equal(ts_buf_puts(&b, "owned"), TS_OK);
	size_t len = 0;
	char *s = ts_buf_take(&b, &len);
	assert_non_null(s);
	assert_int_equal(len, 5);
	assert_string_equal(s, "owned");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(ts_buf_puts(&b, "again"), TS_OK); /* reusable */
	assert_string_equal(b.data, "again");
	ts_free(s);
	ts_buf_free(&b);
}

static void test_ts_buf_take_empty_gives_empty_string(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 64);
	char *s = ts_buf_take(&b, NULL);
	assert_non_null(s);
	assert_string_equal(s, "");
	ts_free(s);
}

/* ---------------------------------------------------------------- little endian */

static void test_ts_buf_put_le_fields(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 64);
	assert_int_equal(ts_buf_put_u16le(&b, 0x0102), TS_OK);
	assert_int_equal(ts_buf_put_u32le(&b, 0x03040506u), TS_OK);
	assert_int_equal(ts_buf_put_u64le(&b, 0x0708090A0B0C0D0EULL), TS_OK);
	const uint8_t want[] = {0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 0x0E,
				0x0D, 0x0C, 0x0B, 0x0A, 0x09, 0x08, 0x07};
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	const uint8_t *p = (const uint8_t *)b.data;
	assert_int_equal(ts_get_u16le(p), 0x0102);
	assert_int_equal(ts_get_u32le(p + 2), 0x03040506u);
	assert_int_equal(ts_get_u64le(p + 6), 0x0708090A0B0C0D0EULL);
	ts_buf_free(&b);
}

static void test_ts_get_le_high_bits(void **state)
{
	const uint8_t ff[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
	assert_int_equal(ts_get_u16le(ff), 0xFFFF);
	assert_int_equal(ts_get_u32le(ff), 0xFFFFFFFFu);
	assert_true(ts_get_u64le(ff) == UINT64_MAX);
	const uint8_t top[8] = {0, 0, 0, 0x80, 0, 0, 0, 0x80};
	assert_int_equal(ts_get_u32le(top), 0x80000000u);
	assert_true(ts_get_u64le(top) == 0x8000000080000000ULL);
}

static void test_ts_put_le_inline_roundtrip(void **state)
{
	uint8_t p[8];
	const uint64_t vals[] = {
	    0, 1, 0x80, 0xFFFFFFFFULL, 0x100000000ULL, UINT64_MAX, 0x0123456789ABCDEFULL};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		ts_put_u64le(p, vals[i]);
		assert_true(ts_get_u64le(p) == vals[i]);
		assert_int_equal(p[0], (uint8_t)vals[i]);
		assert_int_equal(p[7], (uint8_t)(vals[i] >> 56));
		ts_put_u32le(p, (uint32_t)vals[i]);
		assert_int_equal(ts_get_u32le(p), (uint32_t)vals[i]);
	}
}

static void test_ts_buf_put_le_elimit(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 7);
	assert_int_equal(ts_buf_put_u64le(&b, 1), TS_ELIMIT);
	assert_int_equal(ts_buf_put_u32le(&b, 1), TS_OK);
	assert_int_equal(ts_buf_put_u32le(&b, 1), TS_ELIMIT);
	assert_int_equal(ts_buf_put_u16le(&b, 1), TS_OK);
	assert_int_equal(ts_buf_put_u16le(&b, 1), TS_ELIMIT);
	assert_int_equal(b.len, 6);
	ts_buf_free(&b);
}

/* ---------------------------------------------------------------- varints */

static size_t uvarint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void test_ts_buf_put_uvarint_known_encodings(void **state)
{
	static const struct {
		uint64_t v;
		size_t n;
		uint8_t bytes[10];
	} cases[] = {
	    {0, 1, {0x00}},
	    {1, 1, {0x01}},
	    {127, 1, {0x7F}},
	    {128, 2, {0x80, 0x01}},
	    {300, 2, {0xAC, 0x02}},
	    {16383, 2, {0xFF, 0x7F}},
	    {16384, 3, {0x80, 0x80, 0x01}},
	    {UINT64_MAX, 10, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}},
	    {1ULL << 63, 10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ts_buf b;
		ts_buf_init(&b, 64);
		assert_int_equal(ts_buf_put_uvarint(&b, cases[i].v), TS_OK);
		assert_int_equal(b.len, cases[i].n);
		assert_memory_equal(b.data, cases[i].bytes, cases[i].n);
		const uint8_t *p = (const uint8_t *)b.data;
		uint64_t out = 0;
		assert_int_equal(ts_get_uvarint(&p, p + b.len, &out), TS_OK);
		assert_true(out == cases[i].v);
		assert_ptr_equal(p, (const uint8_t *)b.data + b.len);
		ts_buf_free(&b);
	}
}

static void test_ts_buf_put_varint_zigzag(void **state)
{
	static const struct {
		int64_t v;
		uint8_t first;
		size_t n;
	} cases[] = {
	    {0, 0x00, 1},  {-1, 0x01, 1},         {1, 0x02, 1},
	    {-2, 0x03, 1}, {63, 0x7E, 1},         {-64, 0x7F, 1},
	    {64, 0x80, 2}, {INT64_MAX, 0xFE, 10}, {INT64_MIN, 0xFF, 10},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ts_buf b;
		ts_buf_init(&b, 64);
		assert_int_equal(ts_buf_put_varint(&b, cases[i].v), TS_OK);
		assert_int_equal(b.len, cases[i].n);
		assert_int_equal((uint8_t)b.data[0], cases[i].first);
		const uint8_t *p = (const uint8_t *)b.data;
		int64_t out = 0;
		assert_int_equal(ts_get_varint(&p, p + b.len, &out), TS_OK);
		assert_true(out == cases[i].v);
		ts_buf_free(&b);
	}
}

static void test_ts_get_uvarint_roundtrip_many(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	uint64_t vals[2000];
	for (int i = 0; i < 2000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		vals[i] = x >> (i % 64); /* every length 1..10 */
		assert_int_equal(ts_buf_put_uvarint(&b, vals[i]), TS_OK);
	}
	const uint8_t *p = (const uint8_t *)b.data, *end = p + b.len;
	for (int i = 0; i < 2000; i++) {
		const uint8_t *before = p;
		uint64_t out;
		assert_int_equal(ts_get_uvarint(&p, end, &out), TS_OK);
		assert_true(out == vals[i]);
		assert_int_equal((size_t)(p - before), uvarint_len(vals[i]));
	}
	assert_ptr_equal(p, end);
	ts_buf_free(&b);
}

static void test_ts_get_varint_roundtrip_signed(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 1 << 16);
	const int64_t vals[] = {0,
				1,
				-1,
				1000,
				-1000,
				INT32_MAX,
				INT32_MIN,
				(int64_t)1 << 40,
				-((int64_t)1 << 40),
				INT64_MAX,
				INT64_MIN,
				INT64_MIN + 1};
	size_t n = sizeof(vals) / sizeof(vals[0]);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ts_buf_put_varint(&b, vals[i]), TS_OK);
	const uint8_t *p = (const uint8_t *)b.data, *end = p + b.len;
	for (size_t i = 0; i < n; i++) {
		int64_t out;
		assert_int_equal(ts_get_varint(&p, end, &out), TS_OK);
		assert_true(out == vals[i]);
	}
	ts_buf_free(&b);
}

static void test_ts_get_uvarint_empty_is_corrupt(void **state)
{
	const uint8_t buf[1] = {0};
	const uint8_t *p = buf;
	uint64_t out = 12345;
	assert_int_equal(ts_get_uvarint(&p, buf, &out), TS_ECORRUPT);
	assert_ptr_equal(p, buf);
	assert_int_equal(out, 12345);
}

static void test_ts_get_uvarint_truncated_is_corrupt(void **state)
{
	/* Every proper prefix of a 10-byte varint is truncated. */
	const uint8_t max[10] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
	for (size_t n = 1; n < 10; n++) {
		const uint8_t *p = max;
		uint64_t out = 7;
		assert_int_equal(ts_get_uvarint(&p, max + n, &out), TS_ECORRUPT);
		assert_ptr_equal(p, max);
		assert_int_equal(out, 7);
	}
	const uint8_t two[2] = {0x80, 0x80};
	const uint8_t *p = two;
	uint64_t out;
	assert_int_equal(ts_get_uvarint(&p, two + 2, &out), TS_ECORRUPT);
	assert_ptr_equal(p, two);
}

static void test_ts_get_uvarint_eleven_bytes_is_corrupt(void **state)
{
	const uint8_t over[11] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
	const uint8_t *p = over;
	uint64_t out = 3;
	assert_int_equal(ts_get_uvarint(&p, over + sizeof(over), &out), TS_ECORRUPT);
	assert_ptr_equal(p, over);
	assert_int_equal(out, 3);
}

static void test_ts_get_uvarint_tenth_byte_overflow_is_corrupt(void **state)
{
	/* The 10th byte carries bit 63 only: 0x02..0x7F would overflow 64 bits. */
	for (int last = 0x02; last <= 0x7F; last += 0x15) {
		uint8_t v[10] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
				 0xFF, 0xFF, 0xFF, 0xFF, (uint8_t)last};
		const uint8_t *p = v;
		uint64_t out = 0;
		assert_int_equal(ts_get_uvarint(&p, v + 10, &out), TS_ECORRUPT);
		assert_ptr_equal(p, v);
	}
	uint8_t ok[10] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
	const uint8_t *p = ok;
	uint64_t out = 1;
	assert_int_equal(ts_get_uvarint(&p, ok + 10, &out), TS_OK); /* non-minimal zero */
	assert_int_equal(out, 0);
}

static void test_ts_get_uvarint_stops_at_terminator(void **state)
{
	const uint8_t buf[] = {0xAC, 0x02, 0x05, 0xFF};
	const uint8_t *p = buf;
	uint64_t out;
	assert_int_equal(ts_get_uvarint(&p, buf + sizeof(buf), &out), TS_OK);
	assert_int_equal(out, 300);
	assert_ptr_equal(p, buf + 2);
	assert_int_equal(ts_get_uvarint(&p, buf + sizeof(buf), &out), TS_OK);
	assert_int_equal(out, 5);
	assert_int_equal(ts_get_uvarint(&p, buf + sizeof(buf), &out), TS_ECORRUPT);
	assert_ptr_equal(p, buf + 3);
}

static void test_ts_get_varint_corrupt_propagates(void **state)
{
	const uint8_t buf[] = {0x80};
	const uint8_t *p = buf;
	int64_t out = 42;
	assert_int_equal(ts_get_varint(&p, buf + 1, &out), TS_ECORRUPT);
	assert_ptr_equal(p, buf);
	assert_int_equal(out, 42);
}

static void test_ts_buf_put_uvarint_elimit_unchanged(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 9);
	assert_int_equal(ts_buf_put_uvarint(&b, UINT64_MAX), TS_ELIMIT);
	assert_int_equal(b.len, 0);
	assert_int_equal(ts_buf_put_uvarint(&b, (1ULL << 63) - 1), TS_OK); /* 9 bytes */
	assert_int_equal(b.len, 9);
	assert_int_equal(ts_buf_put_varint(&b, 0), TS_ELIMIT);
	assert_int_equal(b.len, 9);
	ts_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_buf_init_is_empty),
	    cmocka_unit_test(test_ts_buf_append_grows_and_terminates),
	    cmocka_unit_test(test_ts_buf_append_growth_is_geometric),
	    cmocka_unit_test(test_ts_buf_append_zero_bytes),
	    cmocka_unit_test(test_ts_buf_append_binary_with_nul),
	    cmocka_unit_test(test_ts_buf_puts_putc),
	    cmocka_unit_test(test_ts_buf_reset_keeps_allocation),
	    cmocka_unit_test(test_ts_buf_free_null_and_reuse),
	    cmocka_unit_test(test_ts_buf_reserve_exactly_max),
	    cmocka_unit_test(test_ts_buf_append_past_max_is_elimit_unchanged),
	    cmocka_unit_test(test_ts_buf_reserve_huge_is_elimit),
	    cmocka_unit_test(test_ts_buf_max_zero),
	    cmocka_unit_test(test_ts_buf_cap_never_exceeds_max),
	    cmocka_unit_test_teardown(test_ts_buf_reserve_enomem_unchanged, reset_injection),
	    cmocka_unit_test_teardown(test_ts_buf_take_enomem_on_empty, reset_injection),
	    cmocka_unit_test(test_ts_buf_printf_small),
	    cmocka_unit_test(test_ts_buf_printf_large_path),
	    cmocka_unit_test(test_ts_buf_printf_boundary_lengths),
	    cmocka_unit_test(test_ts_buf_printf_elimit_unchanged),
	    cmocka_unit_test(test_ts_buf_vprintf_large),
	    cmocka_unit_test(test_ts_buf_take_transfers_ownership),
	    cmocka_unit_test(test_ts_buf_take_empty_gives_empty_string),
	    cmocka_unit_test(test_ts_buf_put_le_fields),
	    cmocka_unit_test(test_ts_get_le_high_bits),
	    cmocka_unit_test(test_ts_put_le_inline_roundtrip),
	    cmocka_unit_test(test_ts_buf_put_le_elimit),
	    cmocka_unit_test(test_ts_buf_put_uvarint_known_encodings),
	    cmocka_unit_test(test_ts_buf_put_varint_zigzag),
	    cmocka_unit_test(test_ts_get_uvarint_roundtrip_many),
	    cmocka_unit_test(test_ts_get_varint_roundtrip_signed),
	    cmocka_unit_test(test_ts_get_uvarint_empty_is_corrupt),
	    cmocka_unit_test(test_ts_get_uvarint_truncated_is_corrupt),
	    cmocka_unit_test(test_ts_get_uvarint_eleven_bytes_is_corrupt),
	    cmocka_unit_test(test_ts_get_uvarint_tenth_byte_overflow_is_corrupt),
	    cmocka_unit_test(test_ts_get_uvarint_stops_at_terminator),
	    cmocka_unit_test(test_ts_get_varint_corrupt_propagates),
	    cmocka_unit_test(test_ts_buf_put_uvarint_elimit_unchanged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
