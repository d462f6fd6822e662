/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config.c: unit tests for common/config.c.
 *
 * Defaults, a file setting every key (tests/data/common/config_full.yml), the shipped
 * examples/strata.yml (which must state the defaults), empty and comment-only files, and every
 * error: unknown keys (top level, each section, storage.retention, log) naming file:line:col and
 * the dotted key, bad and out-of-range durations, sizes and integers, bad listen addresses, bad log
 * levels, wrong node kinds, missing files and allocation failure at every step. Small variations
 * are written to STRATA_TEST_TMP; the named fixtures live in tests/data/common/.
 */
#include "common/common.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#define DATA_DIR STRATA_SOURCE_DIR "/tests/data/common"
#define DAY_MS   (86400LL * 1000)

static int reset_injection(void **state)
{
	ts_alloc_fail_after(-1);
	return 0;
}

/* Write `text` to a scratch file; returns its path (static buffer). */
static const char *scratch(const char *name, const char *text)
{
	static char path[512];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(path, sizeof(path), "%s/%s", STRATA_TEST_TMP, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
	return path;
}

static ts_config *load_ok(const char *path)
{
	ts_config *c = NULL;
	ts_err err = {0};
	int rc = ts_config_load(path, &c, &err);
	if (rc != TS_OK)
		fail_msg("%s: %s", ts_err_name(rc), err.msg);
	assert_non_null(c);
	return c;
}

/* Load text expecting `code` and the message "<path>:<where>"; where may be a suffix. */
static void load_fails(const char *text, int code, const char *where)
{
	const char *path = scratch("cfg.yml", text);
	ts_config *c = (ts_config *)0x1;
	ts_err err = {0};
	int rc = ts_config_load(path, &c, &err);
	if (rc != code)
		fail_msg("want %s, got %s (%s)", ts_err_name(code), ts_err_name(rc), err.msg);
	assert_ptr_equal(c, (ts_config *)0x1);
	char want[600];
	snprintf(want, sizeof(want), "%s%s", path, where);
	if (strcmp(err.msg, want) != 0)
		fail_msg("message\n  '%s'\nwant\n  '%s'", err.msg, want);
}

static void assert_defaults(const ts_config *c)
{
	assert_string_equal(c->log_level, "info");
	assert_string_equal(c->server.listen, TS_DEFAULT_LISTEN);
	assert_int_equal(c->server.max_body_bytes, 64LL << 20);
	assert_int_equal(c->server.max_connections, 1024);
	assert_int_equal(c->server.read_timeout_ms, 60000);
	assert_int_equal(c->server.threads, 4);
	assert_string_equal(c->storage.data_dir, TS_DEFAULT_DATA_DIR);
	assert_int_equal(c->storage.retention_raw_ms, 7 * DAY_MS);
	assert_int_equal(c->storage.retention_1m_ms, 30 * DAY_MS);
	assert_int_equal(c->storage.retention_1h_ms, 365 * DAY_MS);
	assert_int_equal(c->storage.out_of_order_window_ms, 10 * 60 * 1000);
	assert_int_equal(c->storage.block_duration_ms, 2 * 3600 * 1000);
	assert_int_equal(c->query.lookback_delta_ms, 5 * 60 * 1000);
	assert_int_equal(c->query.timeout_ms, 2 * 60 * 1000);
	assert_int_equal(c->query.max_samples, 50000000);
	assert_int_equal(c->query.max_series, 500000);
}

/* ---------------------------------------------------------------- defaults */

static void test_ts_config_defaults_values(void **state)
{
	ts_config *c = ts_config_defaults();
	assert_non_null(c);
	assert_defaults(c);
	assert_null(c->source);
	ts_config_free(c);
}

static void test_ts_config_defaults_listen_is_valid(void **state)
{
	char host[64];
	int port = 0;
	assert_int_equal(
	    ts_config_split_hostport(TS_DEFAULT_LISTEN, host, sizeof(host), &port, NULL), TS_OK);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 9470);
}

static void test_ts_config_defaults_enomem(void **state)
{
	for (int k = 0; k < 4; k++) {
		ts_alloc_fail_after(k);
		assert_null(ts_config_defaults());
	}
	ts_alloc_fail_after(4);
	ts_config *c = ts_config_defaults();
	ts_alloc_fail_after(-1);
	assert_non_null(c);
	ts_config_free(c);
}

static void test_ts_config_free_null(void **state)
{
	ts_config_free(NULL);
}

