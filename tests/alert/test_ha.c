/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ha.c: tests for alert/ha.c on librdkafka's mock cluster (ingest_kafka_mock): two
 * nodes elect one active notifier; a published record is delivered once, by the active
 * node, and its nlog record reaches the standby; a record the active node could not
 * deliver (its receiver keeps failing) is delivered by the standby after the active node
 * leaves, and nothing committed is delivered again, also after a node rejoins.
 * The receivers here are the test's own callbacks. The kill -9 case (session expiry) is
 * tests/integration/test_cluster_alert.sh.
 */
#include "alert/notify_int.h"
#include "ingest/log_kafka.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define TOPIC    "ha-test-alerts"
#define MAX_SEEN 64

typedef struct node {
	pthread_mutex_t mu;
	char delivered[MAX_SEEN][16]; /* payloads delivered (2xx), in order */
	size_t n_delivered;
	size_t n_attempts;          /* deliver calls, failed ones included */
	char applied[MAX_SEEN][64]; /* nlog keys applied from the topic */
	size_t n_applied;
	bool is_failing; /* the receiver answers "retry" */
	alert_ha *ha;
} node;

static void apply_nlog(void *ctx, const alert_nlog_entry *e)
{
	node *n = ctx;
	pthread_mutex_lock(&n->mu);
	if (n->n_applied < MAX_SEEN)
		snprintf(n->applied[n->n_applied++], 64, "%s", e->key);
	pthread_mutex_unlock(&n->mu);
}

static alert_send_result deliver(void *ctx, void **slot, const alert_outbox_entry *e,
				 int64_t *retry_after_ms, ts_err *err)
{
	(void)slot;
	(void)retry_after_ms;
	node *n = ctx;
	pthread_mutex_lock(&n->mu);
	n->n_attempts++;
	bool failing = n->is_failing;
	if (!failing && n->n_delivered < MAX_SEEN)
		snprintf(n->delivered[n->n_delivered++], 16, "%.*s", (int)e->payload_len,
			 e->payload);
	pthread_mutex_unlock(&n->mu);
	if (failing) {
		ts_err_set(err, TS_EIO, "receiver down (test)");
		return ALERT_SEND_RETRY;
	}
	return ALERT_SEND_OK;
}

static ingest_kafka_mock *mock;

