/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cluster_config.c: tests of the `cluster:` config section (ingest/cluster_config.c):
 * defaults, every key, the roles and what they require of the `ingest:` section, errors
 * with file:line:col, and the consumer group / client ids a role opens Kafka with. The
 * roles running end to end: tests/integration/test_cluster_roles.sh.
 */
#include "ingest/cluster_config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- helpers */

#define KAFKA_SECTION "ingest:\n  backend: kafka\n  partitions: 4\nkafka:\n  brokers: 127.0.0.1:1\n"

/* The same with a series limit. */
#define LIMITED_KAFKA_SECTION                                                               \
	"ingest:\n  backend: kafka\n  partitions: 4\n  max_series: 10\nkafka:\n  brokers: " \
	"127.0.0.1:1\n"

/* Load YAML text as a server config (written to STRATA_TEST_TMP/cluster.yml). */
static ts_config *load(const char *yaml, ts_err *err)
{
	mkdir(STRATA_TEST_TMP, 0755);
	const char *path = STRATA_TEST_TMP "/cluster.yml";
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(yaml, f);
	fclose(f);
	ts_config *c = NULL;
	assert_int_equal(ts_config_load(path, &c, err), TS_OK);
	return c;
}

/* Parse yaml's cluster section; returns the code, *out and err filled. */
static int parse(const char *yaml, ingest_cluster_config *out, ts_err *err)
{
	ts_config *c = load(yaml, err);
	int rc = ingest_cluster_config_load(c, out, err);
	ts_config_free(c);
	return rc;
}

/* The error of yaml must be `code` with a message containing `want`. */
static void expect_error(const char *yaml, int code, const char *want)
{
	ingest_cluster_config cc;
	ts_err err = {0};
	int rc = parse(yaml, &cc, &err);
	if (rc != code || !strstr(err.msg, want))
		fail_msg("yaml:\n%s\ngot %d '%s', wanted %d containing '%s'", yaml, rc, err.msg,
			 code, want);
}

/* ---------------------------------------------------------------- tests */

static void test_ingest_cluster_config_load_defaults(void **state)
{
	(void)state;
	ingest_cluster_config cc;
	ts_err err = {0};
	/* no config at all, a config without the section, an empty section */
	assert_int_equal(ingest_cluster_config_load(NULL, &cc, &err), TS_OK);
	assert_int_equal(cc.role, INGEST_ROLE_ALL);
	assert_string_equal(cc.replica_group, "a");
	assert_int_equal(cc.session_timeout_ms, 10000);
	assert_true(strlen(cc.node_id) > 0);
	assert_int_equal(strspn(cc.node_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					    "0123456789._-"),
			 strlen(cc.node_id));
	assert_int_equal(parse("storage:\n  data_dir: /tmp/x\n", &cc, &err), TS_OK);
	assert_int_equal(cc.role, INGEST_ROLE_ALL);
	assert_int_equal(parse("cluster:\n", &cc, &err), TS_OK);
	assert_int_equal(cc.role, INGEST_ROLE_ALL);
	/* role all works with the embedded log */
	assert_int_equal(parse("cluster:\n  role: all\n  node_id: n1\n", &cc, &err), TS_OK);
	assert_int_equal(cc.role, INGEST_ROLE_ALL);
	assert_string_equal(cc.node_id, "n1");
	assert_string_equal(ingest_role_name(INGEST_ROLE_ALL), "all");
	assert_string_equal(ingest_role_name(INGEST_ROLE_INGEST), "ingest");
	assert_string_equal(ingest_role_name(INGEST_ROLE_STORE), "store");
}

