/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c: load the server config from YAML (see ts_config.h, examples/strata.yml).
 *
 * Each section has a table of known keys; a key not in the table is an error so a typo
 * never silently falls back to a default.
 */
#include "common/ts_config.h"

#include "common/ts_alloc.h"
#include "common/ts_log.h"
#include "common/ts_time.h"
#include "common/ts_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400LL * 1000)

int ts_config_set_str(char **field, const char *v)
{
	char *c = ts_strdup(v);
	if (!c)
		return TS_ENOMEM;
	ts_free(*field);
	*field = c;
	return TS_OK;
}

ts_config *ts_config_defaults(void)
{
	ts_config *c = ts_calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->server.max_body_bytes = 64LL << 20;
	c->server.max_connections = 1024;
	c->server.read_timeout_ms = 60000;
	c->server.threads = 4;
	c->server.max_connections_per_ip = 0;
	c->server.read_header_timeout_ms = 10000;
	c->server.max_header_bytes = 64 * 1024;
	c->storage.retention_raw_ms = 7 * DAY_MS;
	c->storage.retention_1m_ms = 30 * DAY_MS;
	c->storage.retention_1h_ms = 365 * DAY_MS;
	c->storage.out_of_order_window_ms = 10 * 60 * 1000;
	c->storage.block_duration_ms = 2 * 3600 * 1000;
	c->storage.max_block_duration_ms = DAY_MS;
	c->storage.cold_after_ms = 2 * DAY_MS;
	c->query.lookback_delta_ms = 5 * 60 * 1000;
	c->query.timeout_ms = 2 * 60 * 1000;
	c->query.max_samples = 50000000;
	c->query.max_series = 500000;
	c->query.cache_max_bytes = 256LL << 20;
	c->query.cache_freshness_ms = 5 * 60 * 1000;
	if (ts_config_set_str(&c->log_level, "info") ||
	    ts_config_set_str(&c->server.listen, TS_DEFAULT_LISTEN) ||
	    ts_config_set_str(&c->storage.data_dir, TS_DEFAULT_DATA_DIR)) {
		ts_config_free(c);
		return NULL;
	}
	return c;
}

void ts_config_free(ts_config *c)
{
	if (!c)
		return;
	ts_free(c->source);
	ts_free(c->log_level);
	ts_free(c->server.listen);
	ts_free(c->storage.data_dir);
	ts_free(c->storage.cold_dir);
	ts_yaml_free(c->doc);
	ts_free(c);
}

/* Top-level sections that belong to other modules. */
static const char *const module_sections[] = {
    "global",       "scrape_configs", "ingest", "kafka", "rule_files", "alerting",
    "alertmanager", "remote_write",   "auth",   "tls",   "cluster",    NULL,
};

static bool is_module_section(const char *k)
{
	for (size_t i = 0; module_sections[i]; i++)
		if (strcmp(k, module_sections[i]) == 0)
			return true;
	return false;
}

const ts_yaml_node *ts_config_section(const ts_config *c, const char *name)
{
	return c->doc ? ts_yaml_get(ts_yaml_root(c->doc), name) : NULL;
}

const ts_yaml_doc *ts_config_doc(const ts_config *c)
{
	return c->doc;
}

/* ---------------------------------------------------------------- key tables */

typedef enum {
	K_STR,      /* any string */
	K_ADDR,     /* "host:port" string */
	K_LOGLEVEL, /* error|warn|info|debug string */
	K_INT,
	K_DURATION,
	K_BYTES,
} key_kind;

typedef struct key_spec {
	const char *key;
	key_kind kind;
	size_t offset; /* within the section struct */
	int64_t min, max;
} key_spec;

#define KS(sect, field, kind, min, max)                       \
	{                                                     \
#field, kind, offsetof(sect, field), min, max \
	}

static const key_spec server_keys[] = {
    KS(ts_config_server, listen, K_ADDR, 0, 0),
    KS(ts_config_server, max_body_bytes, K_BYTES, 1024, 1LL << 34),
    KS(ts_config_server, max_connections, K_INT, 1, 1000000),
    {"read_timeout", K_DURATION, offsetof(ts_config_server, read_timeout_ms), 1000, 86400000},
    KS(ts_config_server, threads, K_INT, 1, 256),
    KS(ts_config_server, max_connections_per_ip, K_INT, 0, 1000000),
    {"read_header_timeout", K_DURATION, offsetof(ts_config_server, read_header_timeout_ms), 100,
     3600000},
    KS(ts_config_server, max_header_bytes, K_BYTES, 4096, 16LL << 20),
    {NULL, 0, 0, 0, 0},
};

