/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_notify_config.c: tests for alert/notify_config.c: the `alerting:` section of the
 * Strata config (inline `config:`, `config_file:` relative to the config, Strata's own
 * keys), the Alertmanager subset (global defaults, route inheritance, both matcher
 * syntaxes, inhibit rules, webhook and email receivers, http_config auth) and every
 * error with its file:line:col message, plus allocation failures.
 */
#include "alert/notify_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

static char tmpdir[512];

static int setup(void **state)
{
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(tmpdir, sizeof(tmpdir), "%s/notify_config", STRATA_TEST_TMP);
	mkdir(tmpdir, 0755);
	return 0;
}

static void write_file(const char *name, const char *text)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Load a Strata config file named s.yml and parse its alerting section. */
static int load_strata(const char *text, alert_ncfg **out, ts_err *err)
{
	write_file("s.yml", text);
	char p[600];
	snprintf(p, sizeof(p), "%s/s.yml", tmpdir);
	ts_config *c = NULL;
	int rc = ts_config_load(p, &c, err);
	if (rc)
		return rc;
	rc = alert_ncfg_from_config(c, out, err);
	ts_config_free(c);
	return rc;
}

static alert_ncfg *am_ok(const char *text)
{
	alert_ncfg *c = NULL;
	ts_err e = {0};
	if (alert_ncfg_parse("am.yml", text, strlen(text), &c, &e))
		fail_msg("unexpected error: %s", e.msg);
	return c;
}

static void am_err(const char *text, const char *msg)
{
	alert_ncfg *c = NULL;
	ts_err e = {0};
	int rc = alert_ncfg_parse("am.yml", text, strlen(text), &c, &e);
	assert_int_not_equal(rc, TS_OK);
	assert_null(c);
	if (!strstr(e.msg, msg))
		fail_msg("error '%s' does not contain '%s'", e.msg, msg);
}

#define RECV "receivers: [{name: r}]\n"

static void test_alert_ncfg_from_config_absent_section(void **state)
{
	alert_ncfg *c = NULL;
	ts_err e = {0};
	assert_int_equal(alert_ncfg_from_config(NULL, &c, &e), TS_OK);
	assert_int_equal(c->n_routes, 1);
	assert_string_equal(c->root->receiver, "strata-null");
	assert_int_equal(c->receivers[0].n_integ, 0);
	assert_int_equal(c->resolve_timeout_ms, 300000);
	assert_int_equal(c->outbox_max_age_ms, 24LL * 3600000);
	assert_int_equal(c->retry_initial_ms, 1000);
	assert_int_equal(c->retry_max_ms, 300000);
	assert_int_equal(c->send_timeout_ms, 10000);
	assert_int_equal(c->rate_limit, 0);
	alert_ncfg_release(c);
	assert_int_equal(load_strata("server:\n  listen: 127.0.0.1:0\n", &c, &e), TS_OK);
	assert_string_equal(c->root->receiver, "strata-null");
	alert_ncfg_release(c);
}

