/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_log.c: unit tests for common/log.c.
 *
 * Every test logs into a tmpfile (ts_log_set_file) and reads the lines back: the logfmt
 * layout (ts, level, caller, msg), escaping of quotes, backslashes and control bytes,
 * truncation of long messages, level filtering (arguments not evaluated when filtered),
 * the per-level line counters (globals.h, internal to common/ and its tests), stderr as
 * the default sink, and whole lines under concurrent writers.
 */
#include "common/common.h"
#include "common/globals.h"

#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static FILE *g_out; /* the tmpfile of the running test */

static int setup(void **state)
{
	g_out = tmpfile();
	if (!g_out)
		return -1;
	ts_log_set_file(g_out);
	ts_log_set_level(TS_LOG_INFO);
	return 0;
}

static int teardown(void **state)
{
	ts_log_set_file(NULL);
	ts_log_set_level(TS_LOG_INFO);
	fclose(g_out);
	g_out = NULL;
	return 0;
}

/* Everything written so far (owned by the caller, free()). */
static char *slurp(FILE *f, size_t *len)
{
	fflush(f);
	long end = ftell(f);
	assert_true(end >= 0);
	char *s = malloc((size_t)end + 1);
	assert_non_null(s);
	rewind(f);
	size_t got = fread(s, 1, (size_t)end, f);
	assert_int_equal(got, (size_t)end);
	s[got] = '\0';
	fseek(f, 0, SEEK_END);
	if (len)
		*len = got;
	return s;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The msg="..." value of a single line, without the quotes (owned). */
static char *msg_of(const char *line)
{
	const char *p = strstr(line, " msg=\"");
	assert_non_null(p);
	p += 6;
	const char *e = strrchr(p, '"');
	assert_non_null(e);
	char *m = strndup(p, (size_t)(e - p));
	assert_non_null(m);
	return m;
}

static void assert_matches(const char *s, const char *pattern)
{
	regex_t re;
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	int rc = regexec(&re, s, 0, NULL, 0);
	regfree(&re);
	if (rc != 0)
		fail_msg("'%s' does not match /%s/", s, pattern);
}

static void test_ts_log_write_logfmt_layout(void **state)
{
	ts_log_info("hello %d", 42);
	char *s = slurp(g_out, NULL);
	assert_matches(s, "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
			  "level=info caller=common/test_log\\.c:[0-9]+ msg=\"hello 42\"\n$");
	free(s);
}

static void test_ts_log_write_caller_line_is_exact(void **state)
{
	int line = __LINE__ + 1;
	ts_log_warn("x");
	char *s = slurp(g_out, NULL);
	char want[64];
	snprintf(want, sizeof(want), "caller=common/test_log.c:%d ", line);
	assert_non_null(strstr(s, want));
	assert_non_null(strstr(s, "level=warn "));
	free(s);
}

static void test_ts_log_write_caller_path_shortened(void **state)
{
	ts_log_write(TS_LOG_ERROR, "/very/long/path/tsdb/head.c", 120, "m");
	ts_log_write(TS_LOG_ERROR, "plain.c", 1, "m");
	ts_log_write(TS_LOG_ERROR, "web/api.c", 2, "m");
	char *s = slurp(g_out, NULL);
	assert_non_null(strstr(s, "caller=tsdb/head.c:120 "));
	assert_non_null(strstr(s, "caller=plain.c:1 "));
	assert_non_null(strstr(s, "caller=web/api.c:2 "));
	assert_null(strstr(s, "/very"));
	free(s);
}

static void test_ts_log_write_timestamp_is_now_utc(void **state)
{
	int64_t before = ts_now_ms();
	ts_log_error("t");
	int64_t after = ts_now_ms();
	char *s = slurp(g_out, NULL);
	assert_true(strncmp(s, "ts=", 3) == 0);
	int64_t t;
	assert_int_equal(ts_parse_time_ms(s + 3, 24, &t, NULL), TS_OK);
	/* Millisecond truncation: t may be up to 1 ms before `before`. */
	assert_true(t >= before - 1 && t <= after);
	free(s);
}

static void test_ts_log_write_each_level_name(void **state)
{
	ts_log_set_level(TS_LOG_DEBUG);
	ts_log_error("e");
	ts_log_warn("w");
	ts_log_info("i");
	ts_log_debug("d");
	char *s = slurp(g_out, NULL);
	assert_int_equal(count_lines(s), 4);
	const char *p = strstr(s, "level=error ");
	assert_non_null(p);
	p = strstr(p, "level=warn ");
	assert_non_null(p);
	p = strstr(p, "level=info ");
	assert_non_null(p);
	p = strstr(p, "level=debug ");
	assert_non_null(p);
	free(s);
}

static void test_ts_log_write_escapes_quotes_and_backslashes(void **state)
{
	ts_log_info("say \"hi\" to C:\\dir");
	char *s = slurp(g_out, NULL);
	char *m = msg_of(s);
	assert_string_equal(m, "say \\\"hi\\\" to C:\\\\dir");
	free(m);
	free(s);
}

static void test_ts_log_write_escapes_newline_keeps_one_line(void **state)
{
	ts_log_info("first\nsecond\n");
	char *s = slurp(g_out, NULL);
	assert_int_equal(count_lines(s), 1);
	char *m = msg_of(s);
	assert_string_equal(m, "first\\nsecond\\n");
	free(m);
	free(s);
}

static void test_ts_log_write_escapes_control_bytes(void **state)
{
	ts_log_info("a\rb\tc\x01"
		    "d\x1f"
		    "e\x7f"
		    "f");
	char *s = slurp(g_out, NULL);
	assert_int_equal(count_lines(s), 1);
	assert_null(strchr(s, '\r'));
	char *m = msg_of(s);
	assert_string_equal(m, "a\\rb\\tc\\u0001d\\u001fe\\u007ff");
	free(m);
	free(s);
}

static void test_ts_log_write_utf8_passes_through(void **state)
{
	ts_log_info("température %s", "\xe2\x82\xac");
	char *s = slurp(g_out, NULL);
	char *m = msg_of(s);
	assert_string_equal(m, "température \xe2\x82\xac");
	free(m);
	free(s);
}

static void test_ts_log_write_long_message_truncated_to_one_line(void **state)
{
	char *big = malloc(5000);
	assert_non_null(big);
	memset(big, 'z', 4999);
	big[4999] = '\0';
	ts_log_info("%s", big);
	free(big);
	size_t len;
	char *s = slurp(g_out, &len);
	assert_int_equal(count_lines(s), 1);
	assert_true(len <= 2048);
	assert_true(len > 1000);
	assert_int_equal(s[len - 1], '\n');
	assert_int_equal(s[len - 2], '"');
	free(s);
}

static void test_ts_log_write_truncation_never_splits_escape(void **state)
{
	/* 1500 quotes become 3000 escaped bytes: the buffer fills mid-way. Whatever the cut,
	 * the closing quote must not itself be escaped (even run of backslashes before it). */
	for (int shift = 0; shift < 8; shift++) {
		char big[1536];
		memset(big, '"', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		ts_log_write(TS_LOG_INFO, "x/y.c", 1, "%.*s%s", shift, "aaaaaaa", big);
	}
	char *s = slurp(g_out, NULL);
	assert_int_equal(count_lines(s), 8);
	for (char *line = s, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		assert_int_equal(nl[-1], '"');
		size_t bs = 0;
		for (char *q = nl - 2; q > line && *q == '\\'; q--)
			bs++;
		assert_int_equal(bs % 2, 0);
	}
	free(s);
}

static void test_ts_log_write_truncation_of_control_escape(void **state)
{
	/* \u00XX escapes are 6 bytes; they too are written whole or not at all. */
	char big[1536];
	memset(big, '\x02', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int shift = 0; shift < 6; shift++)
		ts_log_write(TS_LOG_INFO, "x/y.c", 1, "%.*s%s", shift, "bbbbb", big);
	char *s = slurp(g_out, NULL);
	assert_int_equal(count_lines(s), 6);
	for (char *line = s, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		char *m = strstr(line, "msg=\"") + 5;
		while (*m == 'b')
			m++;
		size_t body = (size_t)(nl - 1 - m);
		assert_int_equal(body % 6, 0);
	}
	free(s);
}

static void test_ts_log_enabled_levels(void **state)
{
	ts_log_set_level(TS_LOG_WARN);
	assert_true(ts_log_enabled(TS_LOG_ERROR));
	assert_true(ts_log_enabled(TS_LOG_WARN));
	assert_false(ts_log_enabled(TS_LOG_INFO));
	assert_false(ts_log_enabled(TS_LOG_DEBUG));
	ts_log_set_level(TS_LOG_ERROR);
	assert_false(ts_log_enabled(TS_LOG_WARN));
	ts_log_set_level(TS_LOG_DEBUG);
	assert_true(ts_log_enabled(TS_LOG_DEBUG));
}

static void test_ts_log_set_level_filters_output(void **state)
{
	ts_log_set_level(TS_LOG_WARN);
	ts_log_debug("no-debug");
	ts_log_info("no-info");
	ts_log_warn("yes-warn");
	ts_log_error("yes-error");
	char *s = slurp(g_out, NULL);
	assert_int_equal(count_lines(s), 2);
	assert_null(strstr(s, "no-"));
	assert_non_null(strstr(s, "yes-warn"));
	assert_non_null(strstr(s, "yes-error"));
	free(s);
}

static int g_evaluated;
static int side_effect(void)
{
	return ++g_evaluated;
}

static void test_ts_log_macros_skip_argument_evaluation(void **state)
{
	g_evaluated = 0;
	ts_log_set_level(TS_LOG_INFO);
	ts_log_debug("%d", side_effect());
	assert_int_equal(g_evaluated, 0);
	ts_log_info("%d", side_effect());
	assert_int_equal(g_evaluated, 1);
}

static void test_ts_log_write_counts_lines_per_level(void **state)
{
	uint64_t e0 = atomic_load(&ts_g_stats.log_lines[TS_LOG_ERROR]);
	uint64_t w0 = atomic_load(&ts_g_stats.log_lines[TS_LOG_WARN]);
	uint64_t d0 = atomic_load(&ts_g_stats.log_lines[TS_LOG_DEBUG]);
	ts_log_error("1");
	ts_log_error("2");
	ts_log_warn("3");
	ts_log_debug("filtered, not counted");
	assert_int_equal(atomic_load(&ts_g_stats.log_lines[TS_LOG_ERROR]) - e0, 2);
	assert_int_equal(atomic_load(&ts_g_stats.log_lines[TS_LOG_WARN]) - w0, 1);
	assert_int_equal(atomic_load(&ts_g_stats.log_lines[TS_LOG_DEBUG]) - d0, 0);
}

static void test_ts_log_level_parse_known(void **state)
{
	assert_int_equal(ts_log_level_parse("error"), TS_LOG_ERROR);
	assert_int_equal(ts_log_level_parse("warn"), TS_LOG_WARN);
	assert_int_equal(ts_log_level_parse("info"), TS_LOG_INFO);
	assert_int_equal(ts_log_level_parse("debug"), TS_LOG_DEBUG);
}

static void test_ts_log_level_parse_unknown(void **state)
{
	assert_int_equal(ts_log_level_parse(""), -1);
	assert_int_equal(ts_log_level_parse("INFO"), -1);
	assert_int_equal(ts_log_level_parse("warning"), -1);
	assert_int_equal(ts_log_level_parse("info "), -1);
	assert_int_equal(ts_log_level_parse("trace"), -1);
	assert_int_equal(ts_log_level_parse(NULL), -1);
}

static void test_ts_log_set_file_null_means_stderr(void **state)
{
	FILE *cap = tmpfile();
	assert_non_null(cap);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(cap), STDERR_FILENO) >= 0);
	ts_log_set_file(NULL);
	ts_log_error("to-stderr");
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	ts_log_set_file(g_out);
	fseek(cap, 0, SEEK_END);
	char *s = slurp(cap, NULL);
	assert_non_null(strstr(s, "msg=\"to-stderr\"\n"));
	free(s);
	fclose(cap);
	char *o = slurp(g_out, NULL);
	assert_string_equal(o, "");
	free(o);
}

