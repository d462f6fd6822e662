/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arena.h: the per-query bump arena (internal to query/ and its tests).
 *
 * Everything a query builds while it is parsed and evaluated (AST nodes, strings, label
 * lists, compiled matchers, evaluator temporaries) is carved out of one query_arena and
 * released with a single query_arena_free() (STYLE.md 5, after nginx pools). Objects that
 * own memory outside the arena (a compiled pcre2 regex) register a cleanup with
 * query_arena_defer(); cleanups run in reverse registration order when the arena is freed.
 *
 * The arena grows in chunks taken from ts_malloc, so memory is counted and failure
 * injection (ts_alloc_fail_after) reaches it. It has a byte budget: an allocation that
 * would take the arena past it fails and query_arena_over_limit() turns true, so callers
 * can report TS_ELIMIT instead of TS_ENOMEM.
 *
 * Thread-safety: none. An arena belongs to one query, used by one thread at a time.
 */
#ifndef QUERY_ARENA_H
#define QUERY_ARENA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct query_arena query_arena;

/* Default byte budget for query_arena_new(0): 256 MiB. */
#define QUERY_ARENA_DEFAULT_MAX ((size_t)256 << 20)

/*
 * A new empty arena that may hold up to max_bytes (0 = QUERY_ARENA_DEFAULT_MAX), returned
 * owned; NULL on ENOMEM. No chunk is allocated until the first allocation.
 */
query_arena *query_arena_new(size_t max_bytes);

/* Run the cleanups (newest first) and release every chunk. NULL allowed. */
void query_arena_free(query_arena *a);

/*
 * `size` zeroed bytes aligned for any object type, valid until query_arena_free; NULL on
 * ENOMEM or when the budget would be exceeded (see query_arena_over_limit). size 0 returns
 * a valid unique pointer.
 */
void *query_arena_alloc(query_arena *a, size_t size);

/* Arena copy of s[0..n) plus a NUL terminator (s may hold NULs); NULL on failure. */
char *query_arena_strndup(query_arena *a, const char *s, size_t n);

/* Arena copy of the NUL-terminated s; NULL on failure. */
char *query_arena_strdup(query_arena *a, const char *s);

/*
 * Register fn(arg) to run when the arena is freed. TS_OK, or TS_ENOMEM/TS_ELIMIT when the
 * record cannot be allocated; the cleanup is then NOT registered and the caller must
 * release `arg`'s resources itself.
 */
int query_arena_defer(query_arena *a, void (*fn)(void *arg), void *arg);

/* Bytes handed out so far (including alignment padding). */
size_t query_arena_used(const query_arena *a);

/* True once an allocation failed because of the byte budget (not because of ENOMEM). */
bool query_arena_over_limit(const query_arena *a);

#endif /* QUERY_ARENA_H */
