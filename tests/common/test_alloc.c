/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_alloc.c: unit tests for common/alloc.c (counted allocation, failure injection).
 *
 * ts_alloc_bytes() counts usable bytes (malloc_usable_size), so tests check "at least the
 * requested size" and exact return to the baseline after freeing. The failure counter
 * lives in globals.h (internal to common/ and its tests). Huge requests must return NULL,
 * so under ASan allocator_may_return_null is switched on below.
 */
#include "common/common.h"
#include "common/globals.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* Read by ASan at startup when the test is built with STRATA_SANITIZE. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static uint64_t failures(void)
{
	return atomic_load(&ts_g_stats.alloc_failures);
}

static int reset_injection(void **state)
{
	ts_alloc_fail_after(-1);
	return 0;
}

static void test_ts_malloc_counts_and_free_uncounts(void **state)
{
	uint64_t base = ts_alloc_bytes();
	char *p = ts_malloc(1000);
	assert_non_null(p);
	memset(p, 0xAB, 1000);
	assert_true(ts_alloc_bytes() >= base + 1000);
	ts_free(p);
	assert_int_equal(ts_alloc_bytes(), base);
}

static void test_ts_malloc_zero_returns_unique_pointer(void **state)
{
	uint64_t base = ts_alloc_bytes();
	void *a = ts_malloc(0), *b = ts_malloc(0);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	ts_free(a);
	ts_free(b);
	assert_int_equal(ts_alloc_bytes(), base);
}

static void test_ts_malloc_huge_fails_and_counts(void **state)
{
	uint64_t base = ts_alloc_bytes(), f0 = failures();
	assert_null(ts_malloc(SIZE_MAX - 4096));
	assert_int_equal(failures(), f0 + 1);
	assert_int_equal(ts_alloc_bytes(), base);
}

static void test_ts_calloc_zeroes_and_counts(void **state)
{
	uint64_t base = ts_alloc_bytes();
	uint32_t *p = ts_calloc(256, sizeof(uint32_t));
	assert_non_null(p);
	for (int i = 0; i < 256; i++)
		assert_int_equal(p[i], 0);
	assert_true(ts_alloc_bytes() >= base + 1024);
	ts_free(p);
	assert_int_equal(ts_alloc_bytes(), base);
}

