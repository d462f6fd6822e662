/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_notify.c: tests for alert/notify.c and alert/notify_api.c, the notifier object in
 * process: posting and validation (alert_notifier_post and the v2 JSON body), the alerts
 * and silences API bodies with their filters, reload (groups rebuilt on the new routes; a
 * bad config keeps the old one), stats and metrics, and the flush pipeline: a due group
 * is written to the outbox, the entry survives a restart, and the persisted notification
 * log keeps an unchanged group from being queued again. The webhook points at a closed
 * loopback port, so entries stay queued (delivery itself: tests/integration).
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

static void rm_rf(const char *p)
{
	DIR *d = opendir(p);
	if (!d) {
		unlink(p);
		return;
	}
	struct dirent *de;
	char q[1024];
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(q, sizeof(q), "%s/%s", p, de->d_name);
		rm_rf(q);
	}
	closedir(d);
	rmdir(p);
}

static int setup(void **state)
{
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(dir, sizeof(dir), "%s/notify", STRATA_TEST_TMP);
	rm_rf(dir);
	mkdir(dir, 0755);
	return 0;
}

static ts_config *config(const char *text)
{
	char p[700];
	snprintf(p, sizeof(p), "%s/strata.yml", dir);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	ts_config *c = NULL;
	ts_err e = {0};
	if (ts_config_load(p, &c, &e))
		fail_msg("%s", e.msg);
	return c;
}

static alert_notifier *open_n(const ts_config *c)
{
	char data[700];
	snprintf(data, sizeof(data), "%s/data", dir);
	alert_notifier_options o = {.config = c, .data_dir = data, .external_url = "http://x"};
	alert_notifier *n = NULL;
	ts_err e = {0};
	if (alert_notifier_new(&o, &n, &e))
		fail_msg("%s", e.msg);
	return n;
}

static const char routed[] = "alerting:\n"
			     "  outbox: {retry_initial: 10s}\n"
			     "  config:\n"
			     "    route:\n"
			     "      receiver: hook\n"
			     "      group_by: [alertname]\n"
			     "      group_wait: 0s\n"
			     "      group_interval: 100ms\n"
			     "      routes: [{matchers: [team=db], receiver: db}]\n"
			     "    receivers:\n"
			     "      - name: hook\n"
			     "        webhook_configs: [{url: 'http://127.0.0.1:1/'}]\n"
			     "      - name: db\n";

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void test_alert_notifier_post_validation(void **state)
{
	setup(NULL);
	alert_notifier *n = open_n(NULL);
	const ts_label ok[] = {{"alertname", "A"}, {"job", "j"}};
	const ts_label bad_name[] = {{"alertname", "A"}, {"bad-name", "x"}};
	alert_posted v[] = {
	    {.labels = ok, .n_labels = 2},
	    {.labels = NULL, .n_labels = 0},
	    {.labels = bad_name, .n_labels = 2},
	    {.labels = ok, .n_labels = 2, .starts_at_ms = 2000, .ends_at_ms = 1000},
	};
	ts_err e = {0};
	assert_int_equal(alert_notifier_post(n, v, 4, &e), TS_EINVAL);
	assert_string_equal(e.msg, "alert 1: at least one label pair required");
	alert_notifier_stats st;
	alert_notifier_get_stats(n, &st);
	assert_int_equal(st.n_invalid, 3);
	assert_int_equal(st.n_received_firing, 1);
	assert_int_equal(st.n_alerts, 1);
	assert_int_equal(st.n_groups, 1);

	/* JSON bodies */
	assert_int_equal(alert_notifier_post_json(n, "{bad", 4, &e), TS_EPARSE);
	assert_int_equal(alert_notifier_post_json(n, "{}", 2, &e), TS_EPARSE);
	static const char mixed[] = "[{\"labels\":{\"alertname\":\"B\",\"empty\":\"\"},"
				    "\"endsAt\":\"2020-01-01T00:00:00Z\"},{\"labels\":{}},"
				    "{\"labels\":{\"alertname\":\"C\"},\"startsAt\":\"nope\"}]";
	assert_int_equal(alert_notifier_post_json(n, mixed, strlen(mixed), &e), TS_EINVAL);
	assert_string_equal(e.msg, "at least one label pair required");
	alert_notifier_get_stats(n, &st);
	assert_int_equal(st.n_received_resolved, 1);
	assert_int_equal(st.n_alerts, 2); /* B (resolved) is held too */

	/* GET /api/v2/alerts leaves resolved alerts out */
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	alert_notifier_query q = {.active = true, .silenced = true, .inhibited = true};
	assert_int_equal(alert_notifier_alerts_json(n, &q, &b, &e), TS_OK);
	assert_non_null(strstr(b.data, "\"receivers\":[{\"name\":\"strata-null\"}]"));
	assert_null(strstr(b.data, "\"B\""));
	const char *bad_filter[] = {"alertname=~\"(\""};
	q.filter = bad_filter;
	q.n_filter = 1;
	assert_int_equal(alert_notifier_alerts_json(n, &q, &b, &e), TS_EINVAL);
	ts_buf_free(&b);
	alert_notifier_free(n);
}