static const key_spec storage_keys[] = {
    KS(ts_config_storage, data_dir, K_STR, 0, 0),
    {"out_of_order_window", K_DURATION, offsetof(ts_config_storage, out_of_order_window_ms), 0,
     7 * DAY_MS},
    {"block_duration", K_DURATION, offsetof(ts_config_storage, block_duration_ms), 60000,
     31 * DAY_MS},
    {"max_block_duration", K_DURATION, offsetof(ts_config_storage, max_block_duration_ms), 0,
     365 * DAY_MS},
    KS(ts_config_storage, cold_dir, K_STR, 0, 0),
    {"cold_after", K_DURATION, offsetof(ts_config_storage, cold_after_ms), 0, 100 * 365 * DAY_MS},
    {NULL, 0, 0, 0, 0},
};

static const key_spec retention_keys[] = {
    {"raw", K_DURATION, offsetof(ts_config_storage, retention_raw_ms), 3600000, 100 * 365 * DAY_MS},
    {"1m", K_DURATION, offsetof(ts_config_storage, retention_1m_ms), 3600000, 100 * 365 * DAY_MS},
    {"1h", K_DURATION, offsetof(ts_config_storage, retention_1h_ms), 3600000, 100 * 365 * DAY_MS},
    {NULL, 0, 0, 0, 0},
};

static const key_spec log_keys[] = {
    {"level", K_LOGLEVEL, offsetof(ts_config, log_level), 0, 0},
    {NULL, 0, 0, 0, 0},
};

static const key_spec query_keys[] = {
    {"lookback_delta", K_DURATION, offsetof(ts_config_query, lookback_delta_ms), 1000, DAY_MS},
    {"timeout", K_DURATION, offsetof(ts_config_query, timeout_ms), 10, DAY_MS},
    KS(ts_config_query, max_samples, K_INT, 1000, 1LL << 40),
    KS(ts_config_query, max_series, K_INT, 1, 1LL << 32),
    KS(ts_config_query, cache_max_bytes, K_BYTES, 0, 1LL << 40),
    {"cache_freshness", K_DURATION, offsetof(ts_config_query, cache_freshness_ms), 0, DAY_MS},
    {NULL, 0, 0, 0, 0},
};

static int load_section(const ts_yaml_doc *d, const ts_yaml_node *map, const char *section,
			const key_spec *keys, void *base, const char *skip_key, ts_err *err)
{
	if (!map || ts_yaml_is_null(map))
		return TS_OK;
	if (map->type != TS_YAML_MAP)
		return ts_yaml_error(d, map, err, TS_EINVAL, "%s: expected a mapping", section);
	for (size_t i = 0; i < map->n; i++) {
		const char *k = map->keys[i]->scalar;
		const ts_yaml_node *v = map->items[i];
		if (skip_key && strcmp(k, skip_key) == 0)
			continue;
		const key_spec *ks = keys;
		while (ks->key && strcmp(ks->key, k) != 0)
			ks++;
		if (!ks->key)
			return ts_yaml_error(d, map->keys[i], err, TS_EINVAL, "unknown key '%s.%s'",
					     section, k);
		char what[128];
		snprintf(what, sizeof(what), "%s.%s", section, k);
		char *field = (char *)base + ks->offset;
		int64_t iv = 0;
		int rc = TS_OK;
		switch (ks->kind) {
		case K_STR:
		case K_ADDR:
		case K_LOGLEVEL: {
			const char *s;
			char host[256];
			int port;
			rc = ts_yaml_str(d, v, what, &s, err);
			if (rc == TS_OK && ks->kind == K_ADDR &&
			    ts_config_split_hostport(s, host, sizeof(host), &port, NULL) != TS_OK)
				rc = ts_yaml_error(d, v, err, TS_EINVAL,
						   "%s: invalid address '%s' (want host:port)",
						   what, s);
			if (rc == TS_OK && ks->kind == K_LOGLEVEL && ts_log_level_parse(s) < 0)
				rc = ts_yaml_error(
				    d, v, err, TS_EINVAL,
				    "%s: '%s' is not one of error, warn, info, debug", what, s);
			if (rc == TS_OK && ts_config_set_str((char **)field, s))
				rc = ts_err_set(err, TS_ENOMEM, "out of memory");
			break;
		}
		case K_INT: rc = ts_yaml_int(d, v, what, ks->min, ks->max, &iv, err); break;
		case K_DURATION:
			rc = ts_yaml_duration(d, v, what, &iv, err);
			if (rc == TS_OK && (iv < ks->min || iv > ks->max)) {
				char lo[32], hi[32];
				ts_format_duration(ks->min, lo, sizeof(lo));
				ts_format_duration(ks->max, hi, sizeof(hi));
				rc = ts_yaml_error(d, v, err, TS_EINVAL,
						   "%s: '%s' is out of range [%s, %s]", what,
						   v->scalar, lo, hi);
			}
			break;
		case K_BYTES:
			rc = ts_yaml_bytes(d, v, what, &iv, err);
			if (rc == TS_OK && (iv < ks->min || iv > ks->max))
				rc = ts_yaml_error(d, v, err, TS_EINVAL,
						   "%s: '%s' is out of range [%lld, %lld] bytes",
						   what, v->scalar, (long long)ks->min,
						   (long long)ks->max);
			break;
		}
		if (rc)
			return rc;
		if (ks->kind == K_INT || ks->kind == K_DURATION || ks->kind == K_BYTES)
			memcpy(field, &iv, sizeof(iv));
	}
	return TS_OK;
}

