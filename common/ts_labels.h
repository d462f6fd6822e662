/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ts_labels.h: label sets, the canonical series key, name validation, string interning,
 * and label matchers.
 *
 * A label set is an array of ts_label sorted by name (byte order, as Prometheus) with
 * unique, non-empty names and non-empty values; the metric name is the "__name__" label.
 *
 * Canonical series key (DESIGN.md "Series key"): for each label in sorted order, the
 * name bytes, one 0xFF byte, the value bytes, one 0xFF byte. 0xFF never occurs in UTF-8,
 * so the encoding is unambiguous. The series hash is ts_hash64(key, len, 0) (XXH64,
 * seed 0) and the partition of a series is hash % n_partitions.
 */
#ifndef COMMON_TS_LABELS_H
#define COMMON_TS_LABELS_H

#include "common/ts_buf.h"
#include "common/ts_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TS_METRIC_NAME "__name__"

typedef struct ts_label {
	const char *name;  /* borrowed, NUL-terminated */
	const char *value; /* borrowed, NUL-terminated */
} ts_label;

/*
 * Sort v[0..*n) by name, drop labels with empty values (Prometheus semantics), and
 * reject empty or duplicate names (TS_EINVAL naming the label). Updates *n. On error *n
 * is unchanged but the entries of v may have been reordered. v may be NULL if *n is 0.
 */
int ts_labels_normalize(ts_label *v, size_t *n, ts_err *err);

/* Compare two sorted label sets (name then value, byte order; shorter set first on tie). */
int ts_labels_cmp(const ts_label *a, size_t na, const ts_label *b, size_t nb);

/* Value of label `name` in a sorted or unsorted set, or NULL. */
const char *ts_labels_get(const ts_label *v, size_t n, const char *name);

/* Append the canonical series key of a sorted set to out. TS_OK/TS_ENOMEM/TS_ELIMIT; on
 * error out is left as it was (no partial key). */
int ts_series_key(const ts_label *v, size_t n, ts_buf *out);

/* ts_hash64 of the canonical series key, streamed: never allocates, any size. */
uint64_t ts_series_hash(const ts_label *v, size_t n);

/* Prometheus charsets: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]*. */
bool ts_metric_name_valid(const char *s, size_t n);
bool ts_label_name_valid(const char *s, size_t n);
/* Strict UTF-8 check (no overlongs, no surrogates, max U+10FFFF). */
bool ts_utf8_valid(const char *s, size_t n);

/*
 * Write a Prometheus-valid name for s[0..n) to out (capacity cap, NUL-terminated):
 * every byte outside the charset becomes '_', a leading digit gets a '_' prefix;
 * `allow_colon` selects the metric-name charset. Returns the length, or 0 when it does
 * not fit or n == 0.
 */
size_t ts_name_sanitize(const char *s, size_t n, bool allow_colon, char *out, size_t cap);

/* ---------------------------------------------------------------- interning */

typedef struct ts_intern ts_intern;

/* A new empty intern table (returned owned), or NULL on ENOMEM. */
ts_intern *ts_intern_new(void);
/* Free the table and every string in it. NULL allowed. */
void ts_intern_free(ts_intern *t);
/*
 * The interned copy of s[0..n): a NUL-terminated string owned by the table that stays
 * valid until ts_intern_free. NULL on ENOMEM. Thread-safe.
 */
const char *ts_intern_get(ts_intern *t, const char *s, size_t n);
/* Number of strings and bytes held. Thread-safe. */
void ts_intern_stats(ts_intern *t, size_t *n_strings, size_t *n_bytes);

/* ---------------------------------------------------------------- matchers */

typedef enum ts_match_type {
	TS_MATCH_EQ,  /* =  */
	TS_MATCH_NEQ, /* != */
	TS_MATCH_RE,  /* =~ (fully anchored, as Prometheus) */
	TS_MATCH_NRE, /* !~ */
} ts_match_type;

typedef struct ts_matcher {
	ts_match_type type;
	char *name;  /* owned */
	char *value; /* owned; the pattern for RE/NRE */
	void *re;    /* compiled pcre2 pattern (pcre2_code *), owned; NULL for EQ/NEQ */
} ts_matcher;

/*
 * Initialize m (copies name and value). Regexes are fully anchored, as Prometheus'
 * ^(?s:value)$, in UTF mode; a bad pattern (or invalid UTF-8) is TS_EINVAL with pcre2's
 * message and the offset in value.
 */
int ts_matcher_init(ts_matcher *m, ts_match_type type, const char *name, const char *value,
		    ts_err *err);
/* Release what ts_matcher_init allocated. NULL allowed. */
void ts_matcher_fini(ts_matcher *m);
/* Does `value` (NULL or "" means the label is absent) satisfy m? Thread-safe. */
bool ts_matcher_matches(const ts_matcher *m, const char *value);
/* True if the matcher matches the empty string (so it also selects series without the label). */
bool ts_matcher_matches_empty(const ts_matcher *m);
/* Operator text: "=", "!=", "=~", "!~". */
const char *ts_match_type_str(ts_match_type t);

/* ---------------------------------------------------------------- regex with captures */

/*
 * A compiled regular expression with capture groups, for label_replace() and relabeling:
 * the pattern is compiled as the text "^(?:" + pattern + ")$" exactly as Prometheus 2.x
 * does, in UTF mode, `$` matching only at the very end, `.` not matching a newline.
 * Immutable once compiled; thread-safe to share.
 */
typedef struct ts_regex ts_regex;

#define TS_REGEX_UNSET SIZE_MAX /* offset of a group that did not participate */

/* Compile (returned owned). TS_EINVAL with pcre2's message for a bad pattern; TS_ENOMEM. */
int ts_regex_new(const char *pattern, ts_regex **out, ts_err *err);
/* NULL allowed. */
void ts_regex_free(ts_regex *re);
/* Groups including group 0 (the whole match). */
size_t ts_regex_n_groups(const ts_regex *re);
/* Number of the named group, or -1. */
int ts_regex_group_number(const ts_regex *re, const char *name);
/*
 * Match the whole of s[0..n). On a match returns 1 and writes start/end offsets of groups
 * 0..max_groups-1 to ov[2*i], ov[2*i+1] (TS_REGEX_UNSET for groups that did not take
 * part); returns 0 for no match (also for invalid UTF-8 subjects), TS_ENOMEM on failure.
 */
int ts_regex_match(const ts_regex *re, const char *s, size_t n, size_t *ov, size_t max_groups);

#endif /* COMMON_TS_LABELS_H */
