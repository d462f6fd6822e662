/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_nlog.c: tests for alert/nlog.c: Alertmanager's needsUpdate decisions, entries
 * kept across close/open (the persisted file), newer-wins puts, expiry, corrupt files
 * and records (skipped, never fatal), the key format, and allocation failures.
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

static int setup(void **state)
{
	char dir[400];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(dir, sizeof(dir), "%s/nlog", STRATA_TEST_TMP);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/nlog.bin", dir);
	unlink(path);
	return 0;
}

static alert_nlog_entry entry(char *key, int64_t sent, uint64_t *f, size_t nf, uint64_t *r,
			      size_t nr)
{
	alert_nlog_entry e = {.key = key,
			      .sent_ms = sent,
			      .expires_ms = sent + 1000000,
			      .firing = f,
			      .n_firing = nf,
			      .resolved = r,
			      .n_resolved = nr};
	return e;
}

static void test_alert_nlog_needs_update_cases(void **state)
{
	uint64_t f12[] = {1, 2}, f1[] = {1}, f123[] = {1, 2, 3}, r3[] = {3}, r34[] = {3, 4};
	int64_t repeat = 1000, now = 10000;
	/* never notified: only when something fires */
	assert_true(alert_nlog_needs_update(NULL, f1, 1, NULL, 0, true, repeat, now));
	assert_false(alert_nlog_needs_update(NULL, NULL, 0, r3, 1, true, repeat, now));
	alert_nlog_entry e = entry("k", now - 10, f12, 2, r3, 1);
	/* same firing set within repeat: no */
	assert_false(alert_nlog_needs_update(&e, f12, 2, r3, 1, true, repeat, now));
	/* firing subset (one resolved, send_resolved false): no */
	assert_false(alert_nlog_needs_update(&e, f1, 1, r3, 1, false, repeat, now));
	/* new firing alert: yes */
	assert_true(alert_nlog_needs_update(&e, f123, 3, NULL, 0, false, repeat, now));
	/* new resolved alert with send_resolved: yes; without: no */
	assert_true(alert_nlog_needs_update(&e, f1, 1, r34, 2, true, repeat, now));
	assert_false(alert_nlog_needs_update(&e, f1, 1, r34, 2, false, repeat, now));
	/* everything resolved: notify once, whatever send_resolved says */
	assert_true(alert_nlog_needs_update(&e, NULL, 0, r34, 2, false, repeat, now));
	alert_nlog_entry cleared = entry("k", now - 10, NULL, 0, r34, 2);
	assert_false(alert_nlog_needs_update(&cleared, NULL, 0, r34, 2, true, repeat, now));
	/* repeat interval passed: yes (strictly after) */
	e.sent_ms = now - repeat;
	assert_false(alert_nlog_needs_update(&e, f12, 2, r3, 1, true, repeat, now));
	e.sent_ms = now - repeat - 1;
	assert_true(alert_nlog_needs_update(&e, f12, 2, r3, 1, true, repeat, now));
}

static void test_alert_nlog_put_get_persist_reopen(void **state)
{
	alert_nlog *l = NULL;
	ts_err e = {0};
	assert_int_equal(alert_nlog_open(path, &l, &e), TS_OK);
	assert_int_equal(alert_nlog_len(l), 0);
	uint64_t f[] = {5, 9}, r[] = {7};
	char k1[] = "{}:{a=\"1\"}:hook/webhook/0", k2[] = "{}:{a=\"2\"}:hook/email/0";
	alert_nlog_entry e1 = entry(k1, 1000, f, 2, r, 1), e2 = entry(k2, 2000, NULL, 0, NULL, 0);
	assert_int_equal(alert_nlog_put(l, &e1, &e), TS_OK);
	assert_int_equal(alert_nlog_put(l, &e2, &e), TS_OK);
	/* an older entry never replaces a newer one */
	alert_nlog_entry old = entry(k1, 500, NULL, 0, NULL, 0);
	assert_int_equal(alert_nlog_put(l, &old, &e), TS_OK);
	alert_nlog_entry got;
	assert_int_equal(alert_nlog_get(l, k1, &got), TS_OK);
	assert_int_equal(got.sent_ms, 1000);
	assert_int_equal(got.n_firing, 2);
	alert_nlog_entry_fini(&got);
	assert_int_equal(alert_nlog_get(l, "nope", &got), TS_ENOTFOUND);
	assert_int_equal(alert_nlog_persist(l, &e), TS_OK);
	assert_int_equal(alert_nlog_persist(l, &e), TS_OK); /* unchanged: no rewrite */
	alert_nlog_close(l);

	assert_int_equal(alert_nlog_open(path, &l, &e), TS_OK);
	assert_int_equal(alert_nlog_len(l), 2);
	assert_int_equal(alert_nlog_get(l, k1, &got), TS_OK);
	assert_int_equal(got.sent_ms, 1000);
	assert_int_equal(got.expires_ms, 1001000);
	assert_int_equal(got.n_firing, 2);
	assert_int_equal(got.firing[1], 9);
	assert_int_equal(got.n_resolved, 1);
	assert_int_equal(got.resolved[0], 7);
	alert_nlog_entry_fini(&got);
	/* expiry */
	assert_int_equal(alert_nlog_gc(l, 1001000), 1);
	assert_int_equal(alert_nlog_len(l), 1);
	assert_int_equal(alert_nlog_get(l, k1, &got), TS_ENOTFOUND);
	assert_int_equal(alert_nlog_persist(l, &e), TS_OK);
	alert_nlog_close(l);
	assert_int_equal(alert_nlog_open(path, &l, &e), TS_OK);
	assert_int_equal(alert_nlog_len(l), 1);
	alert_nlog_close(l);
}