static void test_ts_config_set_str(void **state)
{
	ts_config *c = ts_config_defaults();
	assert_int_equal(ts_config_set_str(&c->storage.data_dir, "/data"), TS_OK);
	assert_string_equal(c->storage.data_dir, "/data");
	ts_alloc_fail_after(0);
	assert_int_equal(ts_config_set_str(&c->storage.data_dir, "/other"), TS_ENOMEM);
	ts_alloc_fail_after(-1);
	assert_string_equal(c->storage.data_dir, "/data"); /* unchanged */
	char *field = NULL;
	assert_int_equal(ts_config_set_str(&field, "x"), TS_OK); /* from NULL */
	assert_string_equal(field, "x");
	ts_free(field);
	ts_config_free(c);
}

/* ---------------------------------------------------------------- loading */

static void test_ts_config_load_full_example(void **state)
{
	const char *path = DATA_DIR "/config_full.yml";
	ts_config *c = load_ok(path);
	assert_string_equal(c->source, path);
	assert_string_equal(c->server.listen, "0.0.0.0:19470");
	assert_int_equal(c->server.max_body_bytes, 32LL << 20);
	assert_int_equal(c->server.max_connections, 2048);
	assert_int_equal(c->server.read_timeout_ms, 90000);
	assert_int_equal(c->server.threads, 16);
	assert_string_equal(c->storage.data_dir, "/var/lib/strata");
	assert_int_equal(c->storage.out_of_order_window_ms, 30 * 60 * 1000);
	assert_int_equal(c->storage.block_duration_ms, 4 * 3600 * 1000);
	assert_int_equal(c->storage.retention_raw_ms, 14 * DAY_MS);
	assert_int_equal(c->storage.retention_1m_ms, 90 * DAY_MS);
	assert_int_equal(c->storage.retention_1h_ms, 2 * 365 * DAY_MS);
	assert_int_equal(c->query.lookback_delta_ms, 10 * 60 * 1000);
	assert_int_equal(c->query.timeout_ms, 90 * 1000);
	assert_int_equal(c->query.max_samples, 100000000);
	assert_int_equal(c->query.max_series, 1000000);
	assert_string_equal(c->log_level, "debug");
	ts_config_free(c);
}

static void test_ts_config_load_examples_file_matches_defaults(void **state)
{
	/* examples/strata.yml documents every setting with its default value. */
	const char *path = STRATA_SOURCE_DIR "/examples/strata.yml";
	struct stat st;
	if (stat(path, &st) != 0)
		skip();
	ts_config *c = load_ok(path);
	assert_defaults(c);
	ts_config_free(c);
}

static void test_ts_config_load_empty_file(void **state)
{
	const char *path = DATA_DIR "/config_empty.yml";
	ts_config *c = load_ok(path);
	assert_defaults(c);
	assert_string_equal(c->source, path);
	ts_config_free(c);
}

static void test_ts_config_load_comments_only(void **state)
{
	ts_config *c = load_ok(DATA_DIR "/config_comments_only.yml");
	assert_defaults(c);
	ts_config_free(c);
}

static void test_ts_config_load_partial_keeps_other_defaults(void **state)
{
	ts_config *c = load_ok(scratch("partial.yml", "storage:\n  retention:\n    raw: 2d\n"));
	assert_int_equal(c->storage.retention_raw_ms, 2 * DAY_MS);
	assert_int_equal(c->storage.retention_1m_ms, 30 * DAY_MS);
	assert_string_equal(c->storage.data_dir, TS_DEFAULT_DATA_DIR);
	assert_string_equal(c->server.listen, TS_DEFAULT_LISTEN);
	ts_config_free(c);
}

static void test_ts_config_load_null_sections(void **state)
{
	ts_config *c = load_ok(scratch("nulls.yml", "server:\nstorage: ~\nquery: null\nlog:\n"));
	assert_defaults(c);
	ts_config_free(c);
	c = load_ok(scratch("nullret.yml", "storage:\n  retention:\n"));
	assert_defaults(c);
	ts_config_free(c);
}

static void test_ts_config_load_listen_forms(void **state)
{
	static const char *ok[] = {"\"[::1]:9470\"", "\":9470\"", "host.example:80", "10.0.0.1:0"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "server:\n  listen: %s\n", ok[i]);
		ts_config *c = load_ok(scratch("listen.yml", text));
		ts_config_free(c);
	}
}

