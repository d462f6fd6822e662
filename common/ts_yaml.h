/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ts_yaml.h: a small read-only YAML document tree with source positions, built with
 * libyaml. Used for the server config and rule/alerting files, so that every error can
 * name file:line:column.
 *
 * Supported: block and flow mappings/sequences, all scalar styles, anchors and aliases
 * (an alias shares the anchored node; an alias inside the node it names is an error, so
 * the tree never has cycles). Limits: 64 MiB input, depth 64, 1M nodes, where depth and
 * node count are those of the tree with every alias expanded (TS_ELIMIT).
 */
#ifndef COMMON_TS_YAML_H
#define COMMON_TS_YAML_H

#include "common/ts_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ts_yaml_type {
	TS_YAML_SCALAR,
	TS_YAML_MAP,
	TS_YAML_SEQ,
} ts_yaml_type;

typedef struct ts_yaml_node ts_yaml_node;
struct ts_yaml_node {
	ts_yaml_type type;
	int line;   /* 1-based line of the node's start */
	int column; /* 1-based column */
	/* SCALAR: */
	char *scalar;   /* NUL-terminated text */
	size_t len;     /* bytes in scalar */
	bool is_quoted; /* written with quotes or as a block scalar (never null/bool) */
	/* MAP: keys[i] -> items[i]; SEQ: items[i]. */
	ts_yaml_node **keys;
	ts_yaml_node **items;
	size_t n;
};

typedef struct ts_yaml_doc ts_yaml_doc;

/*
 * Parse YAML text (first document only). `name` is used in messages (borrowed, copied).
 * On error: TS_EPARSE/TS_ELIMIT/TS_ENOMEM with "name:line:col: problem". *out is
 * returned owned; free with ts_yaml_free. An empty document has a NULL root.
 */
int ts_yaml_parse(const char *name, const char *text, size_t len, ts_yaml_doc **out, ts_err *err);
/* Read and parse a file (TS_EIO if unreadable). */
int ts_yaml_load_file(const char *path, ts_yaml_doc **out, ts_err *err);
void ts_yaml_free(ts_yaml_doc *doc);
/* The root node (borrowed; NULL for an empty document) and the name given at parse. */
const ts_yaml_node *ts_yaml_root(const ts_yaml_doc *doc);
const char *ts_yaml_name(const ts_yaml_doc *doc);

/* Value for key in a mapping, or NULL (also NULL when map is not a mapping). */
const ts_yaml_node *ts_yaml_get(const ts_yaml_node *map, const char *key);
/* True for an unquoted null scalar ("", "~", "null"). */
bool ts_yaml_is_null(const ts_yaml_node *n);

/*
 * Typed scalar readers. Each fails with TS_EINVAL and "name:line:col: <what> ..." when the
 * node is not a scalar of the wanted kind. `what` names the setting ("server.listen").
 */
int ts_yaml_str(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, const char **out,
		ts_err *err);
int ts_yaml_bool(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, bool *out,
		 ts_err *err);
int ts_yaml_int(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, int64_t min,
		int64_t max, int64_t *out, ts_err *err);
int ts_yaml_float(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, double *out,
		  ts_err *err);
/* Prometheus duration ("30s", "1h30m"). */
int ts_yaml_duration(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, int64_t *out_ms,
		     ts_err *err);
/* Byte size: plain integer or with suffix KiB/MiB/GiB/TiB (also KB/MB/GB/TB as powers of 10). */
int ts_yaml_bytes(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, int64_t *out_bytes,
		  ts_err *err);
