/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ingest_config.c: parse the `ingest:` config section and open the log it describes.
 *
 *   ingest:
 *     backend: local                # local | kafka (Kafka settings: top-level `kafka:`)
 *     partitions: 8                 # fixed once the log exists
 *     log_dir: <data_dir>/log       # embedded log directory
 *     segment_bytes: 64MiB          # embedded log: roll segments beyond this size
 *     max_pending_bytes: 8GiB       # per partition, not yet checkpointed -> 503
 *     max_consumer_lag_bytes: 64MiB # per partition, not yet applied -> 503
 *     compression: none             # none | snappy (records)
 *     group_commit_wait: 1ms        # embedded log: max wait of a sync leader
 *     max_record_bytes: 1MiB        # one record (Kafka: stay under message.max.bytes)
 *     append_threads: 32            # parallel appends of one write; 0 = in the caller
 *     max_series: 0                 # series in total; new ones beyond -> 429; 0 = no bound
 *     max_series_per_metric: 0      # series per metric name; 0 = no bound
 *
 * Tested by tests/ingest/test_batch.c (the section, its errors, opening the log).
 *
 * Every error names file:line:col and the key (ts_yaml_error), like common/config.c
 * does for its own sections. This file does not start anything: batch.c opens the log
 * through ingest_config_open_log and starts the consumers.
 */
#include "ingest/ingest_config.h"

#include "ingest/ingest.h"
#include "ingest/log_kafka.h"
#include "ingest/record.h"

#include <stdio.h>
#include <string.h>

void ingest_config_defaults(ingest_config *c)
{
	memset(c, 0, sizeof(*c));
	c->backend = INGEST_BACKEND_LOCAL;
	c->n_partitions = INGEST_CONFIG_PARTITIONS_DEFAULT;
	c->segment_bytes = INGEST_LOG_LOCAL_SEGMENT_BYTES_DEFAULT;
	c->max_pending_bytes = INGEST_LOG_LOCAL_MAX_PENDING_DEFAULT;
	c->max_consumer_lag_bytes = INGEST_CONFIG_MAX_LAG_BYTES_DEFAULT;
	c->compression = INGEST_RECORD_COMPRESS_NONE;
	c->group_commit_wait_us = 1000;
	c->max_record_bytes = INGEST_CONFIG_RECORD_BYTES_DEFAULT;
	c->append_threads = INGEST_CONFIG_APPEND_THREADS_DEFAULT;
}

void ingest_config_fini(ingest_config *c)
{
	if (!c)
		return;
	ts_free(c->log_dir);
	c->log_dir = NULL;
}

/* A byte size in [min, max]. */
static int get_bytes(const ts_yaml_doc *d, const ts_yaml_node *v, const char *what, int64_t min,
		     int64_t max, uint64_t *out, ts_err *err)
{
	int64_t n = 0;
	int rc = ts_yaml_bytes(d, v, what, &n, err);
	if (rc)
		return rc;
	if (n < min || n > max)
		return ts_yaml_error(d, v, err, TS_EINVAL,
				     "%s: '%s' is out of range [%lld, %lld] bytes", what, v->scalar,
				     (long long)min, (long long)max);
	*out = (uint64_t)n;
	return TS_OK;
}

/* One of the strings in names[] (NULL-terminated); *out gets its index. */
static int get_enum(const ts_yaml_doc *d, const ts_yaml_node *v, const char *what,
		    const char *const *names, int *out, ts_err *err)
{
	const char *s;
	int rc = ts_yaml_str(d, v, what, &s, err);
	if (rc)
		return rc;
	char list[128] = "";
	size_t used = 0;
	for (int i = 0; names[i]; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return TS_OK;
		}
		int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", names[i]);
		if (w > 0 && (size_t)w < sizeof(list) - used)
			used += (size_t)w;
	}
	return ts_yaml_error(d, v, err, TS_EINVAL, "%s: '%s' is not one of %s", what, s, list);
}

static const char *const backend_names[] = {"local", "kafka", NULL};
static const char *const compression_names[] = {"none", "snappy", NULL};