static void test_ts_calloc_zero_sizes(void **state)
{
	void *a = ts_calloc(0, 16), *b = ts_calloc(16, 0), *c = ts_calloc(0, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	ts_free(a);
	ts_free(b);
	ts_free(c);
}

static void test_ts_calloc_overflow_fails(void **state)
{
	uint64_t base = ts_alloc_bytes(), f0 = failures();
	assert_null(ts_calloc(SIZE_MAX / 2, 4));
	assert_int_equal(failures(), f0 + 1);
	assert_int_equal(ts_alloc_bytes(), base);
}

static void test_ts_realloc_grows_keeps_content(void **state)
{
	uint64_t base = ts_alloc_bytes();
	char *p = ts_malloc(16);
	assert_non_null(p);
	memcpy(p, "0123456789abcdef", 16);
	p = ts_realloc(p, 100000);
	assert_non_null(p);
	assert_memory_equal(p, "0123456789abcdef", 16);
	assert_true(ts_alloc_bytes() >= base + 100000);
	p = ts_realloc(p, 8);
	assert_non_null(p);
	assert_memory_equal(p, "01234567", 8);
	assert_true(ts_alloc_bytes() < base + 100000);
	ts_free(p);
	assert_int_equal(ts_alloc_bytes(), base);
}

static void test_ts_realloc_null_is_malloc(void **state)
{
	uint64_t base = ts_alloc_bytes();
	void *p = ts_realloc(NULL, 64);
	assert_non_null(p);
	assert_true(ts_alloc_bytes() >= base + 64);
	ts_free(p);
	assert_int_equal(ts_alloc_bytes(), base);
}

static void test_ts_realloc_zero_keeps_valid_pointer(void **state)
{
	uint64_t base = ts_alloc_bytes();
	void *p = ts_malloc(64);
	p = ts_realloc(p, 0);
	assert_non_null(p);
	ts_free(p);
	assert_int_equal(ts_alloc_bytes(), base);
}

static void test_ts_realloc_huge_fails_keeps_original(void **state)
{
	uint64_t f0 = failures();
	char *p = ts_malloc(32);
	assert_non_null(p);
	memcpy(p, "keep", 5);
	uint64_t mid = ts_alloc_bytes();
	assert_null(ts_realloc(p, SIZE_MAX - 4096));
	assert_int_equal(failures(), f0 + 1);
	assert_int_equal(ts_alloc_bytes(), mid);
	assert_string_equal(p, "keep");
	ts_free(p);
}

static void test_ts_free_null_is_noop(void **state)
{
	uint64_t base = ts_alloc_bytes();
	ts_free(NULL);
	assert_int_equal(ts_alloc_bytes(), base);
}

static void test_ts_strdup_copies(void **state)
{
	const char *s = "series_key";
	char *d = ts_strdup(s);
	assert_non_null(d);
	assert_ptr_not_equal(d, s);
	assert_string_equal(d, s);
	ts_free(d);
	d = ts_strdup("");
	assert_non_null(d);
	assert_string_equal(d, "");
	ts_free(d);
}

static void test_ts_strndup_limits(void **state)
{
	char *d = ts_strndup("abcdef", 3);
	assert_string_equal(d, "abc");
	ts_free(d);
	d = ts_strndup("ab", 10); /* stops at the NUL */
	assert_string_equal(d, "ab");
	ts_free(d);
	d = ts_strndup("abc", 0);
	assert_string_equal(d, "");
	ts_free(d);
	const char raw[4] = {'w', 'x', 'y', 'z'}; /* not NUL-terminated */
	d = ts_strndup(raw, sizeof(raw));
	assert_string_equal(d, "wxyz");
	ts_free(d);
}

static void test_ts_alloc_fail_after_zero_fails_next(void **state)
{
	uint64_t f0 = failures();
	ts_alloc_fail_after(0);
	assert_null(ts_malloc(8));
	assert_int_equal(failures(), f0 + 1);
	ts_alloc_fail_after(-1);
	void *p = ts_malloc(8);
	assert_non_null(p);
	ts_free(p);
}

static void test_ts_alloc_fail_after_n_allows_n(void **state)
{
	void *ok[3];
	ts_alloc_fail_after(3);
	for (int i = 0; i < 3; i++) {
		ok[i] = ts_malloc(16);
		assert_non_null(ok[i]);
	}
	assert_null(ts_malloc(16));
	ts_alloc_fail_after(-1);
	for (int i = 0; i < 3; i++)
		ts_free(ok[i]);
}

static void test_ts_alloc_fail_after_is_persistent(void **state)
{
	ts_alloc_fail_after(1);
	void *p = ts_malloc(4);
	assert_non_null(p);
	assert_null(ts_malloc(4));
	assert_null(ts_malloc(4));
	assert_null(ts_calloc(1, 4));
	assert_null(ts_strdup("x"));
	ts_alloc_fail_after(-1);
	ts_free(p);
}

static void test_ts_alloc_fail_after_applies_to_every_function(void **state)
{
	char *p = ts_malloc(8);
	assert_non_null(p);
	memcpy(p, "abcdefg", 8);
	uint64_t base = ts_alloc_bytes();
	ts_alloc_fail_after(0);
	assert_null(ts_calloc(2, 2));
	assert_null(ts_realloc(p, 4096));
	assert_null(ts_strndup("abc", 3));
	assert_null(ts_strdup("abc"));
	ts_alloc_fail_after(-1);
	assert_int_equal(ts_alloc_bytes(), base);
	assert_string_equal(p, "abcdefg"); /* failed realloc left it alone */
	ts_free(p);
}

static void test_ts_alloc_fail_after_negative_turns_off(void **state)
{
	ts_alloc_fail_after(-5);
	for (int i = 0; i < 100; i++) {
		void *p = ts_malloc(1);
		assert_non_null(p);
		ts_free(p);
	}
}

static void test_ts_alloc_fail_after_free_never_fails(void **state)
{
	void *p = ts_malloc(8);
	uint64_t base = ts_alloc_bytes();
	ts_alloc_fail_after(0);
	ts_free(p); /* free is not an allocation */
	ts_alloc_fail_after(-1);
	assert_true(ts_alloc_bytes() < base);
}

enum { N_THREADS = 4, N_ROUNDS = 5000 };

static void *churn(void *arg)
{
	void *keep[16] = {0};
	for (int i = 0; i < N_ROUNDS; i++) {
		int k = i % 16;
		ts_free(keep[k]);
		keep[k] =
		    (i & 1) ? ts_malloc((size_t)(i % 512) + 1) : ts_calloc(3, (size_t)(i % 64) + 1);
		if (i % 7 == 0)
			keep[k] = ts_realloc(keep[k], (size_t)(i % 2048) + 1);
	}
	for (int k = 0; k < 16; k++)
		ts_free(keep[k]);
	return NULL;
}

static void test_ts_alloc_bytes_thread_safe(void **state)
{
	uint64_t base = ts_alloc_bytes();
	pthread_t th[N_THREADS];
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn, NULL), 0);
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(ts_alloc_bytes(), base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_malloc_counts_and_free_uncounts),
	    cmocka_unit_test(test_ts_malloc_zero_returns_unique_pointer),
	    cmocka_unit_test(test_ts_malloc_huge_fails_and_counts),
	    cmocka_unit_test(test_ts_calloc_zeroes_and_counts),
	    cmocka_unit_test(test_ts_calloc_zero_sizes),
	    cmocka_unit_test(test_ts_calloc_overflow_fails),
	    cmocka_unit_test(test_ts_realloc_grows_keeps_content),
	    cmocka_unit_test(test_ts_realloc_null_is_malloc),
	    cmocka_unit_test(test_ts_realloc_zero_keeps_valid_pointer),
	    cmocka_unit_test(test_ts_realloc_huge_fails_keeps_original),
	    cmocka_unit_test(test_ts_free_null_is_noop),
	    cmocka_unit_test(test_ts_strdup_copies),
	    cmocka_unit_test(test_ts_strndup_limits),
	    cmocka_unit_test_teardown(test_ts_alloc_fail_after_zero_fails_next, reset_injection),
	    cmocka_unit_test_teardown(test_ts_alloc_fail_after_n_allows_n, reset_injection),
	    cmocka_unit_test_teardown(test_ts_alloc_fail_after_is_persistent, reset_injection),
	    cmocka_unit_test_teardown(test_ts_alloc_fail_after_applies_to_every_function,
				      reset_injection),
	    cmocka_unit_test_teardown(test_ts_alloc_fail_after_negative_turns_off, reset_injection),
	    cmocka_unit_test_teardown(test_ts_alloc_fail_after_free_never_fails, reset_injection),
	    cmocka_unit_test(test_ts_alloc_bytes_thread_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