static void test_alert_notifier_silences_api(void **state)
{
	setup(NULL);
	alert_notifier *n = open_n(NULL);
	const ts_label l[] = {{"alertname", "A"}, {"team", "db"}};
	alert_posted p = {.labels = l, .n_labels = 2};
	ts_err e = {0};
	assert_int_equal(alert_notifier_post(n, &p, 1, &e), TS_OK);
	static const char body[] = "{\"matchers\":[{\"name\":\"team\",\"value\":\"db\","
				   "\"isRegex\":false}],\"startsAt\":\"2020-01-01T00:00:00Z\","
				   "\"endsAt\":\"2099-01-01T00:00:00Z\",\"createdBy\":\"t\","
				   "\"comment\":\"c\"}";
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	assert_int_equal(alert_notifier_silence_post_json(n, body, strlen(body), &b, &e), TS_OK);
	assert_true(b.len == strlen("{\"silenceID\":\"\"}") + 36);
	char id[37];
	memcpy(id, b.data + 14, 36);
	id[36] = '\0';
	ts_buf_reset(&b);
	alert_notifier_query q = {.active = true, .silenced = false, .inhibited = true};
	assert_int_equal(alert_notifier_alerts_json(n, &q, &b, &e), TS_OK);
	assert_string_equal(b.data, "[]");
	ts_buf_reset(&b);
	const char *f_yes[] = {"team=\"db\""}, *f_no[] = {"team=\"web\""};
	assert_int_equal(alert_notifier_silences_json(n, f_yes, 1, &b, &e), TS_OK);
	assert_non_null(strstr(b.data, id));
	ts_buf_reset(&b);
	assert_int_equal(alert_notifier_silences_json(n, f_no, 1, &b, &e), TS_OK);
	assert_string_equal(b.data, "[]");
	ts_buf_reset(&b);
	assert_int_equal(alert_notifier_silence_json(n, id, &b, &e), TS_OK);
	assert_non_null(strstr(b.data, "\"state\":\"active\""));
	assert_int_equal(alert_notifier_silence_expire(n, id, &e), TS_OK);
	assert_int_equal(alert_notifier_silence_expire(n, "x", &e), TS_ENOTFOUND);
	assert_int_equal(alert_notifier_silence_json(n, "x", &b, &e), TS_ENOTFOUND);
	assert_int_equal(alert_notifier_silence_post_json(n, "[", 1, &b, &e), TS_EPARSE);
	ts_buf_reset(&b);
	assert_int_equal(alert_notifier_write_metrics(n, &b), TS_OK);
	assert_non_null(strstr(b.data, "strata_alertmanager_silences{state=\"expired\"} 1\n"));
	assert_non_null(strstr(b.data, "strata_alertmanager_alerts 1\n"));
	assert_non_null(strstr(b.data, "# TYPE strata_alertmanager_outbox_depth gauge\n"));
	ts_buf_free(&b);
	alert_notifier_free(n);
}