static void test_alert_ncfg_from_config_inline_and_strata_keys(void **state)
{
	alert_ncfg *c = NULL;
	ts_err e = {0};
	int rc = load_strata("alerting:\n"
			     "  external_url: http://strata.example:9470\n"
			     "  retention: 48h\n"
			     "  alertmanagers: [http://127.0.0.1:9093]\n"
			     "  outbox: {max_age: 1h, retry_initial: 100ms, retry_max: 2s, "
			     "timeout: 3s}\n"
			     "  rate_limit: {notifications: 5, interval: 10s}\n"
			     "  config:\n"
			     "    global: {resolve_timeout: 1m}\n"
			     "    route: {receiver: hook, group_wait: 1s}\n"
			     "    receivers:\n"
			     "      - name: hook\n"
			     "        webhook_configs: [{url: 'http://127.0.0.1:1/x'}]\n",
			     &c, &e);
	if (rc)
		fail_msg("%s", e.msg);
	assert_string_equal(c->external_url, "http://strata.example:9470");
	assert_int_equal(c->retention_ms, 48 * 3600000LL);
	assert_int_equal(c->n_alertmanagers, 1);
	assert_string_equal(c->alertmanagers[0], "http://127.0.0.1:9093");
	assert_int_equal(c->outbox_max_age_ms, 3600000);
	assert_int_equal(c->retry_initial_ms, 100);
	assert_int_equal(c->retry_max_ms, 2000);
	assert_int_equal(c->send_timeout_ms, 3000);
	assert_int_equal(c->rate_limit, 5);
	assert_int_equal(c->rate_limit_interval_ms, 10000);
	assert_int_equal(c->resolve_timeout_ms, 60000);
	assert_int_equal(c->root->group_wait_ms, 1000);
	const alert_ncfg_receiver *r = alert_ncfg_receiver_get(c, "hook");
	assert_non_null(r);
	assert_int_equal(r->n_integ, 1);
	assert_int_equal(r->integ[0].kind, ALERT_NCFG_WEBHOOK);
	assert_true(r->integ[0].send_resolved);
	assert_string_equal(r->integ[0].u.webhook->url, "http://127.0.0.1:1/x");
	assert_true(r->integ[0].u.webhook->http.follow_redirects);
	alert_ncfg_release(c);
}

static void test_alert_ncfg_from_config_file_relative(void **state)
{
	write_file("pw", "s3cret\n");
	write_file("am.yml", "route: {receiver: hook}\n"
			     "receivers:\n"
			     "  - name: hook\n"
			     "    webhook_configs:\n"
			     "      - url: https://hooks.example/a\n"
			     "        http_config:\n"
			     "          basic_auth: {username: u, password_file: pw}\n");
	alert_ncfg *c = NULL;
	ts_err e = {0};
	if (load_strata("alerting:\n  config_file: am.yml\n", &c, &e))
		fail_msg("%s", e.msg);
	const alert_ncfg_webhook *w = c->receivers[0].integ[0].u.webhook;
	assert_string_equal(w->http.basic_user, "u");
	assert_string_equal(w->http.basic_password, "s3cret");
	alert_ncfg_release(c);

	/* Errors inside the file name that file. */
	write_file("bad.yml", "route: {receiver: nope}\n" RECV);
	assert_int_equal(load_strata("alerting:\n  config_file: bad.yml\n", &c, &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "bad.yml:1:8: route: undefined receiver \"nope\""));
	assert_int_equal(load_strata("alerting:\n  config_file: missing.yml\n", &c, &e), TS_EIO);
	/* Errors inline name the Strata config and the key path. */
	assert_int_equal(load_strata("alerting:\n"
				     "  config:\n"
				     "    route: {receiver: r, group_wait: soon}\n"
				     "    " RECV,
				     &c, &e),
			 TS_EINVAL);
	assert_non_null(strstr(e.msg, "s.yml:3:38: alerting.config.route.group_wait: invalid "
				      "duration 'soon'"));
	assert_int_equal(load_strata("alerting:\n  config: {}\n  config_file: x.yml\n", &c, &e),
			 TS_EINVAL);
	assert_non_null(strstr(e.msg, "s.yml:3:16: alerting: config and config_file are "
				      "mutually exclusive"));
	assert_int_equal(load_strata("alerting:\n  outbox: {max_age: 0s}\n", &c, &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "alerting.outbox.max_age: must be positive"));
	assert_int_equal(load_strata("alerting:\n  bogus: 1\n", &c, &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "s.yml:2:3: unknown key 'alerting.bogus'"));
	assert_int_equal(load_strata("alerting:\n  alertmanagers: [ftp://x]\n", &c, &e), TS_EINVAL);
}

