/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_scrape_config.c: tests for ingest/scrape_config.c: Prometheus' scrape config
 * subset: defaults and inheritance of intervals and timeouts, every supported key, file
 * names resolved against the config's directory, file_sd target group files (JSON and
 * YAML), every error with its exact message (file:line:col, the key path, Prometheus'
 * wording), allocation failures, and the schedule offset.
 */
#include "ingest/scrape.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

/* Parse text as a whole config file named t.yml in /etc/strata. */
static int parse(const char *text, ingest_scrape_config **out, ts_err *err)
{
	ts_yaml_doc *d = NULL;
	int rc = ts_yaml_parse("t.yml", text, strlen(text), &d, err);
	if (rc)
		return rc;
	const ts_yaml_node *root = ts_yaml_root(d);
	rc = ingest_scrape_config_parse(d, ts_yaml_get(root, "global"),
					ts_yaml_get(root, "scrape_configs"), "/etc/strata", out,
					err);
	ts_yaml_free(d);
	return rc;
}

static ingest_scrape_config *parse_ok(const char *text)
{
	ingest_scrape_config *c = NULL;
	ts_err e = {0};
	int rc = parse(text, &c, &e);
	if (rc)
		fail_msg("unexpected error: %s", e.msg);
	return c;
}

static void expect_error(const char *text, const char *msg)
{
	ingest_scrape_config *c = NULL;
	ts_err e = {0};
	int rc = parse(text, &c, &e);
	assert_int_equal(rc, TS_EINVAL);
	assert_null(c);
	assert_string_equal(e.msg, msg);
}

static void test_ingest_scrape_config_parse_defaults(void **state)
{
	ingest_scrape_config *c = parse_ok("scrape_configs:\n"
					   "  - job_name: node\n");
	assert_int_equal(c->scrape_interval_ms, 60000);
	assert_int_equal(c->scrape_timeout_ms, 10000);
	assert_int_equal(c->evaluation_interval_ms, 60000);
	assert_int_equal(c->n_jobs, 1);
	const ingest_scrape_job *j = &c->jobs[0];
	assert_string_equal(j->job_name, "node");
	assert_int_equal(j->interval_ms, 60000);
	assert_int_equal(j->timeout_ms, 10000);
	assert_string_equal(j->metrics_path, "/metrics");
	assert_string_equal(j->scheme, "http");
	assert_false(j->honor_labels);
	assert_true(j->honor_timestamps);
	assert_true(j->follow_redirects);
	assert_int_equal(j->sample_limit, 0);
	assert_null(j->basic_username);
	assert_null(j->auth_type);
	assert_int_equal(j->n_static_groups, 0);
	assert_int_equal(j->n_file_sds, 0);
	ingest_scrape_config_free(c);

	/* No sections at all, or null ones. */
	c = parse_ok("server:\n  listen: x\n");
	assert_int_equal(c->n_jobs, 0);
	ingest_scrape_config_free(c);
	c = parse_ok("global:\nscrape_configs:\n");
	assert_int_equal(c->n_jobs, 0);
	assert_int_equal(c->scrape_interval_ms, 60000);
	ingest_scrape_config_free(c);
	ingest_scrape_config_free(NULL);
}

