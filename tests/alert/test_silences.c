/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_silences.c: tests for alert/silences.c: creation and Alertmanager's validation
 * messages, states over time, muting by matchers, update in place versus expire-and-
 * replace, expiry, persistence across reopen (and corrupt files), garbage collection,
 * the v2 API JSON forms, and allocation failures.
 */
#include "alert/notify_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char path[600];

#define T0 1700000000000LL /* "now" in these tests */
#define H  3600000LL

static int setup(void **state)
{
	char dir[400];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(dir, sizeof(dir), "%s/silences", STRATA_TEST_TMP);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/silences.bin", dir);
	unlink(path);
	return 0;
}

static alert_silences *open_s(void)
{
	alert_silences *s = NULL;
	ts_err e = {0};
	if (alert_silences_open(path, 10 * H, &s, &e))
		fail_msg("%s", e.msg);
	return s;
}

/* A silence on alertname=<name> from start to end. */
static void mk(alert_silence *s, const char *name, int64_t start, int64_t end)
{
	memset(s, 0, sizeof(*s));
	s->matchers = ts_calloc(2, sizeof(ts_matcher));
	assert_int_equal(ts_matcher_init(&s->matchers[0], TS_MATCH_EQ, "alertname", name, NULL),
			 TS_OK);
	s->n_matchers = 1;
	s->starts_at_ms = start;
	s->ends_at_ms = end;
	s->created_by = ts_strdup("me");
	s->comment = ts_strdup("maintenance");
}

static void test_alert_silences_create_validate(void **state)
{
	unlink(path);
	alert_silences *s = open_s();
	alert_silence in;
	char id[ALERT_SILENCE_ID_LEN + 1];
	ts_err e = {0};
	mk(&in, "X", T0 - H, T0 + H);
	assert_int_equal(alert_silences_set(s, &in, T0, id, &e), TS_OK);
	assert_int_equal(strlen(id), 36);
	assert_int_equal(id[14], '4'); /* UUID v4 */
	alert_silence got;
	assert_int_equal(alert_silences_get(s, id, &got, &e), TS_OK);
	assert_int_equal(got.starts_at_ms, T0); /* a start in the past becomes now */
	assert_int_equal(got.ends_at_ms, T0 + H);
	assert_int_equal(got.updated_at_ms, T0);
	assert_string_equal(got.comment, "maintenance");
	assert_int_equal(alert_silence_state_at(&got, T0), ALERT_SILENCE_ACTIVE);
	assert_int_equal(alert_silence_state_at(&got, T0 + H), ALERT_SILENCE_EXPIRED);
	alert_silence_fini(&got);

	/* end in the past, end before start, no matchers, all-empty matchers */
	in.ends_at_ms = T0 - 1;
	assert_int_equal(alert_silences_set(s, &in, T0, id, &e), TS_EINVAL);
	assert_string_equal(e.msg, "Failed to create silence: end time can't be in the past");
	in.starts_at_ms = T0 + 10;
	in.ends_at_ms = T0 + 5;
	assert_int_equal(alert_silences_set(s, &in, T0, id, &e), TS_EINVAL);
	assert_string_equal(e.msg, "Failed to create silence: start time must be before end time");
	in.starts_at_ms = T0;
	in.ends_at_ms = T0 + H;
	in.n_matchers = 0;
	assert_int_equal(alert_silences_set(s, &in, T0, id, &e), TS_EINVAL);
	assert_string_equal(e.msg, "silence invalid: at least one matcher required");
	in.n_matchers = 1;
	ts_matcher_fini(&in.matchers[0]);
	ts_matcher_init(&in.matchers[0], TS_MATCH_RE, "a", ".*", NULL);
	assert_int_equal(alert_silences_set(s, &in, T0, id, &e), TS_EINVAL);
	assert_string_equal(e.msg, "silence invalid: at least one matcher must not match the "
				   "empty string");
	/* unknown id */
	ts_matcher_fini(&in.matchers[0]);
	ts_matcher_init(&in.matchers[0], TS_MATCH_EQ, "a", "b", NULL);
	memcpy(in.id, "00000000-0000-4000-8000-000000000000", 37);
	assert_int_equal(alert_silences_set(s, &in, T0, id, &e), TS_ENOTFOUND);
	alert_silence_fini(&in);
	alert_silences_close(s);
}