/* Parse one key of the section. */
static int parse_key(const ts_yaml_doc *d, const ts_yaml_node *key, const ts_yaml_node *v,
		     ingest_config *c, ts_err *err)
{
	const char *k = key->scalar;
	char what[96];
	snprintf(what, sizeof(what), "ingest.%s", k);
	int64_t n = 0;
	int rc, e;
	if (strcmp(k, "backend") == 0) {
		if ((rc = get_enum(d, v, what, backend_names, &e, err)) == TS_OK)
			c->backend = (ingest_backend)e;
		return rc;
	}
	if (strcmp(k, "partitions") == 0) {
		if ((rc = ts_yaml_int(d, v, what, 1, INGEST_LOG_MAX_PARTITIONS, &n, err)) ==
		    TS_OK) {
			c->n_partitions = (int)n;
			c->has_partitions = true;
		}
		return rc;
	}
	if (strcmp(k, "log_dir") == 0) {
		const char *s;
		if ((rc = ts_yaml_str(d, v, what, &s, err)))
			return rc;
		if (!*s)
			return ts_yaml_error(d, v, err, TS_EINVAL, "%s: must not be empty", what);
		return ts_config_set_str(&c->log_dir, s)
			   ? ts_err_set(err, TS_ENOMEM, "out of memory")
			   : TS_OK;
	}
	if (strcmp(k, "segment_bytes") == 0)
		return get_bytes(d, v, what, 4096, (int64_t)1 << 40, &c->segment_bytes, err);
	if (strcmp(k, "max_pending_bytes") == 0)
		return get_bytes(d, v, what, 0, INT64_MAX, &c->max_pending_bytes, err);
	if (strcmp(k, "max_consumer_lag_bytes") == 0)
		return get_bytes(d, v, what, 0, INT64_MAX, &c->max_consumer_lag_bytes, err);
	if (strcmp(k, "compression") == 0) {
		if ((rc = get_enum(d, v, what, compression_names, &e, err)) == TS_OK)
			c->compression = e;
		return rc;
	}
	if (strcmp(k, "group_commit_wait") == 0) {
		if ((rc = ts_yaml_duration(d, v, what, &n, err)))
			return rc;
		if (n > 1000)
			return ts_yaml_error(d, v, err, TS_EINVAL,
					     "%s: '%s' is out of range [0s, 1s]", what, v->scalar);
		c->group_commit_wait_us = (uint32_t)(n * 1000);
		return TS_OK;
	}
	if (strcmp(k, "max_record_bytes") == 0) {
		uint64_t b = 0;
		if ((rc = get_bytes(d, v, what, 4096, INGEST_RECORD_MAX_BYTES, &b, err)) == TS_OK)
			c->max_record_bytes = (size_t)b;
		return rc;
	}
	if (strcmp(k, "append_threads") == 0) {
		if ((rc = ts_yaml_int(d, v, what, 0, INGEST_CONFIG_MAX_APPEND_THREADS, &n, err)) ==
		    TS_OK)
			c->append_threads = (int)n;
		return rc;
	}
	if (strcmp(k, "max_series") == 0 || strcmp(k, "max_series_per_metric") == 0) {
		if ((rc = ts_yaml_int(d, v, what, 0, INT64_MAX, &n, err)) == TS_OK)
			*(k[10] ? &c->max_series_per_metric : &c->max_series) = (uint64_t)n;
		return rc;
	}
	return ts_yaml_error(d, key, err, TS_EINVAL, "unknown key 'ingest.%s'", k);
}

int ingest_config_parse(const ts_config *cfg, ingest_config *out, ts_err *err)
{
	const ts_yaml_node *sec = cfg ? ts_config_section(cfg, "ingest") : NULL;
	if (sec && !ts_yaml_is_null(sec)) {
		const ts_yaml_doc *d = ts_config_doc(cfg);
		if (sec->type != TS_YAML_MAP)
			return ts_yaml_error(d, sec, err, TS_EINVAL, "ingest: expected a mapping");
		for (size_t i = 0; i < sec->n; i++) {
			int rc = parse_key(d, sec->keys[i], sec->items[i], out, err);
			if (rc)
				return rc;
		}
	}
	if (out->backend == INGEST_BACKEND_KAFKA) {
		/* the partition count must be known before the store opens: take it from
		 * kafka.partitions when only that is set, refuse two different counts */
		ingest_kafka_config *kc = NULL;
		int rc = ingest_kafka_config_load(cfg, &kc, err);
		if (rc == TS_ENOTFOUND)
			return ts_yaml_error(ts_config_doc(cfg), sec, err, TS_EINVAL,
					     "ingest.backend: kafka needs a top-level kafka: "
					     "section (brokers, topic)");
		if (rc)
			return rc;
		int kp = ingest_kafka_config_options(kc)->n_partitions;
		ingest_kafka_config_free(kc);
		if (kp > 0 && out->has_partitions && kp != out->n_partitions)
			return ts_yaml_error(
			    ts_config_doc(cfg), ts_yaml_get(sec, "partitions"), err, TS_EINVAL,
			    "ingest.partitions: %d differs from kafka.partitions: %d",
			    out->n_partitions, kp);
		if (kp > 0)
			out->n_partitions = kp;
	}
	if (!out->log_dir) {
		const char *root = cfg && cfg->storage.data_dir ? cfg->storage.data_dir : ".";
		size_t n = strlen(root) + sizeof("/log");
		if (!(out->log_dir = ts_malloc(n)))
			return ts_err_set(err, TS_ENOMEM, "out of memory");
		snprintf(out->log_dir, n, "%s/log", root);
	}
	return TS_OK;
}

int ingest_config_open_log(const ingest_config *c, const ts_config *cfg, ingest_log **out,
			   ts_err *err)
{
	if (c->backend == INGEST_BACKEND_KAFKA) {
		ingest_kafka_config *kc = NULL;
		int rc = ingest_kafka_config_load(cfg, &kc, err);
		if (rc == TS_ENOTFOUND)
			rc = ts_err_set(err, TS_EINVAL,
					"ingest.backend: kafka needs a kafka: section");
		if (rc)
			return rc;
		ingest_log_kafka_options ko = *ingest_kafka_config_options(kc);
		ko.n_partitions = c->n_partitions;
		rc = ingest_log_kafka_open(&ko, out, err);
		ingest_kafka_config_free(kc);
		return rc;
	}
	ingest_log_local_options o = INGEST_LOG_LOCAL_OPTIONS_DEFAULT;
	o.dir = c->log_dir;
	o.n_partitions = c->n_partitions;
	o.segment_bytes = c->segment_bytes;
	o.max_pending_bytes = c->max_pending_bytes;
	o.group_commit_wait_us = c->group_commit_wait_us;
	int rc = ingest_log_local_open(&o, out, err);
	if (rc && err)
		ts_err_prefix(err, "ingest log %s: ", c->log_dir);
	return rc;
}

int ingest_config_partitions(const ts_config *c, int *n_partitions, ts_err *err)
{
	ingest_config ic;
	ingest_config_defaults(&ic);
	int rc = ingest_config_parse(c, &ic, err);
	if (rc == TS_OK)
		*n_partitions = ic.n_partitions;
	ingest_config_fini(&ic);
	return rc;
}