static void test_ingest_scrape_config_parse_inheritance(void **state)
{
	/* Prometheus: an unset timeout is min(global timeout, interval). */
	ingest_scrape_config *c = parse_ok("global:\n"
					   "  scrape_interval: 5s\n"
					   "  evaluation_interval: 30s\n"
					   "scrape_configs:\n"
					   "  - job_name: a\n"
					   "  - job_name: b\n"
					   "    scrape_interval: 1m\n"
					   "  - job_name: c\n"
					   "    scrape_interval: 500ms\n"
					   "  - job_name: d\n"
					   "    scrape_interval: 1m\n"
					   "    scrape_timeout: 30s\n"
					   "  - job_name: e\n"
					   "    scrape_interval: 0s\n");
	assert_int_equal(c->scrape_interval_ms, 5000);
	assert_int_equal(c->scrape_timeout_ms, 5000);
	assert_int_equal(c->evaluation_interval_ms, 30000);
	assert_int_equal(c->n_jobs, 5);
	assert_int_equal(c->jobs[0].interval_ms, 5000);
	assert_int_equal(c->jobs[0].timeout_ms, 5000);
	assert_int_equal(c->jobs[1].interval_ms, 60000);
	assert_int_equal(c->jobs[1].timeout_ms, 5000);
	assert_int_equal(c->jobs[2].interval_ms, 500);
	assert_int_equal(c->jobs[2].timeout_ms, 500);
	assert_int_equal(c->jobs[3].timeout_ms, 30000);
	assert_int_equal(c->jobs[4].interval_ms, 5000); /* 0 means unset */
	ingest_scrape_config_free(c);

	c = parse_ok("global:\n"
		     "  scrape_interval: 2m\n"
		     "  scrape_timeout: 20s\n"
		     "scrape_configs:\n"
		     "  - job_name: a\n"
		     "  - job_name: b\n"
		     "    scrape_interval: 15s\n");
	assert_int_equal(c->jobs[0].interval_ms, 120000);
	assert_int_equal(c->jobs[0].timeout_ms, 20000);
	assert_int_equal(c->jobs[1].timeout_ms, 15000);
	ingest_scrape_config_free(c);
}

static void test_ingest_scrape_config_parse_full_job(void **state)
{
	ingest_scrape_config *c = parse_ok("global:\n"
					   "  external_labels: {region: eu, dc: fra1}\n"
					   "scrape_configs:\n"
					   "  - job_name: blackbox\n"
					   "    scrape_interval: 10s\n"
					   "    scrape_timeout: 3s\n"
					   "    metrics_path: /probe\n"
					   "    scheme: https\n"
					   "    params:\n"
					   "      target: [example.com]\n"
					   "      module: [http_2xx, tcp]\n"
					   "    honor_labels: true\n"
					   "    honor_timestamps: false\n"
					   "    follow_redirects: false\n"
					   "    enable_http2: false\n"
					   "    sample_limit: 1000\n"
					   "    body_size_limit: 10MiB\n"
					   "    basic_auth:\n"
					   "      username: u\n"
					   "      password_file: secrets/pw\n"
					   "    tls_config:\n"
					   "      ca_file: /etc/ca.pem\n"
					   "      cert_file: c.pem\n"
					   "      key_file: k.pem\n"
					   "      insecure_skip_verify: true\n"
					   "    static_configs:\n"
					   "      - targets: ['a:9100', 'b:9100']\n"
					   "        labels: {zone: z1, app: web}\n"
					   "      - targets: []\n"
					   "    file_sd_configs:\n"
					   "      - files: ['sd/*.json', /abs/x.yml]\n"
					   "        refresh_interval: 30s\n"
					   "      - files: [y.yaml]\n");
	assert_int_equal(c->n_external_labels, 2);
	assert_string_equal(c->external_labels[0].name, "dc");
	assert_string_equal(c->external_labels[1].value, "eu");
	const ingest_scrape_job *j = &c->jobs[0];
	assert_int_equal(j->interval_ms, 10000);
	assert_int_equal(j->timeout_ms, 3000);
	assert_string_equal(j->metrics_path, "/probe");
	assert_string_equal(j->scheme, "https");
	/* Sorted by key as Go's url.Values.Encode; values of one key keep their order. */
	assert_int_equal(j->n_params, 3);
	assert_string_equal(j->params[0].name, "module");
	assert_string_equal(j->params[0].value, "http_2xx");
	assert_string_equal(j->params[1].value, "tcp");
	assert_string_equal(j->params[2].name, "target");
	assert_true(j->honor_labels);
	assert_false(j->honor_timestamps);
	assert_false(j->follow_redirects);
	assert_int_equal(j->sample_limit, 1000);
	assert_int_equal(j->body_size_limit_bytes, 10 << 20);
	assert_string_equal(j->basic_username, "u");
	assert_null(j->basic_password);
	assert_string_equal(j->basic_password_file, "/etc/strata/secrets/pw");
	assert_string_equal(j->tls_ca_file, "/etc/ca.pem");
	assert_string_equal(j->tls_cert_file, "/etc/strata/c.pem");
	assert_string_equal(j->tls_key_file, "/etc/strata/k.pem");
	assert_true(j->tls_insecure_skip_verify);
	assert_int_equal(j->n_static_groups, 2);
	assert_int_equal(j->static_groups[0].n_targets, 2);
	assert_string_equal(j->static_groups[0].targets[1], "b:9100");
	assert_int_equal(j->static_groups[0].n_labels, 2);
	assert_string_equal(j->static_groups[0].labels[0].name, "app");
	assert_string_equal(j->static_groups[0].labels[1].value, "z1");
	assert_null(j->static_groups[0].source);
	assert_int_equal(j->static_groups[1].n_targets, 0);
	assert_int_equal(j->n_file_sds, 2);
	assert_int_equal(j->file_sds[0].n_files, 2);
	assert_string_equal(j->file_sds[0].files[0], "/etc/strata/sd/*.json");
	assert_string_equal(j->file_sds[0].files[1], "/abs/x.yml");
	assert_int_equal(j->file_sds[0].refresh_interval_ms, 30000);
	assert_int_equal(j->file_sds[1].refresh_interval_ms, 300000);
	ingest_scrape_config_free(c);
}

