/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cluster_config.c: the `cluster:` config section (roles of one binary on Kafka).
 *
 *   cluster:
 *     role: all              # all | ingest | store | query  (alert: a later slice)
 *     node_id: <host name>   # names this node: client.id "<kafka.client_id>-<node_id>"
 *     replica_group: a       # stores of one replica group share the Kafka consumer group
 *                            # "<kafka.group_id>.<replica_group>"; two replica groups
 *                            # consume the same partitions independently
 *     session_timeout: 10s   # store: silent this long, its partitions go to the others
 *     stores: [host:port, ...] # query: every store node's HTTP address (static list)
 *
 * Roles: `all` is the single node (log, consumers, store, query, alerting in one process;
 * any log backend). `ingest` is stateless: the write endpoints parse, validate and
 * produce to Kafka, and nothing is stored. `store` consumes the partitions the consumer
 * group assigns it and serves the query API over what it holds. Both need the Kafka
 * backend (`ingest.backend: kafka`): the embedded log lives in one process's directory.
 * `ingest` also refuses series limits (ingest.max_series*), which count the store's series.
 * `query` keeps no store and no log: it answers the query API by reading every address of
 * `cluster.stores` (web/fanout.c), which it requires; other roles refuse the key. Role
 * `alert` (alert standby) is reserved: naming it is an error that says so, not an
 * unknown value.
 *
 * Every error names file:line:col and the key (ts_yaml_error). Tests:
 * tests/ingest/test_cluster_config.c; the roles end to end:
 * tests/integration/test_cluster_roles.sh.
 */
#include "ingest/cluster_config.h"

#include "ingest/log_kafka.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SESSION_MIN_MS 3000 /* Kafka's own default minimum is 6 s */
#define SESSION_MAX_MS (30 * 60 * 1000)

static const char *const role_names[] = {"all", "ingest", "store", "query", NULL};
static const char *const later_roles[] = {"alert", NULL};

const char *ingest_role_name(ingest_role r)
{
	return r >= INGEST_ROLE_ALL && r <= INGEST_ROLE_QUERY ? role_names[r] : "?";
}

void ingest_cluster_config_fini(ingest_cluster_config *c)
{
	if (!c)
		return;
	ts_free(c->stores);
	c->stores = NULL;
	c->n_stores = 0;
}

/* cluster.stores: a non-empty sequence of "host:port". */
static int parse_stores(const ts_yaml_doc *d, const ts_yaml_node *v, ingest_cluster_config *c,
			ts_err *err)
{
	if (v->type != TS_YAML_SEQ || v->n == 0)
		return ts_yaml_error(d, v, err, TS_EINVAL,
				     "cluster.stores: expected a non-empty list of host:port");
	if (v->n > INGEST_CLUSTER_MAX_STORES)
		return ts_yaml_error(d, v, err, TS_EINVAL, "cluster.stores: more than %d entries",
				     INGEST_CLUSTER_MAX_STORES);
	ts_free(c->stores);
	c->n_stores = 0;
	c->stores = ts_calloc(v->n, sizeof(*c->stores));
	if (!c->stores)
		return ts_err_set(err, TS_ENOMEM, "out of memory reading cluster.stores");
	for (size_t i = 0; i < v->n; i++) {
		const char *s;
		int rc = ts_yaml_str(d, v->items[i], "cluster.stores", &s, err);
		if (rc)
			return rc;
		char host[INGEST_CLUSTER_ADDR_MAX + 1];
		int port = 0;
		ts_err e = {0};
		if (strlen(s) > INGEST_CLUSTER_ADDR_MAX ||
		    ts_config_split_hostport(s, host, sizeof(host), &port, &e) || port <= 0)
			return ts_yaml_error(d, v->items[i], err, TS_EINVAL,
					     "cluster.stores: '%s' is not host:port with a port "
					     "above 0",
					     s);
		snprintf(c->stores[c->n_stores++], INGEST_CLUSTER_ADDR_MAX + 1, "%s", s);
	}
	return TS_OK;
}

