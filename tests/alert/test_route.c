/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_route.c: tests for alert/route.c (and the payload renderer that depends on it):
 * fingerprints, route matching with continue and nesting, group labels, group keys and
 * the webhook payload, each compared with what Alertmanager 0.25 produced for the same
 * input (values captured from a real prometheus-alertmanager run), matcher text parsing,
 * the label-set string quoting, alert ordering, alert merging and the u64 map.
 */
#include "alert/notify_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The Alertmanager config the reference values were captured with. */
static const char am_config[] = "global:\n"
				"  resolve_timeout: 5m\n"
				"route:\n"
				"  receiver: hook\n"
				"  group_by: ['alertname', 'job']\n"
				"  group_wait: 1s\n"
				"  group_interval: 2s\n"
				"  repeat_interval: 1h\n"
				"  routes:\n"
				"    - matchers: ['team=\"a\"', 'sev=~\"crit|warn\"']\n"
				"      receiver: hook\n"
				"      group_by: ['...']\n"
				"    - match: {team: b}\n"
				"      match_re: {env: \"prod.*\"}\n"
				"      receiver: hook\n"
				"receivers:\n"
				"  - name: hook\n"
				"    webhook_configs:\n"
				"      - url: http://127.0.0.1:18099/\n";

static alert_ncfg *load(const char *text)
{
	alert_ncfg *c = NULL;
	ts_err e = {0};
	if (alert_ncfg_parse("am.yml", text, strlen(text), &c, &e))
		fail_msg("config: %s", e.msg);
	return c;
}

static const ts_label x_labels[] = {
    {"alertname", "X"}, {"job", "j"}, {"sev", "crit"}, {"team", "a"}};
static const ts_label y_labels[] = {{"alertname", "Y"}, {"env", "prod1"}, {"team", "b"}};

static void test_alert_fingerprint_matches_alertmanager(void **state)
{
	assert_int_equal(alert_fingerprint(x_labels, 4), 0x5be5f72c48d1298fULL);
	assert_int_equal(alert_fingerprint(y_labels, 3), 0x6b40024832323f4bULL);
	/* The empty set is FNV-1a's offset basis. */
	assert_int_equal(alert_fingerprint(NULL, 0), 14695981039346656037ULL);
}

static void test_alert_group_key_matches_alertmanager(void **state)
{
	alert_ncfg *c = load(am_config);
	const alert_ncfg_route *rs[8];
	ts_label gl[8];
	ts_buf b;
	ts_buf_init(&b, 1 << 20);

	assert_int_equal(alert_route_match(c->root, x_labels, 4, rs, 8), 1);
	assert_string_equal(rs[0]->key, "{}/{sev=~\"crit|warn\",team=\"a\"}");
	size_t ng = alert_route_group_labels(rs[0], x_labels, 4, gl);
	assert_int_equal(ng, 4);
	assert_int_equal(alert_group_key(rs[0], gl, ng, &b), TS_OK);
	assert_string_equal(b.data, "{}/{sev=~\"crit|warn\",team=\"a\"}:{alertname=\"X\", "
				    "job=\"j\", sev=\"crit\", team=\"a\"}");

	ts_buf_reset(&b);
	assert_int_equal(alert_route_match(c->root, y_labels, 3, rs, 8), 1);
	ng = alert_route_group_labels(rs[0], y_labels, 3, gl);
	assert_int_equal(ng, 1); /* group_by alertname, job: job is absent */
	assert_int_equal(alert_group_key(rs[0], gl, ng, &b), TS_OK);
	assert_string_equal(b.data, "{}/{env=~\"^(?:prod.*)$\",team=\"b\"}:{alertname=\"Y\"}");

	/* An alert matching no child goes to the root. */
	const ts_label z[] = {{"alertname", "Z"}, {"job", "j2"}};
	assert_int_equal(alert_route_match(c->root, z, 2, rs, 8), 1);
	assert_ptr_equal(rs[0], c->root);
	ts_buf_reset(&b);
	ng = alert_route_group_labels(rs[0], z, 2, gl);
	alert_group_key(rs[0], gl, ng, &b);
	assert_string_equal(b.data, "{}:{alertname=\"Z\", job=\"j2\"}");
	ts_buf_free(&b);
	alert_ncfg_release(c);
}

