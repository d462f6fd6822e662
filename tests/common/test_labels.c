/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_labels.c: unit tests for common/labels.c.
 *
 * Label-set normalization (byte-order sort, empty values dropped, empty and duplicate
 * names rejected), comparison, lookup, the canonical series key bytes and its hash
 * (ts_series_hash must equal ts_hash64 of ts_series_key for every size, also when
 * allocation fails), Prometheus name charsets, strict UTF-8 validation and name
 * sanitizing.
 */
#include "common/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int reset_injection(void **state)
{
	ts_alloc_fail_after(-1);
	return 0;
}

/* ---------------------------------------------------------------- normalize */

static void test_ts_labels_normalize_sorts_by_name(void **state)
{
	ts_label v[] = {{"job", "node"}, {"__name__", "up"}, {"instance", "h:9100"}, {"a", "1"}};
	size_t n = N_OF(v);
	ts_err err = {0};
	assert_int_equal(ts_labels_normalize(v, &n, &err), TS_OK);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].name, "__name__");
	assert_string_equal(v[0].value, "up");
	assert_string_equal(v[1].name, "a");
	assert_string_equal(v[2].name, "instance");
	assert_string_equal(v[3].name, "job");
	assert_string_equal(v[3].value, "node");
}

static void test_ts_labels_normalize_byte_order(void **state)
{
	/* Byte order, not locale: 'Z' (0x5A) < '_' (0x5F) < 'a' (0x61) < 0xC3. */
	ts_label v[] = {
	    {"\xc3\xa9t\xc3\xa9", "x"}, {"a", "x"}, {"_", "x"}, {"Z", "x"}, {"ab", "x"}};
	size_t n = N_OF(v);
	assert_int_equal(ts_labels_normalize(v, &n, NULL), TS_OK);
	assert_string_equal(v[0].name, "Z");
	assert_string_equal(v[1].name, "_");
	assert_string_equal(v[2].name, "a");
	assert_string_equal(v[3].name, "ab");
	assert_string_equal(v[4].name, "\xc3\xa9t\xc3\xa9");
}

static void test_ts_labels_normalize_drops_empty_values(void **state)
{
	ts_label v[] = {{"b", ""}, {"a", "1"}, {"c", NULL}, {"d", "4"}};
	size_t n = N_OF(v);
	assert_int_equal(ts_labels_normalize(v, &n, NULL), TS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "a");
	assert_string_equal(v[1].name, "d");
}

static void test_ts_labels_normalize_all_empty_values(void **state)
{
	ts_label v[] = {{"b", ""}, {"a", ""}};
	size_t n = N_OF(v);
	assert_int_equal(ts_labels_normalize(v, &n, NULL), TS_OK);
	assert_int_equal(n, 0);
}

static void test_ts_labels_normalize_zero_labels(void **state)
{
	size_t n = 0;
	assert_int_equal(ts_labels_normalize(NULL, &n, NULL), TS_OK);
	assert_int_equal(n, 0);
}

static void test_ts_labels_normalize_rejects_empty_name(void **state)
{
	ts_label v[] = {{"a", "1"}, {"", "2"}};
	size_t n = N_OF(v);
	ts_err err = {0};
	assert_int_equal(ts_labels_normalize(v, &n, &err), TS_EINVAL);
	assert_int_equal(err.code, TS_EINVAL);
	assert_non_null(strstr(err.msg, "empty label name"));
	assert_int_equal(n, 2); /* not updated on error */
}

static void test_ts_labels_normalize_rejects_empty_name_with_empty_value(void **state)
{
	ts_label v[] = {{"", ""}};
	size_t n = 1;
	assert_int_equal(ts_labels_normalize(v, &n, NULL), TS_EINVAL);
	ts_label w[] = {{NULL, "x"}};
	n = 1;
	assert_int_equal(ts_labels_normalize(w, &n, NULL), TS_EINVAL);
}

