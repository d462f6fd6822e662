/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_outbox.c: tests for alert/outbox.c: entries are on disk before put returns and
 * are replayed after a reopen (what kill -9 leaves behind), delivered entries leave the
 * disk, retries back off with jitter inside the documented bounds, permanent failures and
 * max_age expiry are counted as failed, a newer notification of the same group
 * supersedes an older one it covers, per-group order is kept while other groups proceed,
 * held entries wait for commit, corrupt files are quarantined, the limits give TS_EFULL,
 * and the sender thread drains the queue. Delivery goes through a scripted send callback
 * (real HTTP/SMTP delivery is covered by tests/integration/test_webhook.sh and
 * test_email.sh).
 */
#include "alert/notify_int.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[512];

typedef struct script {
	alert_send_result results[64]; /* per call; past the end: OK */
	size_t n_results;
	size_t calls;
	char seen[64][64]; /* payload of each call */
	int64_t retry_after_ms;
} script;

static alert_send_result send_fn(void *ctx, const alert_outbox_entry *e, int64_t *ra, ts_err *err)
{
	script *s = ctx;
	size_t i = s->calls++;
	if (i < 64)
		snprintf(s->seen[i], sizeof(s->seen[i]), "%s", e->payload);
	*ra = s->retry_after_ms;
	ts_err_set(err, TS_EUNAVAIL, "scripted failure");
	return i < s->n_results ? s->results[i] : ALERT_SEND_OK;
}

static void clean_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[1024];
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
}

static size_t count_files(const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name), s = strlen(suffix);
		n += l > s && !strcmp(de->d_name + l - s, suffix);
	}
	if (d)
		closedir(d);
	return n;
}

static int setup(void **state)
{
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(dir, sizeof(dir), "%s/outbox", STRATA_TEST_TMP);
	mkdir(dir, 0755);
	clean_dir();
	return 0;
}

static alert_outbox *open_ob(script *s, int64_t max_age, size_t max_entries)
{
	alert_outbox_options o = {.dir = dir,
				  .send = send_fn,
				  .ctx = s,
				  .max_age_ms = max_age,
				  .retry_initial_ms = 20,
				  .retry_max_ms = 200,
				  .max_entries = max_entries,
				  .seed = 42};
	alert_outbox *ob = NULL;
	ts_err e = {0};
	if (alert_outbox_open(&o, &ob, &e))
		fail_msg("open: %s", e.msg);
	return ob;
}

/* Put a webhook entry for group `group` with firing fingerprints fps. */
static int put(alert_outbox *ob, const char *group, const char *payload, uint64_t *fps, size_t n,
	       bool hold)
{
	char key[128];
	snprintf(key, sizeof(key), "%s:r/webhook/0", group);
	alert_outbox_entry e = {
	    .kind = ALERT_NCFG_WEBHOOK,
	    .receiver = "r",
	    .group_key = (char *)group,
	    .has_nlog = true,
	    .nlog = {.key = key, .sent_ms = 1, .expires_ms = 2, .firing = fps, .n_firing = n},
	    .payload = (char *)payload,
	    .payload_len = strlen(payload),
	};
	ts_err err = {0};
	return alert_outbox_put(ob, &e, hold, &err);
}

static int64_t later(void)
{
	return ts_mono_ns() / 1000000 + 1000000000LL;
}

static void collect_nlog(void *ctx, const alert_nlog_entry *e)
{
	(*(size_t *)ctx) += e->n_firing;
}

static void test_alert_outbox_put_survives_reopen(void **state)
{
	clean_dir();
	script s = {0};
	alert_outbox *ob = open_ob(&s, 0, 0);
	uint64_t fp[] = {7, 8};
	assert_int_equal(put(ob, "g1", "{\"a\":1}", fp, 2, false), TS_OK);
	assert_int_equal(count_files(".ent"), 1);
	assert_int_equal(alert_outbox_depth(ob, NULL), 1);
	alert_outbox_close(ob); /* never attempted: like a crash before delivery */
	ob = open_ob(&s, 0, 0);
	int64_t oldest = 0;
	assert_int_equal(alert_outbox_depth(ob, &oldest), 1);
	assert_true(oldest > 0);
	size_t n_fp = 0;
	alert_outbox_each_nlog(ob, collect_nlog, &n_fp);
	assert_int_equal(n_fp, 2);
	assert_int_equal(alert_outbox_run_due(ob, later()), 1);
	assert_string_equal(s.seen[0], "{\"a\":1}");
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	assert_int_equal(count_files(".ent"), 0);
	alert_outbox_stat st[4];
	assert_int_equal(alert_outbox_stats(ob, st, 4), 1);
	assert_string_equal(st[0].receiver, "r");
	assert_int_equal(st[0].n_sent, 1);
	/* new ids continue after replayed ones */
	assert_int_equal(put(ob, "g2", "x", fp, 1, false), TS_OK);
	alert_outbox_close(ob);
	ob = open_ob(&s, 0, 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 1);
	alert_outbox_close(ob);
	clean_dir();
}