static void test_alert_webhook_render_matches_alertmanager(void **state)
{
	alert_ncfg *c = load(am_config);
	const ts_label ann[] = {{"summary", "s1"}};
	int64_t starts = 1704067200123LL; /* 2024-01-01T00:00:00.123Z */
	int64_t now = starts + 60000;
	alert_nalert *a =
	    alert_nalert_new(x_labels, 4, ann, 1, "http://g/1", starts, now + 300000, now, true);
	const alert_ncfg_route *rs[2];
	alert_route_match(c->root, x_labels, 4, rs, 2);
	ts_label gl[8];
	size_t ng = alert_route_group_labels(rs[0], x_labels, 4, gl);
	ts_buf key, out;
	ts_buf_init(&key, 1 << 20);
	ts_buf_init(&out, 1 << 20);
	alert_group_key(rs[0], gl, ng, &key);
	alert_ndata d = {.receiver = "hook",
			 .group_key = key.data,
			 .group_labels = gl,
			 .n_group_labels = ng,
			 .alerts = &a,
			 .n_alerts = 1,
			 .now_ms = now,
			 .external_url = "http://vm:19093"};
	assert_int_equal(alert_webhook_render(&d, 0, &out), TS_OK);
	assert_string_equal(
	    out.data,
	    "{\"receiver\":\"hook\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\","
	    "\"labels\":{\"alertname\":\"X\",\"job\":\"j\",\"sev\":\"crit\",\"team\":\"a\"},"
	    "\"annotations\":{\"summary\":\"s1\"},\"startsAt\":\"2024-01-01T00:00:00.123Z\","
	    "\"endsAt\":\"0001-01-01T00:00:00Z\",\"generatorURL\":\"http://g/1\","
	    "\"fingerprint\":\"5be5f72c48d1298f\"}],\"groupLabels\":{\"alertname\":\"X\","
	    "\"job\":\"j\",\"sev\":\"crit\",\"team\":\"a\"},\"commonLabels\":{\"alertname\":"
	    "\"X\",\"job\":\"j\",\"sev\":\"crit\",\"team\":\"a\"},\"commonAnnotations\":{"
	    "\"summary\":\"s1\"},\"externalURL\":\"http://vm:19093\",\"version\":\"4\","
	    "\"groupKey\":\"{}/{sev=~\\\"crit|warn\\\",team=\\\"a\\\"}:{alertname=\\\"X\\\", "
	    "job=\\\"j\\\", sev=\\\"crit\\\", team=\\\"a\\\"}\",\"truncatedAlerts\":0}");

	/* Resolved: endsAt is the real end; max_alerts truncates but counts. */
	alert_nalert *r =
	    alert_nalert_new(x_labels, 3, NULL, 0, NULL, starts, starts + 1500, now, false);
	alert_nalert *v[2] = {a, r};
	alert_nalerts_sort(v, 2);
	d.alerts = v;
	d.n_alerts = 2;
	ts_buf_reset(&out);
	assert_int_equal(alert_webhook_render(&d, 1, &out), TS_OK);
	assert_non_null(strstr(out.data, "\"truncatedAlerts\":1"));
	assert_non_null(strstr(out.data, "\"status\":\"firing\",\"alerts\""));
	assert_non_null(strstr(out.data, "\"commonLabels\":{\"alertname\":\"X\",\"job\":\"j\","
					 "\"sev\":\"crit\"}"));
	assert_non_null(strstr(out.data, "\"commonAnnotations\":{}"));
	d.alerts = &r;
	d.n_alerts = 1;
	ts_buf_reset(&out);
	alert_webhook_render(&d, 0, &out);
	assert_non_null(strstr(out.data, "\"status\":\"resolved\",\"alerts\""));
	assert_non_null(strstr(out.data, "\"endsAt\":\"2024-01-01T00:00:01.623Z\""));
	assert_non_null(strstr(out.data, "\"generatorURL\":\"\""));
	alert_nalert_release(a);
	alert_nalert_release(r);
	ts_buf_free(&key);
	ts_buf_free(&out);
	alert_ncfg_release(c);
}

