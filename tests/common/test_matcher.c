/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_matcher.c: unit tests for common/matcher.c (label matchers over pcre2).
 *
 * The semantics are Prometheus': regexes are fully anchored (`"foo" =~ "fo"` is false,
 * alternations are anchored as a whole), `.` does not match newlines (Prometheus 2.x), `$` is the
 * end of the value only, an absent label is the empty string, and a bad pattern is TS_EINVAL with
 * pcre2's message and the offset in the pattern. Includes unbalanced patterns that
 * would escape textual ^(?:...)$ anchoring and concurrent use of one compiled matcher.
 */
#include "common/common.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int reset_injection(void **state)
{
	ts_alloc_fail_after(-1);
	return 0;
}

/* Does `value` satisfy `name op pattern`? Fails the test if the matcher is invalid. */
static bool m(ts_match_type type, const char *pattern, const char *value)
{
	ts_matcher mt;
	ts_err err = {0};
	int rc = ts_matcher_init(&mt, type, "l", pattern, &err);
	if (rc != TS_OK)
		fail_msg("matcher '%s' rejected: %s", pattern, err.msg);
	bool r = ts_matcher_matches(&mt, value);
	ts_matcher_fini(&mt);
	return r;
}

static void test_ts_matcher_matches_eq(void **state)
{
	assert_true(m(TS_MATCH_EQ, "foo", "foo"));
	assert_false(m(TS_MATCH_EQ, "foo", "fo"));
	assert_false(m(TS_MATCH_EQ, "foo", "foox"));
	assert_false(m(TS_MATCH_EQ, "foo", "Foo"));
	assert_false(m(TS_MATCH_EQ, "foo", NULL));
	assert_false(m(TS_MATCH_EQ, "foo", ""));
	assert_true(m(TS_MATCH_EQ, "fo.*", "fo.*")); /* no regex meaning */
}

static void test_ts_matcher_matches_eq_empty_selects_absent(void **state)
{
	assert_true(m(TS_MATCH_EQ, "", NULL));
	assert_true(m(TS_MATCH_EQ, "", ""));
	assert_false(m(TS_MATCH_EQ, "", "x"));
}

static void test_ts_matcher_matches_neq(void **state)
{
	assert_false(m(TS_MATCH_NEQ, "foo", "foo"));
	assert_true(m(TS_MATCH_NEQ, "foo", "bar"));
	assert_true(m(TS_MATCH_NEQ, "foo", NULL)); /* absent label is not "foo" */
	assert_true(m(TS_MATCH_NEQ, "foo", ""));
	assert_true(m(TS_MATCH_NEQ, "", "x"));
	assert_false(m(TS_MATCH_NEQ, "", NULL)); /* != "" means "has the label" */
	assert_false(m(TS_MATCH_NEQ, "", ""));
}

static void test_ts_matcher_matches_re_fully_anchored(void **state)
{
	assert_false(m(TS_MATCH_RE, "fo", "foo"));
	assert_true(m(TS_MATCH_RE, "fo.*", "foo"));
	assert_true(m(TS_MATCH_RE, "foo", "foo"));
	assert_false(m(TS_MATCH_RE, "oo", "foo"));
	assert_true(m(TS_MATCH_RE, ".*oo", "foo"));
	assert_false(m(TS_MATCH_RE, "o", "foo"));
}

static void test_ts_matcher_matches_re_alternation_anchored(void **state)
{
	assert_true(m(TS_MATCH_RE, "a|b", "a"));
	assert_true(m(TS_MATCH_RE, "a|b", "b"));
	assert_false(m(TS_MATCH_RE, "a|b", "ab"));
	assert_false(m(TS_MATCH_RE, "a|b", "xb"));
	assert_false(m(TS_MATCH_RE, "a|b", "ax"));
	assert_true(m(TS_MATCH_RE, "a|ab", "ab")); /* backtracks into the 2nd branch */
	assert_true(m(TS_MATCH_RE, "(a|ab)(c|bcd)", "abcd"));
	assert_true(m(TS_MATCH_RE, "prod|staging|dev", "staging"));
	assert_false(m(TS_MATCH_RE, "prod|staging|dev", "production"));
}

