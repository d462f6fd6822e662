/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_intern.c: unit tests for common/intern.c (the string intern table).
 *
 * Equal strings give the same pointer, the length argument (not a NUL) bounds the
 * string, pointers stay valid across table growth (100k strings) and arena pages
 * (strings above the 64 KiB page size get their own page), allocation failures return
 * NULL and leave the table usable, and concurrent threads agree on every pointer.
 */
#include "common/common.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int reset_injection(void **state)
{
	ts_alloc_fail_after(-1);
	return 0;
}

static const char *get(ts_intern *t, const char *s)
{
	return ts_intern_get(t, s, strlen(s));
}

static void test_ts_intern_get_same_pointer_for_equal_strings(void **state)
{
	ts_intern *t = ts_intern_new();
	assert_non_null(t);
	char a[] = "instance", b[] = "instance";
	const char *pa = get(t, a), *pb = get(t, b);
	assert_non_null(pa);
	assert_ptr_equal(pa, pb);
	assert_ptr_not_equal(pa, a); /* a copy, not the caller's bytes */
	assert_string_equal(pa, "instance");
	a[0] = 'X'; /* changing the source does not change the interned copy */
	assert_string_equal(pa, "instance");
	ts_intern_free(t);
}

static void test_ts_intern_get_distinct_strings_distinct_pointers(void **state)
{
	ts_intern *t = ts_intern_new();
	const char *x = get(t, "job"), *y = get(t, "jobs"), *z = get(t, "jo");
	assert_ptr_not_equal(x, y);
	assert_ptr_not_equal(x, z);
	assert_ptr_not_equal(y, z);
	assert_string_equal(x, "job");
	assert_string_equal(y, "jobs");
	assert_string_equal(z, "jo");
	assert_ptr_equal(get(t, "jobs"), y);
	assert_ptr_equal(get(t, "jo"), z);
	ts_intern_free(t);
}

static void test_ts_intern_get_uses_length_not_nul(void **state)
{
	ts_intern *t = ts_intern_new();
	const char *abc = ts_intern_get(t, "abcdef", 3);
	assert_string_equal(abc, "abc");
	assert_ptr_equal(ts_intern_get(t, "abc", 3), abc);
	assert_ptr_equal(ts_intern_get(t, "abcXYZ", 3), abc);
	const char *ab = ts_intern_get(t, "abc", 2);
	assert_string_equal(ab, "ab");
	assert_ptr_not_equal(ab, abc);
	ts_intern_free(t);
}

static void test_ts_intern_get_empty_string(void **state)
{
	ts_intern *t = ts_intern_new();
	const char *e = ts_intern_get(t, "", 0);
	assert_non_null(e);
	assert_string_equal(e, "");
	assert_ptr_equal(ts_intern_get(t, "ignored", 0), e);
	size_t n, bytes;
	ts_intern_stats(t, &n, &bytes);
	assert_int_equal(n, 1);
	assert_int_equal(bytes, 1);
	ts_intern_free(t);
}

static void test_ts_intern_get_embedded_nul_rejected(void **state)
{
	ts_intern *t = ts_intern_new();
	assert_null(ts_intern_get(t, "a\0b", 3));
	size_t n;
	ts_intern_stats(t, &n, NULL);
	assert_int_equal(n, 0);
	ts_intern_free(t);
}

static void test_ts_intern_get_binary_bytes(void **state)
{
	ts_intern *t = ts_intern_new();
	const char s[] = "\xff\x01\x80";
	const char *p = ts_intern_get(t, s, 3);
	assert_memory_equal(p, s, 4);
	assert_ptr_equal(ts_intern_get(t, s, 3), p);
	ts_intern_free(t);
}

static void test_ts_intern_stats_counts(void **state)
{
	ts_intern *t = ts_intern_new();
	get(t, "a");
	get(t, "bb");
	get(t, "a");
	get(t, "ccc");
	size_t n = 0, bytes = 0;
	ts_intern_stats(t, &n, &bytes);
	assert_int_equal(n, 3);
	assert_int_equal(bytes, 2 + 3 + 4);
	ts_intern_stats(t, NULL, NULL);
	ts_intern_free(t);
}

static void test_ts_intern_get_growth_100k(void **state)
{
	enum { N = 100000 };
	ts_intern *t = ts_intern_new();
	const char **ptrs = malloc(N * sizeof(*ptrs));
	assert_non_null(ptrs);
	char buf[32];
	size_t total = 0;
	for (int i = 0; i < N; i++) {
		int len = snprintf(buf, sizeof(buf), "value-%d", i);
		ptrs[i] = ts_intern_get(t, buf, (size_t)len);
		assert_non_null(ptrs[i]);
		total += (size_t)len + 1;
	}
	size_t n, bytes;
	ts_intern_stats(t, &n, &bytes);
	assert_int_equal(n, N);
	assert_int_equal(bytes, total);
	/* Pointers survived every rehash and point at the right text. */
	for (int i = 0; i < N; i++) {
		int len = snprintf(buf, sizeof(buf), "value-%d", i);
		assert_string_equal(ptrs[i], buf);
		assert_ptr_equal(ts_intern_get(t, buf, (size_t)len), ptrs[i]);
	}
	ts_intern_stats(t, &n, NULL);
	assert_int_equal(n, N);
	free(ptrs);
	ts_intern_free(t);
}

