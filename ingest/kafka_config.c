/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_config.c: parse the top-level `kafka:` config section into Kafka log options.
 *
 *   kafka:
 *     brokers: [kafka-1:9092, kafka-2:9092]   # or "kafka-1:9092,kafka-2:9092"; required
 *     topic: strata                           # default strata
 *     partitions: 16                          # 0 / absent: the topic's own count
 *     create_topic: true                      # create it when missing (needs partitions)
 *     replication_factor: 3                   # of a created topic; -1 = broker default
 *     client_id: strata                       # client.id
 *     group_id: strata                        # consumer group holding the checkpoints
 *     produce_timeout: 10s                    # unacknowledged appends fail (HTTP 503)
 *     request_timeout: 10s                    # metadata, offsets, commits
 *     linger: 1ms                             # producer batching delay
 *     properties:                             # passed through to librdkafka
 *       security.protocol: sasl_ssl
 *       sasl.mechanism: SCRAM-SHA-512
 *
 * Every problem is TS_EINVAL "file:line:col: kafka.<key>: reason" at the offending node.
 * Property names and values are checked through ingest_log_kafka_check_property (this
 * file does not call librdkafka itself): unknown properties, invalid values and those
 * Strata sets itself (acks, enable.idempotence, ...) are refused here, at load time. No
 * message repeats the value of a secret property. Validation happens once, here; the
 * options are then trusted (ingest_log_kafka_open re-checks them cheaply anyway).
 */
#include "ingest/log_kafka.h"

#include <stdio.h>
#include <string.h>

#define WHAT_MAX 160

struct ingest_kafka_config {
	ingest_log_kafka_options opt;     /* points into the fields below */
	char *brokers;                    /* owned, comma-separated */
	char *topic;                      /* owned */
	char *client_id;                  /* owned */
	char *group_id;                   /* owned */
	ingest_log_kafka_property *props; /* owned array; names and values owned */
	size_t n_props;                   /* entries in props */
};

void ingest_kafka_config_free(ingest_kafka_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_props; i++) {
		ts_free((char *)c->props[i].name);
		ts_free((char *)c->props[i].value);
	}
	ts_free(c->props);
	ts_free(c->brokers);
	ts_free(c->topic);
	ts_free(c->client_id);
	ts_free(c->group_id);
	ts_free(c);
}

const ingest_log_kafka_options *ingest_kafka_config_options(const ingest_kafka_config *c)
{
	return &c->opt;
}

static int oom(ts_err *err)
{
	return ts_err_set(err, TS_ENOMEM, "kafka: out of memory reading the config");
}

/* Replace *field with a copy of s. */
static int set_str(char **field, const char *s, ts_err *err)
{
	char *dup = ts_strdup(s);
	if (!dup)
		return oom(err);
	ts_free(*field);
	*field = dup;
	return TS_OK;
}

/* A non-empty string without blanks or commas (one broker, an id). */
static int get_word(const ts_yaml_doc *d, const ts_yaml_node *v, const char *what, const char **out,
		    ts_err *err)
{
	const char *s;
	int rc = ts_yaml_str(d, v, what, &s, err);
	if (rc)
		return rc;
	if (!s[0])
		return ts_yaml_error(d, v, err, TS_EINVAL, "%s: must not be empty", what);
	if (strpbrk(s, " \t\r\n,"))
		return ts_yaml_error(d, v, err, TS_EINVAL,
				     "%s: '%s' must not contain blanks or commas", what, s);
	*out = s;
	return TS_OK;
}

