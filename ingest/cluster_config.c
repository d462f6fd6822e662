/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cluster_config.c: the `cluster:` config section (roles of one binary on Kafka).
 *
 *   cluster:
 *     role: all              # all | ingest | store | query | alert
 *     node_id: <host name>   # names this node: client.id "<kafka.client_id>-<node_id>"
 *     replica_group: a       # stores of one replica group share the Kafka consumer group
 *                            # "<kafka.group_id>.<replica_group>"; two replica groups
 *                            # consume the same partitions independently
 *     session_timeout: 10s   # store: silent this long, its partitions go to the others
 *     stores: [host:port, ...] # query, alert: every store node's HTTP address (static list)
 *     status_interval: 1s    # query, alert: reuse the stores' status this long
 *     store_auth:            # credentials for the stores' internal API (their auth:)
 *       token: <bearer token>  # or token_file: path (first line), or username and
 *                              # password (or password_file) for basic auth
 *
 * Roles: `all` is the single node (log, consumers, store, query, alerting in one process;
 * any log backend). `ingest` is stateless: the write endpoints parse, validate and
 * produce to Kafka, and nothing is stored. `store` consumes the partitions the consumer
 * group assigns it and serves the query API over what it holds. Both need the Kafka
 * backend (`ingest.backend: kafka`): the embedded log lives in one process's directory.
 * `ingest` also refuses series limits (ingest.max_series*), which count the store's series.
 * `query` keeps no store and no log: it answers the query API by reading every address of
 * `cluster.stores` (web/fanout.c), which it requires; other roles refuse the key. Role
 * `alert` reads the stores the same way (it requires `cluster.stores`) to evaluate rule
 * files, and needs a `kafka:` section (not the Kafka log backend: it opens no log): its
 * nodes elect one active notifier through a consumer group and pass notifications
 * through a topic of their own (alert/ha.c, docs/formats/kafka.md).
 * ingest_kafka_settings_load hands the `kafka:` connection settings to that client.
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

static const char *const role_names[] = {"all", "ingest", "store", "query", "alert", NULL};

const char *ingest_role_name(ingest_role r)
{
	return r >= INGEST_ROLE_ALL && r <= INGEST_ROLE_ALERT ? role_names[r] : "?";
}

void ingest_cluster_config_fini(ingest_cluster_config *c)
{
	if (!c)
		return;
	ts_free(c->stores);
	c->stores = NULL;
	c->n_stores = 0;
	ts_free(c->store_token);
	ts_free(c->store_user);
	ts_free(c->store_password);
	c->store_token = c->store_user = c->store_password = NULL;
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
	return ts_yaml_error(d, v, err, TS_EINVAL,
			     "cluster.role: '%s' is not one of all, ingest, store, query, alert",
			     s);
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
	if (!strcmp(key, "store_auth"))
		return TS_OK; /* parse_store_auth, once the whole section is read */
	if (!strcmp(key, "status_interval")) {
		int64_t ms = 0;
		int rc = ts_yaml_duration(d, v, "cluster.status_interval", &ms, err);
		if (rc == TS_OK && (ms < 100 || ms > 60000))
			rc = ts_yaml_error(
			    d, v, err, TS_EINVAL,
			    "cluster.status_interval: '%s' is out of range [100ms, 1m]", v->scalar);
		if (rc == TS_OK)
			c->status_interval_ms = ms;
		return rc;
	}
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

/* ---------------------------------------------------------------- cluster.store_auth */

#define SECRET_MAX 4096

/* A secret: the value of `key`, or the first line of the file named by `key`_file
 * (relative to the config file). *out owned; NULL when neither is set. */
static int read_secret(const ts_config *cfg, const ts_yaml_node *sec, const char *key, char **out,
		       ts_err *err)
{
	const ts_yaml_doc *d = ts_config_doc(cfg);
	char what[64], fkey[40];
	snprintf(fkey, sizeof(fkey), "%s_file", key);
	const ts_yaml_node *v = ts_yaml_get(sec, key), *fv = ts_yaml_get(sec, fkey);
	*out = NULL;
	if (v && fv)
		return ts_yaml_error(d, fv, err, TS_EINVAL,
				     "cluster.store_auth: set %s or %s, not both", key, fkey);
	const char *s;
	if (v) {
		snprintf(what, sizeof(what), "cluster.store_auth.%s", key);
		int rc = ts_yaml_str(d, v, what, &s, err);
		if (rc)
			return rc;
		if (!s[0] || strlen(s) > SECRET_MAX)
			return ts_yaml_error(d, v, err, TS_EINVAL, "%s: must be 1-%d bytes", what,
					     SECRET_MAX);
		*out = ts_strdup(s);
		return *out ? TS_OK : ts_err_set(err, TS_ENOMEM, "out of memory reading %s", what);
	}
	if (!fv)
		return TS_OK;
	snprintf(what, sizeof(what), "cluster.store_auth.%s", fkey);
	int rc = ts_yaml_str(d, fv, what, &s, err);
	if (rc)
		return rc;
	char path[4096];
	const char *slash = cfg->source ? strrchr(cfg->source, '/') : NULL;
	if (s[0] != '/' && slash)
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - cfg->source), cfg->source, s);
	else
		snprintf(path, sizeof(path), "%s", s);
	FILE *f = fopen(path, "rb");
	if (!f)
		return ts_yaml_error(d, fv, err, TS_EINVAL, "%s: cannot open %s", what, path);
	char buf[SECRET_MAX + 2];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0'; /* the first line */
	if (!buf[0] || strlen(buf) > SECRET_MAX)
		return ts_yaml_error(d, fv, err, TS_EINVAL,
				     "%s: the first line of %s must hold 1-%d bytes", what, path,
				     SECRET_MAX);
	*out = ts_strdup(buf);
	memset(buf, 0, sizeof(buf));
	return *out ? TS_OK : ts_err_set(err, TS_ENOMEM, "out of memory reading %s", what);
}