static void test_alert_route_match_continue_and_nesting(void **state)
{
	alert_ncfg *c = load("route:\n"
			     "  receiver: root\n"
			     "  routes:\n"
			     "    - matchers: [team=a]\n"
			     "      receiver: a\n"
			     "      continue: true\n"
			     "      routes:\n"
			     "        - matchers: ['sev=\"page\"']\n"
			     "          receiver: a-page\n"
			     "    - matchers: ['team=~\"a|b\"']\n"
			     "      receiver: ab\n"
			     "    - matchers: [team=a]\n"
			     "      receiver: never\n"
			     "receivers: [{name: root}, {name: a}, {name: a-page}, {name: ab}, "
			     "{name: never}]\n");
	const alert_ncfg_route *rs[8];
	const ts_label l1[] = {{"sev", "page"}, {"team", "a"}};
	assert_int_equal(alert_route_match(c->root, l1, 2, rs, 8), 2);
	assert_string_equal(rs[0]->receiver, "a-page");
	assert_string_equal(rs[1]->receiver, "ab");
	assert_string_equal(rs[0]->key, "{}/{team=\"a\"}/{sev=\"page\"}");
	const ts_label l2[] = {{"team", "a"}};
	assert_int_equal(alert_route_match(c->root, l2, 1, rs, 8), 2);
	assert_string_equal(rs[0]->receiver, "a");
	assert_string_equal(rs[1]->receiver, "ab");
	const ts_label l3[] = {{"team", "c"}};
	assert_int_equal(alert_route_match(c->root, l3, 1, rs, 8), 1);
	assert_string_equal(rs[0]->receiver, "root");
	/* Not enough room: the count is still right. */
	assert_int_equal(alert_route_match(c->root, l1, 2, rs, 1), 2);
	/* Inherited settings and defaults. */
	assert_int_equal(c->root->group_wait_ms, 30000);
	assert_int_equal(c->root->group_interval_ms, 300000);
	assert_int_equal(c->root->repeat_interval_ms, 4 * 3600000);
	assert_int_equal(c->routes[2]->group_wait_ms, 30000);
	alert_ncfg_release(c);
}

static void test_alert_matchers_parse_syntaxes(void **state)
{
	ts_matcher *m = NULL;
	size_t n = 0;
	ts_err e = {0};
	assert_int_equal(
	    alert_matchers_parse("{a=\"b\", c!~\"x.*\" , d=~e,f!=\"q\\\"uote\\\\\"}", &m, &n, &e),
	    TS_OK);
	assert_int_equal(n, 4);
	assert_int_equal(m[0].type, TS_MATCH_EQ);
	assert_string_equal(m[0].value, "b");
	assert_int_equal(m[1].type, TS_MATCH_NRE);
	assert_string_equal(m[1].value, "x.*");
	assert_int_equal(m[2].type, TS_MATCH_RE);
	assert_string_equal(m[2].value, "e");
	assert_int_equal(m[3].type, TS_MATCH_NEQ);
	assert_string_equal(m[3].value, "q\"uote\\");
	ts_buf b;
	ts_buf_init(&b, 1024);
	alert_matcher_string(&m[3], &b);
	assert_string_equal(b.data, "f!=\"q\\\"uote\\\\\"");
	ts_buf_free(&b);
	assert_int_equal(alert_matchers_parse("foo = bar baz", &m, &n, &e), TS_OK);
	assert_int_equal(n, 5);
	assert_string_equal(m[4].value, "bar baz");
	assert_int_equal(alert_matchers_parse("{}", &m, &n, &e), TS_EINVAL);
	assert_int_equal(alert_matchers_parse("1a=b", &m, &n, &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "expected a label name"));
	assert_int_equal(alert_matchers_parse("a==b", &m, &n, &e), TS_OK); /* value "=b" */
	assert_int_equal(alert_matchers_parse("a<b", &m, &n, &e), TS_EINVAL);
	assert_int_equal(alert_matchers_parse("a=\"open", &m, &n, &e), TS_EINVAL);
	assert_int_equal(alert_matchers_parse("{a=b", &m, &n, &e), TS_EINVAL);
	assert_int_equal(alert_matchers_parse("a=~\"(\"", &m, &n, &e), TS_EINVAL);
	assert_int_equal(n, 6); /* failures append nothing */
	alert_matchers_free(m, n);
}