static void test_ts_labels_normalize_rejects_duplicate_name(void **state)
{
	ts_label v[] = {{"job", "a"}, {"zone", "z"}, {"job", "b"}};
	size_t n = N_OF(v);
	ts_err err = {0};
	assert_int_equal(ts_labels_normalize(v, &n, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "duplicate label name 'job'"));
	assert_int_equal(n, 3);
}

static void test_ts_labels_normalize_duplicate_same_value(void **state)
{
	ts_label v[] = {{"x", "1"}, {"x", "1"}};
	size_t n = N_OF(v);
	assert_int_equal(ts_labels_normalize(v, &n, NULL), TS_EINVAL);
}

static void test_ts_labels_normalize_duplicate_with_empty_value_is_dropped(void **state)
{
	/* Prometheus semantics: an empty value means "no such label", so no duplicate. */
	ts_label v[] = {{"x", ""}, {"x", "1"}};
	size_t n = N_OF(v);
	assert_int_equal(ts_labels_normalize(v, &n, NULL), TS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].value, "1");
}

static void test_ts_labels_normalize_already_sorted_idempotent(void **state)
{
	ts_label v[] = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
	size_t n = N_OF(v);
	assert_int_equal(ts_labels_normalize(v, &n, NULL), TS_OK);
	assert_int_equal(ts_labels_normalize(v, &n, NULL), TS_OK);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "a");
	assert_string_equal(v[2].name, "c");
}

static void test_ts_labels_normalize_many(void **state)
{
	enum { N = 500 };
	static char names[N][8];
	ts_label v[N];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "l%03d", (i * 7919) % N);
		v[i].name = names[i];
		v[i].value = "v";
	}
	size_t n = N;
	assert_int_equal(ts_labels_normalize(v, &n, NULL), TS_OK);
	for (int i = 1; i < N; i++)
		assert_true(strcmp(v[i - 1].name, v[i].name) < 0);
}

/* ---------------------------------------------------------------- cmp / get */

static void test_ts_labels_cmp_equal(void **state)
{
	ts_label a[] = {{"a", "1"}, {"b", "2"}};
	ts_label b[] = {{"a", "1"}, {"b", "2"}};
	assert_int_equal(ts_labels_cmp(a, 2, b, 2), 0);
	assert_int_equal(ts_labels_cmp(a, 0, b, 0), 0);
}

static void test_ts_labels_cmp_name_then_value(void **state)
{
	ts_label a[] = {{"a", "9"}};
	ts_label b[] = {{"b", "0"}};
	assert_true(ts_labels_cmp(a, 1, b, 1) < 0); /* name decides before value */
	assert_true(ts_labels_cmp(b, 1, a, 1) > 0);
	ts_label c[] = {{"a", "1"}};
	ts_label d[] = {{"a", "2"}};
	assert_true(ts_labels_cmp(c, 1, d, 1) < 0);
	assert_true(ts_labels_cmp(d, 1, c, 1) > 0);
}

static void test_ts_labels_cmp_shorter_first(void **state)
{
	ts_label a[] = {{"a", "1"}};
	ts_label b[] = {{"a", "1"}, {"b", "2"}};
	assert_true(ts_labels_cmp(a, 1, b, 2) < 0);
	assert_true(ts_labels_cmp(b, 2, a, 1) > 0);
	assert_true(ts_labels_cmp(a, 0, a, 1) < 0);
}

static void test_ts_labels_cmp_bytes_unsigned(void **state)
{
	ts_label a[] = {{"a", "z"}};
	ts_label b[] = {{"a", "\xc3\xa9"}};
	assert_true(ts_labels_cmp(a, 1, b, 1) < 0);
}

static void test_ts_labels_get(void **state)
{
	ts_label v[] = {{"job", "node"}, {"__name__", "up"}, {"a", "1"}};
	assert_string_equal(ts_labels_get(v, 3, "__name__"), "up");
	assert_string_equal(ts_labels_get(v, 3, "job"), "node");
	assert_null(ts_labels_get(v, 3, "instance"));
	assert_null(ts_labels_get(v, 3, "jo"));
	assert_null(ts_labels_get(v, 0, "job"));
}

