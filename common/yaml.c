/* SPDX-License-Identifier: Apache-2.0 */
/*
 * yaml.c: the one wrapper around libyaml (see ts_yaml.h).
 *
 * libyaml's event parser builds a tree of ts_yaml_node. Nodes are allocated one by one
 * and remembered in `all` so the document frees them in one pass (aliases make the tree
 * a DAG, so a recursive free would double-free). Positions are libyaml's 0-based marks
 * plus one.
 *
 * Aliases share the anchored node, so code that walks the tree sees it once per alias.
 * To keep such walks bounded the limits apply to the tree as seen through aliases: each
 * node records its expanded size and height (yaml_node_int), an alias may not refer to
 * a collection that is still open (a cycle), and the expanded node count and depth obey
 * YAML_MAX_NODES and YAML_MAX_DEPTH ("billion laughs" documents are TS_ELIMIT).
 * After the first document's root the parser reads on to the start of the next document
 * (or the end of the stream), so trailing garbage is a syntax error rather than silently
 * ignored. Scalars containing a NUL byte ("\0" escapes) are rejected: the tree is used
 * as C strings.
 */
#include "common/ts_yaml.h"

#include "common/ts_alloc.h"
#include "common/ts_time.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YAML_MAX_BYTES (64u << 20)
#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 1000000

/* A node plus what the limits need; `pub` first so a node pointer is the allocation. */
typedef struct yaml_node_int {
	ts_yaml_node pub;
	size_t n_expanded; /* nodes in the subtree with aliases expanded, this one included */
	int height;        /* 0 for a scalar, 1 + the highest child for a collection */
} yaml_node_int;

typedef struct anchor {
	char *name;
	ts_yaml_node *node;
	bool is_open; /* the anchored collection is still being parsed */
} anchor;

struct ts_yaml_doc {
	char *name;
	ts_yaml_node *root;
	ts_yaml_node **all; /* every node, for freeing */
	size_t n_all, cap_all;
	size_t n_expanded; /* nodes seen through aliases so far (<= YAML_MAX_NODES) */
	anchor *anchors;
	size_t n_anchors, cap_anchors;
};

static yaml_node_int *node_int(const ts_yaml_node *n)
{
	return (yaml_node_int *)n;
}