static void test_ts_config_load_flow_style(void **state)
{
	ts_config *c = load_ok(scratch("flow.yml", "{server: {threads: 8}, log: {level: error}}"));
	assert_int_equal(c->server.threads, 8);
	assert_string_equal(c->log_level, "error");
	ts_config_free(c);
}

/* ---------------------------------------------------------------- errors */

static void test_ts_config_load_unknown_key_fixture(void **state)
{
	const char *path = DATA_DIR "/config_unknown_key.yml";
	ts_config *c = NULL;
	ts_err err = {0};
	assert_int_equal(ts_config_load(path, &c, &err), TS_EINVAL);
	char want[512];
	snprintf(want, sizeof(want), "%s:3:3: unknown key 'server.max_conections'", path);
	assert_string_equal(err.msg, want);
	assert_null(c);
}

static void test_ts_config_load_unknown_top_level_key(void **state)
{
	load_fails("server:\n  threads: 2\nstorag:\n  data_dir: x\n", TS_EINVAL,
		   ":3:1: unknown key 'storag'");
}

static void test_ts_config_load_unknown_key_each_section(void **state)
{
	load_fails("storage:\n  datadir: /x\n", TS_EINVAL, ":2:3: unknown key 'storage.datadir'");
	load_fails("query:\n  timeout: 1m\n  max_sample: 5\n", TS_EINVAL,
		   ":3:3: unknown key 'query.max_sample'");
	load_fails("storage:\n  retention:\n    raw: 7d\n    5m: 30d\n", TS_EINVAL,
		   ":4:5: unknown key 'storage.retention.5m'");
	load_fails("log:\n  level: info\n  format: json\n", TS_EINVAL,
		   ":3:3: unknown key 'log.format'");
	load_fails("log:\n  lvl: info\n", TS_EINVAL, ":2:3: unknown key 'log.lvl'");
}

static void test_ts_config_load_bad_duration_fixture(void **state)
{
	const char *path = DATA_DIR "/config_bad_duration.yml";
	ts_config *c = NULL;
	ts_err err = {0};
	assert_int_equal(ts_config_load(path, &c, &err), TS_EINVAL);
	char want[512];
	snprintf(want, sizeof(want),
		 "%s:2:12: query.timeout: invalid duration '2 minutes' (use e.g. 30s, 5m, 1h30m, "
		 "7d)",
		 path);
	assert_string_equal(err.msg, want);
}

static void test_ts_config_load_bad_durations(void **state)
{
	load_fails("server:\n  read_timeout: 10\n", TS_EINVAL,
		   ":2:17: server.read_timeout: invalid duration '10' (use e.g. 30s, 5m, 1h30m, "
		   "7d)");
	load_fails("storage:\n  retention:\n    1h: 5m1h\n", TS_EINVAL,
		   ":3:9: storage.retention.1h: invalid duration '5m1h' (use e.g. 30s, 5m, "
		   "1h30m, 7d)");
	load_fails("query:\n  lookback_delta: [5m]\n", TS_EINVAL,
		   ":2:19: query.lookback_delta: expected a duration");
}

static void test_ts_config_load_duration_out_of_range(void **state)
{
	load_fails("query:\n  lookback_delta: 2d\n", TS_EINVAL,
		   ":2:19: query.lookback_delta: '2d' is out of range [1s, 1d]");
	load_fails("storage:\n  block_duration: 30s\n", TS_EINVAL,
		   ":2:19: storage.block_duration: '30s' is out of range [1m, 31d]");
	load_fails("storage:\n  retention:\n    raw: 30m\n", TS_EINVAL,
		   ":3:10: storage.retention.raw: '30m' is out of range [1h, 100y]");
	ts_config *c = load_ok(scratch("edge.yml", "storage:\n  out_of_order_window: 0\n"));
	assert_int_equal(c->storage.out_of_order_window_ms, 0);
	ts_config_free(c);
}

static void test_ts_config_load_bad_integers(void **state)
{
	load_fails("server:\n  threads: 0\n", TS_EINVAL,
		   ":2:12: server.threads: 0 is out of range [1, 256]");
	load_fails("server:\n  threads: four\n", TS_EINVAL,
		   ":2:12: server.threads: expected an integer, got 'four'");
	load_fails("query:\n  max_series: -1\n", TS_EINVAL,
		   ":2:15: query.max_series: -1 is out of range [1, 4294967296]");
}