static void test_alert_outbox_retry_then_deliver(void **state)
{
	clean_dir();
	script s = {.results = {ALERT_SEND_RETRY, ALERT_SEND_RETRY}, .n_results = 2};
	alert_outbox *ob = open_ob(&s, 0, 0);
	uint64_t fp[] = {1};
	put(ob, "g", "p", fp, 1, false);
	int64_t now = ts_mono_ns() / 1000000;
	assert_int_equal(alert_outbox_run_due(ob, now), 1);
	/* backing off: not due right now */
	assert_int_equal(alert_outbox_run_due(ob, ts_mono_ns() / 1000000), 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 1);
	assert_int_equal(alert_outbox_run_due(ob, later()), 1);
	assert_int_equal(alert_outbox_run_due(ob, later()), 1);
	assert_int_equal(s.calls, 3);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	alert_outbox_stat st[2];
	alert_outbox_stats(ob, st, 2);
	assert_int_equal(st[0].n_retries, 2);
	assert_int_equal(st[0].n_sent, 1);
	assert_int_equal(st[0].n_failed, 0);
	alert_outbox_close(ob);
}

static void test_alert_outbox_permanent_failure_and_max_age(void **state)
{
	clean_dir();
	script s = {.results = {ALERT_SEND_FAIL, ALERT_SEND_RETRY}, .n_results = 2};
	alert_outbox *ob = open_ob(&s, 1, 0); /* max_age 1 ms */
	uint64_t fp[] = {1};
	put(ob, "g", "p", fp, 1, false);
	assert_int_equal(alert_outbox_run_due(ob, later()), 1);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	assert_int_equal(count_files(".ent"), 0);
	put(ob, "g", "q", fp, 1, false);
	struct timespec ts = {0, 5 * 1000000};
	nanosleep(&ts, NULL);
	assert_int_equal(alert_outbox_run_due(ob, later()), 1);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0); /* expired, not retried */
	assert_int_equal(count_files(".ent"), 0);
	alert_outbox_stat st[2];
	alert_outbox_stats(ob, st, 2);
	assert_int_equal(st[0].n_failed, 2);
	assert_int_equal(st[0].n_sent, 0);
	alert_outbox_close(ob);
}

static void test_alert_outbox_supersede_and_order(void **state)
{
	clean_dir();
	script s = {.results = {ALERT_SEND_RETRY}, .n_results = 1};
	alert_outbox *ob = open_ob(&s, 0, 0);
	uint64_t f1[] = {1}, f12[] = {1, 2}, f3[] = {3}, f4[] = {4};
	put(ob, "G", "a1", f1, 1, false);
	put(ob, "G", "a12", f12, 2, false); /* covers a1: supersedes it */
	assert_int_equal(alert_outbox_depth(ob, NULL), 1);
	assert_int_equal(count_files(".ent"), 1);
	put(ob, "G", "a3", f3, 1, false); /* does not cover {1,2}: queued behind */
	put(ob, "H", "h4", f4, 1, false);
	assert_int_equal(alert_outbox_depth(ob, NULL), 3);
	/* a12 fails (retry); a3 must wait behind it; h4 goes. */
	assert_int_equal(alert_outbox_run_due(ob, later()), 2);
	assert_string_equal(s.seen[0], "a12");
	assert_string_equal(s.seen[1], "h4");
	assert_int_equal(alert_outbox_run_due(ob, later()), 2);
	assert_string_equal(s.seen[2], "a12");
	assert_string_equal(s.seen[3], "a3");
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	alert_outbox_stat st[2];
	alert_outbox_stats(ob, st, 2);
	assert_int_equal(st[0].n_superseded, 1);
	assert_int_equal(st[0].n_enqueued, 4);
	alert_outbox_close(ob);
}