/* brokers: "a:9092,b:9092" or a list of "host:port" strings; joined with commas. */
static int parse_brokers(const ts_yaml_doc *d, const ts_yaml_node *v, ingest_kafka_config *c,
			 ts_err *err)
{
	const char *what = "kafka.brokers";
	if (v->type == TS_YAML_SCALAR) {
		const char *s;
		int rc = ts_yaml_str(d, v, what, &s, err);
		if (rc)
			return rc;
		/* every comma-separated entry must be non-empty and free of blanks */
		const char *p = s;
		for (;;) {
			size_t n = strcspn(p, ",");
			if (n == 0 || memchr(p, ' ', n) || memchr(p, '\t', n))
				return ts_yaml_error(d, v, err, TS_EINVAL,
						     "%s: '%s' is not a comma-separated list of "
						     "host:port",
						     what, s);
			if (!p[n])
				break;
			p += n + 1;
		}
		return set_str(&c->brokers, s, err);
	}
	if (v->type != TS_YAML_SEQ || v->n == 0)
		return ts_yaml_error(d, v, err, TS_EINVAL,
				     "%s: expected a non-empty list of host:port", what);
	size_t total = 0;
	for (size_t i = 0; i < v->n; i++) {
		char w[WHAT_MAX];
		snprintf(w, sizeof(w), "%s[%zu]", what, i);
		const char *s;
		int rc = get_word(d, v->items[i], w, &s, err);
		if (rc)
			return rc;
		total += strlen(s) + 1;
	}
	char *joined = ts_malloc(total);
	if (!joined)
		return oom(err);
	size_t at = 0;
	for (size_t i = 0; i < v->n; i++) {
		size_t n = strlen(v->items[i]->scalar);
		if (i)
			joined[at++] = ',';
		memcpy(joined + at, v->items[i]->scalar, n);
		at += n;
	}
	joined[at] = '\0';
	ts_free(c->brokers);
	c->brokers = joined;
	return TS_OK;
}

static bool valid_topic_name(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 249 || !strcmp(t, ".") || !strcmp(t, ".."))
		return false;
	return strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* properties: a map of librdkafka property -> scalar value (numbers and booleans as text). */
static int parse_properties(const ts_yaml_doc *d, const ts_yaml_node *m, ingest_kafka_config *c,
			    ts_err *err)
{
	if (ts_yaml_is_null(m))
		return TS_OK;
	if (m->type != TS_YAML_MAP)
		return ts_yaml_error(d, m, err, TS_EINVAL, "kafka.properties: expected a mapping");
	if (m->n == 0)
		return TS_OK;
	c->props = ts_calloc(m->n, sizeof(*c->props));
	if (!c->props)
		return oom(err);
	for (size_t i = 0; i < m->n; i++) {
		const ts_yaml_node *k = m->keys[i], *v = m->items[i];
		char w[WHAT_MAX];
		snprintf(w, sizeof(w), "kafka.properties.%s", k->scalar ? k->scalar : "?");
		if (v->type != TS_YAML_SCALAR || (ts_yaml_is_null(v)))
			return ts_yaml_error(d, v, err, TS_EINVAL, "%s: expected a value", w);
		ts_err why = {0};
		if (ingest_log_kafka_check_property(k->scalar, v->scalar, &why) != TS_OK)
			return ts_yaml_error(d, k, err, why.code, "%s: %s", w, why.msg);
		ingest_log_kafka_property *p = &c->props[c->n_props];
		p->name = ts_strdup(k->scalar);
		p->value = ts_strdup(v->scalar);
		if (p->name || p->value)
			c->n_props++; /* so that free() sees whatever was allocated */
		if (!p->name || !p->value)
			return oom(err);
	}
	return TS_OK;
}