static char *make_long(size_t n, char c)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)(c + (char)(i % 7));
	s[n] = '\0';
	return s;
}

static void test_ts_intern_get_long_strings(void **state)
{
	ts_intern *t = ts_intern_new();
	const char *small1 = get(t, "small-before");
	static const size_t sizes[] = {65534, 65535, 65536, 70000, 200000, 1 << 20};
	const char *ptrs[6];
	char *srcs[6];
	for (size_t i = 0; i < 6; i++) {
		srcs[i] = make_long(sizes[i], (char)('a' + i));
		ptrs[i] = ts_intern_get(t, srcs[i], sizes[i]);
		assert_non_null(ptrs[i]);
		assert_int_equal(strlen(ptrs[i]), sizes[i]);
		assert_memory_equal(ptrs[i], srcs[i], sizes[i]);
	}
	const char *small2 = get(t, "small-after");
	assert_string_equal(small1, "small-before");
	assert_string_equal(small2, "small-after");
	for (size_t i = 0; i < 6; i++) {
		assert_ptr_equal(ts_intern_get(t, srcs[i], sizes[i]), ptrs[i]);
		assert_memory_equal(ptrs[i], srcs[i], sizes[i] + 1);
		free(srcs[i]);
	}
	assert_ptr_equal(get(t, "small-before"), small1);
	ts_intern_free(t);
}

static void test_ts_intern_get_fills_many_pages(void **state)
{
	/* ~5 MiB of 1000-byte strings: pages fill and new ones are chained. */
	ts_intern *t = ts_intern_new();
	enum { N = 5000 };
	const char **ptrs = malloc(N * sizeof(*ptrs));
	char buf[1001];
	for (int i = 0; i < N; i++) {
		memset(buf, 'a' + i % 26, 1000);
		snprintf(buf, 12, "%010d", i);
		buf[10] = '-';
		buf[1000] = '\0';
		ptrs[i] = ts_intern_get(t, buf, 1000);
		assert_non_null(ptrs[i]);
	}
	for (int i = 0; i < N; i++) {
		char head[12];
		snprintf(head, sizeof(head), "%010d", i);
		assert_memory_equal(ptrs[i], head, 10);
		assert_int_equal(strlen(ptrs[i]), 1000);
	}
	free(ptrs);
	ts_intern_free(t);
}

static void test_ts_intern_new_enomem(void **state)
{
	ts_alloc_fail_after(0);
	assert_null(ts_intern_new());
	ts_alloc_fail_after(1); /* table struct ok, slot array fails */
	assert_null(ts_intern_new());
	ts_alloc_fail_after(-1);
}

static void test_ts_intern_get_enomem_new_string(void **state)
{
	ts_intern *t = ts_intern_new();
	const char *old = get(t, "existing");
	ts_alloc_fail_after(0);
	assert_ptr_equal(get(t, "existing"), old); /* lookups never allocate */
	/* A small new string goes into the current page: no allocation either. */
	const char *small = get(t, "fits-in-page");
	assert_non_null(small);
	/* One that needs a fresh page fails cleanly. */
	char *big = make_long(65536, 'n');
	assert_null(ts_intern_get(t, big, 65536));
	ts_alloc_fail_after(-1);
	size_t n;
	ts_intern_stats(t, &n, NULL);
	assert_int_equal(n, 2);
	const char *p = ts_intern_get(t, big, 65536);
	assert_non_null(p);
	assert_memory_equal(p, big, 65537);
	assert_ptr_equal(get(t, "fits-in-page"), small);
	free(big);
	ts_intern_free(t);
}

static void test_ts_intern_get_enomem_during_grow(void **state)
{
	ts_intern *t = ts_intern_new();
	char buf[32];
	const char *ptrs[600];
	/* Load factor 0.5 of the initial 1024 slots: the 513th string grows the table. */
	for (int i = 0; i < 512; i++) {
		snprintf(buf, sizeof(buf), "s%d", i);
		ptrs[i] = get(t, buf);
		assert_non_null(ptrs[i]);
	}
	ts_alloc_fail_after(0);
	assert_null(get(t, "s512"));
	ts_alloc_fail_after(-1);
	for (int i = 0; i < 512; i++) {
		snprintf(buf, sizeof(buf), "s%d", i);
		assert_ptr_equal(get(t, buf), ptrs[i]);
	}
	for (int i = 512; i < 600; i++) {
		snprintf(buf, sizeof(buf), "s%d", i);
		ptrs[i] = get(t, buf);
		assert_non_null(ptrs[i]);
	}
	size_t n;
	ts_intern_stats(t, &n, NULL);
	assert_int_equal(n, 600);
	ts_intern_free(t);
}

