/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_outbox.c: tests for alert/outbox.c: entries are on disk before put returns (or
 * after alert_outbox_sync for held ones) and are replayed after a reopen and after a
 * real kill -9 of a child process, delivered entries leave the disk (DONE records, old
 * segments deleted), a checkpoint keeps the log bounded while an entry is pinned by a
 * failing receiver, the old one-file-per-entry layout is migrated, torn and corrupt
 * records are skipped, retries back off with jitter inside the documented bounds,
 * permanent failures and max_age expiry are counted as failed, a newer notification of
 * the same group supersedes an older one it covers, per-group order is kept while other
 * groups proceed (also with several concurrent senders), held entries wait for commit
 * or are discarded, corrupt files are quarantined, the limits give TS_EFULL, and the
 * sender threads drain the queue. Delivery goes through a scripted send callback (real
 * HTTP/SMTP delivery is covered by tests/integration/test_webhook.sh, test_email.sh and
 * tests/alert/test_curl_client.c).
 */
#include "alert/notify_int.h"

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	const char *fail_group; /* this group key always gets RETRY */
} script;

static alert_send_result send_fn(void *ctx, void **slot, const alert_outbox_entry *e, int64_t *ra,
				 ts_err *err)
{
	(void)slot;
	script *s = ctx;
	if (s->fail_group && !strcmp(e->group_key, s->fail_group)) {
		ts_err_set(err, TS_EUNAVAIL, "receiver down");
		return ALERT_SEND_RETRY;
	}
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

static alert_outbox *open_seg(script *s, int64_t max_age, size_t max_entries, uint64_t seg_bytes)
{
	alert_outbox_options o = {.dir = dir,
				  .send = send_fn,
				  .ctx = s,
				  .max_age_ms = max_age,
				  .retry_initial_ms = 20,
				  .retry_max_ms = 200,
				  .max_entries = max_entries,
				  .seed = 42,
				  .segment_bytes = seg_bytes};
	alert_outbox *ob = NULL;
	ts_err e = {0};
	if (alert_outbox_open(&o, &ob, &e))
		fail_msg("open: %s", e.msg);
	return ob;
}

static alert_outbox *open_ob(script *s, int64_t max_age, size_t max_entries)
{
	return open_seg(s, max_age, max_entries, 0);
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

/* An entry file of the old layout (<id>.ent, magic SOB1), as Strata wrote it before
 * the log. */
static void write_v1(uint64_t id, const char *name, const char *group, const char *payload)
{
	uint64_t fp[] = {id};
	char key[128];
	snprintf(key, sizeof(key), "%s:r/webhook/0", group);
	alert_nlog_entry nl = {
	    .key = key, .sent_ms = 1, .expires_ms = 2, .firing = fp, .n_firing = 1};
	ts_buf rec, body;
	ts_buf_init(&rec, 1 << 20);
	ts_buf_init(&body, 1 << 20);
	assert_int_equal(ts_buf_put_u64le(&rec, id), TS_OK);
	assert_int_equal(ts_buf_put_u64le(&rec, (uint64_t)ts_now_ms()), TS_OK);
	assert_int_equal(ts_buf_putc(&rec, 0), TS_OK);
	assert_int_equal(ts_buf_put_u32le(&rec, 0), TS_OK);
	assert_int_equal(alert_put_str(&rec, "r"), TS_OK);
	assert_int_equal(alert_put_str(&rec, group), TS_OK);
	assert_int_equal(ts_buf_putc(&rec, 1), TS_OK);
	assert_int_equal(alert_nlog_entry_encode(&nl, &rec), TS_OK);
	assert_int_equal(alert_put_str(&rec, payload), TS_OK);
	assert_int_equal(alert_persist_frame(&body, rec.data, rec.len), TS_OK);
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ts_err e = {0};
	assert_int_equal(alert_persist_write(path, 0x31424F53u, 1, &body, &e), TS_OK);
	ts_buf_free(&rec);
	ts_buf_free(&body);
}

/* The only segment file's path (fails unless there is exactly one). */
static void only_segment(char *out, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l > 4 && !strcmp(de->d_name + l - 4, ".seg")) {
			snprintf(out, cap, "%s/%s", dir, de->d_name);
			n++;
		}
	}
	if (d)
		closedir(d);
	assert_int_equal(n, 1);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
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
	assert_int_equal(count_files(".seg"), 1);
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
	/* the delivered one stays delivered (its DONE record), the pending one is kept */
	ob = open_ob(&s, 0, 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 1);
	assert_int_equal(count_files(".seg"), 1); /* the checkpoint replaced the old segment */
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
	put(ob, "g", "q", fp, 1, false);
	struct timespec ts = {0, 5 * 1000000};
	nanosleep(&ts, NULL);
	assert_int_equal(alert_outbox_run_due(ob, later()), 1);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0); /* expired, not retried */
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
	/* superseded and delivered entries do not come back */
	ob = open_ob(&s, 0, 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
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
	ts_err e = {0};
	assert_int_equal(alert_outbox_sync(ob, &e), TS_OK);
	alert_outbox_commit(ob);
	assert_int_equal(alert_outbox_run_due(ob, later()), 2);
	/* a failed sync drops the held entries: they must not come back either */
	assert_int_equal(put(ob, "d", "4", f, 1, true), TS_OK);
	assert_int_equal(put(ob, "e", "5", f, 1, true), TS_OK);
	assert_int_equal(alert_outbox_discard_held(ob), 2);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	assert_int_equal(alert_outbox_run_due(ob, later()), 0);
	alert_outbox_close(ob);
	ob = open_ob(&s, 0, 2);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	alert_outbox_close(ob);
	clean_dir();
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
	alert_outbox_close(ob);
	/* a valid old-layout entry whose name disagrees with its id is quarantined too */
	write_v1(1, "0000000000000002.ent", "g", "p");
	ob = open_ob(&s, 0, 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	assert_int_equal(count_files(".corrupt"), 2);
	/* a segment with a bad header is kept aside too */
	alert_outbox_close(ob);
	snprintf(p, sizeof(p), "%s/00000000000000ff.seg", dir);
	f = fopen(p, "wb");
	fputs("garbage!garbage!", f);
	fclose(f);
	ob = open_ob(&s, 0, 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	assert_int_equal(count_files(".corrupt"), 3);
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
	ob = open_ob(&s, 0, 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	alert_outbox_close(ob);
}

static void test_alert_outbox_migrates_old_layout(void **state)
{
	clean_dir();
	write_v1(5, "0000000000000005.ent", "g5", "old5");
	write_v1(7, "0000000000000007.ent", "g7", "old7");
	script s = {0};
	alert_outbox *ob = open_ob(&s, 0, 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 2);
	assert_int_equal(count_files(".ent"), 0); /* moved into the log */
	assert_int_equal(count_files(".seg"), 1);
	size_t n_fp = 0;
	alert_outbox_each_nlog(ob, collect_nlog, &n_fp);
	assert_int_equal(n_fp, 2);
	alert_outbox_close(ob);
	ob = open_ob(&s, 0, 0); /* and readable from there */
	assert_int_equal(alert_outbox_depth(ob, NULL), 2);
	assert_int_equal(alert_outbox_run_due(ob, later()), 2);
	assert_string_equal(s.seen[0], "old5"); /* id order kept */
	assert_string_equal(s.seen[1], "old7");
	alert_outbox_close(ob);
	clean_dir();
}

/* What a crashed process leaves: a child puts entries and dies by SIGKILL (no close). */
static void test_alert_outbox_survives_kill9(void **state)
{
	clean_dir();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		script cs = {0};
		alert_outbox *ob = open_ob(&cs, 0, 0);
		uint64_t f1[] = {1}, f2[] = {2}, f3[] = {3}, f4[] = {4};
		ts_err e = {0};
		int bad = put(ob, "a", "held-1", f1, 1, true) ||
			  put(ob, "b", "held-2", f2, 1, true) || alert_outbox_sync(ob, &e) ||
			  put(ob, "c", "direct-3", f3, 1, false);
		put(ob, "d", "unsynced-4", f4, 1, true); /* may or may not survive */
		if (bad)
			_exit(3);
		raise(SIGKILL);
		_exit(4);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	script s = {0};
	alert_outbox *ob = open_ob(&s, 0, 0);
	size_t depth = alert_outbox_depth(ob, NULL);
	assert_true(depth >= 3 && depth <= 4);
	assert_int_equal(alert_outbox_run_due(ob, later()), depth);
	assert_string_equal(s.seen[0], "held-1");
	assert_string_equal(s.seen[1], "held-2");
	assert_string_equal(s.seen[2], "direct-3");
	alert_outbox_close(ob);
	ob = open_ob(&s, 0, 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	alert_outbox_close(ob);
	clean_dir();
}

/*
 * Small segments: delivered entries free theirs, and an entry pinned by a down receiver
 * is carried forward by checkpoints instead of keeping every later segment alive.
 */
static void test_alert_outbox_segments_deleted_and_checkpointed(void **state)
{
	clean_dir();
	script s = {.fail_group = "pin"};
	alert_outbox *ob = open_seg(&s, 0, 0, 512);
	uint64_t f[] = {1};
	assert_int_equal(put(ob, "pin", "pinned", f, 1, false), TS_OK);
	char group[32], payload[128];
	size_t max_segs = 0;
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 10; i++) {
			snprintf(group, sizeof(group), "g%d", round * 10 + i);
			snprintf(payload, sizeof(payload), "payload of round %d, entry %d: %s",
				 round, i, "some padding to fill segments faster");
			assert_int_equal(put(ob, group, payload, f, 1, true), TS_OK);
		}
		ts_err e = {0};
		assert_int_equal(alert_outbox_sync(ob, &e), TS_OK);
		alert_outbox_commit(ob);
		alert_outbox_run_due(ob, later());
		size_t n = count_files(".seg");
		max_segs = n > max_segs ? n : max_segs;
	}
	assert_int_equal(alert_outbox_depth(ob, NULL), 1);
	assert_int_equal(s.calls, 200);
	/* 200 entries of ~150 bytes in 512-byte segments: ~60 without checkpoints */
	assert_true(max_segs <= 8);
	alert_outbox_close(ob);
	script s2 = {0};
	ob = open_seg(&s2, 0, 0, 512);
	assert_int_equal(alert_outbox_depth(ob, NULL), 1);
	assert_int_equal(alert_outbox_run_due(ob, later()), 1);
	assert_string_equal(s2.seen[0], "pinned");
	alert_outbox_close(ob);
	clean_dir();
}

static void test_alert_outbox_torn_tail_and_bad_crc(void **state)
{
	clean_dir();
	script s = {0};
	alert_outbox *ob = open_ob(&s, 0, 0);
	uint64_t f1[] = {1}, f2[] = {2}, f3[] = {3};
	put(ob, "a", "PAYLOAD-1", f1, 1, false);
	put(ob, "b", "PAYLOAD-2", f2, 1, false);
	put(ob, "c", "PAYLOAD-3", f3, 1, false);
	alert_outbox_close(ob);
	char p[700];
	only_segment(p, sizeof(p));
	FILE *fp = fopen(p, "ab"); /* a frame header whose payload never made it */
	assert_non_null(fp);
	fwrite("\x50\x00\x00\x00\x01\x02", 1, 6, fp);
	fclose(fp);
	ob = open_ob(&s, 0, 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 3);
	assert_int_equal(count_files(".corrupt"), 1); /* kept for inspection */
	alert_outbox_close(ob);
	/* flip a byte inside one record: that record is skipped, the others survive */
	only_segment(p, sizeof(p));
	fp = fopen(p, "r+b");
	assert_non_null(fp);
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf), fp);
	char *hit = memmem(buf, n, "PAYLOAD-2", 9);
	assert_non_null(hit);
	fseek(fp, (long)(hit - buf), SEEK_SET);
	fputc('X', fp);
	fclose(fp);
	ob = open_ob(&s, 0, 0);
	assert_int_equal(alert_outbox_depth(ob, NULL), 2);
	assert_int_equal(alert_outbox_run_due(ob, later()), 2);
	assert_string_equal(s.seen[0], "PAYLOAD-1");
	assert_string_equal(s.seen[1], "PAYLOAD-3");
	alert_outbox_close(ob);
	clean_dir();
}