static void test_ingest_cluster_config_load_roles(void **state)
{
	(void)state;
	ingest_cluster_config cc;
	ts_err err = {0};
	assert_int_equal(parse("cluster:\n  role: store\n  node_id: store-1.dc_2\n"
			       "  replica_group: b\n  session_timeout: 3s\n" KAFKA_SECTION,
			       &cc, &err),
			 TS_OK);
	assert_int_equal(cc.role, INGEST_ROLE_STORE);
	assert_string_equal(cc.node_id, "store-1.dc_2");
	assert_string_equal(cc.replica_group, "b");
	assert_int_equal(cc.session_timeout_ms, 3000);
	assert_int_equal(parse("cluster:\n  role: ingest\n" KAFKA_SECTION, &cc, &err), TS_OK);
	assert_int_equal(cc.role, INGEST_ROLE_INGEST);
	/* role query: no Kafka needed, the static store list */
	assert_int_equal(
	    parse("cluster:\n  role: query\n  stores: [127.0.0.1:9091, \"s2:80\"]\n", &cc, &err),
	    TS_OK);
	assert_int_equal(cc.role, INGEST_ROLE_QUERY);
	assert_int_equal(cc.n_stores, 2);
	assert_string_equal(cc.stores[0], "127.0.0.1:9091");
	assert_string_equal(cc.stores[1], "s2:80");
	assert_string_equal(ingest_role_name(cc.role), "query");
	ingest_cluster_config_fini(&cc);
	ingest_cluster_config_fini(NULL);
	/* role alert: the store list and a kafka: section (no Kafka log backend needed) */
	assert_int_equal(parse("cluster:\n  role: alert\n  stores: [s1:1]\n"
			       "kafka:\n  brokers: 127.0.0.1:1\n",
			       &cc, &err),
			 TS_OK);
	assert_int_equal(cc.role, INGEST_ROLE_ALERT);
	assert_string_equal(ingest_role_name(cc.role), "alert");
	assert_int_equal(cc.n_stores, 1);
	ingest_cluster_config_fini(&cc);
	/* the longest names */
	char yaml[512];
	snprintf(yaml, sizeof(yaml), "cluster:\n  node_id: %064d\n  replica_group: %064d\n", 7, 8);
	assert_int_equal(parse(yaml, &cc, &err), TS_OK);
	assert_int_equal(strlen(cc.node_id), 64);
	assert_int_equal(strlen(cc.replica_group), 64);
	/* session timeout edges */
	assert_int_equal(parse("cluster:\n  session_timeout: 3s\n", &cc, &err), TS_OK);
	assert_int_equal(cc.session_timeout_ms, 3000);
	assert_int_equal(parse("cluster:\n  session_timeout: 30m\n", &cc, &err), TS_OK);
	assert_int_equal(cc.session_timeout_ms, 1800000);
}

static void test_ingest_cluster_config_load_errors(void **state)
{
	(void)state;
	expect_error("cluster:\n  role: stor\n", TS_EINVAL,
		     "cluster.yml:2:9: cluster.role: 'stor' is not one of all, ingest, store");
	expect_error("cluster:\n  role: query\n", TS_EINVAL,
		     "cluster.yml:2:9: cluster.role: 'query' needs cluster.stores");
	expect_error("cluster:\n  role: query\n  stores: []\n", TS_EINVAL,
		     "cluster.yml:3:11: cluster.stores: expected a non-empty list");
	expect_error("cluster:\n  role: query\n  stores: [a:1, nohost]\n", TS_EINVAL,
		     "cluster.yml:3:17: cluster.stores: 'nohost' is not host:port");
	expect_error("cluster:\n  role: query\n  stores: [a:0]\n", TS_EINVAL,
		     "cluster.stores: 'a:0' is not host:port");
	expect_error("cluster:\n  role: store\n  stores: [a:1]\n" KAFKA_SECTION, TS_EINVAL,
		     "cluster.yml:3:11: cluster.stores: only roles query and alert read the stores "
		     "(this node has role store)");
	expect_error("cluster:\n  role: alert\n", TS_EINVAL,
		     "cluster.yml:2:9: cluster.role: 'alert' needs cluster.stores");
	expect_error("cluster:\n  role: alert\n  stores: [a:1]\n", TS_EINVAL,
		     "cluster.yml:2:9: cluster.role: 'alert' needs a kafka: section");
	expect_error("cluster:\n  role: [store]\n", TS_EINVAL, "cluster.yml:2:9: cluster.role");
	expect_error("cluster:\n  rol: store\n", TS_EINVAL,
		     "cluster.yml:2:3: unknown key 'cluster.rol'");
	expect_error("cluster: store\n", TS_EINVAL,
		     "cluster.yml:1:10: cluster: expected a mapping");
	expect_error("cluster:\n  node_id: a b\n", TS_EINVAL,
		     "cluster.yml:2:12: cluster.node_id: 'a b' must be 1-64 characters");
	expect_error("cluster:\n  node_id: \"\"\n", TS_EINVAL, "cluster.node_id: '' must be");
	expect_error("cluster:\n  replica_group: a/b\n", TS_EINVAL,
		     "cluster.yml:2:18: cluster.replica_group: 'a/b' must be");
	char yaml[512];
	snprintf(yaml, sizeof(yaml), "cluster:\n  replica_group: %065d\n", 1);
	expect_error(yaml, TS_EINVAL, "cluster.replica_group");
	expect_error(
	    "cluster:\n  session_timeout: 2999ms\n", TS_EINVAL,
	    "cluster.yml:2:20: cluster.session_timeout: '2999ms' is out of range [3s, 30m]");
	expect_error("cluster:\n  session_timeout: 31m\n", TS_EINVAL, "out of range [3s, 30m]");
	expect_error("cluster:\n  session_timeout: soon\n", TS_EINVAL, "cluster.session_timeout");
}