/* ---------------------------------------------------------------- series key / hash */

static void test_ts_series_key_bytes(void **state)
{
	ts_label v[] = {{"__name__", "up"}, {"job", "node"}};
	ts_buf b;
	ts_buf_init(&b, 1024);
	assert_int_equal(ts_series_key(v, 2, &b), TS_OK);
	const char want[] = "__name__\xffup\xffjob\xffnode\xff";
	assert_int_equal(b.len, sizeof(want) - 1);
	assert_memory_equal(b.data, want, sizeof(want) - 1);
	ts_buf_free(&b);
}

static void test_ts_series_key_empty_set(void **state)
{
	ts_buf b;
	ts_buf_init(&b, 16);
	assert_int_equal(ts_series_key(NULL, 0, &b), TS_OK);
	assert_int_equal(b.len, 0);
	ts_buf_free(&b);
}

static void test_ts_series_key_appends(void **state)
{
	ts_label v[] = {{"a", "b"}};
	ts_buf b;
	ts_buf_init(&b, 64);
	assert_int_equal(ts_buf_puts(&b, "P:"), TS_OK);
	assert_int_equal(ts_series_key(v, 1, &b), TS_OK);
	assert_memory_equal(b.data,
			    "P:a\xff"
			    "b\xff",
			    6);
	ts_buf_free(&b);
}

static void test_ts_series_key_unambiguous(void **state)
{
	/* {a="b\xffc"} can't occur (not UTF-8) but {ab="c"} vs {a="bc"} must differ. */
	ts_label x[] = {{"ab", "c"}};
	ts_label y[] = {{"a", "bc"}};
	ts_buf bx, by;
	ts_buf_init(&bx, 64);
	ts_buf_init(&by, 64);
	assert_int_equal(ts_series_key(x, 1, &bx), TS_OK);
	assert_int_equal(ts_series_key(y, 1, &by), TS_OK);
	assert_true(bx.len == by.len && memcmp(bx.data, by.data, bx.len) != 0);
	assert_true(ts_series_hash(x, 1) != ts_series_hash(y, 1));
	ts_buf_free(&bx);
	ts_buf_free(&by);
}

static void test_ts_series_key_elimit_leaves_buffer_unchanged(void **state)
{
	ts_label v[] = {{"__name__", "up"}, {"job", "node"}};
	ts_buf b;
	ts_buf_init(&b, 20);
	assert_int_equal(ts_buf_puts(&b, "pre"), TS_OK);
	assert_int_equal(ts_series_key(v, 2, &b), TS_ELIMIT);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "pre");
	ts_buf_free(&b);
}

static void test_ts_series_key_enomem_leaves_buffer_unchanged(void **state)
{
	char big[200];
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ts_label v[] = {{"a", "1"}, {"b", big}};
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	assert_int_equal(ts_buf_puts(&b, "pre"), TS_OK); /* cap 64 */
	ts_alloc_fail_after(0);
	assert_int_equal(ts_series_key(v, 2, &b), TS_ENOMEM);
	ts_alloc_fail_after(-1);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "pre");
	ts_buf_free(&b);
}

/* Label set of n labels whose values are `vlen` bytes: returned with the backing store. */
static ts_label *make_set(size_t n, size_t vlen, char **store)
{
	ts_label *v = calloc(n, sizeof(*v));
	*store = calloc(n, 16 + vlen + 1);
	assert_non_null(v);
	assert_non_null(*store);
	for (size_t i = 0; i < n; i++) {
		char *name = *store + i * (16 + vlen + 1);
		char *val = name + 16;
		snprintf(name, 16, "label_%04u", (unsigned)(i % 10000));
		memset(val, 'a' + (int)(i % 26), vlen);
		val[vlen] = '\0';
		v[i].name = name;
		v[i].value = val;
	}
	return v;
}