typedef struct conc {
	pthread_mutex_t mu;
	int in_flight, max_in_flight;
	char order[4][8][16]; /* per group, payloads in delivery order */
	int n_order[4];
	int slots_made, slots_freed;
} conc;

static conc cc = {.mu = PTHREAD_MUTEX_INITIALIZER};

static alert_send_result conc_send(void *ctx, void **slot, const alert_outbox_entry *e, int64_t *ra,
				   ts_err *err)
{
	(void)ctx;
	(void)ra;
	(void)err;
	pthread_mutex_lock(&cc.mu);
	if (!*slot) {
		*slot = malloc(1);
		cc.slots_made++;
	}
	if (++cc.in_flight > cc.max_in_flight)
		cc.max_in_flight = cc.in_flight;
	pthread_mutex_unlock(&cc.mu);
	sleep_ms(15);
	pthread_mutex_lock(&cc.mu);
	cc.in_flight--;
	int g = e->group_key[0] - 'A';
	if (g >= 0 && g < 4 && cc.n_order[g] < 8)
		snprintf(cc.order[g][cc.n_order[g]++], 16, "%s", e->payload);
	pthread_mutex_unlock(&cc.mu);
	return ALERT_SEND_OK;
}

static void conc_slot_free(void *slot)
{
	pthread_mutex_lock(&cc.mu);
	cc.slots_freed++;
	pthread_mutex_unlock(&cc.mu);
	free(slot);
}