static void test_ingest_scrape_config_parse_auth(void **state)
{
	ingest_scrape_config *c = parse_ok("scrape_configs:\n"
					   "  - job_name: a\n"
					   "    bearer_token: tok\n"
					   "  - job_name: b\n"
					   "    bearer_token_file: /run/tok\n"
					   "  - job_name: c\n"
					   "    authorization: {type: Token, credentials: xyz}\n"
					   "  - job_name: d\n"
					   "    authorization: {credentials_file: cred}\n"
					   "  - job_name: e\n"
					   "    basic_auth: {username: u, password: p}\n");
	assert_string_equal(c->jobs[0].auth_type, "Bearer");
	assert_string_equal(c->jobs[0].auth_credentials, "tok");
	assert_string_equal(c->jobs[1].auth_type, "Bearer");
	assert_string_equal(c->jobs[1].auth_credentials_file, "/run/tok");
	assert_string_equal(c->jobs[2].auth_type, "Token");
	assert_string_equal(c->jobs[2].auth_credentials, "xyz");
	assert_string_equal(c->jobs[3].auth_type, "Bearer");
	assert_string_equal(c->jobs[3].auth_credentials_file, "/etc/strata/cred");
	assert_string_equal(c->jobs[4].basic_username, "u");
	assert_string_equal(c->jobs[4].basic_password, "p");
	assert_null(c->jobs[4].auth_type);
	ingest_scrape_config_free(c);
}

