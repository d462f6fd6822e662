/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fanout_plan.c: web/fanout_plan.c: the store status answer (encode, decode, every
 * truncation TS_ECORRUPT) and the replica plan as a pure function of the stores'
 * statuses: one caught-up owner per partition, the smallest lag, a stable choice while
 * it stays caught up, failover when the chosen store is excluded, none when no owner is
 * caught up, and the partition count the stores agree on.
 */
#include "web/fanout_plan.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#define NP 4

/* A status of np partitions, up, every partition absent. */
static web_store_status mk(const char *node, const char *group, int np)
{
	web_store_status s;
	memset(&s, 0, sizeof(s));
	s.up = true;
	snprintf(s.node_id, sizeof(s.node_id), "%s", node);
	snprintf(s.replica_group, sizeof(s.replica_group), "%s", group);
	s.n_partitions = np;
	s.min_t_ms = 1000;
	s.max_t_ms = 2000;
	s.parts = np ? ts_calloc((size_t)np, sizeof(*s.parts)) : NULL;
	return s;
}

/* Partition p of s: owned and caught up with this lag. */
static void own(web_store_status *s, int p, uint64_t lag)
{
	s->parts[p].flags = WEB_PART_OWNED | WEB_PART_CAUGHT_UP | WEB_PART_HELD;
	s->parts[p].applied = 100 - lag;
	s->parts[p].high = 100;
	s->parts[p].lag = lag;
}

static void fini(web_store_status *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ts_free(s[i].parts);
}

/* ---------------------------------------------------------------- status answer */

static void test_status_round_trip(void **state)
{
	web_store_status s = mk("s1", "a", NP), d;
	own(&s, 1, 3);
	s.parts[2].flags = WEB_PART_HELD; /* held from an earlier assignment */
	s.parts[2].applied = 40;
	s.n_selects = 7;
	s.n_series_sent = 99;
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	assert_int_equal(web_store_status_encode(&s, &b), TS_OK);
	assert_int_equal(web_store_status_decode(b.data, b.len, &d, NULL), TS_OK);
	assert_true(d.up);
	assert_string_equal(d.node_id, "s1");
	assert_string_equal(d.replica_group, "a");
	assert_int_equal(d.n_partitions, NP);
	assert_int_equal(d.min_t_ms, 1000);
	assert_int_equal(d.max_t_ms, 2000);
	assert_int_equal(d.n_selects, 7);
	assert_int_equal(d.n_series_sent, 99);
	assert_int_equal(d.parts[0].flags, 0);
	assert_int_equal(d.parts[1].flags, WEB_PART_OWNED | WEB_PART_CAUGHT_UP | WEB_PART_HELD);
	assert_int_equal(d.parts[1].lag, 3);
	assert_int_equal(d.parts[1].applied, 97);
	assert_int_equal(d.parts[1].high, 100);
	assert_int_equal(d.parts[2].flags, WEB_PART_HELD);
	assert_int_equal(d.parts[2].applied, 40);
	assert_int_equal(d.parts[3].flags, 0);
	web_store_status_fini(&d);
	/* every truncation and a flipped end marker are TS_ECORRUPT */
	for (size_t n = 0; n < b.len; n++) {
		ts_err e = {0};
		assert_int_equal(web_store_status_decode(b.data, n, &d, &e), TS_ECORRUPT);
		assert_non_null(strstr(e.msg, "store status"));
		web_store_status_fini(&d);
	}
	b.data[b.len - 1] ^= 1;
	assert_int_equal(web_store_status_decode(b.data, b.len, &d, NULL), TS_ECORRUPT);
	b.data[b.len - 1] ^= 1;
	/* a partition number beyond the count */
	ts_buf c;
	ts_buf_init(&c, 1 << 20);
	web_store_status one = mk("s", "b", 1);
	own(&one, 0, 0);
	assert_int_equal(web_store_status_encode(&one, &c), TS_OK);
	size_t entry = c.len - 4 - 29;
	c.data[entry] = 5; /* partition 5 of 1 */
	ts_err e = {0};
	assert_int_equal(web_store_status_decode(c.data, c.len, &d, &e), TS_ECORRUPT);
	assert_non_null(strstr(e.msg, "partition out of range"));
	/* the JSON form names the same fields */
	ts_buf j;
	ts_buf_init(&j, 1 << 20);
	assert_int_equal(web_store_status_json(&s, &j), TS_OK);
	assert_int_equal(ts_buf_putc(&j, '\0'), TS_OK);
	assert_non_null(strstr(j.data, "\"node_id\":\"s1\""));
	assert_non_null(strstr(j.data, "\"partition\":1,\"owned\":true,\"caught_up\":true"));
	assert_non_null(strstr(j.data, "\"partition\":2,\"owned\":false,\"caught_up\":false"));
	assert_null(strstr(j.data, "\"partition\":0"));
	ts_buf_free(&j);
	ts_buf_free(&c);
	ts_buf_free(&b);
	fini(&s, 1);
	fini(&one, 1);
}