static void test_ts_intern_get_enomem_new_page(void **state)
{
	ts_intern *t = ts_intern_new();
	char *big = make_long(100000, 'k');
	ts_alloc_fail_after(0); /* the dedicated page cannot be allocated */
	assert_null(ts_intern_get(t, big, 100000));
	ts_alloc_fail_after(-1);
	size_t n;
	ts_intern_stats(t, &n, NULL);
	assert_int_equal(n, 0);
	const char *p = ts_intern_get(t, big, 100000);
	assert_non_null(p);
	assert_memory_equal(p, big, 100001);
	free(big);
	ts_intern_free(t);
}

static void test_ts_intern_free_null(void **state)
{
	ts_intern_free(NULL);
}

static void test_ts_intern_free_releases_everything(void **state)
{
	uint64_t base = ts_alloc_bytes();
	ts_intern *t = ts_intern_new();
	char *big = make_long(300000, 'q');
	ts_intern_get(t, big, 300000);
	for (int i = 0; i < 3000; i++) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%d", i);
		get(t, buf);
	}
	assert_true(ts_alloc_bytes() > base + 300000);
	ts_intern_free(t);
	assert_int_equal(ts_alloc_bytes(), base);
	free(big);
}

/* ---------------------------------------------------------------- threads */

enum { N_THREADS = 4, N_SHARED = 5000, N_OWN = 2000 };

typedef struct worker {
	ts_intern *t;
	int id;
	const char *shared[N_SHARED];
	int failures;
} worker;

static void *intern_worker(void *arg)
{
	worker *w = arg;
	char buf[48];
	for (int k = 0; k < N_SHARED; k++) {
		/* Each thread walks the shared set in a different order. */
		static const int mult[N_THREADS] = {1, 3, 7, 9}; /* coprime with N_SHARED */
		int i = (k * mult[w->id] + w->id * 977) % N_SHARED;
		int len = snprintf(buf, sizeof(buf), "shared-%d", i);
		w->shared[i] = ts_intern_get(w->t, buf, (size_t)len);
		if (!w->shared[i] || strcmp(w->shared[i], buf) != 0)
			w->failures++;
		len = snprintf(buf, sizeof(buf), "own-%d-%d", w->id, k % N_OWN);
		const char *p = ts_intern_get(w->t, buf, (size_t)len);
		if (!p || strcmp(p, buf) != 0)
			w->failures++;
	}
	return NULL;
}

static void test_ts_intern_get_concurrent_threads_agree(void **state)
{
	ts_intern *t = ts_intern_new();
	static worker w[N_THREADS];
	pthread_t th[N_THREADS];
	for (int i = 0; i < N_THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].t = t;
		w[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, intern_worker, &w[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(w[i].failures, 0);
	for (int k = 0; k < N_SHARED; k++)
		for (int i = 1; i < N_THREADS; i++)
			assert_ptr_equal(w[i].shared[k], w[0].shared[k]);
	size_t n;
	ts_intern_stats(t, &n, NULL);
	assert_int_equal(n, N_SHARED + N_THREADS * N_OWN);
	ts_intern_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_intern_get_same_pointer_for_equal_strings),
	    cmocka_unit_test(test_ts_intern_get_distinct_strings_distinct_pointers),
	    cmocka_unit_test(test_ts_intern_get_uses_length_not_nul),
	    cmocka_unit_test(test_ts_intern_get_empty_string),
	    cmocka_unit_test(test_ts_intern_get_embedded_nul_rejected),
	    cmocka_unit_test(test_ts_intern_get_binary_bytes),
	    cmocka_unit_test(test_ts_intern_stats_counts),
	    cmocka_unit_test(test_ts_intern_get_growth_100k),
	    cmocka_unit_test(test_ts_intern_get_long_strings),
	    cmocka_unit_test(test_ts_intern_get_fills_many_pages),
	    cmocka_unit_test_teardown(test_ts_intern_new_enomem, reset_injection),
	    cmocka_unit_test_teardown(test_ts_intern_get_enomem_new_string, reset_injection),
	    cmocka_unit_test_teardown(test_ts_intern_get_enomem_during_grow, reset_injection),
	    cmocka_unit_test_teardown(test_ts_intern_get_enomem_new_page, reset_injection),
	    cmocka_unit_test(test_ts_intern_free_null),
	    cmocka_unit_test(test_ts_intern_free_releases_everything),
	    cmocka_unit_test(test_ts_intern_get_concurrent_threads_agree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