static void test_alert_silences_mutes_and_states(void **state)
{
	unlink(path);
	alert_silences *s = open_s();
	alert_silence in;
	char id1[37], id2[37];
	ts_err e = {0};
	mk(&in, "X", T0, T0 + H);
	alert_silences_set(s, &in, T0, id1, &e);
	alert_silence_fini(&in);
	mk(&in, "X", T0 + 2 * H, T0 + 3 * H); /* pending */
	alert_silences_set(s, &in, T0, id2, &e);
	alert_silence_fini(&in);
	const ts_label x[] = {{"alertname", "X"}, {"job", "j"}}, y[] = {{"alertname", "Y"}};
	char ids[4][37];
	assert_int_equal(alert_silences_mutes(s, x, 2, T0 + 1, ids, 4), 1);
	assert_string_equal(ids[0], id1);
	assert_int_equal(alert_silences_mutes(s, y, 1, T0 + 1, ids, 4), 0);
	assert_int_equal(alert_silences_mutes(s, x, 2, T0 + H, NULL, 0), 0); /* expired */
	assert_int_equal(alert_silences_mutes(s, x, 2, T0 + 2 * H, ids, 4), 1);
	assert_string_equal(ids[0], id2);
	size_t c[3];
	alert_silences_count(s, T0 + 1, c);
	assert_int_equal(c[ALERT_SILENCE_ACTIVE], 1);
	assert_int_equal(c[ALERT_SILENCE_PENDING], 1);
	/* expire: active ends now; pending ends at once; again is fine */
	assert_int_equal(alert_silences_expire(s, id1, T0 + 10, &e), TS_OK);
	assert_int_equal(alert_silences_expire(s, id2, T0 + 10, &e), TS_OK);
	assert_int_equal(alert_silences_expire(s, id2, T0 + 20, &e), TS_OK);
	assert_int_equal(alert_silences_expire(s, "nope", T0, &e), TS_ENOTFOUND);
	assert_int_equal(alert_silences_mutes(s, x, 2, T0 + 10, NULL, 0), 0);
	alert_silence got;
	alert_silences_get(s, id2, &got, &e);
	assert_int_equal(got.starts_at_ms, T0 + 10);
	assert_int_equal(got.ends_at_ms, T0 + 10);
	alert_silence_fini(&got);
	alert_silences_close(s);
}

static void test_alert_silences_update_rules(void **state)
{
	unlink(path);
	alert_silences *s = open_s();
	alert_silence in;
	char id[37], id2[37];
	ts_err e = {0};
	mk(&in, "X", T0, T0 + H);
	alert_silences_set(s, &in, T0, id, &e);
	/* same matchers, same start, new end: updated in place */
	memcpy(in.id, id, 37);
	in.ends_at_ms = T0 + 2 * H;
	assert_int_equal(alert_silences_set(s, &in, T0 + 5, id2, &e), TS_OK);
	assert_string_equal(id2, id);
	/* changed matchers: old one expired, new id */
	ts_matcher_fini(&in.matchers[0]);
	ts_matcher_init(&in.matchers[0], TS_MATCH_EQ, "alertname", "Z", NULL);
	assert_int_equal(alert_silences_set(s, &in, T0 + 10, id2, &e), TS_OK);
	assert_string_not_equal(id2, id);
	alert_silence got;
	alert_silences_get(s, id, &got, &e);
	assert_int_equal(alert_silence_state_at(&got, T0 + 10), ALERT_SILENCE_EXPIRED);
	alert_silence_fini(&got);
	alert_silence_fini(&in);
	alert_silences_close(s);
}