static void assert_hash_matches_key(const ts_label *v, size_t n)
{
	ts_buf b;
	ts_buf_init(&b, 1 << 24);
	assert_int_equal(ts_series_key(v, n, &b), TS_OK);
	uint64_t want = ts_hash64(b.data ? b.data : "", b.len, 0);
	assert_true(ts_series_hash(v, n) == want);
	ts_buf_free(&b);
}

static void test_ts_series_hash_equals_hash_of_key_small(void **state)
{
	ts_label v[] = {{"__name__", "up"}, {"instance", "localhost:9100"}, {"job", "node"}};
	assert_hash_matches_key(v, 3);
	assert_hash_matches_key(v, 1);
	const char key[] = "__name__\xffup\xff";
	assert_true(ts_series_hash(v, 1) == ts_hash64(key, sizeof(key) - 1, 0));
}

static void test_ts_series_hash_empty_set(void **state)
{
	assert_true(ts_series_hash(NULL, 0) == 0xEF46DB3751D8E999ULL);
}

static void test_ts_series_hash_around_1k(void **state)
{
	/* One label, key length = 1 + 1 + vlen + 1: walk across 1024 bytes. */
	for (size_t vlen = 1000; vlen < 1040; vlen++) {
		char *store;
		ts_label *v = make_set(1, vlen, &store);
		v[0].name = "x";
		assert_hash_matches_key(v, 1);
		free(v);
		free(store);
	}
}

static void test_ts_series_hash_large_sets(void **state)
{
	static const size_t shapes[][2] = {{40, 30}, {3, 5000}, {200, 200}, {1, 100000}};
	for (size_t i = 0; i < N_OF(shapes); i++) {
		char *store;
		ts_label *v = make_set(shapes[i][0], shapes[i][1], &store);
		assert_hash_matches_key(v, shapes[i][0]);
		free(v);
		free(store);
	}
}

static void test_ts_series_hash_never_allocates(void **state)
{
	char *store;
	ts_label *v = make_set(50, 100, &store); /* ~6 KiB key */
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	assert_int_equal(ts_series_key(v, 50, &b), TS_OK);
	uint64_t want = ts_hash64(b.data, b.len, 0);
	uint64_t bytes = ts_alloc_bytes();
	ts_alloc_fail_after(0);
	uint64_t got = ts_series_hash(v, 50);
	ts_alloc_fail_after(-1);
	assert_true(got == want);
	assert_int_equal(ts_alloc_bytes(), bytes);
	ts_buf_free(&b);
	free(v);
	free(store);
}

static void test_ts_series_hash_order_sensitive(void **state)
{
	/* The hash is of the given order: callers normalize first. */
	ts_label a[] = {{"a", "1"}, {"b", "2"}};
	ts_label b[] = {{"b", "2"}, {"a", "1"}};
	assert_true(ts_series_hash(a, 2) != ts_series_hash(b, 2));
	size_t n = 2;
	assert_int_equal(ts_labels_normalize(b, &n, NULL), TS_OK);
	assert_true(ts_series_hash(a, 2) == ts_series_hash(b, 2));
}

/* ---------------------------------------------------------------- names */

static bool metric_ok(const char *s)
{
	return ts_metric_name_valid(s, strlen(s));
}

static bool label_ok(const char *s)
{
	return ts_label_name_valid(s, strlen(s));
}

static void test_ts_metric_name_valid_accepts(void **state)
{
	const char *ok[] = {"up",
			    "a",
			    "_",
			    ":",
			    "a:b",
			    ":x",
			    "http_requests_total",
			    "A1_b2:c3",
			    "__name__",
			    "job:rate5m:sum"};
	for (size_t i = 0; i < N_OF(ok); i++)
		if (!metric_ok(ok[i]))
			fail_msg("'%s' should be a valid metric name", ok[i]);
}

static void test_ts_metric_name_valid_rejects(void **state)
{
	const char *bad[] = {"", "1a", "9", "a-b", "a b", "a.b", "caf\xc3\xa9", "a{", "a\n"};
	for (size_t i = 0; i < N_OF(bad); i++)
		if (metric_ok(bad[i]))
			fail_msg("'%s' should be an invalid metric name", bad[i]);
}