/* A store that lists a partition caught up but not owned is not a candidate. */
static void test_status_caught_up_needs_owned(void **state)
{
	web_store_status s = mk("s", "a", 2), d;
	s.parts[0].flags = WEB_PART_CAUGHT_UP | WEB_PART_HELD;
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	assert_int_equal(web_store_status_encode(&s, &b), TS_OK);
	assert_int_equal(web_store_status_decode(b.data, b.len, &d, NULL), TS_OK);
	assert_int_equal(d.parts[0].flags, WEB_PART_HELD);
	assert_int_equal(web_plan_pick(&d, 1, 2, 0, NULL, -1), -1);
	web_store_status_fini(&d);
	ts_buf_free(&b);
	fini(&s, 1);
}

/* ---------------------------------------------------------------- planning */

/* Two replica groups x two stores: a1 a2 (group a) and b1 b2 (group b). */
static void two_groups(web_store_status st[4])
{
	st[0] = mk("a1", "a", NP);
	st[1] = mk("a2", "a", NP);
	st[2] = mk("b1", "b", NP);
	st[3] = mk("b2", "b", NP);
	own(&st[0], 0, 0);
	own(&st[0], 1, 0);
	own(&st[1], 2, 0);
	own(&st[1], 3, 0);
	own(&st[2], 0, 5);
	own(&st[2], 2, 0);
	own(&st[3], 1, 0);
	own(&st[3], 3, 0);
}

static void test_plan_one_replica_per_partition(void **state)
{
	web_store_status st[4];
	two_groups(st);
	int choice[NP];
	assert_int_equal(web_plan_n_partitions(st, 4), NP);
	assert_int_equal(web_plan_compute(st, 4, NP, NULL, choice), 0);
	/* ties go to the first store listed; smaller lag wins */
	assert_int_equal(choice[0], 0); /* a1 lag 0 < b1 lag 5 */
	assert_int_equal(choice[1], 0); /* a1 and b2 tie: a1 listed first */
	assert_int_equal(choice[2], 1); /* a2 and b1 tie: a2 */
	assert_int_equal(choice[3], 1);
	/* b1 catches up on partition 0 with less lag: the earlier choice stays (stable) */
	st[0].parts[0].lag = 9;
	int next[NP];
	assert_int_equal(web_plan_compute(st, 4, NP, choice, next), 0);
	assert_int_equal(next[0], 0);
	/* ... but without a previous plan the smallest lag wins */
	assert_int_equal(web_plan_compute(st, 4, NP, NULL, next), 0);
	assert_int_equal(next[0], 2);
	fini(st, 4);
}

static void test_plan_failover_and_no_owner(void **state)
{
	web_store_status st[4];
	two_groups(st);
	int choice[NP], next[NP];
	web_plan_compute(st, 4, NP, NULL, choice);
	/* a1 fails mid-query: its partitions go to group b's owners */
	bool excluded[4] = {true, false, false, false};
	assert_int_equal(web_plan_pick(st, 4, NP, 0, excluded, choice[0]), 2);
	assert_int_equal(web_plan_pick(st, 4, NP, 1, excluded, choice[1]), 3);
	assert_int_equal(web_plan_pick(st, 4, NP, 2, excluded, choice[2]), 1);
	/* a1 is down at the next poll: the plan moves its partitions */
	st[0].up = false;
	assert_int_equal(web_plan_compute(st, 4, NP, choice, next), 0);
	assert_int_equal(next[0], 2);
	assert_int_equal(next[1], 3);
	assert_int_equal(next[2], choice[2]);
	/* group a rebalances: a2 takes partition 0 but is still replaying (not caught up) */
	st[1].parts[0].flags = WEB_PART_OWNED | WEB_PART_HELD;
	st[1].parts[0].lag = 50000;
	assert_int_equal(web_plan_compute(st, 4, NP, next, next), 0);
	assert_int_equal(next[0], 2); /* still b1 */
	/* b1 dies too: partition 0 has no caught-up owner */
	st[2].up = false;
	assert_int_equal(web_plan_compute(st, 4, NP, next, next), 1);
	assert_int_equal(next[0], -1);
	assert_int_equal(next[2], 1); /* a2 owns 2, caught up */
	assert_int_equal(next[1], 3);
	fini(st, 4);
}

static void test_plan_partition_counts(void **state)
{
	web_store_status st[3];
	st[0] = mk("x", "a", NP);
	st[1] = mk("y", "a", 0); /* no partitioned log */
	st[2] = mk("z", "b", 8);
	st[2].up = false;
	assert_int_equal(web_plan_n_partitions(st, 3), NP);
	st[2].up = true;
	assert_int_equal(web_plan_n_partitions(st, 3), -1);
	assert_int_equal(web_plan_n_partitions(st + 1, 1), 0);
	/* a store with another partition count is never picked */
	own(&st[2], 1, 0);
	assert_int_equal(web_plan_pick(st, 3, NP, 1, NULL, -1), -1);
	assert_int_equal(web_plan_pick(st, 3, NP, NP, NULL, -1), -1); /* out of range */
	assert_int_equal(web_plan_pick(st, 3, NP, -1, NULL, -1), -1);
	fini(st, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_round_trip),
	    cmocka_unit_test(test_status_caught_up_needs_owned),
	    cmocka_unit_test(test_plan_one_replica_per_partition),
	    cmocka_unit_test(test_plan_failover_and_no_owner),
	    cmocka_unit_test(test_plan_partition_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
