/* SPDX-License-Identifier: Apache-2.0 */
/*
 * yaml_keys.c: reading config mappings key by key (the "typed keys" part of ts_yaml.h).
 *
 * The scrape config (ingest/scrape_config.c) and the alerting config
 * (alert/notify_config.c) read nested mappings of settings with the same rules: a key
 * path names every setting in messages ("scrape_configs[0].tls_config.ca_file"), keys a
 * reader does not know are errors ("unknown key '...'"), Prometheus/Alertmanager keys
 * Strata deliberately lacks say so and name the doc, strings are copied into the result's
 * arena (the document is freed after parsing), and file names resolve against the
 * config file's directory. ts_yaml_keys reads a mapping from a table of typed keys; the
 * other functions serve readers that walk a mapping themselves.
 *
 * Values are read with the typed readers of yaml.c (ts_yaml_str, ts_yaml_bool, ...), so
 * the messages are theirs. Nothing here allocates except through the reader's arena.
 */
#include "common/ts_yaml.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ts_yaml_what(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}

int ts_yaml_want_map(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, ts_err *err)
{
	if (!n || n->type != TS_YAML_MAP)
		return ts_yaml_error(d, n, err, TS_EINVAL, "%s: expected a mapping", what);
	return TS_OK;
}

int ts_yaml_want_seq(const ts_yaml_doc *d, const ts_yaml_node *n, const char *what, ts_err *err)
{
	if (!n || n->type != TS_YAML_SEQ)
		return ts_yaml_error(d, n, err, TS_EINVAL, "%s: expected a sequence", what);
	return TS_OK;
}

int ts_yaml_unknown_key(const ts_yaml_doc *d, const ts_yaml_node *k, const char *what, ts_err *err)
{
	return ts_yaml_error(d, k, err, TS_EINVAL, "unknown key '%s.%s'", what, k->scalar);
}

int ts_yaml_unsupported(const ts_yaml_reader *r, const ts_yaml_node *k, const char *what,
			ts_err *err)
{
	return ts_yaml_error(r->doc, k, err, TS_EINVAL, "%s.%s: not supported by Strata (see %s)",
			     what, k->scalar, r->doc_ref);
}

int ts_yaml_oom(const ts_yaml_reader *r, ts_err *err)
{
	return ts_err_set(err, TS_ENOMEM, "out of memory reading the %s", r->name);
}

char *ts_yaml_strdup(const ts_yaml_reader *r, const char *s)
{
	size_t n = strlen(s);
	char *p = r->alloc(r->arena, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

int ts_yaml_copy_str(const ts_yaml_reader *r, const ts_yaml_node *n, const char *what,
		     const char **out, ts_err *err)
{
	const char *s;
	int rc = ts_yaml_str(r->doc, n, what, &s, err);
	if (rc)
		return rc;
	return (*out = ts_yaml_strdup(r, s)) ? TS_OK : ts_yaml_oom(r, err);
}

int ts_yaml_copy_path(const ts_yaml_reader *r, const ts_yaml_node *n, const char *what,
		      const char **out, ts_err *err)
{
	const char *s;
	int rc = ts_yaml_str(r->doc, n, what, &s, err);
	if (rc)
		return rc;
	if (!s[0])
		return ts_yaml_error(r->doc, n, err, TS_EINVAL, "%s: empty file name", what);
	if (s[0] == '/' || !r->base_dir || !r->base_dir[0])
		return (*out = ts_yaml_strdup(r, s)) ? TS_OK : ts_yaml_oom(r, err);
	size_t nb = strlen(r->base_dir), ns = strlen(s);
	char *p = r->alloc(r->arena, nb + ns + 2);
	if (!p)
		return ts_yaml_oom(r, err);
	snprintf(p, nb + ns + 2, "%s/%s", r->base_dir, s);
	*out = p;
	return TS_OK;
}

/* Read value v of key `key` by its table entry k; `what` is the key path, `parent` the map's. */
static int read_key(const ts_yaml_reader *r, const ts_yaml_key *k, const ts_yaml_node *key,
		    const ts_yaml_node *v, const char *what, const char *parent, void *ctx,
		    ts_err *err)
{
	const char *s;
	bool b;
	int64_t i;
	switch (k->kind) {
	case TS_YAML_KEY_STR:
		return k->out ? ts_yaml_copy_str(r, v, what, k->out, err)
			      : ts_yaml_str(r->doc, v, what, &s, err);
	case TS_YAML_KEY_PATH:
		return k->out ? ts_yaml_copy_path(r, v, what, k->out, err)
			      : ts_yaml_str(r->doc, v, what, &s, err);
	case TS_YAML_KEY_BOOL: return ts_yaml_bool(r->doc, v, what, k->out ? k->out : &b, err);
	case TS_YAML_KEY_INT:
		return ts_yaml_int(r->doc, v, what, k->min, k->max, k->out ? k->out : &i, err);
	case TS_YAML_KEY_DURATION:
		return ts_yaml_duration(r->doc, v, what, k->out ? k->out : &i, err);
	case TS_YAML_KEY_BYTES: return ts_yaml_bytes(r->doc, v, what, k->out ? k->out : &i, err);
	case TS_YAML_KEY_FUNC: return k->fn(ctx, v, what, k->out, err);
	case TS_YAML_KEY_UNSUPPORTED: return ts_yaml_unsupported(r, key, parent, err);
	case TS_YAML_KEY_IGNORED: return TS_OK;
	}
	return ts_yaml_error(r->doc, key, err, TS_EINVAL, "%s: bad key table", what);
}

int ts_yaml_keys(const ts_yaml_reader *r, const ts_yaml_node *map, const char *what,
		 const ts_yaml_key *keys, void *ctx, ts_err *err)
{
	int rc = ts_yaml_want_map(r->doc, map, what, err);
	for (size_t i = 0; !rc && i < map->n; i++) {
		const ts_yaml_node *k = map->keys[i];
		const ts_yaml_key *e = keys;
		while (e->name && strcmp(e->name, k->scalar))
			e++;
		if (!e->name) {
			rc = ts_yaml_unknown_key(r->doc, k, what, err);
			break;
		}
		char w[TS_YAML_WHAT_MAX];
		ts_yaml_what(w, sizeof(w), "%s.%s", what, k->scalar);
		rc = read_key(r, e, k, map->items[i], w, what, ctx, err);
	}
	return rc;
}