static void test_alert_ncfg_parse_routes_and_inheritance(void **state)
{
	alert_ncfg *c = am_ok("route:\n"
			      "  receiver: r\n"
			      "  group_by: [job, alertname]\n"
			      "  group_interval: 1m\n"
			      "  routes:\n"
			      "    - match: {a: '1'}\n"
			      "      matchers: ['b=~\"x|y\"', 'c!=\"z\"']\n"
			      "      repeat_interval: 10m\n"
			      "      routes:\n"
			      "        - group_by: ['...']\n"
			      "          receiver: r2\n"
			      "    - matchers: ['{d!~\"q\", e=f}']\n"
			      "      group_by: []\n"
			      "receivers: [{name: r}, {name: r2}]\n");
	assert_int_equal(c->n_routes, 4);
	const alert_ncfg_route *r1 = c->routes[1], *r11 = c->routes[2], *r2 = c->routes[3];
	assert_int_equal(c->root->n_group_by, 2);
	assert_string_equal(c->root->group_by[0], "alertname"); /* sorted */
	assert_int_equal(r1->n_matchers, 3);
	assert_string_equal(r1->key, "{}/{a=\"1\",b=~\"x|y\",c!=\"z\"}");
	assert_int_equal(r1->group_interval_ms, 60000);
	assert_int_equal(r1->repeat_interval_ms, 600000);
	assert_int_equal(r1->n_group_by, 2);
	assert_true(r11->is_group_by_all);
	assert_string_equal(r11->receiver, "r2");
	assert_int_equal(r11->repeat_interval_ms, 600000);
	assert_string_equal(r11->key, "{}/{a=\"1\",b=~\"x|y\",c!=\"z\"}/{}");
	assert_string_equal(r2->key, "{}/{d!~\"q\",e=\"f\"}");
	assert_int_equal(r2->n_group_by, 0);
	assert_false(r2->is_group_by_all);
	assert_string_equal(r2->receiver, "r");
	alert_ncfg_release(c);
}

static void test_alert_ncfg_parse_receivers(void **state)
{
	alert_ncfg *c = am_ok("global:\n"
			      "  smtp_smarthost: 'mail:25'\n"
			      "  smtp_from: 'am@example.org'\n"
			      "  smtp_auth_username: u\n"
			      "  smtp_auth_password: p\n"
			      "  slack_api_url: http://ignored\n"
			      "  http_config: {authorization: {credentials: tok}}\n"
			      "route: {receiver: r}\n"
			      "receivers:\n"
			      "  - name: r\n"
			      "    email_configs:\n"
			      "      - to: 'a@x, B <b@y>'\n"
			      "        send_resolved: true\n"
			      "        headers: {Subject: hi, X-Team: ops}\n"
			      "        html: ''\n"
			      "        text: '{{ template \"email.default.text\" . }}'\n"
			      "      - to: c@z\n"
			      "        smarthost: 'other:587'\n"
			      "        require_tls: false\n"
			      "        headers: {Subject: '{{ template \"email.default.subject\" . "
			      "}}'}\n"
			      "    webhook_configs:\n"
			      "      - url: http://h/1\n"
			      "        send_resolved: false\n"
			      "        max_alerts: 3\n"
			      "      - url: http://h/2\n"
			      "        http_config: {bearer_token: b2}\n");
	const alert_ncfg_receiver *r = &c->receivers[0];
	assert_int_equal(r->n_integ, 4);
	assert_int_equal(r->integ[0].kind, ALERT_NCFG_WEBHOOK);
	assert_false(r->integ[0].send_resolved);
	assert_int_equal(r->integ[0].u.webhook->max_alerts, 3);
	assert_string_equal(r->integ[0].u.webhook->http.auth_type, "Bearer");
	assert_string_equal(r->integ[0].u.webhook->http.auth_credentials, "tok");
	assert_string_equal(r->integ[1].u.webhook->http.auth_credentials, "b2");
	assert_int_equal(r->integ[1].index, 1);
	const alert_ncfg_email *e0 = r->integ[2].u.email, *e1 = r->integ[3].u.email;
	assert_int_equal(r->integ[2].kind, ALERT_NCFG_EMAIL);
	assert_int_equal(r->integ[2].index, 0);
	assert_true(r->integ[2].send_resolved);
	assert_false(r->integ[3].send_resolved); /* email default */
	assert_string_equal(e0->smarthost, "mail:25");
	assert_string_equal(e0->from, "am@example.org");
	assert_string_equal(e0->auth_username, "u");
	assert_true(e0->require_tls);
	assert_int_equal(e0->n_headers, 2);
	assert_string_equal(e0->html, "");
	assert_null(e0->text); /* default template name = our default body */
	assert_string_equal(e1->smarthost, "other:587");
	assert_false(e1->require_tls);
	assert_int_equal(e1->n_headers, 0);
	alert_ncfg_release(c);
}