static void test_ts_metric_name_valid_uses_length(void **state)
{
	assert_true(ts_metric_name_valid("up{job", 2));
	assert_false(ts_metric_name_valid("up{job", 3));
	assert_false(ts_metric_name_valid("up", 0));
	assert_false(ts_metric_name_valid("a\0b", 3));
}

static void test_ts_label_name_valid_accepts(void **state)
{
	const char *ok[] = {"a", "_", "_a", "__name__", "a1", "Zz_09", "le"};
	for (size_t i = 0; i < N_OF(ok); i++)
		if (!label_ok(ok[i]))
			fail_msg("'%s' should be a valid label name", ok[i]);
}

static void test_ts_label_name_valid_rejects(void **state)
{
	const char *bad[] = {"", "1", "1a", "a:b", ":a", "a-b", "a.b", " a", "\xc3\xa9"};
	for (size_t i = 0; i < N_OF(bad); i++)
		if (label_ok(bad[i]))
			fail_msg("'%s' should be an invalid label name", bad[i]);
}

/* ---------------------------------------------------------------- UTF-8 */

#define UTF8(s) ts_utf8_valid(s, sizeof(s) - 1)

static void test_ts_utf8_valid_accepts(void **state)
{
	assert_true(ts_utf8_valid("", 0));
	assert_true(UTF8("plain ascii ~\x7f"));
	assert_true(UTF8("\x00"));             /* NUL is a valid code point */
	assert_true(UTF8("\xc2\x80"));         /* U+0080, smallest 2-byte */
	assert_true(UTF8("\xdf\xbf"));         /* U+07FF */
	assert_true(UTF8("\xe0\xa0\x80"));     /* U+0800, smallest 3-byte */
	assert_true(UTF8("\xed\x9f\xbf"));     /* U+D7FF, just below surrogates */
	assert_true(UTF8("\xee\x80\x80"));     /* U+E000, just above surrogates */
	assert_true(UTF8("\xef\xbf\xbf"));     /* U+FFFF */
	assert_true(UTF8("\xf0\x90\x80\x80")); /* U+10000, smallest 4-byte */
	assert_true(UTF8("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the maximum */
	assert_true(UTF8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
}

static void test_ts_utf8_valid_rejects_overlongs(void **state)
{
	assert_false(UTF8("\xc0\x80")); /* overlong NUL */
	assert_false(UTF8("\xc0\xaf")); /* overlong '/' */
	assert_false(UTF8("\xc1\xbf"));
	assert_false(UTF8("\xe0\x80\x80"));
	assert_false(UTF8("\xe0\x9f\xbf")); /* U+07FF in 3 bytes */
	assert_false(UTF8("\xf0\x80\x80\x80"));
	assert_false(UTF8("\xf0\x8f\xbf\xbf")); /* U+FFFF in 4 bytes */
}

static void test_ts_utf8_valid_rejects_surrogates(void **state)
{
	assert_false(UTF8("\xed\xa0\x80"));             /* U+D800 */
	assert_false(UTF8("\xed\xbf\xbf"));             /* U+DFFF */
	assert_false(UTF8("\xed\xa0\xbd\xed\xb8\x80")); /* CESU-8 pair */
}

static void test_ts_utf8_valid_rejects_above_max(void **state)
{
	assert_false(UTF8("\xf4\x90\x80\x80")); /* U+110000 */
	assert_false(UTF8("\xf5\x80\x80\x80"));
	assert_false(UTF8("\xf7\xbf\xbf\xbf"));
	assert_false(UTF8("\xf8\x88\x80\x80\x80")); /* old 5-byte form */
	assert_false(UTF8("\xfe"));
	assert_false(UTF8("\xff"));
}

static void test_ts_utf8_valid_rejects_truncated(void **state)
{
	assert_false(UTF8("\xc3"));
	assert_false(UTF8("\xe2\x82"));
	assert_false(UTF8("\xf0\x9f\x98"));
	assert_false(UTF8("ok\xf0"));
	/* The length argument bounds the check even if more bytes follow. */
	assert_false(ts_utf8_valid("\xe2\x82\xac", 2));
	assert_true(ts_utf8_valid("\xe2\x82\xac", 3));
}

static void test_ts_utf8_valid_rejects_bad_continuations(void **state)
{
	assert_false(UTF8("\x80")); /* lone continuation */
	assert_false(UTF8("a\xbf"
			  "b"));
	assert_false(UTF8("\xc3\x28")); /* second byte not a continuation */
	assert_false(UTF8("\xe2\x28\xa1"));
	assert_false(UTF8("\xe2\x82\x28"));
	assert_false(UTF8("\xf0\x28\x8c\xbc"));
	assert_false(UTF8("\xf0\x9f\x98\x28"));
	assert_false(UTF8("\xc3\xa9\xa9")); /* one continuation too many */
}

/* ---------------------------------------------------------------- sanitize */

static void test_ts_name_sanitize_replaces_invalid_bytes(void **state)
{
	char out[64];
	const char *s = "http.requests-total per/sec";
	assert_int_equal(ts_name_sanitize(s, strlen(s), true, out, sizeof(out)), strlen(s));
	assert_string_equal(out, "http_requests_total_per_sec");
}

static void test_ts_name_sanitize_colon_depends_on_charset(void **state)
{
	char out[16];
	assert_int_equal(ts_name_sanitize("a:b", 3, true, out, sizeof(out)), 3);
	assert_string_equal(out, "a:b");
	assert_int_equal(ts_name_sanitize("a:b", 3, false, out, sizeof(out)), 3);
	assert_string_equal(out, "a_b");
}

static void test_ts_name_sanitize_leading_digit(void **state)
{
	char out[16];
	assert_int_equal(ts_name_sanitize("9lives", 6, false, out, sizeof(out)), 7);
	assert_string_equal(out, "_9lives");
	assert_true(ts_label_name_valid(out, 7));
	assert_int_equal(ts_name_sanitize("0", 1, true, out, sizeof(out)), 2);
	assert_string_equal(out, "_0");
}

static void test_ts_name_sanitize_utf8_bytewise(void **state)
{
	char out[16];
	assert_int_equal(ts_name_sanitize("caf\xc3\xa9", 5, true, out, sizeof(out)), 5);
	assert_string_equal(out, "caf__");
}

static void test_ts_name_sanitize_result_is_valid(void **state)
{
	const char *in[] = {"1", "-", "a b", "::", "\xff\xfe", "x.y.z", "_ok", "3d:x"};
	char out[32];
	for (size_t i = 0; i < N_OF(in); i++) {
		size_t n = ts_name_sanitize(in[i], strlen(in[i]), true, out, sizeof(out));
		assert_true(n > 0);
		assert_true(ts_metric_name_valid(out, n));
		n = ts_name_sanitize(in[i], strlen(in[i]), false, out, sizeof(out));
		assert_true(n > 0);
		assert_true(ts_label_name_valid(out, n));
	}
}

static void test_ts_name_sanitize_capacity(void **state)
{
	char out[8];
	memset(out, '#', sizeof(out));
	assert_int_equal(ts_name_sanitize("abcd", 4, true, out, 5), 4); /* exact fit */
	assert_string_equal(out, "abcd");
	assert_int_equal(ts_name_sanitize("abcd", 4, true, out, 4), 0); /* no room for NUL */
	assert_int_equal(ts_name_sanitize("1abc", 4, true, out, 5), 0); /* prefix needs 6 */
	assert_int_equal(ts_name_sanitize("1abc", 4, true, out, 6), 5);
	assert_string_equal(out, "_1abc");
	assert_int_equal(ts_name_sanitize("1", 1, true, out, 1), 0);
	assert_int_equal(ts_name_sanitize("a", 1, true, out, 0), 0);
}

static void test_ts_name_sanitize_empty(void **state)
{
	char out[4] = "xyz";
	assert_int_equal(ts_name_sanitize("", 0, true, out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_labels_normalize_sorts_by_name),
	    cmocka_unit_test(test_ts_labels_normalize_byte_order),
	    cmocka_unit_test(test_ts_labels_normalize_drops_empty_values),
	    cmocka_unit_test(test_ts_labels_normalize_all_empty_values),
	    cmocka_unit_test(test_ts_labels_normalize_zero_labels),
	    cmocka_unit_test(test_ts_labels_normalize_rejects_empty_name),
	    cmocka_unit_test(test_ts_labels_normalize_rejects_empty_name_with_empty_value),
	    cmocka_unit_test(test_ts_labels_normalize_rejects_duplicate_name),
	    cmocka_unit_test(test_ts_labels_normalize_duplicate_same_value),
	    cmocka_unit_test(test_ts_labels_normalize_duplicate_with_empty_value_is_dropped),
	    cmocka_unit_test(test_ts_labels_normalize_already_sorted_idempotent),
	    cmocka_unit_test(test_ts_labels_normalize_many),
	    cmocka_unit_test(test_ts_labels_cmp_equal),
	    cmocka_unit_test(test_ts_labels_cmp_name_then_value),
	    cmocka_unit_test(test_ts_labels_cmp_shorter_first),
	    cmocka_unit_test(test_ts_labels_cmp_bytes_unsigned),
	    cmocka_unit_test(test_ts_labels_get),
	    cmocka_unit_test(test_ts_series_key_bytes),
	    cmocka_unit_test(test_ts_series_key_empty_set),
	    cmocka_unit_test(test_ts_series_key_appends),
	    cmocka_unit_test(test_ts_series_key_unambiguous),
	    cmocka_unit_test(test_ts_series_key_elimit_leaves_buffer_unchanged),
	    cmocka_unit_test_teardown(test_ts_series_key_enomem_leaves_buffer_unchanged,
				      reset_injection),
	    cmocka_unit_test(test_ts_series_hash_equals_hash_of_key_small),
	    cmocka_unit_test(test_ts_series_hash_empty_set),
	    cmocka_unit_test(test_ts_series_hash_around_1k),
	    cmocka_unit_test(test_ts_series_hash_large_sets),
	    cmocka_unit_test_teardown(test_ts_series_hash_never_allocates, reset_injection),
	    cmocka_unit_test(test_ts_series_hash_order_sensitive),
	    cmocka_unit_test(test_ts_metric_name_valid_accepts),
	    cmocka_unit_test(test_ts_metric_name_valid_rejects),
	    cmocka_unit_test(test_ts_metric_name_valid_uses_length),
	    cmocka_unit_test(test_ts_label_name_valid_accepts),
	    cmocka_unit_test(test_ts_label_name_valid_rejects),
	    cmocka_unit_test(test_ts_utf8_valid_accepts),
	    cmocka_unit_test(test_ts_utf8_valid_rejects_overlongs),
	    cmocka_unit_test(test_ts_utf8_valid_rejects_surrogates),
	    cmocka_unit_test(test_ts_utf8_valid_rejects_above_max),
	    cmocka_unit_test(test_ts_utf8_valid_rejects_truncated),
	    cmocka_unit_test(test_ts_utf8_valid_rejects_bad_continuations),
	    cmocka_unit_test(test_ts_name_sanitize_replaces_invalid_bytes),
	    cmocka_unit_test(test_ts_name_sanitize_colon_depends_on_charset),
	    cmocka_unit_test(test_ts_name_sanitize_leading_digit),
	    cmocka_unit_test(test_ts_name_sanitize_utf8_bytewise),
	    cmocka_unit_test(test_ts_name_sanitize_result_is_valid),
	    cmocka_unit_test(test_ts_name_sanitize_capacity),
	    cmocka_unit_test(test_ts_name_sanitize_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