static void test_ts_matcher_matches_re_dot_does_not_match_newline(void **state)
{
	/* Prometheus 2.x compiles ^(?:re)$ with Go's defaults: '.' stops at newlines. */
	assert_false(m(TS_MATCH_RE, "a.b", "a\nb"));
	assert_false(m(TS_MATCH_RE, ".*", "line1\nline2"));
	assert_true(m(TS_MATCH_RE, "(?s).*", "line1\nline2"));
	assert_true(m(TS_MATCH_RE, "line1\\nline2", "line1\nline2"));
}

static void test_ts_matcher_matches_re_no_match_before_final_newline(void **state)
{
	/* Go's $ is end of text; PCRE2's default $ also matches before a final "\n". */
	assert_false(m(TS_MATCH_RE, "foo", "foo\n"));
	assert_false(m(TS_MATCH_RE, "foo$", "foo\n"));
	assert_true(m(TS_MATCH_RE, "foo$", "foo"));
	assert_true(m(TS_MATCH_RE, "foo\n", "foo\n"));
	assert_true(m(TS_MATCH_NRE, "foo", "foo\n"));
}

static void test_ts_matcher_matches_re_case_and_flags(void **state)
{
	assert_false(m(TS_MATCH_RE, "foo", "FOO"));
	assert_true(m(TS_MATCH_RE, "(?i)foo", "FOO"));
	assert_true(m(TS_MATCH_RE, "[a-c]+[0-9]{2}", "abc42"));
	assert_false(m(TS_MATCH_RE, "[a-c]+[0-9]{2}", "abc4"));
	assert_true(m(TS_MATCH_RE, "\\d+\\.\\d+", "10.25"));
	assert_false(m(TS_MATCH_RE, "\\d+\\.\\d+", "10x25"));
}

static void test_ts_matcher_matches_re_utf8(void **state)
{
	assert_true(m(TS_MATCH_RE, ".", "\xc3\xa9"));                  /* é is one character */
	assert_true(m(TS_MATCH_RE, "..", "\xe6\x97\xa5\xe6\x9c\xac")); /* 日本 */
	assert_false(m(TS_MATCH_RE, "...", "\xe6\x97\xa5\xe6\x9c\xac"));
	assert_true(m(TS_MATCH_RE, "caf\xc3\xa9", "caf\xc3\xa9"));
}

static void test_ts_matcher_matches_re_invalid_utf8_subject(void **state)
{
	/* Documented: a value that is not UTF-8 never matches a regex. */
	assert_false(m(TS_MATCH_RE, ".*", "\xff"));
	assert_true(m(TS_MATCH_NRE, ".*", "\xff"));
}

static void test_ts_matcher_matches_re_empty_value_semantics(void **state)
{
	assert_true(m(TS_MATCH_RE, "", NULL));
	assert_true(m(TS_MATCH_RE, "", ""));
	assert_false(m(TS_MATCH_RE, "", "x"));
	assert_true(m(TS_MATCH_RE, ".*", NULL));
	assert_false(m(TS_MATCH_RE, ".+", NULL));
	assert_true(m(TS_MATCH_RE, "foo|", NULL)); /* alternation with empty */
	assert_false(m(TS_MATCH_RE, "foo", NULL));
}

static void test_ts_matcher_matches_nre(void **state)
{
	assert_true(m(TS_MATCH_NRE, "fo", "foo")); /* anchored, so "fo" does not match */
	assert_false(m(TS_MATCH_NRE, "fo.*", "foo"));
	assert_false(m(TS_MATCH_NRE, "a|b", "b"));
	assert_true(m(TS_MATCH_NRE, "a|b", "ab"));
	assert_true(m(TS_MATCH_NRE, "foo", NULL));
	assert_false(m(TS_MATCH_NRE, "", NULL));
	assert_true(m(TS_MATCH_NRE, "", "x"));
	assert_false(m(TS_MATCH_NRE, ".*", NULL));
}