/* One key of the section. */
static int parse_key(const ts_yaml_doc *d, const ts_yaml_node *k, const ts_yaml_node *v,
		     ingest_kafka_config *c, const ts_yaml_node **linger_node, ts_err *err)
{
	ingest_log_kafka_options *o = &c->opt;
	const char *key = k->scalar;
	char w[WHAT_MAX];
	snprintf(w, sizeof(w), "kafka.%s", key);
	const char *s;
	int64_t n;
	int rc;
	if (!strcmp(key, "brokers"))
		return parse_brokers(d, v, c, err);
	if (!strcmp(key, "topic")) {
		if ((rc = ts_yaml_str(d, v, w, &s, err)))
			return rc;
		if (!valid_topic_name(s))
			return ts_yaml_error(d, v, err, TS_EINVAL,
					     "%s: '%s' is not a valid Kafka topic name (1-249 of "
					     "a-z A-Z 0-9 . _ -)",
					     w, s);
		return set_str(&c->topic, s, err);
	}
	if (!strcmp(key, "client_id") || !strcmp(key, "group_id")) {
		if ((rc = get_word(d, v, w, &s, err)))
			return rc;
		return set_str(key[0] == 'c' ? &c->client_id : &c->group_id, s, err);
	}
	if (!strcmp(key, "partitions")) {
		if ((rc = ts_yaml_int(d, v, w, 0, INGEST_LOG_MAX_PARTITIONS, &n, err)))
			return rc;
		o->n_partitions = (int)n;
		return TS_OK;
	}
	if (!strcmp(key, "create_topic"))
		return ts_yaml_bool(d, v, w, &o->create_topic, err);
	if (!strcmp(key, "replication_factor")) {
		if ((rc = ts_yaml_int(d, v, w, -1, 1000, &n, err)))
			return rc;
		if (n == 0)
			return ts_yaml_error(d, v, err, TS_EINVAL,
					     "%s: use -1 (the broker's default) or >= 1", w);
		o->replication_factor = (int)n;
		return TS_OK;
	}
	if (!strcmp(key, "produce_timeout") || !strcmp(key, "request_timeout")) {
		if ((rc = ts_yaml_duration(d, v, w, &n, err)))
			return rc;
		if (n < 100 || n > 24LL * 3600 * 1000)
			return ts_yaml_error(d, v, err, TS_EINVAL, "%s: must lie in [100ms, 24h]",
					     w);
		if (key[0] == 'p')
			o->produce_timeout_ms = n;
		else
			o->request_timeout_ms = n;
		return TS_OK;
	}
	if (!strcmp(key, "linger")) {
		if ((rc = ts_yaml_duration(d, v, w, &n, err)))
			return rc;
		if (n < 0 || n > 1000)
			return ts_yaml_error(d, v, err, TS_EINVAL, "%s: must lie in [0, 1s]", w);
		o->linger_ms = (int)n;
		*linger_node = v;
		return TS_OK;
	}
	if (!strcmp(key, "properties"))
		return parse_properties(d, v, c, err);
	return ts_yaml_error(d, k, err, TS_EINVAL, "unknown key 'kafka.%s'", key);
}

int ingest_kafka_config_parse(const ts_yaml_doc *d, const ts_yaml_node *section,
			      ingest_kafka_config **out, ts_err *err)
{
	if (!section)
		return ts_err_set(err, TS_ENOTFOUND, "the config has no kafka: section");
	if (section->type != TS_YAML_MAP)
		return ts_yaml_error(d, section, err, TS_EINVAL, "kafka: expected a mapping");
	ingest_kafka_config *c = ts_calloc(1, sizeof(*c));
	if (!c)
		return oom(err);
	ingest_log_kafka_options defaults = INGEST_LOG_KAFKA_OPTIONS_DEFAULT;
	c->opt = defaults;
	int rc;
	if ((rc = set_str(&c->topic, INGEST_LOG_KAFKA_TOPIC_DEFAULT, err)) ||
	    (rc = set_str(&c->client_id, INGEST_LOG_KAFKA_CLIENT_ID_DEFAULT, err)) ||
	    (rc = set_str(&c->group_id, INGEST_LOG_KAFKA_GROUP_ID_DEFAULT, err)))
		goto fail;
	const ts_yaml_node *linger_node = NULL, *brokers_node = NULL;
	for (size_t i = 0; i < section->n; i++) {
		const ts_yaml_node *k = section->keys[i];
		if (k->type != TS_YAML_SCALAR) {
			rc = ts_yaml_error(d, k, err, TS_EINVAL, "kafka: keys must be strings");
			goto fail;
		}
		if (!strcmp(k->scalar, "brokers"))
			brokers_node = k;
		if ((rc = parse_key(d, k, section->items[i], c, &linger_node, err)))
			goto fail;
	}
	if (!brokers_node) {
		rc = ts_yaml_error(d, section, err, TS_EINVAL, "kafka.brokers: required");
		goto fail;
	}
	if (c->opt.linger_ms >= c->opt.produce_timeout_ms) {
		rc = ts_yaml_error(d, linger_node ? linger_node : section, err, TS_EINVAL,
				   "kafka.linger: must be below kafka.produce_timeout");
		goto fail;
	}
	c->opt.brokers = c->brokers;
	c->opt.topic = c->topic;
	c->opt.client_id = c->client_id;
	c->opt.group_id = c->group_id;
	c->opt.properties = c->props;
	c->opt.n_properties = c->n_props;
	*out = c;
	return TS_OK;
fail:
	ingest_kafka_config_free(c);
	return rc;
}

int ingest_kafka_config_load(const ts_config *cfg, ingest_kafka_config **out, ts_err *err)
{
	return ingest_kafka_config_parse(ts_config_doc(cfg), ts_config_section(cfg, "kafka"), out,
					 err);
}