static void test_ts_config_load_bad_bytes(void **state)
{
	load_fails("server:\n  max_body_bytes: 512\n", TS_EINVAL,
		   ":2:19: server.max_body_bytes: '512' is out of range [1024, 17179869184] bytes");
	load_fails("server:\n  max_body_bytes: lots\n", TS_EINVAL,
		   ":2:19: server.max_body_bytes: invalid byte size 'lots' (use e.g. 1048576, "
		   "64MiB, 2GiB)");
}

static void test_ts_config_load_bad_listen_fixture(void **state)
{
	const char *path = DATA_DIR "/config_bad_listen.yml";
	ts_config *c = NULL;
	ts_err err = {0};
	assert_int_equal(ts_config_load(path, &c, &err), TS_EINVAL);
	char want[512];
	snprintf(want, sizeof(want),
		 "%s:5:11: server.listen: invalid address 'localhost' (want host:port)", path);
	assert_string_equal(err.msg, want);
}

static void test_ts_config_load_bad_listen_forms(void **state)
{
	load_fails("server:\n  listen: \"host:99999\"\n", TS_EINVAL,
		   ":2:11: server.listen: invalid address 'host:99999' (want host:port)");
	load_fails("server:\n  listen: \"::1:9470\"\n", TS_EINVAL,
		   ":2:11: server.listen: invalid address '::1:9470' (want host:port)");
	load_fails("server:\n  listen: \"\"\n", TS_EINVAL,
		   ":2:11: server.listen: invalid address '' (want host:port)");
	load_fails("server:\n  listen: {host: x}\n", TS_EINVAL,
		   ":2:11: server.listen: expected a string");
}

static void test_ts_config_load_bad_log_level(void **state)
{
	load_fails("log:\n  level: verbose\n", TS_EINVAL,
		   ":2:10: log.level: 'verbose' is not one of error, warn, info, debug");
	load_fails("log:\n  level: INFO\n", TS_EINVAL,
		   ":2:10: log.level: 'INFO' is not one of error, warn, info, debug");
	load_fails("log: debug\n", TS_EINVAL, ":1:6: log: expected a mapping");
}

static void test_ts_config_load_wrong_node_kinds(void **state)
{
	load_fails("- server\n", TS_EINVAL, ":1:1: top level must be a mapping");
	load_fails("just a string\n", TS_EINVAL, ":1:1: top level must be a mapping");
	load_fails("server: 5\n", TS_EINVAL, ":1:9: server: expected a mapping");
	load_fails("storage:\n  retention: 7d\n", TS_EINVAL,
		   ":2:14: storage.retention: expected a mapping");
	load_fails("query: [1, 2]\n", TS_EINVAL, ":1:8: query: expected a mapping");
}

static void test_ts_config_load_yaml_errors(void **state)
{
	load_fails("server:\n  threads: 2\n  threads: 3\n", TS_EPARSE,
		   ":3:3: duplicate key 'threads'");
	const char *path = scratch("syntax.yml", "server:\n  threads: [2\n");
	ts_config *c = NULL;
	ts_err err = {0};
	assert_int_equal(ts_config_load(path, &c, &err), TS_EPARSE);
	assert_true(strncmp(err.msg, path, strlen(path)) == 0);
	assert_int_equal(err.msg[strlen(path)], ':');
}

static void test_ts_config_load_missing_file(void **state)
{
	const char *path = DATA_DIR "/no_such_config.yml";
	ts_config *c = NULL;
	ts_err err = {0};
	assert_int_equal(ts_config_load(path, &c, &err), TS_EIO);
	char want[512];
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(err.msg, want);
	assert_null(c);
}

static void test_ts_config_load_enomem_every_step(void **state)
{
	const char *path = DATA_DIR "/config_full.yml";
	int ok_at = -1;
	for (int k = 0; k < 400; k++) {
		ts_config *c = NULL;
		ts_err err = {0};
		ts_alloc_fail_after(k);
		int rc = ts_config_load(path, &c, &err);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK) {
			ok_at = k;
			assert_int_equal(c->server.threads, 16);
			ts_config_free(c);
			break;
		}
		assert_int_equal(rc, TS_ENOMEM);
		assert_non_null(strstr(err.msg, "out of memory"));
		assert_null(c);
	}
	assert_true(ok_at > 20);
}

/* ---------------------------------------------------------------- split_hostport */