/* Error at a node's position: "name:line:col: <formatted message>". Returns code. */
int ts_yaml_error(const ts_yaml_doc *d, const ts_yaml_node *n, ts_err *err, int code,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---------------------------------------------------------------- typed keys (yaml_keys.c)
 *
 * Reading a config mapping key by key, as the scrape config (ingest/scrape_config.c) and
 * the alerting config (alert/notify_config.c) do: every message is
 * "name:line:col: <what>: <problem>" where `what` is the key path
 * ("scrape_configs[2].tls_config.ca_file"), strings are copied into the caller's arena,
 * and file names resolve against the config file's directory.
 */

/* Longest key path kept in messages; longer paths are truncated. */
#define TS_YAML_WHAT_MAX 200

/* A config being read: the document and where copied strings go. */
typedef struct ts_yaml_reader {
	const ts_yaml_doc *doc; /* borrowed */
	const char *base_dir;   /* relative file names resolve here; NULL or "" = as given */
	const char *name;       /* "scrape config": "out of memory reading the <name>" */
	const char *doc_ref; /* "docs/formats/scrape.md": "not supported by Strata (see <ref>)" */
	/* Allocate n zeroed bytes (n may be 0) that live as long as the result; NULL = out
	 * of memory. Called with `arena`. */
	void *(*alloc)(void *arena, size_t n);
	void *arena;
} ts_yaml_reader;

/* snprintf into a key-path buffer (truncates quietly, unlike a checked snprintf). */
void ts_yaml_what(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* TS_EINVAL "<what>: expected a mapping" / "expected a sequence" unless n is one. */
int ts_yaml_want_map(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, ts_err *err);
int ts_yaml_want_seq(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, ts_err *err);
/* TS_EINVAL at key k: "unknown key '<what>.<key>'". */
int ts_yaml_unknown_key(const ts_yaml_doc *d, const ts_yaml_node *k, const char *what, ts_err *err);
/* TS_EINVAL at key k: "<what>.<key>: not supported by Strata (see <doc_ref>)". */
int ts_yaml_unsupported(const ts_yaml_reader *r, const ts_yaml_node *k, const char *what,
			ts_err *err);
/* TS_ENOMEM "out of memory reading the <name>". */
int ts_yaml_oom(const ts_yaml_reader *r, ts_err *err);
/* A copy of s in the reader's arena, or NULL when out of memory. */
char *ts_yaml_strdup(const ts_yaml_reader *r, const char *s);
/* A string setting, copied into the arena (*out returned arena-owned). */
int ts_yaml_copy_str(const ts_yaml_reader *r, const ts_yaml_node *n, const char *what,
		     const char **out, ts_err *err);
/*
 * A file name setting: a non-empty string ("<what>: empty file name"), joined to base_dir
 * unless absolute, copied into the arena.
 */
int ts_yaml_copy_path(const ts_yaml_reader *r, const ts_yaml_node *n, const char *what,
		      const char **out, ts_err *err);

typedef enum ts_yaml_kind {
	TS_YAML_KEY_STR,         /* const char **: ts_yaml_copy_str */
	TS_YAML_KEY_PATH,        /* const char **: ts_yaml_copy_path */
	TS_YAML_KEY_BOOL,        /* bool *: ts_yaml_bool */
	TS_YAML_KEY_INT,         /* int64_t *: ts_yaml_int in [min, max] */
	TS_YAML_KEY_DURATION,    /* int64_t *: ts_yaml_duration, ms */
	TS_YAML_KEY_BYTES,       /* int64_t *: ts_yaml_bytes */
	TS_YAML_KEY_FUNC,        /* fn(ctx, value, key path, out, err) */
	TS_YAML_KEY_UNSUPPORTED, /* ts_yaml_unsupported */
	TS_YAML_KEY_IGNORED,     /* accepted with any value and unused */
} ts_yaml_kind;

/* A key handler of kind TS_YAML_KEY_FUNC; `what` is the key's path. */
typedef int (*ts_yaml_key_fn)(void *ctx, const ts_yaml_node *v, const char *what, void *out,
			      ts_err *err);

/* One known key of a mapping. A typed kind with out NULL checks the value and drops it. */
typedef struct ts_yaml_key {
	const char *name; /* NULL ends a table */
	ts_yaml_kind kind;
	void *out;
	int64_t min, max;  /* TS_YAML_KEY_INT */
	ts_yaml_key_fn fn; /* TS_YAML_KEY_FUNC */
} ts_yaml_key;

/* Table entries: a typed key, a TS_YAML_KEY_INT key with its range, a handler, the end. */
#define TS_YAML_KEY(name, kind, out)              \
	{                                         \
		(name), (kind), (out), 0, 0, NULL \
	}
#define TS_YAML_KEY_RANGE(name, out, min, max)                     \
	{                                                          \
		(name), TS_YAML_KEY_INT, (out), (min), (max), NULL \
	}
#define TS_YAML_KEY_FN(name, fn, out)                       \
	{                                                   \
		(name), TS_YAML_KEY_FUNC, (out), 0, 0, (fn) \
	}
#define TS_YAML_KEYS_END                                    \
	{                                                   \
		NULL, TS_YAML_KEY_IGNORED, NULL, 0, 0, NULL \
	}

/*
 * Read the mapping `map` (named `what`) by the table `keys` (ended by a NULL name), in
 * document order, stopping at the first error: not a mapping, a key not in the table
 * (ts_yaml_unknown_key), or what the key's reader returns. `ctx` goes to every
 * TS_YAML_KEY_FUNC handler. Keys not present leave their outputs untouched.
 */
int ts_yaml_keys(const ts_yaml_reader *r, const ts_yaml_node *map, const char *what,
		 const ts_yaml_key *keys, void *ctx, ts_err *err);

#endif /* COMMON_TS_YAML_H */