enum { N_THREADS = 4, N_LINES = 300 };

static void *writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	char pad[300];
	memset(pad, 'a' + id, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < N_LINES; i++)
		ts_log_info("t%d i%d %s", id, i, pad);
	return NULL;
}

static void test_ts_log_write_concurrent_lines_do_not_interleave(void **state)
{
	pthread_t th[N_THREADS];
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(th[i], NULL);
	char *s = slurp(g_out, NULL);
	assert_int_equal(count_lines(s), N_THREADS * N_LINES);
	for (char *line = s, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = '\0';
		assert_true(strncmp(line, "ts=", 3) == 0);
		char *m = msg_of(line);
		int id, i;
		assert_int_equal(sscanf(m, "t%d i%d", &id, &i), 2);
		char *pad = strrchr(m, ' ') + 1;
		assert_int_equal(strlen(pad), 299);
		assert_int_equal(strspn(pad, (char[]){(char)('a' + id), 0}), 299);
		free(m);
	}
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ts_log_write_logfmt_layout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_caller_line_is_exact, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_caller_path_shortened, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_timestamp_is_now_utc, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_each_level_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_escapes_quotes_and_backslashes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_escapes_newline_keeps_one_line, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_escapes_control_bytes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_utf8_passes_through, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_long_message_truncated_to_one_line,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_truncation_never_splits_escape, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_truncation_of_control_escape, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_enabled_levels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_set_level_filters_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_macros_skip_argument_evaluation, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_counts_lines_per_level, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_level_parse_known, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_level_parse_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_set_file_null_means_stderr, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_ts_log_write_concurrent_lines_do_not_interleave,
					    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