static void test_alert_labels_string_quotes_like_go(void **state)
{
	const ts_label l[] = {{"a", "x\"y"}, {"a0", "tab\there"}, {"b", "\x01nl\n\\"}};
	ts_buf b;
	ts_buf_init(&b, 1024);
	assert_int_equal(alert_labels_string(l, 3, &b), TS_OK);
	/* Sorted as "name=value" strings: "a0=" sorts before "a=" ('0' < '='). */
	assert_string_equal(b.data, "{a0=\"tab\\there\", a=\"x\\\"y\", b=\"\\x01nl\\n\\\\\"}");
	ts_buf_reset(&b);
	alert_labels_string(NULL, 0, &b);
	assert_string_equal(b.data, "{}");
	ts_buf_free(&b);
}

static void test_alert_nalerts_sort_job_instance_labels(void **state)
{
	const ts_label a[] = {{"alertname", "A"}, {"instance", "i2"}, {"job", "j1"}};
	const ts_label b[] = {{"alertname", "A"}, {"instance", "i1"}, {"job", "j1"}};
	const ts_label c[] = {{"alertname", "A"}, {"job", "j0"}};
	const ts_label d[] = {{"alertname", "B"}};
	alert_nalert *v[4] = {
	    alert_nalert_new(d, 1, NULL, 0, NULL, 1, 2, 1, false),
	    alert_nalert_new(a, 3, NULL, 0, NULL, 1, 2, 1, false),
	    alert_nalert_new(b, 3, NULL, 0, NULL, 1, 2, 1, false),
	    alert_nalert_new(c, 2, NULL, 0, NULL, 1, 2, 1, false),
	};
	alert_nalerts_sort(v, 4);
	assert_string_equal(ts_labels_get(v[0]->labels, v[0]->n_labels, "job"), "j0");
	assert_string_equal(ts_labels_get(v[1]->labels, v[1]->n_labels, "instance"), "i1");
	assert_string_equal(ts_labels_get(v[2]->labels, v[2]->n_labels, "instance"), "i2");
	assert_string_equal(v[3]->labels[0].value, "B"); /* no job sorts last */
	for (int i = 0; i < 4; i++)
		alert_nalert_release(v[i]);
}