static int setup(void **state)
{
	(void)state;
	ts_err err = {0};
	if (ingest_kafka_mock_new(1, &mock, &err) ||
	    ingest_kafka_mock_topic_create(mock, TOPIC, 1, 1, &err)) {
		fprintf(stderr, "mock cluster: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ingest_kafka_mock_free(mock);
	return 0;
}

static void node_start(node *n, const char *client)
{
	memset(n, 0, sizeof(*n));
	pthread_mutex_init(&n->mu, NULL);
	alert_ha_options o = {.brokers = ingest_kafka_mock_bootstraps(mock),
			      .topic = TOPIC,
			      .group_id = "ha-test.alert",
			      .client_id = client,
			      .session_timeout_ms = 3000,
			      .timeout_ms = 5000};
	alert_ha_callbacks cb = {.ctx = n, .apply_nlog = apply_nlog, .deliver = deliver};
	ts_err err = {0};
	if (alert_ha_new(&o, &cb, &n->ha, &err))
		fail_msg("alert_ha_new: %s", err.msg);
	alert_ha_set_retry(n->ha, 0, 50, 100);
}

static void node_stop(node *n)
{
	alert_ha_free(n->ha);
	n->ha = NULL;
	pthread_mutex_destroy(&n->mu);
}

/* Publish one record with payload p and nlog key "k-<p>" through n (must succeed). */
static void publish(node *n, const char *p)
{
	char key[32];
	snprintf(key, sizeof(key), "k-%s", p);
	uint64_t fp = 42;
	alert_outbox_entry e = {.created_ms = ts_now_ms(),
				.kind = ALERT_NCFG_WEBHOOK,
				.receiver = "hook",
				.group_key = key,
				.has_nlog = true,
				.nlog = {.key = key,
					 .sent_ms = ts_now_ms(),
					 .expires_ms = ts_now_ms() + 3600000,
					 .firing = &fp,
					 .n_firing = 1},
				.payload = (char *)p,
				.payload_len = strlen(p)};
	ts_err err = {0};
	assert_int_equal(alert_ha_put(n->ha, &e, &err), TS_OK);
	if (alert_ha_sync(n->ha, &err))
		fail_msg("alert_ha_sync: %s", err.msg);
}

static size_t count(node *n, const char *what, bool delivered)
{
	size_t c = 0;
	pthread_mutex_lock(&n->mu);
	size_t k = delivered ? n->n_delivered : n->n_applied;
	for (size_t i = 0; i < k; i++) {
		const char *s = delivered ? n->delivered[i] : n->applied[i];
		c += !strcmp(s, what);
	}
	pthread_mutex_unlock(&n->mu);
	return c;
}

static size_t attempts(node *n)
{
	pthread_mutex_lock(&n->mu);
	size_t a = n->n_attempts;
	pthread_mutex_unlock(&n->mu);
	return a;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Poll cond (a statement expression) every 20 ms for up to secs seconds. */
#define WAIT_UNTIL(cond, secs)                                                         \
	do {                                                                           \
		int64_t until_ = ts_now_ms() + (secs)*1000;                            \
		while (!(cond) && ts_now_ms() < until_)                                \
			sleep_ms(20);                                                  \
		if (!(cond))                                                           \
			fail_msg("timed out after %d s waiting for: %s", secs, #cond); \
	} while (0)

static void test_alert_ha_takeover(void **state)
{
	(void)state;
	static node a, b;
	node_start(&a, "ha-test-a");
	WAIT_UNTIL(alert_ha_is_active(a.ha), 20);
	node_start(&b, "ha-test-b");
	sleep_ms(1500); /* b joined the group: a keeps partition 0 (sticky), b stays standby */
	WAIT_UNTIL(alert_ha_is_active(a.ha), 20);
	assert_false(alert_ha_is_active(b.ha));

	/* published by the active node: delivered once by it; the standby learns the nlog */
	publish(&a, "A");
	WAIT_UNTIL(count(&a, "A", true) == 1, 20);
	WAIT_UNTIL(count(&b, "k-A", false) == 1, 20);
	WAIT_UNTIL(count(&a, "k-A", false) == 1, 20); /* the active node tails it too */

	/* the receiver fails: the active node retries B; then it leaves the group */
	pthread_mutex_lock(&a.mu);
	a.is_failing = true;
	pthread_mutex_unlock(&a.mu);
	size_t before = attempts(&a);
	publish(&a, "B");
	WAIT_UNTIL(attempts(&a) >= before + 3, 20);
	WAIT_UNTIL(count(&b, "k-B", false) == 1, 20);
	node_stop(&a);

	/* the standby takes over, delivers B (published, not delivered), never A again */
	WAIT_UNTIL(alert_ha_is_active(b.ha), 20);
	WAIT_UNTIL(count(&b, "B", true) == 1, 20);
	publish(&b, "C");
	WAIT_UNTIL(count(&b, "C", true) == 1, 20);
	sleep_ms(500);
	assert_int_equal(count(&b, "A", true), 0);
	assert_int_equal(count(&b, "B", true), 1);
	assert_int_equal(count(&b, "C", true), 1);
	pthread_mutex_lock(&b.mu);
	assert_int_equal(b.n_delivered, 2);
	pthread_mutex_unlock(&b.mu);

	/* a node that comes back replays the nlog; whichever node owns partition 0 after the
	 * rebalance its join causes, nothing is delivered again (all of it is committed) */
	node_start(&a, "ha-test-a");
	WAIT_UNTIL(count(&a, "k-C", false) == 1, 20);
	assert_int_equal(count(&a, "k-A", false), 1);
	assert_int_equal(count(&a, "k-B", false), 1);
	WAIT_UNTIL(alert_ha_is_active(a.ha) != alert_ha_is_active(b.ha), 20);
	sleep_ms(1000);
	assert_int_equal(attempts(&a), 0);
	pthread_mutex_lock(&b.mu);
	assert_int_equal(b.n_delivered, 2);
	pthread_mutex_unlock(&b.mu);
	node_stop(&a);
	node_stop(&b);
}

static void test_alert_ha_new_errors(void **state)
{
	(void)state;
	node n;
	memset(&n, 0, sizeof(n));
	alert_ha_callbacks cb = {.ctx = &n, .apply_nlog = apply_nlog, .deliver = deliver};
	alert_ha_options o = {.brokers = ingest_kafka_mock_bootstraps(mock),
			      .topic = TOPIC,
			      .group_id = "g",
			      .client_id = "c",
			      .session_timeout_ms = 6000};
	alert_ha *h = NULL;
	ts_err err = {0};
	alert_ha_options bad = o;
	bad.topic = NULL;
	assert_int_equal(alert_ha_new(&bad, &cb, &h, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "required"));
	const char *names[] = {"no.such.property"}, *values[] = {"1"};
	bad = o;
	bad.property_names = names;
	bad.property_values = values;
	bad.n_properties = 1;
	assert_int_equal(alert_ha_new(&bad, &cb, &h, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "no.such.property"));
	assert_null(h);
	alert_ha_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_ha_new_errors),
	    cmocka_unit_test(test_alert_ha_takeover),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