int ts_yaml_error(const ts_yaml_doc *d, const ts_yaml_node *n, ts_err *err, int code,
		  const char *fmt, ...)
{
	if (!err)
		return code;
	char msg[TS_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		return ts_err_set(err, code, "%s:%d:%d: %s", d->name, n->line, n->column, msg);
	return ts_err_set(err, code, "%s: %s", d->name, msg);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return TS_OK;
	size_t nc = *cap ? *cap * 2 : 8;
	while (nc < need)
		nc *= 2;
	void *q = ts_realloc(*p, nc * elem);
	if (!q)
		return TS_ENOMEM;
	*p = q;
	*cap = nc;
	return TS_OK;
}

/* Count `n` more nodes of the expanded tree; TS_ELIMIT past YAML_MAX_NODES. */
static int count_nodes(ts_yaml_doc *d, size_t n, yaml_mark_t mark, ts_err *err)
{
	if (n > YAML_MAX_NODES - d->n_expanded)
		return ts_err_set(err, TS_ELIMIT,
				  "%s:%zu:%zu: more than %d nodes (aliases included)", d->name,
				  mark.line + 1, mark.column + 1, YAML_MAX_NODES);
	d->n_expanded += n;
	return TS_OK;
}

static int node_new(ts_yaml_doc *d, ts_yaml_type type, yaml_mark_t mark, ts_yaml_node **out,
		    ts_err *err)
{
	int rc = count_nodes(d, 1, mark, err);
	if (rc)
		return rc;
	if (grow((void **)&d->all, &d->cap_all, d->n_all + 1, sizeof(*d->all)))
		goto nomem;
	yaml_node_int *ni = ts_calloc(1, sizeof(*ni));
	if (!ni)
		goto nomem;
	ni->n_expanded = 1;
	ts_yaml_node *n = &ni->pub;
	n->type = type;
	n->line = (int)mark.line + 1;
	n->column = (int)mark.column + 1;
	d->all[d->n_all++] = n;
	*out = n;
	return TS_OK;
nomem:
	return ts_err_set(err, TS_ENOMEM, "%s: out of memory", d->name);
}

static int add_child(ts_yaml_node *parent, ts_yaml_node *key, ts_yaml_node *item)
{
	size_t cap = parent->n; /* arrays grow in powers of two from 4 */
	size_t want = parent->n + 1;
	if (parent->n == 0 || (parent->n >= 4 && (parent->n & (parent->n - 1)) == 0)) {
		cap = want < 4 ? 4 : parent->n * 2;
		ts_yaml_node **items = ts_realloc(parent->items, cap * sizeof(*items));
		if (!items)
			return TS_ENOMEM;
		parent->items = items;
		if (parent->type == TS_YAML_MAP) {
			ts_yaml_node **keys = ts_realloc(parent->keys, cap * sizeof(*keys));
			if (!keys)
				return TS_ENOMEM;
			parent->keys = keys;
		}
	}
	if (parent->type == TS_YAML_MAP)
		parent->keys[parent->n] = key;
	parent->items[parent->n++] = item;
	/* Bounded by count_nodes: the sum never exceeds YAML_MAX_NODES. */
	yaml_node_int *pi = node_int(parent);
	const ts_yaml_node *kids[2] = {key, item};
	for (int i = 0; i < 2; i++) {
		if (!kids[i])
			continue;
		yaml_node_int *ci = node_int(kids[i]);
		pi->n_expanded += ci->n_expanded;
		if (ci->height + 1 > pi->height)
			pi->height = ci->height + 1;
	}
	return TS_OK;
}

static int remember_anchor(ts_yaml_doc *d, const yaml_char_t *name, ts_yaml_node *n, bool is_open)
{
	if (!name)
		return TS_OK;
	if (grow((void **)&d->anchors, &d->cap_anchors, d->n_anchors + 1, sizeof(*d->anchors)))
		return TS_ENOMEM;
	char *copy = ts_strdup((const char *)name);
	if (!copy)
		return TS_ENOMEM;
	d->anchors[d->n_anchors].name = copy;
	d->anchors[d->n_anchors].is_open = is_open;
	d->anchors[d->n_anchors++].node = n;
	return TS_OK;
}

/* Parse one node starting with event ev (already fetched); recursive with depth bound. */
static int parse_node(ts_yaml_doc *d, yaml_parser_t *p, yaml_event_t *ev, int depth,
		      ts_yaml_node **out, ts_err *err);

static int next_event(ts_yaml_doc *d, yaml_parser_t *p, yaml_event_t *ev, ts_err *err)
{
	if (yaml_parser_parse(p, ev))
		return TS_OK;
	if (p->error == YAML_MEMORY_ERROR)
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory", d->name);
	if (p->error == YAML_READER_ERROR) /* bad encoding: libyaml has only an offset */
		return ts_err_set(err, TS_EPARSE, "%s: byte %zu: %s", d->name, p->problem_offset,
				  p->problem ? p->problem : "invalid input");
	return ts_err_set(err, TS_EPARSE, "%s:%zu:%zu: %s%s%s", d->name, p->problem_mark.line + 1,
			  p->problem_mark.column + 1, p->problem ? p->problem : "YAML syntax error",
			  p->context ? " " : "", p->context ? p->context : "");
}

static int parse_collection(ts_yaml_doc *d, yaml_parser_t *p, ts_yaml_node *coll,
			    yaml_event_type_t end_type, int depth, ts_err *err)
{
	for (;;) {
		yaml_event_t ev;
		int rc = next_event(d, p, &ev, err);
		if (rc)
			return rc;
		if (ev.type == end_type) {
			yaml_event_delete(&ev);
			return TS_OK;
		}
		ts_yaml_node *key = NULL, *val = NULL;
		/* Where the key is written: for an alias that is not the anchored node's spot. */
		size_t kl = ev.start_mark.line + 1, kc = ev.start_mark.column + 1;
		rc = parse_node(d, p, &ev, depth + 1, coll->type == TS_YAML_MAP ? &key : &val, err);
		if (rc)
			return rc;
		if (coll->type == TS_YAML_MAP) {
			if (key->type != TS_YAML_SCALAR)
				return ts_err_set(err, TS_EPARSE,
						  "%s:%zu:%zu: mapping keys must be scalars",
						  d->name, kl, kc);
			for (size_t i = 0; i < coll->n; i++)
				if (strcmp(coll->keys[i]->scalar, key->scalar) == 0)
					return ts_err_set(err, TS_EPARSE,
							  "%s:%zu:%zu: duplicate key '%s'", d->name,
							  kl, kc, key->scalar);
			rc = next_event(d, p, &ev, err);
			if (rc)
				return rc;
			rc = parse_node(d, p, &ev, depth + 1, &val, err);
			if (rc)
				return rc;
		}
		if (add_child(coll, key, val))
			return ts_err_set(err, TS_ENOMEM, "%s: out of memory", d->name);
	}
}

/* Resolve alias event ev at `depth` to its anchored node, enforcing the limits. */
static int resolve_alias(ts_yaml_doc *d, const yaml_event_t *ev, int depth, ts_yaml_node **out,
			 ts_err *err)
{
	const char *name = (const char *)ev->data.alias.anchor;
	size_t line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;
	for (size_t i = d->n_anchors; i-- > 0;) {
		const anchor *a = &d->anchors[i];
		if (strcmp(a->name, name) != 0)
			continue;
		if (a->is_open)
			return ts_err_set(
			    err, TS_EPARSE,
			    "%s:%zu:%zu: alias '%s' refers to a node that contains it", d->name,
			    line, col, name);
		const yaml_node_int *ni = node_int(a->node);
		if (depth + ni->height > YAML_MAX_DEPTH)
			return ts_err_set(err, TS_ELIMIT,
					  "%s:%zu:%zu: alias '%s' nests deeper than %d", d->name,
					  line, col, name, YAML_MAX_DEPTH);
		/* Each alias adds one more copy of the anchored subtree to the walked tree. */
		int rc = count_nodes(d, ni->n_expanded, ev->start_mark, err);
		if (rc)
			return rc;
		*out = a->node;
		return TS_OK;
	}
	return ts_err_set(err, TS_EPARSE, "%s:%zu:%zu: unknown alias '%s'", d->name, line, col,
			  name);
}

static int parse_node(ts_yaml_doc *d, yaml_parser_t *p, yaml_event_t *ev, int depth,
		      ts_yaml_node **out, ts_err *err)
{
	int rc = TS_OK;
	ts_yaml_node *n = NULL;
	if (depth > YAML_MAX_DEPTH) {
		rc = ts_err_set(err, TS_ELIMIT, "%s:%zu:%zu: nesting deeper than %d", d->name,
				ev->start_mark.line + 1, ev->start_mark.column + 1, YAML_MAX_DEPTH);
		goto done;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if ((rc = node_new(d, TS_YAML_SCALAR, ev->start_mark, &n, err)))
			goto done;
		if (ev->data.scalar.length &&
		    memchr(ev->data.scalar.value, '\0', ev->data.scalar.length)) {
			rc = ts_err_set(err, TS_EPARSE, "%s:%zu:%zu: NUL byte in scalar", d->name,
					ev->start_mark.line + 1, ev->start_mark.column + 1);
			goto done;
		}
		n->scalar = ts_strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (!n->scalar)
			goto nomem;
		n->len = ev->data.scalar.length;
		n->is_quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		if (remember_anchor(d, ev->data.scalar.anchor, n, false))
			goto nomem;
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool is_map = ev->type == YAML_MAPPING_START_EVENT;
		if ((rc = node_new(d, is_map ? TS_YAML_MAP : TS_YAML_SEQ, ev->start_mark, &n, err)))
			goto done;
		const yaml_char_t *anc =
		    is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
		size_t a = d->n_anchors;
		if (remember_anchor(d, anc, n, true))
			goto nomem;
		yaml_event_delete(ev);
		rc = parse_collection(
		    d, p, n, is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT, depth, err);
		if (anc && rc == TS_OK)
			d->anchors[a].is_open = false;
		if (rc == TS_OK)
			*out = n;
		return rc;
	}
	case YAML_ALIAS_EVENT:
		rc = resolve_alias(d, ev, depth, &n, err);
		if (rc)
			goto done;
		break;
	default:
		rc = ts_err_set(err, TS_EPARSE, "%s:%zu:%zu: unexpected YAML event", d->name,
				ev->start_mark.line + 1, ev->start_mark.column + 1);
		goto done;
	}
	*out = n;
	goto done;
nomem:
	rc = ts_err_set(err, TS_ENOMEM, "%s: out of memory", d->name);
done:
	yaml_event_delete(ev);
	return rc;
}