/* cluster.store_auth: {token | token_file} or {username, password | password_file}. */
static int parse_store_auth(const ts_config *cfg, const ts_yaml_node *sec, ingest_cluster_config *c,
			    ts_err *err)
{
	const ts_yaml_doc *d = ts_config_doc(cfg);
	static const char *const keys[] = {"token",    "token_file",    "username",
					   "password", "password_file", NULL};
	if (sec->type != TS_YAML_MAP)
		return ts_yaml_error(d, sec, err, TS_EINVAL,
				     "cluster.store_auth: expected a mapping (token, or username "
				     "and password)");
	for (size_t i = 0; i < sec->n; i++) {
		const char *k = sec->keys[i]->type == TS_YAML_SCALAR ? sec->keys[i]->scalar : "";
		size_t j = 0;
		while (keys[j] && strcmp(keys[j], k))
			j++;
		if (!keys[j])
			return ts_yaml_error(d, sec->keys[i], err, TS_EINVAL,
					     "unknown key 'cluster.store_auth.%s'", k);
	}
	if (!c->n_stores)
		return ts_yaml_error(d, sec, err, TS_EINVAL,
				     "cluster.store_auth: only nodes that read cluster.stores send "
				     "credentials to the stores");
	int rc = read_secret(cfg, sec, "token", &c->store_token, err);
	if (rc == TS_OK)
		rc = read_secret(cfg, sec, "password", &c->store_password, err);
	const ts_yaml_node *u = ts_yaml_get(sec, "username");
	const char *user = NULL;
	if (rc == TS_OK && u &&
	    (rc = ts_yaml_str(d, u, "cluster.store_auth.username", &user, err)) == TS_OK &&
	    !user[0])
		rc = ts_yaml_error(d, u, err, TS_EINVAL,
				   "cluster.store_auth.username: must not be empty");
	if (rc == TS_OK && user && !(c->store_user = ts_strdup(user)))
		rc = ts_err_set(err, TS_ENOMEM, "out of memory reading cluster.store_auth");
	if (rc == TS_OK && c->store_token && (c->store_user || c->store_password))
		rc = ts_yaml_error(d, sec, err, TS_EINVAL,
				   "cluster.store_auth: a token or a username and password, not "
				   "both");
	else if (rc == TS_OK && !c->store_token && (!c->store_user || !c->store_password))
		rc = ts_yaml_error(d, sec, err, TS_EINVAL,
				   "cluster.store_auth: needs token (or token_file), or username "
				   "and password (or password_file)");
	return rc;
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
	c.status_interval_ms = INGEST_CLUSTER_STATUS_INTERVAL_MS;
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
	bool reads_stores = c.role == INGEST_ROLE_QUERY || c.role == INGEST_ROLE_ALERT;
	if (reads_stores && c.n_stores == 0)
		rc = ts_yaml_error(ts_config_doc(cfg), role_node, err, TS_EINVAL,
				   "cluster.role: '%s' needs cluster.stores (the store nodes' "
				   "host:port list)",
				   ingest_role_name(c.role));
	else if (!reads_stores && c.n_stores)
		rc = ts_yaml_error(
		    ts_config_doc(cfg), ts_yaml_get(sec, "stores"), err, TS_EINVAL,
		    "cluster.stores: only roles query and alert read the stores (this "
		    "node has role %s)",
		    ingest_role_name(c.role));
	else if (c.role == INGEST_ROLE_ALERT && !ts_config_section(cfg, "kafka"))
		rc = ts_yaml_error(ts_config_doc(cfg), role_node, err, TS_EINVAL,
				   "cluster.role: 'alert' needs a kafka: section (its nodes elect "
				   "the active notifier and pass notifications through Kafka)");
	else if (c.role != INGEST_ROLE_ALL && !reads_stores)
		rc = check_role(cfg, role_node, &c, err);
	const ts_yaml_node *auth =
	    sec && sec->type == TS_YAML_MAP ? ts_yaml_get(sec, "store_auth") : NULL;
	if (rc == TS_OK && auth)
		rc = parse_store_auth(cfg, auth, &c, err);
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

/* ---------------------------------------------------------------- kafka settings (role alert) */

void ingest_kafka_settings_fini(ingest_kafka_settings *s)
{
	if (!s)
		return;
	ts_free(s->brokers);
	ts_free(s->topic);
	ts_free(s->group_id);
	ts_free(s->client_id);
	for (size_t i = 0; i < s->n_properties; i++) {
		ts_free(s->property_names[i]);
		ts_free(s->property_values[i]);
	}
	ts_free(s->property_names);
	ts_free(s->property_values);
	memset(s, 0, sizeof(*s));
}

int ingest_kafka_settings_load(const ts_config *c, ingest_kafka_settings *out, ts_err *err)
{
	ingest_kafka_config *kc = NULL;
	int rc = ingest_kafka_config_load(c, &kc, err);
	if (rc == TS_ENOTFOUND)
		rc = ts_err_set(err, TS_EINVAL, "this role needs a kafka: section");
	if (rc)
		return rc;
	const ingest_log_kafka_options *ko = ingest_kafka_config_options(kc);
	ingest_kafka_settings s;
	memset(&s, 0, sizeof(s));
	s.brokers = ts_strdup(ko->brokers ? ko->brokers : "");
	s.topic = ts_strdup(ko->topic);
	s.group_id = ts_strdup(ko->group_id);
	s.client_id = ts_strdup(ko->client_id);
	s.produce_timeout_ms = ko->produce_timeout_ms;
	s.request_timeout_ms = ko->request_timeout_ms;
	size_t np = ko->n_properties;
	s.property_names = ts_calloc(np ? np : 1, sizeof(char *));
	s.property_values = ts_calloc(np ? np : 1, sizeof(char *));
	bool ok = s.brokers && s.topic && s.group_id && s.client_id && s.property_names &&
		  s.property_values;
	for (size_t i = 0; ok && i < np; i++) {
		s.property_names[i] = ts_strdup(ko->properties[i].name);
		s.property_values[i] = ts_strdup(ko->properties[i].value);
		s.n_properties = i + 1;
		ok = s.property_names[i] && s.property_values[i];
	}
	ingest_kafka_config_free(kc);
	if (!ok) {
		ingest_kafka_settings_fini(&s);
		return ts_err_set(err, TS_ENOMEM, "out of memory reading the kafka: section");
	}
	*out = s;
	return TS_OK;
}