static void test_alert_nlog_open_corrupt(void **state)
{
	alert_nlog *l = NULL;
	ts_err e = {0};
	unlink(path);
	assert_int_equal(alert_nlog_open(path, &l, &e), TS_OK);
	char k1[] = "a", k2[] = "b";
	alert_nlog_entry e1 = entry(k1, 1, NULL, 0, NULL, 0), e2 = entry(k2, 2, NULL, 0, NULL, 0);
	alert_nlog_put(l, &e1, &e);
	alert_nlog_put(l, &e2, &e);
	assert_int_equal(alert_nlog_persist(l, &e), TS_OK);
	alert_nlog_close(l);
	/* flip a byte in the last record's payload: that record is skipped */
	FILE *f = fopen(path, "r+b");
	fseek(f, -3, SEEK_END);
	int c = fgetc(f);
	fseek(f, -3, SEEK_END);
	fputc(c ^ 0x55, f);
	fclose(f);
	assert_int_equal(alert_nlog_open(path, &l, &e), TS_OK);
	assert_int_equal(alert_nlog_len(l), 1);
	alert_nlog_close(l);
	/* truncated framing: what is before it survives */
	assert_int_equal(truncate(path, 8 + 8 + 5), 0);
	assert_int_equal(alert_nlog_open(path, &l, &e), TS_OK);
	assert_true(alert_nlog_len(l) <= 1);
	alert_nlog_close(l);
	/* garbage header: empty log, not an error */
	f = fopen(path, "wb");
	fputs("garbage!garbage!", f);
	fclose(f);
	assert_int_equal(alert_nlog_open(path, &l, &e), TS_OK);
	assert_int_equal(alert_nlog_len(l), 0);
	alert_nlog_close(l);
	unlink(path);
}

static void test_alert_nlog_entry_decode_bounds(void **state)
{
	uint64_t f[] = {1, 2, 3};
	char k[] = "key";
	alert_nlog_entry e = entry(k, 42, f, 3, NULL, 0);
	ts_buf b;
	ts_buf_init(&b, 4096);
	assert_int_equal(alert_nlog_entry_encode(&e, &b), TS_OK);
	for (size_t cut = 0; cut < b.len; cut++) {
		alert_rd r = {(const uint8_t *)b.data, (const uint8_t *)b.data + cut, TS_OK};
		alert_nlog_entry out;
		assert_int_equal(alert_nlog_entry_decode(&r, &out), TS_ECORRUPT);
	}
	alert_rd r = {(const uint8_t *)b.data, (const uint8_t *)b.data + b.len, TS_OK};
	alert_nlog_entry out;
	assert_int_equal(alert_nlog_entry_decode(&r, &out), TS_OK);
	assert_string_equal(out.key, "key");
	assert_int_equal(out.n_firing, 3);
	alert_nlog_entry_fini(&out);
	ts_buf_free(&b);
}

static void test_alert_nlog_key_format(void **state)
{
	alert_ncfg_integration it = {.kind = ALERT_NCFG_EMAIL, .index = 2};
	ts_buf b;
	ts_buf_init(&b, 1024);
	assert_int_equal(alert_nlog_key("{}:{a=\"b\"}", "ops", &it, &b), TS_OK);
	assert_string_equal(b.data, "{}:{a=\"b\"}:ops/email/2");
	ts_buf_free(&b);
}

static void test_alert_nlog_alloc_failure(void **state)
{
	uint64_t f[] = {1};
	char k[] = "k";
	alert_nlog_entry e1 = entry(k, 1, f, 1, f, 1);
	unlink(path);
	for (int64_t n = 0; n < 40; n++) {
		alert_nlog *l = NULL;
		ts_err e = {0};
		ts_alloc_fail_after(n);
		int rc = alert_nlog_open(path, &l, &e);
		if (!rc)
			rc = alert_nlog_put(l, &e1, &e);
		ts_alloc_fail_after(-1);
		assert_true(rc == TS_OK || rc == TS_ENOMEM);
		alert_nlog_close(l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_nlog_needs_update_cases),
	    cmocka_unit_test(test_alert_nlog_put_get_persist_reopen),
	    cmocka_unit_test(test_alert_nlog_open_corrupt),
	    cmocka_unit_test(test_alert_nlog_entry_decode_bounds),
	    cmocka_unit_test(test_alert_nlog_key_format),
	    cmocka_unit_test(test_alert_nlog_alloc_failure),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