static void test_alert_silences_persist_and_gc(void **state)
{
	unlink(path);
	alert_silences *s = open_s();
	alert_silence in;
	char id1[37], id2[37];
	ts_err e = {0};
	mk(&in, "X", T0, T0 + H);
	ts_matcher_init(&in.matchers[1], TS_MATCH_NRE, "env", "dev|test", NULL);
	in.n_matchers = 2;
	alert_silences_set(s, &in, T0, id1, &e);
	alert_silence_fini(&in);
	mk(&in, "Y", T0, T0 + 2 * H);
	alert_silences_set(s, &in, T0, id2, &e);
	alert_silence_fini(&in);
	alert_silences_close(s);

	s = open_s();
	alert_silence *v;
	size_t n;
	assert_int_equal(alert_silences_list(s, &v, &n, &e), TS_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].id, id1);
	assert_int_equal(v[0].n_matchers, 2);
	assert_int_equal(v[0].matchers[1].type, TS_MATCH_NRE);
	assert_string_equal(v[0].matchers[1].value, "dev|test");
	alert_silences_list_free(v, n);
	const ts_label dev[] = {{"alertname", "X"}, {"env", "dev"}};
	const ts_label prod[] = {{"alertname", "X"}, {"env", "prod"}};
	assert_int_equal(alert_silences_mutes(s, dev, 2, T0 + 1, NULL, 0), 0);
	assert_int_equal(alert_silences_mutes(s, prod, 2, T0 + 1, NULL, 0), 1);
	/* retention 10h after the end */
	assert_int_equal(alert_silences_gc(s, T0 + H + 10 * H), 0);
	assert_int_equal(alert_silences_gc(s, T0 + H + 10 * H + 1), 1);
	alert_silences_close(s);
	s = open_s();
	assert_int_equal(alert_silences_list(s, &v, &n, &e), TS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, id2);
	alert_silences_list_free(v, n);
	alert_silences_close(s);

	/* a corrupt file is logged and ignored */
	FILE *f = fopen(path, "r+b");
	fseek(f, 20, SEEK_SET);
	fputc(0xAB, f);
	fclose(f);
	s = open_s();
	assert_int_equal(alert_silences_list(s, &v, &n, &e), TS_OK);
	assert_int_equal(n, 0);
	alert_silences_list_free(v, n);
	alert_silences_close(s);
}

static void test_alert_silence_json_roundtrip(void **state)
{
	static const char body[] =
	    "{\"matchers\":[{\"name\":\"alertname\",\"value\":\"X\",\"isRegex\":false},"
	    "{\"name\":\"job\",\"value\":\"j.*\",\"isRegex\":true,\"isEqual\":false}],"
	    "\"startsAt\":\"2023-11-14T22:13:20Z\",\"endsAt\":\"2023-11-14T23:13:20Z\","
	    "\"createdBy\":\"me\",\"comment\":\"c \\u00e9\"}";
	alert_jdoc doc;
	ts_err e = {0};
	assert_int_equal(alert_json_parse(body, strlen(body), &doc, &e), TS_OK);
	alert_silence s;
	assert_int_equal(alert_silence_from_json(doc.root, &s, &e), TS_OK);
	alert_json_fini(&doc);
	assert_int_equal(s.n_matchers, 2);
	assert_int_equal(s.matchers[1].type, TS_MATCH_NRE);
	assert_int_equal(s.starts_at_ms, T0);
	assert_string_equal(s.comment, "c \xc3\xa9");
	memcpy(s.id, "41209e20-c6bd-42e6-854e-343004ac0a47", 37);
	s.updated_at_ms = T0;
	ts_buf b;
	ts_buf_init(&b, 4096);
	alert_jw w;
	alert_jw_init(&w, &b);
	assert_int_equal(alert_silence_to_json(&w, &s, T0 + 1), TS_OK);
	assert_string_equal(
	    b.data,
	    "{\"id\":\"41209e20-c6bd-42e6-854e-343004ac0a47\",\"status\":{\"state\":\"active\"},"
	    "\"updatedAt\":\"2023-11-14T22:13:20.000Z\",\"comment\":\"c \xc3\xa9\","
	    "\"createdBy\":\"me\",\"endsAt\":\"2023-11-14T23:13:20.000Z\",\"matchers\":[{"
	    "\"isEqual\":true,\"isRegex\":false,\"name\":\"alertname\",\"value\":\"X\"},{"
	    "\"isEqual\":false,\"isRegex\":true,\"name\":\"job\",\"value\":\"j.*\"}],"
	    "\"startsAt\":\"2023-11-14T22:13:20.000Z\"}");
	ts_buf_free(&b);
	alert_silence_fini(&s);

	static const char *bad[] = {
	    "{\"matchers\":[],\"startsAt\":\"x\",\"endsAt\":\"x\",\"createdBy\":\"a\"}",
	    "{\"matchers\":[{\"name\":\"a\",\"value\":\"b\"}],\"startsAt\":\"2023-11-14T22:13:"
	    "20Z\","
	    "\"endsAt\":\"2023-11-14T23:13:20Z\",\"createdBy\":\"a\",\"comment\":\"c\"}",
	    "{\"matchers\":[{\"name\":\"a\",\"value\":\"(\",\"isRegex\":true}],\"startsAt\":"
	    "\"2023-11-14T22:13:20Z\",\"endsAt\":\"2023-11-14T23:13:20Z\",\"createdBy\":\"a\","
	    "\"comment\":\"c\"}",
	    "[]",
	};
	static const char *msgs[] = {"comment in body is required", "isRegex in body is required",
				     "invalid label matcher 0", "must be a JSON object"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(alert_json_parse(bad[i], strlen(bad[i]), &doc, &e), TS_OK);
		assert_int_equal(alert_silence_from_json(doc.root, &s, &e), TS_EINVAL);
		if (!strstr(e.msg, msgs[i]))
			fail_msg("'%s' lacks '%s'", e.msg, msgs[i]);
		alert_json_fini(&doc);
	}
}