static void test_ingest_scrape_config_parse_errors(void **state)
{
	expect_error("scrape_configs: {a: 1}\n", "t.yml:1:17: scrape_configs: expected a sequence");
	expect_error("scrape_configs:\n  - 3\n",
		     "t.yml:2:5: scrape_configs[0]: expected a mapping");
	expect_error("scrape_configs:\n  - scrape_interval: 1s\n",
		     "t.yml:2:5: scrape_configs[0]: job_name is empty");
	expect_error("scrape_configs:\n  - job_name: ''\n",
		     "t.yml:2:5: scrape_configs[0]: job_name is empty");
	expect_error("scrape_configs:\n  - job_name: a\n  - job_name: a\n",
		     "t.yml:3:15: scrape_configs[1]: found multiple scrape configs with job name "
		     "\"a\"");
	expect_error("scrape_configs:\n  - job_name: a\n    scrape_intervl: 1s\n",
		     "t.yml:3:5: unknown key 'scrape_configs[0].scrape_intervl'");
	expect_error("scrape_configs:\n  - job_name: a\n    scrape_interval: 1 sec\n",
		     "t.yml:3:22: scrape_configs[0].scrape_interval: invalid duration '1 sec' "
		     "(use e.g. 30s, 5m, 1h30m, 7d)");
	expect_error("scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n"
		     "    scrape_timeout: 6s\n",
		     "t.yml:4:21: scrape_configs[0]: scrape timeout greater than scrape interval "
		     "for scrape config with job name \"a\"");
	expect_error("global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n",
		     "t.yml:3:19: global: scrape timeout greater than scrape interval");
	expect_error("global:\n  scrape_timeout: 2m\n",
		     "t.yml:2:19: global: scrape timeout greater than scrape interval");
	expect_error("global:\n  scrape_intervals: 5s\n",
		     "t.yml:2:3: unknown key 'global.scrape_intervals'");
	expect_error("global: [1]\n", "t.yml:1:9: global: expected a mapping");
	expect_error("global:\n  external_labels: {1bad: x}\n",
		     "t.yml:2:21: global.external_labels: \"1bad\" is not a valid label name");
	expect_error("scrape_configs:\n  - job_name: a\n    relabel_configs: []\n",
		     "t.yml:3:5: scrape_configs[0].relabel_configs: not supported by Strata (see "
		     "docs/formats/scrape.md)");
	expect_error("scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs: []\n",
		     "t.yml:3:5: scrape_configs[0].kubernetes_sd_configs: not supported by Strata "
		     "(see docs/formats/scrape.md)");
	expect_error("scrape_configs:\n  - job_name: a\n    scheme: ftp\n",
		     "t.yml:3:13: scrape_configs[0].scheme: \"ftp\" is not http or https");
	expect_error("scrape_configs:\n  - job_name: a\n    metrics_path: metrics\n",
		     "t.yml:3:19: scrape_configs[0].metrics_path: \"metrics\" must start with '/'");
	expect_error("scrape_configs:\n  - job_name: a\n    honor_labels: yes\n",
		     "t.yml:3:19: scrape_configs[0].honor_labels: expected true or false, got "
		     "'yes'");
	expect_error("scrape_configs:\n  - job_name: a\n    sample_limit: -1\n",
		     "t.yml:3:19: scrape_configs[0].sample_limit: -1 is out of range [0, "
		     "9223372036854775807]");
	expect_error("scrape_configs:\n  - job_name: a\n    params: {x: y}\n",
		     "t.yml:3:17: scrape_configs[0].params.x: expected a sequence");
}

static void test_ingest_scrape_config_parse_target_errors(void **state)
{
	expect_error("scrape_configs:\n  - job_name: a\n    static_configs:\n"
		     "      - targets: ['http://x:80/metrics']\n",
		     "t.yml:4:19: scrape_configs[0].static_configs[0].targets: "
		     "\"http://x:80/metrics\" is not a valid hostname");
	expect_error("scrape_configs:\n  - job_name: a\n    static_configs:\n"
		     "      - targets: ['']\n",
		     "t.yml:4:19: scrape_configs[0].static_configs[0].targets: \"\" is not a valid "
		     "hostname");
	expect_error("scrape_configs:\n  - job_name: a\n    static_configs:\n"
		     "      - targets: [a:1]\n        labels: {a-b: x}\n",
		     "t.yml:5:18: scrape_configs[0].static_configs[0].labels: \"a-b\" is not a "
		     "valid label name");
	expect_error("scrape_configs:\n  - job_name: a\n    static_configs:\n"
		     "      - targets: [a:1]\n        labels: {a: [x]}\n",
		     "t.yml:5:21: scrape_configs[0].static_configs[0].labels.a: expected a string");
	expect_error("scrape_configs:\n  - job_name: a\n    static_configs:\n"
		     "      - target: [a:1]\n",
		     "t.yml:4:9: unknown key 'scrape_configs[0].static_configs[0].target'");
	expect_error("scrape_configs:\n  - job_name: a\n    static_configs: {targets: []}\n",
		     "t.yml:3:21: scrape_configs[0].static_configs: expected a sequence");
	expect_error("scrape_configs:\n  - job_name: a\n    file_sd_configs:\n"
		     "      - files: [targets.txt]\n",
		     "t.yml:4:17: scrape_configs[0].file_sd_configs[0].files[0]: path name "
		     "\"targets.txt\" is not valid for file discovery");
	expect_error("scrape_configs:\n  - job_name: a\n    file_sd_configs:\n"
		     "      - files: ['a/*/b.json']\n",
		     "t.yml:4:17: scrape_configs[0].file_sd_configs[0].files[0]: path name "
		     "\"a/*/b.json\" is not valid for file discovery");
	expect_error("scrape_configs:\n  - job_name: a\n    file_sd_configs:\n"
		     "      - files: []\n",
		     "t.yml:4:16: scrape_configs[0].file_sd_configs[0]: file service discovery "
		     "config must contain at least one path name");
	expect_error("scrape_configs:\n  - job_name: a\n    file_sd_configs:\n"
		     "      - refresh_interval: 1m\n",
		     "t.yml:4:9: scrape_configs[0].file_sd_configs[0]: file service discovery "
		     "config must contain at least one path name");
}