static void test_alert_outbox_hold_commit_and_limits(void **state)
{
	clean_dir();
	script s = {0};
	alert_outbox *ob = open_ob(&s, 0, 2);
	uint64_t f[] = {1};
	assert_int_equal(put(ob, "a", "1", f, 1, true), TS_OK);
	assert_int_equal(put(ob, "b", "2", f, 1, true), TS_OK);
	assert_int_equal(put(ob, "c", "3", f, 1, true), TS_EFULL);
	assert_int_equal(alert_outbox_run_due(ob, later()), 0);
	alert_outbox_commit(ob);
	assert_int_equal(alert_outbox_run_due(ob, later()), 2);
	alert_outbox_close(ob);
}

static void test_alert_outbox_quarantines_corrupt_files(void **state)
{
	clean_dir();
	char p[700];
	snprintf(p, sizeof(p), "%s/0000000000000009.ent", dir);
	FILE *f = fopen(p, "wb");
	fputs("not an outbox entry", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/000000000000000a.ent.tmp", dir);
	f = fopen(p, "wb");
	fputs("partial", f);
	fclose(f);
	script s = {0};
	alert_outbox *ob = open_ob(&s, 0, 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	assert_int_equal(count_files(".corrupt"), 1);
	assert_int_equal(count_files(".tmp"), 0);
	/* a valid entry whose name disagrees with its id is quarantined too */
	uint64_t fp[] = {1};
	put(ob, "g", "p", fp, 1, true);
	alert_outbox_close(ob);
	char from[700], to[700];
	snprintf(from, sizeof(from), "%s/0000000000000001.ent", dir);
	snprintf(to, sizeof(to), "%s/0000000000000002.ent", dir);
	assert_int_equal(rename(from, to), 0);
	ob = open_ob(&s, 0, 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	assert_int_equal(count_files(".corrupt"), 2);
	alert_outbox_close(ob);
	clean_dir();
}

static void test_alert_outbox_backoff_bounds(void **state)
{
	uint64_t rng = 1;
	for (uint32_t a = 1; a <= 40; a++) {
		int64_t d = 100;
		for (uint32_t i = 1; i < a && d < 60000; i++)
			d *= 2;
		if (d > 60000)
			d = 60000;
		for (int k = 0; k < 50; k++) {
			int64_t v = alert_outbox_backoff(100, 60000, a, &rng);
			assert_true(v >= d / 2 && v <= d);
		}
	}
	/* jitter: not all the same */
	int64_t first = alert_outbox_backoff(1000, 1000, 1, &rng);
	bool differs = false;
	for (int k = 0; k < 20 && !differs; k++)
		differs = alert_outbox_backoff(1000, 1000, 1, &rng) != first;
	assert_true(differs);
}

static void test_alert_outbox_sender_thread_drains(void **state)
{
	clean_dir();
	script s = {.results = {ALERT_SEND_RETRY}, .n_results = 1};
	alert_outbox *ob = open_ob(&s, 0, 0);
	ts_err e = {0};
	assert_int_equal(alert_outbox_start(ob, &e), TS_OK);
	uint64_t f[] = {1};
	put(ob, "g", "p", f, 1, false);
	for (int i = 0; i < 500 && alert_outbox_depth(ob, NULL) > 0; i++) {
		struct timespec ts = {0, 10 * 1000000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	assert_int_equal(s.calls, 2);
	alert_outbox_close(ob);
	assert_int_equal(count_files(".ent"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_outbox_put_survives_reopen),
	    cmocka_unit_test(test_alert_outbox_retry_then_deliver),
	    cmocka_unit_test(test_alert_outbox_permanent_failure_and_max_age),
	    cmocka_unit_test(test_alert_outbox_supersede_and_order),
	    cmocka_unit_test(test_alert_outbox_hold_commit_and_limits),
	    cmocka_unit_test(test_alert_outbox_quarantines_corrupt_files),
	    cmocka_unit_test(test_alert_outbox_backoff_bounds),
	    cmocka_unit_test(test_alert_outbox_sender_thread_drains),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