/* A name usable in Kafka ids and file names: 1..64 of [A-Za-z0-9._-]. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= INGEST_CLUSTER_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* The host name, cut to 64 bytes, other characters than [A-Za-z0-9._-] replaced by '-'. */
static void default_node_id(char *out, size_t cap)
{
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
		snprintf(host, sizeof(host), "strata");
	host[sizeof(host) - 1] = '\0';
	snprintf(out, cap, "%s", host);
	for (char *p = out; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    *p))
			*p = '-';
}

static int parse_role(const ts_yaml_doc *d, const ts_yaml_node *v, ingest_role *out, ts_err *err)
{
	const char *s;
	int rc = ts_yaml_str(d, v, "cluster.role", &s, err);
	if (rc)
		return rc;
	for (int i = 0; role_names[i]; i++)
		if (strcmp(s, role_names[i]) == 0) {
			*out = (ingest_role)i;
			return TS_OK;
		}
	for (int i = 0; later_roles[i]; i++)
		if (strcmp(s, later_roles[i]) == 0)
			return ts_yaml_error(d, v, err, TS_EINVAL,
					     "cluster.role: '%s' is not available yet (roles so "
					     "far: all, ingest, store, query)",
					     s);
	return ts_yaml_error(d, v, err, TS_EINVAL,
			     "cluster.role: '%s' is not one of all, ingest, store, query", s);
}

static int parse_name(const ts_yaml_doc *d, const ts_yaml_node *v, const char *what, char *out,
		      ts_err *err)
{
	const char *s;
	int rc = ts_yaml_str(d, v, what, &s, err);
	if (rc)
		return rc;
	if (!valid_name(s))
		return ts_yaml_error(d, v, err, TS_EINVAL,
				     "%s: '%s' must be 1-%d characters of a-z A-Z 0-9 . _ -", what,
				     s, INGEST_CLUSTER_NAME_MAX);
	snprintf(out, INGEST_CLUSTER_NAME_MAX + 1, "%s", s);
	return TS_OK;
}

static int parse_key(const ts_yaml_doc *d, const ts_yaml_node *k, const ts_yaml_node *v,
		     ingest_cluster_config *c, ts_err *err)
{
	if (k->type != TS_YAML_SCALAR)
		return ts_yaml_error(d, k, err, TS_EINVAL, "cluster: keys must be strings");
	const char *key = k->scalar;
	if (!strcmp(key, "role"))
		return parse_role(d, v, &c->role, err);
	if (!strcmp(key, "node_id"))
		return parse_name(d, v, "cluster.node_id", c->node_id, err);
	if (!strcmp(key, "replica_group"))
		return parse_name(d, v, "cluster.replica_group", c->replica_group, err);
	if (!strcmp(key, "stores"))
		return parse_stores(d, v, c, err);
	if (!strcmp(key, "session_timeout")) {
		int64_t ms = 0;
		int rc = ts_yaml_duration(d, v, "cluster.session_timeout", &ms, err);
		if (rc)
			return rc;
		if (ms < SESSION_MIN_MS || ms > SESSION_MAX_MS)
			return ts_yaml_error(d, v, err, TS_EINVAL,
					     "cluster.session_timeout: '%s' is out of range [3s, "
					     "30m]",
					     v->scalar);
		c->session_timeout_ms = ms;
		return TS_OK;
	}
	return ts_yaml_error(d, k, err, TS_EINVAL, "unknown key 'cluster.%s'", key);
}

/* Roles other than all: check what they need from the `ingest:` section. */
static int check_role(const ts_config *cfg, const ts_yaml_node *role_node,
		      const ingest_cluster_config *c, ts_err *err)
{
	ingest_config ic;
	ingest_config_defaults(&ic);
	int rc = ingest_config_parse(cfg, &ic, err);
	if (rc == TS_OK && ic.backend != INGEST_BACKEND_KAFKA)
		rc = ts_yaml_error(ts_config_doc(cfg), role_node, err, TS_EINVAL,
				   "cluster.role: '%s' needs ingest.backend: kafka (the embedded "
				   "log belongs to one process)",
				   ingest_role_name(c->role));
	else if (rc == TS_OK && c->role == INGEST_ROLE_INGEST &&
		 (ic.max_series || ic.max_series_per_metric))
		rc = ts_yaml_error(ts_config_doc(cfg), role_node, err, TS_EINVAL,
				   "cluster.role: 'ingest' keeps no store, so it cannot enforce "
				   "ingest.max_series or ingest.max_series_per_metric (set them on "
				   "no node, or run role all)");
	ingest_config_fini(&ic);
	return rc;
}