void ts_yaml_free(ts_yaml_doc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_all; i++) {
		ts_free(d->all[i]->scalar);
		ts_free(d->all[i]->keys);
		ts_free(d->all[i]->items);
		ts_free(node_int(d->all[i]));
	}
	for (size_t i = 0; i < d->n_anchors; i++)
		ts_free(d->anchors[i].name);
	ts_free(d->anchors);
	ts_free(d->all);
	ts_free(d->name);
	ts_free(d);
}

int ts_yaml_parse(const char *name, const char *text, size_t len, ts_yaml_doc **out, ts_err *err)
{
	if (len > YAML_MAX_BYTES)
		return ts_err_set(err, TS_ELIMIT, "%s: larger than %u bytes", name, YAML_MAX_BYTES);
	ts_yaml_doc *d = ts_calloc(1, sizeof(*d));
	if (!d || !(d->name = ts_strdup(name))) {
		ts_free(d);
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory", name);
	}
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p)) {
		ts_yaml_free(d);
		return ts_err_set(err, TS_ENOMEM, "%s: out of memory", name);
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	int rc;
	yaml_event_t ev;
	/* STREAM-START, then DOCUMENT-START or STREAM-END. */
	if ((rc = next_event(d, &p, &ev, err)))
		goto fail;
	yaml_event_delete(&ev);
	if ((rc = next_event(d, &p, &ev, err)))
		goto fail;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		goto ok;
	}
	yaml_event_delete(&ev);
	if ((rc = next_event(d, &p, &ev, err)))
		goto fail;
	if ((rc = parse_node(d, &p, &ev, 0, &d->root, err)))
		goto fail;
	/* DOCUMENT-END, then STREAM-END or the next DOCUMENT-START: reading them makes
	 * libyaml check what follows the root ("[1]\nfoo: bar" is an error, not [1]). */
	for (int i = 0; i < 2; i++) {
		if ((rc = next_event(d, &p, &ev, err)))
			goto fail;
		yaml_event_delete(&ev);
	}
	if (d->root->type == TS_YAML_SCALAR && !d->root->is_quoted && ts_yaml_is_null(d->root))
		d->root = NULL;