int ts_config_load(const char *path, ts_config **out, ts_err *err)
{
	ts_config *c = ts_config_defaults();
	if (!c)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	ts_yaml_doc *d = NULL;
	int rc = ts_yaml_load_file(path, &d, err);
	if (rc)
		goto fail;
	const ts_yaml_node *root = ts_yaml_root(d);
	if (root && root->type != TS_YAML_MAP) {
		rc = ts_yaml_error(d, root, err, TS_EINVAL, "top level must be a mapping");
		goto fail;
	}
	for (size_t i = 0; root && i < root->n; i++) {
		const char *k = root->keys[i]->scalar;
		const ts_yaml_node *v = root->items[i];
		if (strcmp(k, "server") == 0) {
			rc = load_section(d, v, "server", server_keys, &c->server, NULL, err);
		} else if (strcmp(k, "storage") == 0) {
			rc = load_section(d, v, "storage", storage_keys, &c->storage, "retention",
					  err);
			if (rc == TS_OK)
				rc = load_section(d, ts_yaml_get(v, "retention"),
						  "storage.retention", retention_keys, &c->storage,
						  NULL, err);
		} else if (strcmp(k, "query") == 0) {
			rc = load_section(d, v, "query", query_keys, &c->query, NULL, err);
		} else if (strcmp(k, "log") == 0) {
			rc = load_section(d, v, "log", log_keys, c, NULL, err);
		} else if (is_module_section(k)) {
			/* Parsed and validated by the owning module (ts_config_section). */
		} else {
			rc = ts_yaml_error(d, root->keys[i], err, TS_EINVAL, "unknown key '%s'", k);
		}
		if (rc)
			goto fail;
	}
	if (ts_config_set_str(&c->source, path)) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		goto fail;
	}
	c->doc = d;
	*out = c;
	return TS_OK;
fail:
	ts_yaml_free(d);
	ts_config_free(c);
	return rc;
}

int ts_config_split_hostport(const char *s, char *host, size_t cap, int *port, ts_err *err)
{
	const char *colon;
	const char *h = s;
	size_t hl;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			goto bad;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		/* As Go's net.SplitHostPort: an IPv6 host needs brackets. */
		colon = strchr(s, ':');
		if (!colon || strchr(colon + 1, ':') || memchr(s, ']', (size_t)(colon - s)))
			goto bad;
		hl = (size_t)(colon - s);
	}
	if (hl >= cap)
		goto bad;
	/* Port: 1 to 5 decimal digits, nothing else (strtol would take " +80"). */
	const char *ps = colon + 1;
	size_t pl = strspn(ps, "0123456789");
	if (pl == 0 || pl > 5 || ps[pl] != '\0')
		goto bad;
	long p = strtol(ps, NULL, 10);
	if (p > 65535)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return TS_OK;
bad:
	return ts_err_set(err, TS_EINVAL, "invalid address '%s' (want host:port)", s);
}