int ingest_cluster_config_load(const ts_config *cfg, ingest_cluster_config *out, ts_err *err)
{
	ingest_cluster_config c;
	memset(&c, 0, sizeof(c));
	c.role = INGEST_ROLE_ALL;
	default_node_id(c.node_id, sizeof(c.node_id));
	snprintf(c.replica_group, sizeof(c.replica_group), "%s", INGEST_CLUSTER_REPLICA_GROUP);
	c.session_timeout_ms = INGEST_CLUSTER_SESSION_TIMEOUT_MS;
	const ts_yaml_node *sec = cfg ? ts_config_section(cfg, "cluster") : NULL;
	const ts_yaml_node *role_node = NULL;
	if (sec && !ts_yaml_is_null(sec)) {
		const ts_yaml_doc *d = ts_config_doc(cfg);
		if (sec->type != TS_YAML_MAP)
			return ts_yaml_error(d, sec, err, TS_EINVAL, "cluster: expected a mapping");
		for (size_t i = 0; i < sec->n; i++) {
			int rc = parse_key(d, sec->keys[i], sec->items[i], &c, err);
			if (rc) {
				ingest_cluster_config_fini(&c);
				return rc;
			}
		}
		role_node = ts_yaml_get(sec, "role");
	}
	int rc = TS_OK;
	if (c.role == INGEST_ROLE_QUERY && c.n_stores == 0)
		rc = ts_yaml_error(ts_config_doc(cfg), role_node, err, TS_EINVAL,
				   "cluster.role: 'query' needs cluster.stores (the store nodes' "
				   "host:port list)");
	else if (c.role != INGEST_ROLE_QUERY && c.n_stores)
		rc =
		    ts_yaml_error(ts_config_doc(cfg), ts_yaml_get(sec, "stores"), err, TS_EINVAL,
				  "cluster.stores: only role query reads the stores (this node has "
				  "role %s)",
				  ingest_role_name(c.role));
	else if (c.role != INGEST_ROLE_ALL && c.role != INGEST_ROLE_QUERY)
		rc = check_role(cfg, role_node, &c, err);
	if (rc) {
		ingest_cluster_config_fini(&c);
		return rc;
	}
	*out = c;
	return TS_OK;
}

void ingest_cluster_group_id(const ingest_cluster_config *cc, const char *group_id, char *buf,
			     size_t cap)
{
	snprintf(buf, cap, "%s.%s", group_id, cc->replica_group);
}

int ingest_cluster_open_log(const ingest_cluster_config *cc, const ingest_config *ic,
			    const ts_config *cfg, ingest_log **out, ts_err *err)
{
	if (cc->role == INGEST_ROLE_ALL)
		return ingest_config_open_log(ic, cfg, out, err);
	ingest_kafka_config *kc = NULL;
	int rc = ingest_kafka_config_load(cfg, &kc, err);
	if (rc == TS_ENOTFOUND)
		rc = ts_err_set(err, TS_EINVAL, "cluster.role %s needs a kafka: section",
				ingest_role_name(cc->role));
	if (rc)
		return rc;
	ingest_log_kafka_options ko = *ingest_kafka_config_options(kc);
	char group[512], client[512];
	ko.n_partitions = ic->n_partitions;
	snprintf(client, sizeof(client), "%s-%s", ko.client_id, cc->node_id);
	ko.client_id = client;
	if (cc->role == INGEST_ROLE_STORE) {
		ingest_cluster_group_id(cc, ko.group_id, group, sizeof(group));
		ko.group_id = group;
	}
	rc = ingest_log_kafka_open(&ko, out, err);
	ingest_kafka_config_free(kc);
	return rc;
}
