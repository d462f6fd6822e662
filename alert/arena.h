/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arena.h: a bump allocator for alert/'s short-lived objects (internal to alert/).
 *
 * Parsed templates keep their nodes in one arena; an evaluation keeps its temporaries
 * (expanded strings, label sets under construction) in another that is freed in one
 * call when the evaluation ends (STYLE.md 5, after nginx pools). Chunks come from
 * ts_malloc so memory is counted and failure injection reaches them. Every arena has a
 * byte budget: an allocation past it fails (NULL) and alert_arena_over_limit() turns true
 * so callers can say TS_ELIMIT rather than TS_ENOMEM.
 *
 * Thread-safety: none; an arena is used by one thread at a time.
 */
#ifndef ALERT_ARENA_H
#define ALERT_ARENA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct alert_arena alert_arena;

/* A new empty arena allowed to hold max_bytes (0 = 64 MiB). Returned owned; NULL on ENOMEM. */
alert_arena *alert_arena_new(size_t max_bytes);
/* Release every chunk. NULL allowed. */
void alert_arena_free(alert_arena *a);
/* size zeroed bytes aligned for any type, valid until alert_arena_free; NULL on failure. */
void *alert_arena_alloc(alert_arena *a, size_t size);
/* Copy of s[0..n) plus a NUL; NULL on failure. s may be NULL when n is 0. */
char *alert_arena_strndup(alert_arena *a, const char *s, size_t n);
/* True once an allocation failed because of the byte budget. */
bool alert_arena_over_limit(const alert_arena *a);

#endif /* ALERT_ARENA_H */