static void test_ingest_cluster_config_load_role_requirements(void **state)
{
	(void)state;
	/* ingest and store need the Kafka log */
	expect_error("cluster:\n  role: store\n", TS_EINVAL,
		     "cluster.yml:2:9: cluster.role: 'store' needs ingest.backend: kafka");
	expect_error("ingest:\n  backend: local\ncluster:\n  role: ingest\n", TS_EINVAL,
		     "cluster.yml:4:9: cluster.role: 'ingest' needs ingest.backend: kafka");
	/* errors of the sections the role needs come through */
	expect_error("cluster:\n  role: store\ningest:\n  backend: kafka\n", TS_EINVAL,
		     "kafka: section");
	expect_error("cluster:\n  role: store\ningest:\n  partitionz: 4\n", TS_EINVAL,
		     "unknown key 'ingest.partitionz'");
	/* an ingest node has no store to count series in */
	expect_error("cluster:\n  role: ingest\n" LIMITED_KAFKA_SECTION, TS_EINVAL,
		     "cluster.yml:2:9: cluster.role: 'ingest' keeps no store");
	ingest_cluster_config cc;
	ts_err err = {0};
	assert_int_equal(parse("cluster:\n  role: store\n" LIMITED_KAFKA_SECTION, &cc, &err),
			 TS_OK); /* a store has its series */
	/* role all does not look at the ingest section's backend */
	assert_int_equal(parse("cluster:\n  role: all\ningest:\n  max_series: 10\n", &cc, &err),
			 TS_OK);
}

static void test_ingest_kafka_settings_load(void **state)
{
	(void)state;
	ts_err err = {0};
	ts_config *c = load("kafka:\n  brokers: [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n  topic: t\n"
			    "  group_id: g\n  client_id: c\n  produce_timeout: 2s\n"
			    "  properties:\n    socket.keepalive.enable: \"true\"\n",
			    &err);
	ingest_kafka_settings ks;
	assert_int_equal(ingest_kafka_settings_load(c, &ks, &err), TS_OK);
	assert_string_equal(ks.brokers, "127.0.0.1:1,127.0.0.1:2");
	assert_string_equal(ks.topic, "t");
	assert_string_equal(ks.group_id, "g");
	assert_string_equal(ks.client_id, "c");
	assert_int_equal(ks.produce_timeout_ms, 2000);
	assert_int_equal(ks.n_properties, 1);
	assert_string_equal(ks.property_names[0], "socket.keepalive.enable");
	assert_string_equal(ks.property_values[0], "true");
	ingest_kafka_settings_fini(&ks);
	ingest_kafka_settings_fini(NULL);
	ts_config_free(c);
	c = load("cluster:\n  role: all\n", &err);
	assert_int_equal(ingest_kafka_settings_load(c, &ks, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "needs a kafka: section"));
	ts_config_free(c);
}

static void test_ingest_cluster_group_id(void **state)
{
	(void)state;
	ingest_cluster_config cc;
	ts_err err = {0};
	assert_int_equal(parse("cluster:\n  replica_group: r2\n", &cc, &err), TS_OK);
	char buf[256];
	ingest_cluster_group_id(&cc, "strata", buf, sizeof(buf));
	assert_string_equal(buf, "strata.r2");
	ingest_cluster_group_id(&cc, "metrics-prod", buf, 8);
	assert_string_equal(buf, "metrics"); /* cut to the buffer, terminated */
}