static void test_alert_ncfg_parse_inhibit_rules(void **state)
{
	alert_ncfg *c = am_ok("route: {receiver: r}\n" RECV "inhibit_rules:\n"
			      "  - source_matchers: [sev=critical]\n"
			      "    target_match: {sev: warning}\n"
			      "    target_match_re: {team: 'a.*'}\n"
			      "    equal: [cluster, alertname]\n");
	assert_int_equal(c->n_inhibits, 1);
	const alert_ncfg_inhibit *ih = &c->inhibits[0];
	assert_int_equal(ih->n_source, 1);
	assert_int_equal(ih->n_target, 2);
	assert_string_equal(ih->target[1].value, "^(?:a.*)$");
	assert_int_equal(ih->n_equal, 2);
	assert_string_equal(ih->equal[0], "alertname");
	alert_ncfg_release(c);
}

static void test_alert_ncfg_parse_errors(void **state)
{
	am_err("", "empty Alertmanager config");
	am_err(RECV, "am.yml:1:1: route: no routes provided");
	am_err("route: {group_wait: 1s}\n" RECV, "am.yml:1:8: route: root route must specify a "
						 "default receiver");
	am_err("route: {receiver: r, matchers: [a=b]}\n" RECV,
	       "root route must not have any matchers");
	am_err("route: {receiver: r, continue: true}\n" RECV, "cannot have continue in root route");
	am_err("route: {receiver: x}\n" RECV, "am.yml:1:8: route: undefined receiver \"x\"");
	am_err("route: {receiver: r, routes: [{receiver: y}]}\n" RECV,
	       "am.yml:1:31: route: undefined receiver \"y\"");
	am_err("route: {receiver: r, group_by: ['...', a]}\n" RECV,
	       "am.yml:1:33: route.group_by: cannot have wildcard group_by");
	am_err("route: {receiver: r, group_by: [a, a]}\n" RECV,
	       "route.group_by: duplicated label 'a'");
	am_err("route: {receiver: r, group_by: ['a-b']}\n" RECV, "invalid label name 'a-b'");
	am_err("route: {receiver: r, group_interval: 0s}\n" RECV,
	       "route.group_interval: must be positive");
	am_err("route: {receiver: r, routes: [{matchers: ['a=~\"(\"']}]}\n" RECV,
	       "am.yml:1:43: route.routes[0].matchers[0]: invalid regex");
	am_err("route: {receiver: r, routes: [{matchers: ['=b']}]}\n" RECV,
	       "route.routes[0].matchers[0]: bad matcher '=b'");
	am_err("route: {receiver: r, mute_time_intervals: [night]}\n" RECV,
	       "am.yml:1:22: route.mute_time_intervals: not supported by Strata");
	am_err("route: {receiver: r, frobnicate: 1}\n" RECV, "unknown key 'route.frobnicate'");
	am_err("route: {receiver: r}\nreceivers: [{name: r}, {name: r}]\n",
	       "am.yml:2:24: receivers[1]: notification config name \"r\" is not unique");
	am_err("route: {receiver: r}\nreceivers: [{webhook_configs: []}]\n",
	       "receivers[0]: missing name of receiver");
	am_err("route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{channel: x}]}]\n",
	       "am.yml:2:23: receivers[0].slack_configs: not supported by Strata");
	am_err("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{}]}]\n",
	       "receivers[0].webhook_configs[0]: one of url or url_file must be configured");
	am_err("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: 'x://y'}]}]\n",
	       "webhook_configs[0].url: unsupported scheme");
	am_err("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: 'http://a', "
	       "http_config: {basic_auth: {username: u}, bearer_token: t}}]}]\n",
	       "at most one of basic_auth, authorization and bearer_token");
	am_err("route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: 'http://a', "
	       "http_config: {oauth2: {}}}]}]\n",
	       "http_config.oauth2: not supported by Strata");
	am_err("route: {receiver: r}\nreceivers: [{name: r, email_configs: [{from: a@b, "
	       "smarthost: 'h:25'}]}]\n",
	       "missing to address in email config");
	am_err("route: {receiver: r}\nreceivers: [{name: r, email_configs: [{to: a@b}]}]\n",
	       "no global SMTP from set");
	am_err("global: {smtp_from: a@b}\nroute: {receiver: r}\nreceivers: [{name: r, "
	       "email_configs: [{to: a@b}]}]\n",
	       "no global SMTP smarthost set");
	am_err("global: {smtp_from: a@b, smtp_smarthost: nope}\nroute: {receiver: r}\n"
	       "receivers: [{name: r, email_configs: [{to: a@b}]}]\n",
	       "smarthost: 'nope' is not host:port");
	am_err("global: {smtp_from: a@b, smtp_smarthost: 'h:25'}\nroute: {receiver: r}\n"
	       "receivers: [{name: r, email_configs: [{to: a@b, text: 'hi {{ .Status }}'}]}]\n",
	       "email_configs[0].text: templates are not supported by Strata");
	am_err("global: {smtp_from: a@b, smtp_smarthost: 'h:25'}\nroute: {receiver: r}\n"
	       "receivers: [{name: r, email_configs: [{to: a@b, headers: {X: \"a\\nb\"}}]}]\n",
	       "header values cannot contain line breaks");
	am_err("global: {resolve_timeout: 0s}\nroute: {receiver: r}\n" RECV,
	       "global.resolve_timeout: must be positive");
	am_err("global: {smtp_auth_secret: x}\nroute: {receiver: r}\n" RECV,
	       "global.smtp_auth_secret: not supported by Strata");
	am_err("templates: [a.tmpl]\nroute: {receiver: r}\n" RECV,
	       "am.yml:1:1: config.templates: not supported by Strata");
	am_err("route: {receiver: r}\n" RECV "inhibit_rules: [{equal: [a-b]}]\n",
	       "inhibit_rules[0].equal[0]: invalid label name");
	am_err("route: {receiver: r}\n" RECV "inhibit_rules: [{source_match_re: {a: '('}}]\n",
	       "inhibit_rules[0].source_matchers.a: invalid regex");
}