static void test_ingest_scrape_config_parse_auth_errors(void **state)
{
	expect_error("scrape_configs:\n  - job_name: a\n    basic_auth:\n"
		     "      username: u\n      password: p\n      password_file: f\n",
		     "t.yml:6:22: scrape_configs[0].basic_auth: at most one of basic_auth password "
		     "& password_file must be configured");
	expect_error("scrape_configs:\n  - job_name: a\n    bearer_token: t\n"
		     "    bearer_token_file: f\n",
		     "t.yml:4:5: scrape_configs[0]: at most one of bearer_token & "
		     "bearer_token_file must be configured");
	expect_error("scrape_configs:\n  - job_name: a\n    basic_auth: {username: u}\n"
		     "    bearer_token: t\n",
		     "t.yml:4:5: scrape_configs[0]: at most one of basic_auth, oauth2, "
		     "bearer_token & bearer_token_file must be configured");
	expect_error("scrape_configs:\n  - job_name: a\n    authorization: {credentials: c}\n"
		     "    bearer_token_file: t\n",
		     "t.yml:3:5: scrape_configs[0]: authorization is not compatible with "
		     "bearer_token & bearer_token_file");
	expect_error("scrape_configs:\n  - job_name: a\n    authorization: {credentials: c}\n"
		     "    basic_auth: {username: u}\n",
		     "t.yml:3:5: scrape_configs[0]: at most one of basic_auth, oauth2 & "
		     "authorization must be configured");
	expect_error("scrape_configs:\n  - job_name: a\n    authorization: {type: Basic}\n",
		     "t.yml:3:27: scrape_configs[0].authorization: authorization type cannot be "
		     "set to \"basic\", use \"basic_auth\" instead");
	expect_error("scrape_configs:\n  - job_name: a\n    authorization:\n"
		     "      credentials: c\n      credentials_file: f\n",
		     "t.yml:5:25: scrape_configs[0].authorization: at most one of authorization "
		     "credentials & credentials_file must be configured");
	expect_error("scrape_configs:\n  - job_name: a\n    oauth2: {}\n",
		     "t.yml:3:5: scrape_configs[0].oauth2: not supported by Strata (see "
		     "docs/formats/scrape.md)");
	expect_error("scrape_configs:\n  - job_name: a\n    tls_config: {cert_file: c}\n",
		     "t.yml:3:17: scrape_configs[0].tls_config: cert_file and key_file must be "
		     "configured together");
	expect_error("scrape_configs:\n  - job_name: a\n    tls_config: {server_name: x}\n",
		     "t.yml:3:18: scrape_configs[0].tls_config.server_name: not supported by "
		     "Strata (see docs/formats/scrape.md)");
	expect_error("scrape_configs:\n  - job_name: a\n    basic_auth: {user: u}\n",
		     "t.yml:3:18: unknown key 'scrape_configs[0].basic_auth.user'");
}