static void test_ingest_cluster_open_log_unreachable(void **state)
{
	(void)state;
	/* role store opens Kafka (not the embedded log): an unreachable broker fails within
	 * the request timeout, naming the topic and brokers */
	ts_err err = {0};
	ts_config *c = load("cluster:\n  role: store\n" KAFKA_SECTION
			    "  topic: roles-t\n  request_timeout: 300ms\n",
			    &err);
	ingest_cluster_config cc;
	ingest_config ic;
	ingest_config_defaults(&ic);
	assert_int_equal(ingest_cluster_config_load(c, &cc, &err), TS_OK);
	assert_int_equal(ingest_config_parse(c, &ic, &err), TS_OK);
	ingest_log *l = NULL;
	int rc = ingest_cluster_open_log(&cc, &ic, c, &l, &err);
	assert_int_equal(rc, TS_EUNAVAIL);
	assert_null(l);
	assert_non_null(strstr(err.msg, "topic roles-t from 127.0.0.1:1"));
	ingest_config_fini(&ic);
	ts_config_free(c);
}

/* cluster.store_auth: a token (inline or from a file next to the config), or a user and
 * password; only with cluster.stores; malformed combinations name the key. */
static void test_ingest_cluster_config_load_store_auth(void **state)
{
#define QUERY_HEAD "cluster:\n  role: query\n  stores: [127.0.0.1:1]\n  store_auth:\n"
	ingest_cluster_config cc;
	ts_err err = {0};
	assert_int_equal(parse(QUERY_HEAD "    token: t0ken\n", &cc, &err), TS_OK);
	assert_string_equal(cc.store_token, "t0ken");
	assert_null(cc.store_user);
	ingest_cluster_config_fini(&cc);
	assert_null(cc.store_token);
	FILE *f = fopen(STRATA_TEST_TMP "/store.secret", "w");
	assert_non_null(f);
	fputs("from-file\nsecond line ignored\n", f);
	fclose(f);
	assert_int_equal(parse(QUERY_HEAD "    token_file: store.secret\n", &cc, &err), TS_OK);
	assert_string_equal(cc.store_token, "from-file");
	ingest_cluster_config_fini(&cc);
	assert_int_equal(
	    parse(QUERY_HEAD "    username: q\n    password_file: store.secret\n", &cc, &err),
	    TS_OK);
	assert_string_equal(cc.store_user, "q");
	assert_string_equal(cc.store_password, "from-file");
	assert_null(cc.store_token);
	ingest_cluster_config_fini(&cc);
	expect_error(QUERY_HEAD "    token: a\n    username: q\n    password: p\n", TS_EINVAL,
		     "not both");
	expect_error(QUERY_HEAD "    username: q\n", TS_EINVAL, "needs token");
	expect_error(QUERY_HEAD "    token: a\n    token_file: store.secret\n", TS_EINVAL,
		     "set token or token_file, not both");
	expect_error(QUERY_HEAD "    token_file: missing.secret\n", TS_EINVAL, "cannot open");
	expect_error(QUERY_HEAD "    tokn: a\n", TS_EINVAL,
		     "unknown key 'cluster.store_auth.tokn'");
	expect_error(QUERY_HEAD "    token: ''\n", TS_EINVAL, "must be 1-4096 bytes");
	expect_error("cluster:\n  role: all\n  store_auth:\n    token: a\n", TS_EINVAL,
		     "only nodes that read cluster.stores");
	/* cluster.status_interval: how long a query node reuses the stores' status */
	assert_int_equal(parse(QUERY_HEAD "    token: t\n  status_interval: 2s\n", &cc, &err),
			 TS_OK);
	assert_int_equal(cc.status_interval_ms, 2000);
	ingest_cluster_config_fini(&cc);
	assert_int_equal(parse("cluster:\n  role: all\n", &cc, &err), TS_OK);
	assert_int_equal(cc.status_interval_ms, 1000);
	ingest_cluster_config_fini(&cc);
	expect_error("cluster:\n  status_interval: 50ms\n", TS_EINVAL,
		     "cluster.status_interval: '50ms' is out of range [100ms, 1m]");
#undef QUERY_HEAD
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_cluster_config_load_defaults),
	    cmocka_unit_test(test_ingest_cluster_config_load_roles),
	    cmocka_unit_test(test_ingest_cluster_config_load_errors),
	    cmocka_unit_test(test_ingest_cluster_config_load_role_requirements),
	    cmocka_unit_test(test_ingest_kafka_settings_load),
	    cmocka_unit_test(test_ingest_cluster_config_load_store_auth),
	    cmocka_unit_test(test_ingest_cluster_group_id),
	    cmocka_unit_test(test_ingest_cluster_open_log_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