static void test_alert_notifier_reload_regroups(void **state)
{
	setup(NULL);
	alert_notifier *n = open_n(NULL);
	const ts_label l[] = {{"alertname", "A"}, {"team", "db"}};
	const ts_label m[] = {{"alertname", "B"}, {"team", "web"}};
	alert_posted p[] = {{.labels = l, .n_labels = 2}, {.labels = m, .n_labels = 2}};
	ts_err e = {0};
	assert_int_equal(alert_notifier_post(n, p, 2, &e), TS_OK);
	alert_notifier_stats st;
	alert_notifier_get_stats(n, &st);
	assert_int_equal(st.n_groups, 1); /* root route, no group_by */

	ts_config *bad = config("alerting:\n  config: {route: {receiver: nope}}\n");
	assert_int_equal(alert_notifier_reload(n, bad, &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "undefined receiver"));
	ts_config_free(bad);

	ts_config *c = config(routed);
	assert_int_equal(alert_notifier_reload(n, c, &e), TS_OK);
	ts_config_free(c); /* the notifier keeps nothing of it */
	alert_notifier_get_stats(n, &st);
	assert_int_equal(st.n_groups, 2); /* db route and root, grouped by alertname */
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	alert_notifier_query q = {
	    .active = true, .silenced = true, .inhibited = true, .receiver = "d."};
	assert_int_equal(alert_notifier_alerts_json(n, &q, &b, &e), TS_OK);
	assert_non_null(strstr(b.data, "\"receivers\":[{\"name\":\"db\"}]"));
	assert_null(strstr(b.data, "\"web\""));
	ts_buf_free(&b);
	alert_notifier_free(n);
}

static void test_alert_notifier_flush_outbox_restart(void **state)
{
	setup(NULL);
	ts_config *c = config(routed);
	alert_notifier *n = open_n(c);
	const ts_label l[] = {{"alertname", "A"}, {"instance", "i1"}};
	alert_posted p = {.labels = l, .n_labels = 2};
	ts_err e = {0};
	assert_int_equal(alert_notifier_post(n, &p, 1, &e), TS_OK);
	alert_notifier_stats st;
	for (int i = 0; i < 300; i++) {
		alert_notifier_get_stats(n, &st);
		if (st.outbox_depth == 1 && st.n_nlog == 1)
			break;
		sleep_ms(10);
	}
	assert_int_equal(st.outbox_depth, 1);
	assert_int_equal(st.n_nlog, 1);
	sleep_ms(300); /* several group_intervals: deduplicated, nothing new queued */
	alert_notifier_receiver_stats rs[4];
	assert_int_equal(alert_notifier_receivers(n, rs, 4), 1);
	assert_string_equal(rs[0].receiver, "hook");
	assert_string_equal(rs[0].integration, "webhook");
	assert_int_equal(rs[0].n_enqueued, 1);
	assert_true(rs[0].n_retries >= 1); /* the closed port was tried */
	alert_notifier_free(n);

	/* Restart: the entry is replayed; the same alert is not queued again. */
	n = open_n(c);
	alert_notifier_get_stats(n, &st);
	assert_int_equal(st.outbox_depth, 1);
	assert_int_equal(st.n_nlog, 1);
	assert_int_equal(alert_notifier_post(n, &p, 1, &e), TS_OK);
	sleep_ms(400);
	assert_int_equal(alert_notifier_receivers(n, rs, 4), 1);
	assert_int_equal(rs[0].n_enqueued, 0);
	/* A new alert in the group changes it: queued, superseding the replayed entry. */
	const ts_label l2[] = {{"alertname", "A"}, {"instance", "i2"}};
	alert_posted p2 = {.labels = l2, .n_labels = 2};
	assert_int_equal(alert_notifier_post(n, &p2, 1, &e), TS_OK);
	for (int i = 0; i < 300; i++) {
		alert_notifier_receivers(n, rs, 4);
		if (rs[0].n_enqueued == 1)
			break;
		sleep_ms(10);
	}
	assert_int_equal(rs[0].n_enqueued, 1);
	assert_int_equal(rs[0].n_superseded, 1);
	alert_notifier_get_stats(n, &st);
	assert_int_equal(st.outbox_depth, 1);
	alert_notifier_free(n);
	ts_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_notifier_post_validation),
	    cmocka_unit_test(test_alert_notifier_silences_api),
	    cmocka_unit_test(test_alert_notifier_reload_regroups),
	    cmocka_unit_test(test_alert_notifier_flush_outbox_restart),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