/* Loading through a ts_config resolves files against the config file's directory. */
static void test_ingest_scrape_config_load_base_dir(void **state)
{
	char dir[512], path[600];
	snprintf(dir, sizeof(dir), "%s/scrape_config", STRATA_TEST_TMP);
	mkdir(STRATA_TEST_TMP, 0755);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/strata.yml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("scrape_configs:\n"
	      "  - job_name: n\n"
	      "    file_sd_configs: [{files: [t.json]}]\n",
	      f);
	fclose(f);
	ts_config *cfg = NULL;
	ts_err e = {0};
	assert_int_equal(ts_config_load(path, &cfg, &e), TS_OK);
	ingest_scrape_config *c = NULL;
	assert_int_equal(ingest_scrape_config_load(cfg, &c, &e), TS_OK);
	char want[700];
	snprintf(want, sizeof(want), "%s/t.json", dir);
	assert_string_equal(c->jobs[0].file_sds[0].files[0], want);
	ingest_scrape_config_free(c);
	ts_config_free(cfg);

	/* Defaults (no file): nothing to scrape. */
	cfg = ts_config_defaults();
	assert_int_equal(ingest_scrape_config_load(cfg, &c, &e), TS_OK);
	assert_int_equal(c->n_jobs, 0);
	ingest_scrape_config_free(c);
	ts_config_free(cfg);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_ingest_scrape_sd_file_parse_formats(void **state)
{
	char path[600];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(path, sizeof(path), "%s/sd_test.json", STRATA_TEST_TMP);
	/* Compact JSON, tabs, escapes: what Prometheus' file_sd writers produce. */
	write_file(path, "[{\"targets\":[\"10.0.0.1:9100\",\"10.0.0.2:9100\"],"
			 "\"labels\":{\"env\":\"prod\",\"team\":\"caf\\u00e9\"}},\n"
			 "\t{\"targets\": [\"10.0.0.3:9100\"]}]\n");
	ingest_scrape_groups *g = NULL;
	ts_err e = {0};
	assert_int_equal(ingest_scrape_sd_file_parse(path, &g, &e), TS_OK);
	assert_int_equal(g->n_groups, 2);
	assert_int_equal(g->groups[0].n_targets, 2);
	assert_string_equal(g->groups[0].targets[1], "10.0.0.2:9100");
	assert_int_equal(g->groups[0].n_labels, 2);
	assert_string_equal(g->groups[0].labels[1].name, "team");
	assert_string_equal(g->groups[0].labels[1].value, "caf\xc3\xa9");
	assert_string_equal(g->groups[1].source, path);
	assert_int_equal(g->groups[1].n_labels, 0);
	ingest_scrape_groups_free(g);

	snprintf(path, sizeof(path), "%s/sd_test.yml", STRATA_TEST_TMP);
	write_file(path, "- targets: [a:1]\n  labels:\n    x: y\n- targets:\n  - b:2\n");
	assert_int_equal(ingest_scrape_sd_file_parse(path, &g, &e), TS_OK);
	assert_int_equal(g->n_groups, 2);
	assert_string_equal(g->groups[1].targets[0], "b:2");
	ingest_scrape_groups_free(g);

	write_file(path, "");
	assert_int_equal(ingest_scrape_sd_file_parse(path, &g, &e), TS_OK);
	assert_int_equal(g->n_groups, 0);
	ingest_scrape_groups_free(g);
	ingest_scrape_groups_free(NULL);
}

static void test_ingest_scrape_sd_file_parse_errors(void **state)
{
	char path[600], want[800];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(path, sizeof(path), "%s/sd_bad.yml", STRATA_TEST_TMP);
	ingest_scrape_groups *g = NULL;
	ts_err e = {0};

	write_file(path, "- targets: [a:1]\n  labels: {bad-name: x}\n");
	assert_int_equal(ingest_scrape_sd_file_parse(path, &g, &e), TS_EINVAL);
	snprintf(want, sizeof(want),
		 "%s:2:12: target groups[0].labels: \"bad-name\" is not a valid label name", path);
	assert_string_equal(e.msg, want);

	write_file(path, "targets: [a:1]\n");
	assert_int_equal(ingest_scrape_sd_file_parse(path, &g, &e), TS_EINVAL);
	snprintf(want, sizeof(want), "%s:1:1: target groups: expected a sequence", path);
	assert_string_equal(e.msg, want);

	write_file(path, "[{\"targets\": [\"a:1\"], \"labelz\": {}}]");
	assert_int_equal(ingest_scrape_sd_file_parse(path, &g, &e), TS_EINVAL);
	snprintf(want, sizeof(want), "%s:1:23: unknown key 'target groups[0].labelz'", path);
	assert_string_equal(e.msg, want);

	write_file(path, "[{\"targets\": [\"a:1\"]");
	assert_int_equal(ingest_scrape_sd_file_parse(path, &g, &e), TS_EPARSE);

	snprintf(path, sizeof(path), "%s/no/such/file.json", STRATA_TEST_TMP);
	assert_int_equal(ingest_scrape_sd_file_parse(path, &g, &e), TS_EIO);
	assert_null(g);
}

static void test_ingest_scrape_config_parse_alloc_failure(void **state)
{
	const char *text = "global:\n  external_labels: {a: b}\n"
			   "scrape_configs:\n"
			   "  - job_name: x\n"
			   "    params: {m: [a, b]}\n"
			   "    basic_auth: {username: u, password: p}\n"
			   "    static_configs: [{targets: [a:1, b:2], labels: {k: v}}]\n"
			   "    file_sd_configs: [{files: [a.json, b.yml]}]\n"
			   "  - job_name: y\n";
	ts_yaml_doc *d = NULL;
	ts_err e = {0};
	assert_int_equal(ts_yaml_parse("t.yml", text, strlen(text), &d, &e), TS_OK);
	const ts_yaml_node *root = ts_yaml_root(d);
	int n_fail = 0;
	for (int64_t n = 0;; n++) {
		ingest_scrape_config *c = NULL;
		ts_alloc_fail_after(n);
		int rc =
		    ingest_scrape_config_parse(d, ts_yaml_get(root, "global"),
					       ts_yaml_get(root, "scrape_configs"), NULL, &c, &e);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK) {
			assert_int_equal(c->n_jobs, 2);
			ingest_scrape_config_free(c);
			break;
		}
		assert_int_equal(rc, TS_ENOMEM);
		assert_null(c);
		n_fail++;
	}
	assert_true(n_fail > 0);
	ts_yaml_free(d);
}