static void test_ts_matcher_matches_empty_each_type(void **state)
{
	static const struct {
		ts_match_type type;
		const char *pattern;
		bool want;
	} cases[] = {
	    {TS_MATCH_EQ, "", true},   {TS_MATCH_EQ, "x", false},   {TS_MATCH_NEQ, "", false},
	    {TS_MATCH_NEQ, "x", true}, {TS_MATCH_RE, ".*", true},   {TS_MATCH_RE, ".+", false},
	    {TS_MATCH_RE, "x?", true}, {TS_MATCH_NRE, ".*", false}, {TS_MATCH_NRE, "x", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ts_matcher mt;
		assert_int_equal(ts_matcher_init(&mt, cases[i].type, "l", cases[i].pattern, NULL),
				 TS_OK);
		if (ts_matcher_matches_empty(&mt) != cases[i].want)
			fail_msg("case %zu: %s \"%s\" matches_empty should be %d", i,
				 ts_match_type_str(cases[i].type), cases[i].pattern, cases[i].want);
		ts_matcher_fini(&mt);
	}
}

/* ---------------------------------------------------------------- errors */

static void assert_bad_regex(const char *pattern, size_t offset, const char *what)
{
	ts_matcher mt;
	ts_err err = {0};
	assert_int_equal(ts_matcher_init(&mt, TS_MATCH_RE, "job", pattern, &err), TS_EINVAL);
	assert_int_equal(err.code, TS_EINVAL);
	char want[128];
	snprintf(want, sizeof(want), "invalid regex '%s' at offset %zu: ", pattern, offset);
	if (strncmp(err.msg, want, strlen(want)) != 0)
		fail_msg("message '%s' does not start with '%s'", err.msg, want);
	if (what && !strstr(err.msg, what))
		fail_msg("message '%s' lacks '%s'", err.msg, what);
	assert_null(mt.name);
	assert_null(mt.value);
	assert_null(mt.re);
	ts_matcher_fini(&mt); /* safe after a failed init */
}

static void test_ts_matcher_init_invalid_regex(void **state)
{
	assert_bad_regex("(", 1, "missing closing parenthesis");
	assert_bad_regex("foo(bar", 7, "missing closing parenthesis");
	assert_bad_regex("a)", 1, "unmatched closing parenthesis");
	assert_bad_regex("*a", 0, "quantifier does not follow");
	assert_bad_regex("[z-a]", 3, "range out of order");
	assert_bad_regex("ab\\", 3, "\\ at end of pattern");
}

static void test_ts_matcher_init_unbalanced_cannot_escape_anchors(void **state)
{
	/* Wrapped as ^(?:a)|(b)$ these would compile and match "axxx"; they are invalid. */
	assert_bad_regex("a)|(b", 1, NULL);
	assert_bad_regex(".*)|(.*", 2, NULL);
	assert_bad_regex("x)(?:y", 1, NULL);
}

static void test_ts_matcher_init_invalid_utf8_pattern(void **state)
{
	ts_matcher mt;
	ts_err err = {0};
	assert_int_equal(ts_matcher_init(&mt, TS_MATCH_NRE, "l", "ab\xff", &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "UTF-8"));
	assert_int_equal(ts_matcher_init(&mt, TS_MATCH_RE, "l", "\xc3", &err), TS_EINVAL);
}

static void test_ts_matcher_init_eq_never_compiles(void **state)
{
	/* Not a regex: "(" is fine for = and !=. */
	ts_matcher mt;
	assert_int_equal(ts_matcher_init(&mt, TS_MATCH_EQ, "l", "(", NULL), TS_OK);
	assert_null(mt.re);
	assert_true(ts_matcher_matches(&mt, "("));
	ts_matcher_fini(&mt);
	assert_int_equal(ts_matcher_init(&mt, TS_MATCH_NEQ, "l", "[", NULL), TS_OK);
	assert_null(mt.re);
	ts_matcher_fini(&mt);
}

static void test_ts_matcher_init_copies_name_and_value(void **state)
{
	char name[] = "job", value[] = "api|web";
	ts_matcher mt;
	assert_int_equal(ts_matcher_init(&mt, TS_MATCH_RE, name, value, NULL), TS_OK);
	assert_ptr_not_equal(mt.name, name);
	assert_ptr_not_equal(mt.value, value);
	name[0] = 'X';
	value[0] = 'X';
	assert_string_equal(mt.name, "job");
	assert_string_equal(mt.value, "api|web");
	assert_true(ts_matcher_matches(&mt, "api"));
	assert_int_equal(mt.type, TS_MATCH_RE);
	assert_non_null(mt.re);
	ts_matcher_fini(&mt);
	assert_null(mt.name);
	assert_null(mt.re);
	ts_matcher_fini(&mt); /* twice is fine */
	ts_matcher_fini(NULL);
}

static void test_ts_matcher_init_enomem(void **state)
{
	for (int after = 0; after < 2; after++) {
		ts_matcher mt;
		ts_err err = {0};
		ts_alloc_fail_after(after);
		assert_int_equal(ts_matcher_init(&mt, TS_MATCH_RE, "job", "a.*", &err), TS_ENOMEM);
		ts_alloc_fail_after(-1);
		assert_int_equal(err.code, TS_ENOMEM);
		assert_non_null(strstr(err.msg, "out of memory"));
		assert_null(mt.name);
		assert_null(mt.value);
		assert_null(mt.re);
	}
}

static void test_ts_matcher_init_null_err(void **state)
{
	ts_matcher mt;
	assert_int_equal(ts_matcher_init(&mt, TS_MATCH_RE, "l", "(", NULL), TS_EINVAL);
}

static void test_ts_match_type_str(void **state)
{
	assert_string_equal(ts_match_type_str(TS_MATCH_EQ), "=");
	assert_string_equal(ts_match_type_str(TS_MATCH_NEQ), "!=");
	assert_string_equal(ts_match_type_str(TS_MATCH_RE), "=~");
	assert_string_equal(ts_match_type_str(TS_MATCH_NRE), "!~");
	assert_string_equal(ts_match_type_str((ts_match_type)42), "?");
}

/* ---------------------------------------------------------------- threads */

enum { N_THREADS = 4, N_ROUNDS = 2000 };

typedef struct shared_matcher {
	const ts_matcher *m;
	int wrong;
} shared_matcher;

static void *match_worker(void *arg)
{
	shared_matcher *s = arg;
	char buf[32];
	for (int i = 0; i < N_ROUNDS; i++) {
		snprintf(buf, sizeof(buf), "host-%d.example", i);
		bool want = i % 10 == 7;
		if (ts_matcher_matches(s->m, buf) != want)
			s->wrong++;
	}
	return NULL;
}

static void test_ts_matcher_matches_concurrent(void **state)
{
	ts_matcher mt;
	assert_int_equal(
	    ts_matcher_init(&mt, TS_MATCH_RE, "instance", "host-[0-9]*7\\.example", NULL), TS_OK);
	shared_matcher s[N_THREADS];
	pthread_t th[N_THREADS];
	for (int i = 0; i < N_THREADS; i++) {
		s[i].m = &mt;
		s[i].wrong = 0;
		assert_int_equal(pthread_create(&th[i], NULL, match_worker, &s[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(s[i].wrong, 0);
	}
	ts_matcher_fini(&mt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_matcher_matches_eq),
	    cmocka_unit_test(test_ts_matcher_matches_eq_empty_selects_absent),
	    cmocka_unit_test(test_ts_matcher_matches_neq),
	    cmocka_unit_test(test_ts_matcher_matches_re_fully_anchored),
	    cmocka_unit_test(test_ts_matcher_matches_re_alternation_anchored),
	    cmocka_unit_test(test_ts_matcher_matches_re_dot_does_not_match_newline),
	    cmocka_unit_test(test_ts_matcher_matches_re_no_match_before_final_newline),
	    cmocka_unit_test(test_ts_matcher_matches_re_case_and_flags),
	    cmocka_unit_test(test_ts_matcher_matches_re_utf8),
	    cmocka_unit_test(test_ts_matcher_matches_re_invalid_utf8_subject),
	    cmocka_unit_test(test_ts_matcher_matches_re_empty_value_semantics),
	    cmocka_unit_test(test_ts_matcher_matches_nre),
	    cmocka_unit_test(test_ts_matcher_matches_empty_each_type),
	    cmocka_unit_test(test_ts_matcher_init_invalid_regex),
	    cmocka_unit_test(test_ts_matcher_init_unbalanced_cannot_escape_anchors),
	    cmocka_unit_test(test_ts_matcher_init_invalid_utf8_pattern),
	    cmocka_unit_test(test_ts_matcher_init_eq_never_compiles),
	    cmocka_unit_test(test_ts_matcher_init_copies_name_and_value),
	    cmocka_unit_test_teardown(test_ts_matcher_init_enomem, reset_injection),
	    cmocka_unit_test(test_ts_matcher_init_null_err),
	    cmocka_unit_test(test_ts_match_type_str),
	    cmocka_unit_test(test_ts_matcher_matches_concurrent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
