/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alloc.c: counted allocation (see ts_alloc.h).
 *
 * Sizes are taken from malloc_usable_size() so no header is prepended and pointers stay
 * compatible with free(3) for code that must hand memory to a library. The counter is
 * approximate in the sense that it counts usable, not requested, bytes.
 */
#include "common/ts_alloc.h"

#include "common/globals.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static int should_fail(void)
{
	int64_t left = atomic_load_explicit(&ts_g_stats.alloc_fail_after, memory_order_relaxed);
	if (left < 0)
		return 0;
	if (atomic_fetch_sub(&ts_g_stats.alloc_fail_after, 1) <= 0) {
		atomic_store(&ts_g_stats.alloc_fail_after, 0);
		atomic_fetch_add(&ts_g_stats.alloc_failures, 1);
		return 1;
	}
	return 0;
}

static void *account(void *p)
{
	if (p)
		atomic_fetch_add_explicit(&ts_g_stats.alloc_bytes, malloc_usable_size(p),
					  memory_order_relaxed);
	else
		atomic_fetch_add(&ts_g_stats.alloc_failures, 1);
	return p;
}

void *ts_malloc(size_t size)
{
	if (should_fail())
		return NULL;
	return account(malloc(size ? size : 1));
}

void *ts_calloc(size_t n, size_t size)
{
	if (should_fail())
		return NULL;
	return account(calloc(n ? n : 1, size ? size : 1));
}

void *ts_realloc(void *p, size_t size)
{
	if (should_fail())
		return NULL;
	size_t old = p ? malloc_usable_size(p) : 0;
	void *q = realloc(p, size ? size : 1);
	if (!q) {
		atomic_fetch_add(&ts_g_stats.alloc_failures, 1);
		return NULL;
	}
	atomic_fetch_sub_explicit(&ts_g_stats.alloc_bytes, old, memory_order_relaxed);
	atomic_fetch_add_explicit(&ts_g_stats.alloc_bytes, malloc_usable_size(q),
				  memory_order_relaxed);
	return q;
}

void ts_free(void *p)
{
	if (!p)
		return;
	atomic_fetch_sub_explicit(&ts_g_stats.alloc_bytes, malloc_usable_size(p),
				  memory_order_relaxed);
	free(p);
}

char *ts_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = ts_malloc(len + 1);
	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *ts_strdup(const char *s)
{
	return ts_strndup(s, strlen(s));
}

void ts_alloc_fail_after(int64_t n)
{
	atomic_store(&ts_g_stats.alloc_fail_after, n < 0 ? -1 : n);
}

uint64_t ts_alloc_bytes(void)
{
	return atomic_load_explicit(&ts_g_stats.alloc_bytes, memory_order_relaxed);
}