static void test_ts_config_split_hostport_valid(void **state)
{
	static const struct {
		const char *in, *host;
		int port;
	} cases[] = {
	    {"127.0.0.1:9470", "127.0.0.1", 9470},
	    {"localhost:80", "localhost", 80},
	    {"[::1]:9470", "::1", 9470},
	    {"[fe80::1%eth0]:1", "fe80::1%eth0", 1},
	    {":9470", "", 9470},
	    {"[]:5", "", 5},
	    {"h:0", "h", 0},
	    {"h:65535", "h", 65535},
	    {"h:00080", "h", 80},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char host[64];
		int port = -1;
		ts_err err = {0};
		if (ts_config_split_hostport(cases[i].in, host, sizeof(host), &port, &err) != TS_OK)
			fail_msg("'%s' rejected: %s", cases[i].in, err.msg);
		assert_string_equal(host, cases[i].host);
		assert_int_equal(port, cases[i].port);
	}
}

static void test_ts_config_split_hostport_invalid(void **state)
{
	const char *bad[] = {"",         "localhost", "host:",     "host:65536", "host:-1",
			     "host:+80", "host: 80",  "host:80 ",  "host:8o",    "::1:9470",
			     "[::1]",    "[::1]9470", "[::1:9470", "a:b:c",      "host:123456",
			     "]:80",     "h]:80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char host[64] = "untouched";
		int port = 42;
		ts_err err = {0};
		if (ts_config_split_hostport(bad[i], host, sizeof(host), &port, &err) != TS_EINVAL)
			fail_msg("'%s' should be rejected (host '%s' port %d)", bad[i], host, port);
		char want[128];
		snprintf(want, sizeof(want), "invalid address '%s' (want host:port)", bad[i]);
		assert_string_equal(err.msg, want);
		assert_string_equal(host, "untouched");
		assert_int_equal(port, 42);
	}
}

static void test_ts_config_split_hostport_host_capacity(void **state)
{
	char host[5];
	int port;
	assert_int_equal(ts_config_split_hostport("abcd:1", host, sizeof(host), &port, NULL),
			 TS_OK);
	assert_string_equal(host, "abcd");
	assert_int_equal(ts_config_split_hostport("abcde:1", host, sizeof(host), &port, NULL),
			 TS_EINVAL);
	assert_int_equal(ts_config_split_hostport("[abcde]:1", host, sizeof(host), &port, NULL),
			 TS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_config_defaults_values),
	    cmocka_unit_test(test_ts_config_defaults_listen_is_valid),
	    cmocka_unit_test_teardown(test_ts_config_defaults_enomem, reset_injection),
	    cmocka_unit_test(test_ts_config_free_null),
	    cmocka_unit_test_teardown(test_ts_config_set_str, reset_injection),
	    cmocka_unit_test(test_ts_config_load_full_example),
	    cmocka_unit_test(test_ts_config_load_examples_file_matches_defaults),
	    cmocka_unit_test(test_ts_config_load_empty_file),
	    cmocka_unit_test(test_ts_config_load_comments_only),
	    cmocka_unit_test(test_ts_config_load_partial_keeps_other_defaults),
	    cmocka_unit_test(test_ts_config_load_null_sections),
	    cmocka_unit_test(test_ts_config_load_listen_forms),
	    cmocka_unit_test(test_ts_config_load_flow_style),
	    cmocka_unit_test(test_ts_config_load_unknown_key_fixture),
	    cmocka_unit_test(test_ts_config_load_unknown_top_level_key),
	    cmocka_unit_test(test_ts_config_load_unknown_key_each_section),
	    cmocka_unit_test(test_ts_config_load_bad_duration_fixture),
	    cmocka_unit_test(test_ts_config_load_bad_durations),
	    cmocka_unit_test(test_ts_config_load_duration_out_of_range),
	    cmocka_unit_test(test_ts_config_load_bad_integers),
	    cmocka_unit_test(test_ts_config_load_bad_bytes),
	    cmocka_unit_test(test_ts_config_load_bad_listen_fixture),
	    cmocka_unit_test(test_ts_config_load_bad_listen_forms),
	    cmocka_unit_test(test_ts_config_load_bad_log_level),
	    cmocka_unit_test(test_ts_config_load_wrong_node_kinds),
	    cmocka_unit_test(test_ts_config_load_yaml_errors),
	    cmocka_unit_test(test_ts_config_load_missing_file),
	    cmocka_unit_test_teardown(test_ts_config_load_enomem_every_step, reset_injection),
	    cmocka_unit_test(test_ts_config_split_hostport_valid),
	    cmocka_unit_test(test_ts_config_split_hostport_invalid),
	    cmocka_unit_test(test_ts_config_split_hostport_host_capacity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