static void test_alert_json_parse_errors_and_escapes(void **state)
{
	alert_jdoc doc;
	ts_err e = {0};
	static const char ok[] = " {\"a\":[1,-2.5e3,true,false,null,\"\\ud83d\\ude00\\n\"]} ";
	assert_int_equal(alert_json_parse(ok, strlen(ok), &doc, &e), TS_OK);
	const alert_jnode *a = alert_json_get(doc.root, "a");
	assert_int_equal(a->n, 6);
	assert_true(a->items[1]->num == -2500.0);
	assert_string_equal(a->items[5]->str, "\xf0\x9f\x98\x80\n");
	alert_json_fini(&doc);
	static const char *bad[] = {"",        "{",   "[1,]", "{\"a\" 1}",
				    "\"\\x\"", "tru", "1 2",  "\"a\x01\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(alert_json_parse(bad[i], strlen(bad[i]), &doc, &e), TS_EPARSE);
	char deep[200];
	memset(deep, '[', sizeof(deep));
	assert_int_equal(alert_json_parse(deep, sizeof(deep), &doc, &e), TS_EPARSE);
	/* writer escaping like Go */
	ts_buf b;
	ts_buf_init(&b, 256);
	assert_int_equal(alert_json_escape(&b, "<a&b>\"\\\x01\xff\xe2\x80\xa8", 12), TS_OK);
	assert_string_equal(b.data, "\"\\u003ca\\u0026b\\u003e\\\"\\\\\\u0001\\ufffd\\u2028\"");
	ts_buf_free(&b);
}

static void test_alert_silences_alloc_failure(void **state)
{
	unlink(path);
	for (int64_t n = 0; n < 60; n++) {
		alert_silences *s = NULL;
		alert_silence in;
		char id[37];
		ts_err e = {0};
		mk(&in, "X", T0, T0 + H);
		ts_alloc_fail_after(n);
		int rc = alert_silences_open(path, H, &s, &e);
		if (!rc)
			rc = alert_silences_set(s, &in, T0, id, &e);
		ts_alloc_fail_after(-1);
		assert_true(rc == TS_OK || rc == TS_ENOMEM || rc == TS_ELIMIT);
		alert_silence_fini(&in);
		alert_silences_close(s);
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_silences_create_validate),
	    cmocka_unit_test(test_alert_silences_mutes_and_states),
	    cmocka_unit_test(test_alert_silences_update_rules),
	    cmocka_unit_test(test_alert_silences_persist_and_gc),
	    cmocka_unit_test(test_alert_silence_json_roundtrip),
	    cmocka_unit_test(test_alert_json_parse_errors_and_escapes),
	    cmocka_unit_test(test_alert_silences_alloc_failure),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