ok:
	yaml_parser_delete(&p);
	*out = d;
	return TS_OK;
fail:
	yaml_parser_delete(&p);
	ts_yaml_free(d);
	return rc;
}

int ts_yaml_load_file(const char *path, ts_yaml_doc **out, ts_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return ts_err_set(err, TS_EIO, "%s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = TS_OK;
	for (;;) {
		if (len == cap) {
			if (cap >= YAML_MAX_BYTES) {
				rc = ts_err_set(err, TS_ELIMIT, "%s: larger than %u bytes", path,
						YAML_MAX_BYTES);
				goto out;
			}
			cap = cap ? cap * 2 : 8192;
			char *nb = ts_realloc(buf, cap);
			if (!nb) {
				rc = ts_err_set(err, TS_ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f))
				rc = ts_err_set(err, TS_EIO, "%s: read error", path);
			break;
		}
	}
	if (rc == TS_OK)
		rc = ts_yaml_parse(path, buf ? buf : "", len, out, err);
out:
	ts_free(buf);
	fclose(f);
	return rc;
}

const ts_yaml_node *ts_yaml_root(const ts_yaml_doc *d)
{
	return d->root;
}

const char *ts_yaml_name(const ts_yaml_doc *d)
{
	return d->name;
}

const ts_yaml_node *ts_yaml_get(const ts_yaml_node *map, const char *key)
{
	if (!map || map->type != TS_YAML_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->scalar, key) == 0)
			return map->items[i];
	return NULL;
}

bool ts_yaml_is_null(const ts_yaml_node *n)
{
	return n && n->type == TS_YAML_SCALAR && !n->is_quoted &&
	       (n->len == 0 || strcmp(n->scalar, "~") == 0 || strcmp(n->scalar, "null") == 0 ||
		strcmp(n->scalar, "Null") == 0 || strcmp(n->scalar, "NULL") == 0);
}

