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

#endif /* COMMON_TS_YAML_H */