static void test_alert_ncfg_parse_alloc_failure(void **state)
{
	static const char text[] = "route: {receiver: r, routes: [{matchers: [a=b]}]}\n"
				   "receivers: [{name: r, webhook_configs: [{url: 'http://a'}]}]\n"
				   "inhibit_rules: [{source_matchers: [x=y]}]\n";
	int ok = 0;
	for (int64_t n = 0; n < 400 && !ok; n++) {
		alert_ncfg *c = NULL;
		ts_err e = {0};
		ts_alloc_fail_after(n);
		int rc = alert_ncfg_parse("am.yml", text, strlen(text), &c, &e);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK) {
			ok = 1;
			alert_ncfg_release(c);
		} else {
			assert_null(c);
		}
	}
	assert_true(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_ncfg_from_config_absent_section),
	    cmocka_unit_test(test_alert_ncfg_from_config_inline_and_strata_keys),
	    cmocka_unit_test(test_alert_ncfg_from_config_file_relative),
	    cmocka_unit_test(test_alert_ncfg_parse_routes_and_inheritance),
	    cmocka_unit_test(test_alert_ncfg_parse_receivers),
	    cmocka_unit_test(test_alert_ncfg_parse_inhibit_rules),
	    cmocka_unit_test(test_alert_ncfg_parse_errors),
	    cmocka_unit_test(test_alert_ncfg_parse_alloc_failure),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