static int want_scalar(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what,
		       const char *kind, ts_err *err)
{
	if (!n || n->type != TS_YAML_SCALAR)
		return ts_yaml_error(d, n, err, TS_EINVAL, "%s: expected %s", what, kind);
	return TS_OK;
}

int ts_yaml_str(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, const char **out,
		ts_err *err)
{
	int rc = want_scalar(d, n, what, "a string", err);
	if (rc == TS_OK)
		*out = n->scalar;
	return rc;
}

int ts_yaml_bool(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, bool *out,
		 ts_err *err)
{
	int rc = want_scalar(d, n, what, "true or false", err);
	if (rc)
		return rc;
	if (!n->is_quoted && (!strcmp(n->scalar, "true") || !strcmp(n->scalar, "True") ||
			      !strcmp(n->scalar, "TRUE"))) {
		*out = true;
		return TS_OK;
	}
	if (!n->is_quoted && (!strcmp(n->scalar, "false") || !strcmp(n->scalar, "False") ||
			      !strcmp(n->scalar, "FALSE"))) {
		*out = false;
		return TS_OK;
	}
	return ts_yaml_error(d, n, err, TS_EINVAL, "%s: expected true or false, got '%s'", what,
			     n->scalar);
}

int ts_yaml_int(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, int64_t min,
		int64_t max, int64_t *out, ts_err *err)
{
	int rc = want_scalar(d, n, what, "an integer", err);
	if (rc)
		return rc;
	char *end;
	errno = 0;
	long long v = strtoll(n->scalar, &end, 10);
	if (errno || end == n->scalar || *end)
		return ts_yaml_error(d, n, err, TS_EINVAL, "%s: expected an integer, got '%s'",
				     what, n->scalar);
	if (v < min || v > max)
		return ts_yaml_error(d, n, err, TS_EINVAL, "%s: %lld is out of range [%lld, %lld]",
				     what, v, (long long)min, (long long)max);
	*out = v;
	return TS_OK;
}

int ts_yaml_float(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, double *out,
		  ts_err *err)
{
	int rc = want_scalar(d, n, what, "a number", err);
	if (rc)
		return rc;
	char *end;
	errno = 0;
	double v = strtod(n->scalar, &end);
	if (errno || end == n->scalar || *end || !isfinite(v))
		return ts_yaml_error(d, n, err, TS_EINVAL, "%s: expected a number, got '%s'", what,
				     n->scalar);
	*out = v;
	return TS_OK;
}

int ts_yaml_duration(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, int64_t *out_ms,
		     ts_err *err)
{
	int rc = want_scalar(d, n, what, "a duration", err);
	if (rc)
		return rc;
	if (ts_parse_duration_ms(n->scalar, n->len, out_ms, NULL) != TS_OK)
		return ts_yaml_error(d, n, err, TS_EINVAL,
				     "%s: invalid duration '%s' (use e.g. 30s, 5m, 1h30m, 7d)",
				     what, n->scalar);
	return TS_OK;
}

int ts_yaml_bytes(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, int64_t *out_bytes,
		  ts_err *err)
{
	int rc = want_scalar(d, n, what, "a byte size", err);
	if (rc)
		return rc;
	static const struct {
		const char *sfx;
		int64_t mul;
	} sfx[] = {{"KiB", 1LL << 10},
		   {"MiB", 1LL << 20},
		   {"GiB", 1LL << 30},
		   {"TiB", 1LL << 40},
		   {"KB", 1000LL},
		   {"MB", 1000000LL},
		   {"GB", 1000000000LL},
		   {"TB", 1000000000000LL},
		   {"B", 1},
		   {"", 1}};
	char *end;
	errno = 0;
	long long v = strtoll(n->scalar, &end, 10);
	if (errno || end == n->scalar || v < 0)
		goto bad;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (strcmp(end, sfx[i].sfx) == 0) {
			if (v > INT64_MAX / sfx[i].mul)
				goto bad;
			*out_bytes = v * sfx[i].mul;
			return TS_OK;
		}
	}
bad:
	return ts_yaml_error(d, n, err, TS_EINVAL,
			     "%s: invalid byte size '%s' (use e.g. 1048576, 64MiB, 2GiB)", what,
			     n->scalar);
}