static void test_ingest_scrape_offset_ms_properties(void **state)
{
	assert_int_equal(ingest_scrape_offset_ms(12345, 0, 0), 0);
	assert_int_equal(ingest_scrape_offset_ms(12345, 0, 1000), 345);
	assert_int_equal(ingest_scrape_offset_ms(12345, 12345, 1000), 0);
	/* Stable, within the interval, and spread: 1000 hashes over 10 buckets. */
	int buckets[10] = {0};
	for (uint64_t i = 0; i < 1000; i++) {
		uint64_t h = ts_hash64(&i, sizeof(i), 0);
		int64_t off = ingest_scrape_offset_ms(h, 42, 15000);
		assert_true(off >= 0 && off < 15000);
		assert_int_equal(off, ingest_scrape_offset_ms(h, 42, 15000));
		buckets[off / 1500]++;
	}
	for (int i = 0; i < 10; i++)
		assert_true(buckets[i] > 50 && buckets[i] < 150);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_scrape_config_parse_defaults),
	    cmocka_unit_test(test_ingest_scrape_config_parse_inheritance),
	    cmocka_unit_test(test_ingest_scrape_config_parse_full_job),
	    cmocka_unit_test(test_ingest_scrape_config_parse_auth),
	    cmocka_unit_test(test_ingest_scrape_config_parse_errors),
	    cmocka_unit_test(test_ingest_scrape_config_parse_target_errors),
	    cmocka_unit_test(test_ingest_scrape_config_parse_auth_errors),
	    cmocka_unit_test(test_ingest_scrape_config_load_base_dir),
	    cmocka_unit_test(test_ingest_scrape_sd_file_parse_formats),
	    cmocka_unit_test(test_ingest_scrape_sd_file_parse_errors),
	    cmocka_unit_test(test_ingest_scrape_config_parse_alloc_failure),
	    cmocka_unit_test(test_ingest_scrape_offset_ms_properties),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
