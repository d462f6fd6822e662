/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ts_alloc.h: counted allocation with failure injection.
 *
 * All project allocations go through these so memory use is exported on /metrics and
 * tests can force the n-th allocation to fail (after SQLite's sqlite3FaultSim).
 */
#ifndef COMMON_TS_ALLOC_H
#define COMMON_TS_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* malloc/calloc/realloc/free equivalents. NULL on failure (or injected failure). Thread-safe. */
void *ts_malloc(size_t size);
void *ts_calloc(size_t n, size_t size);
void *ts_realloc(void *p, size_t size);
void ts_free(void *p);
/* Owned copies; NULL on failure. ts_strndup copies at most n bytes and NUL-terminates. */
char *ts_strdup(const char *s);
char *ts_strndup(const char *s, size_t n);

/*
 * Test hook: the next n allocations succeed, then the (n+1)-th and every later one fails
 * (persistent, so error paths that retry also fail) until injection is turned off with
 * n < 0. Failures are counted like real ones.
 */
void ts_alloc_fail_after(int64_t n);

/* Bytes currently allocated through ts_malloc & co. */
uint64_t ts_alloc_bytes(void);

#endif /* COMMON_TS_ALLOC_H */