static void test_alert_nalert_merge_rules(void **state)
{
	const ts_label l[] = {{"alertname", "A"}};
	/* Firing re-post: earliest start, young end (old end came from a timeout). */
	alert_nalert *old = alert_nalert_new(l, 1, NULL, 0, NULL, 100, 1000, 50, true);
	alert_nalert *young = alert_nalert_new(l, 1, NULL, 0, NULL, 200, 900, 60, true);
	alert_nalert *m = alert_nalert_merge(old, young);
	assert_int_equal(m->starts_at_ms, 100);
	assert_int_equal(m->ends_at_ms, 900);
	alert_nalert_release(m);
	/* A non-timeout later end of the old alert wins while firing. */
	alert_nalert *old2 = alert_nalert_new(l, 1, NULL, 0, NULL, 100, 5000, 50, false);
	m = alert_nalert_merge(old2, young);
	assert_int_equal(m->ends_at_ms, 5000);
	alert_nalert_release(m);
	/* Resolved young (end <= its updated time) keeps its end. */
	alert_nalert *res = alert_nalert_new(l, 1, NULL, 0, NULL, 100, 55, 60, false);
	m = alert_nalert_merge(old2, res);
	assert_int_equal(m->ends_at_ms, 55);
	assert_true(alert_nalert_is_resolved(m, 60));
	alert_nalert_release(m);
	alert_nalert_release(old);
	alert_nalert_release(old2);
	alert_nalert_release(young);
	alert_nalert_release(res);
}

static void test_alert_u64map_put_get_del_grow(void **state)
{
	alert_u64map m = {0};
	assert_null(alert_u64map_get(&m, 1));
	assert_null(alert_u64map_del(&m, 1));
	for (uintptr_t i = 1; i <= 5000; i++)
		assert_int_equal(alert_u64map_put(&m, i * 7919, (void *)i), TS_OK);
	assert_int_equal(m.n, 5000);
	for (uintptr_t i = 1; i <= 5000; i += 2)
		assert_ptr_equal(alert_u64map_del(&m, i * 7919), (void *)i);
	assert_int_equal(m.n, 2500);
	for (uintptr_t i = 1; i <= 5000; i++)
		assert_ptr_equal(alert_u64map_get(&m, i * 7919), i % 2 ? NULL : (void *)i);
	/* churn through tombstones without growing without bound */
	for (uint64_t i = 10000; i < 60000; i++) {
		alert_u64map_put(&m, i << 40, (void *)(uintptr_t)i);
		alert_u64map_del(&m, i << 40);
	}
	assert_true(m.cap <= 16384);
	size_t it = 0, cnt = 0;
	while (alert_u64map_next(&m, &it, NULL, NULL))
		cnt++;
	assert_int_equal(cnt, 2500);
	alert_u64map_free(&m);
}

static void test_alert_time_go_format(void **state)
{
	char b[64];
	alert_time_go(0, b, sizeof(b));
	assert_string_equal(b, "0001-01-01T00:00:00Z");
	alert_time_go(1704067200000LL, b, sizeof(b));
	assert_string_equal(b, "2024-01-01T00:00:00Z");
	alert_time_go(1704067200500LL, b, sizeof(b));
	assert_string_equal(b, "2024-01-01T00:00:00.5Z");
	alert_time_go(1704067200120LL, b, sizeof(b));
	assert_string_equal(b, "2024-01-01T00:00:00.12Z");
	int64_t t;
	ts_err e = {0};
	assert_int_equal(alert_time_parse("0001-01-01T00:00:00Z", &t, &e), TS_OK);
	assert_int_equal(t, 0);
	assert_int_equal(alert_time_parse("2024-01-01T00:00:00.5Z", &t, &e), TS_OK);
	assert_int_equal(t, 1704067200500LL);
	assert_int_not_equal(alert_time_parse("yesterday", &t, &e), TS_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_fingerprint_matches_alertmanager),
	    cmocka_unit_test(test_alert_group_key_matches_alertmanager),
	    cmocka_unit_test(test_alert_webhook_render_matches_alertmanager),
	    cmocka_unit_test(test_alert_route_match_continue_and_nesting),
	    cmocka_unit_test(test_alert_matchers_parse_syntaxes),
	    cmocka_unit_test(test_alert_labels_string_quotes_like_go),
	    cmocka_unit_test(test_alert_nalerts_sort_job_instance_labels),
	    cmocka_unit_test(test_alert_nalert_merge_rules),
	    cmocka_unit_test(test_alert_u64map_put_get_del_grow),
	    cmocka_unit_test(test_alert_time_go_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