static void test_alert_outbox_concurrent_senders_keep_group_order(void **state)
{
	clean_dir();
	alert_outbox_options o = {.dir = dir,
				  .send = conc_send,
				  .slot_free = conc_slot_free,
				  .retry_initial_ms = 20,
				  .retry_max_ms = 200,
				  .senders = 4,
				  .seed = 42};
	alert_outbox *ob = NULL;
	ts_err e = {0};
	assert_int_equal(alert_outbox_open(&o, &ob, &e), TS_OK);
	/* entry k of a group fires only fingerprint k: none covers another, all go out */
	char group[2] = "A", payload[16];
	for (int k = 0; k < 4; k++) {
		for (int g = 0; g < 4; g++) {
			uint64_t fp[] = {(uint64_t)k};
			group[0] = (char)('A' + g);
			snprintf(payload, sizeof(payload), "%c%d", group[0], k);
			assert_int_equal(put(ob, group, payload, fp, 1, true), TS_OK);
		}
	}
	assert_int_equal(alert_outbox_sync(ob, &e), TS_OK);
	assert_int_equal(alert_outbox_start(ob, &e), TS_OK);
	alert_outbox_commit(ob);
	for (int i = 0; i < 1000 && alert_outbox_depth(ob, NULL) > 0; i++)
		sleep_ms(10);
	assert_int_equal(alert_outbox_depth(ob, NULL), 0);
	alert_outbox_close(ob);
	for (int g = 0; g < 4; g++) {
		assert_int_equal(cc.n_order[g], 4);
		for (int k = 0; k < 4; k++) {
			snprintf(payload, sizeof(payload), "%c%d", 'A' + g, k);
			assert_string_equal(cc.order[g][k], payload);
		}
	}
	assert_true(cc.max_in_flight >= 2); /* groups were delivered concurrently */
	assert_true(cc.max_in_flight <= 4);
	assert_int_equal(cc.slots_made, cc.slots_freed);
	clean_dir();
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
	    cmocka_unit_test(test_alert_outbox_migrates_old_layout),
	    cmocka_unit_test(test_alert_outbox_survives_kill9),
	    cmocka_unit_test(test_alert_outbox_segments_deleted_and_checkpointed),
	    cmocka_unit_test(test_alert_outbox_torn_tail_and_bad_crc),
	    cmocka_unit_test(test_alert_outbox_concurrent_senders_keep_group_order),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
