/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ha.c: active/standby notification through Kafka (cluster.role alert): leader election,
 * publishing notification records, delivering them once, and replicating the
 * notification log to the standbys (alert/notify_int.h "HA"). The only file of alert/
 * that calls librdkafka.
 *
 * Tests: tests/alert/test_ha.c (two nodes on librdkafka's mock cluster: election,
 * delivery once, takeover of an undelivered record, nlog replication);
 * tests/integration/test_cluster_alert.sh (the real binary, kill -9 of the active node).
 *
 * Three handles per node, on the notification topic (o->topic, partition 0 carries
 * everything; a topic with more partitions works, the others stay empty):
 *  - the member: a consumer of group o->group_id subscribed to the topic (cooperative-sticky
 *    assignor, session timeout o->session_timeout_ms). The member assigned partition 0 is
 *    the active node. On assignment it reads the partition's high watermark H; it becomes
 *    active (alert_ha_is_active) once the tail has applied every record below H, so its
 *    notification log holds everything its predecessor published before it evaluates
 *    groups as the notifier of record. As owner it delivers the records of partition 0
 *    from the group's committed offset, one at a time: deliver (retrying with backoff
 *    while it stays owner, up to max_age), then publish a delivered marker (next = offset
 *    + 1, acknowledged) and commit offset + 1 synchronously, then the next record. Markers,
 *    and records below the highest marker the tail has read, are committed past without
 *    delivery, and nothing is delivered before the tail has read up to the high watermark
 *    of the takeover: a commit lost in a rebalance does not make the next owner deliver a
 *    record again. While a record is in flight the partition is paused; afterwards the
 *    member seeks to the next offset and resumes (messages fetched meanwhile are ignored).
 *  - the tail: a plain consumer (no group membership, no commits) assigned partition 0
 *    from the beginning; it applies the nlog record of every record (alert_nlog_put keeps
 *    the newest per key, so applying a record twice, or one this node published itself, is
 *    harmless). This is how a standby learns what was notified and keeps repeat_interval
 *    across a takeover.
 *  - the producer: idempotent, acks=all. alert_ha_put queues a record to partition 0;
 *    alert_ha_sync waits for every acknowledgement (the notifier's group commit: a
 *    notification is "queued" only once Kafka acknowledged it).
 *
 * Guarantee: a notification published by the active node is delivered by whichever node
 * owns partition 0 later (nothing is lost when the active node dies). A duplicate needs a
 * kill after a delivery and before its marker is acknowledged: at most one notification
 * (the one in flight) per takeover. A node that is cut off but alive keeps believing it is active
 * until its session expires (librdkafka revokes the partition as lost then); during that
 * window both nodes may publish for a group that changed, so a notification can be sent
 * twice in a network partition (no fencing; Alertmanager's gossip has the same window).
 *
 * Threads: "alert-ha-group" (member poll, rebalance callback, delivery) and "alert-ha-tail".
 * Locks: pmu guards the producer's in-flight count and first error (delivery reports run
 * on the thread calling rd_kafka_flush/poll). Everything else the threads share is atomic.
 */
#include "alert/notify_int.h"

#include <librdkafka/rdkafka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define POLL_MS          100
#define TAIL_POLL_MS     100
#define LOG_EVERY_MS     10000
#define DEFAULT_MAX_AGE  (24LL * 3600 * 1000)
#define DEFAULT_RETRY0   1000
#define DEFAULT_RETRYMAX (5LL * 60 * 1000)

typedef struct inflight {
	bool is_set;
	int64_t offset;       /* of the record in partition 0 */
	alert_outbox_entry e; /* decoded (fields owned) */
	bool is_bad;          /* undecodable: committed past without delivery */
	bool is_marker;       /* a delivered marker: committed past, nothing to deliver */
	uint32_t attempt;     /* attempts made */
	int64_t due_mono;     /* next attempt */
	int64_t first_mono;   /* first attempt (for max_age) */
} inflight;

struct alert_ha {
	alert_ha_callbacks cb;
	char *topic;
	char *group_id;
	int64_t timeout_ms;
	rd_kafka_t *prod;
	rd_kafka_t *member;
	rd_kafka_t *tail;
	pthread_t group_thread, tail_thread;
	bool has_group_thread, has_tail_thread;
	atomic_bool stop;
	atomic_bool is_owner;           /* partition 0 is assigned to the member */
	_Atomic int64_t takeover_end;   /* high watermark when ownership began */
	_Atomic int64_t tail_next;      /* next offset the tail applies */
	_Atomic int64_t delivered_upto; /* from the markers the tail read: below was delivered */
	_Atomic int64_t max_age_ms, retry_initial_ms, retry_max_ms;
	pthread_mutex_t pmu; /* guards n_inflight, perr, perr_msg */
	size_t n_inflight;   /* produced, not yet acknowledged */
	int perr;            /* first failure since the last sync (TS_EIO) */
	char perr_msg[200];
	int marker_tag;        /* its address tags the markers' delivery reports */
	uint64_t markers_done; /* markers acknowledged or failed (under pmu) */
	bool marker_failed;    /* the last one failed (under pmu) */
	uint64_t markers_sent; /* "alert-ha-group" only */
	/* "alert-ha-group" only */
	inflight cur;
	int64_t skip_below;     /* ignore partition 0 messages below this offset (after a seek) */
	int64_t delivered_next; /* offset after the last record this node delivered */
	bool needs_commit;      /* delivered_next is not known to be committed */
	int64_t commit_mono;    /* last commit attempt */
	uint64_t rng;           /* backoff jitter */
	void *slot;             /* deliver's per-thread slot */
	int64_t last_warn_mono;
};

static int64_t mono_ms(void)
{
	return ts_mono_ns() / 1000000;
}

static int conf_set(rd_kafka_conf_t *c, const char *k, const char *v, ts_err *err)
{
	char why[256] = "";
	if (rd_kafka_conf_set(c, k, v, why, sizeof(why)) != RD_KAFKA_CONF_OK)
		return ts_err_set(err, TS_EINVAL, "alert ha: kafka property %s: %s", k, why);
	return TS_OK;
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 3)
		ts_log_warn("alert ha: kafka %s: %s", fac, buf);
	else
		ts_log_debug("alert ha: kafka %s: %s", fac, buf);
}

static void on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
	(void)rk;
	(void)opaque;
	ts_log_debug("alert ha: kafka: %s (%s)", reason, rd_kafka_err2name((rd_kafka_resp_err_t)e));
}

/* ================================================================ producer */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	alert_ha *h = opaque;
	pthread_mutex_lock(&h->pmu);
	if (m->_private == &h->marker_tag) { /* a delivered marker (publish_marker) */
		h->markers_done++;
		h->marker_failed = m->err != RD_KAFKA_RESP_ERR_NO_ERROR;
		pthread_mutex_unlock(&h->pmu);
		return;
	}
	if (h->n_inflight)
		h->n_inflight--;
	if (m->err && !h->perr) {
		h->perr = TS_EIO;
		snprintf(h->perr_msg, sizeof(h->perr_msg), "%s", rd_kafka_err2str(m->err));
	}
	pthread_mutex_unlock(&h->pmu);
}

int alert_ha_put(alert_ha *h, const alert_outbox_entry *e, ts_err *err)
{
	ts_buf b;
	ts_buf_init(&b, ALERT_HA_RECORD_MAX_BYTES + 64);
	int rc = alert_ha_record_encode(e, &b);
	if (rc) {
		ts_buf_free(&b);
		return ts_err_set(err, rc, "notification for group %s: %s", e->group_key,
				  rc == TS_ELIMIT ? "record over 16 MiB" : "out of memory");
	}
	pthread_mutex_lock(&h->pmu);
	h->n_inflight++;
	pthread_mutex_unlock(&h->pmu);
	rd_kafka_resp_err_t ke = rd_kafka_producev(
	    h->prod, RD_KAFKA_V_TOPIC(h->topic), RD_KAFKA_V_PARTITION(0),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(b.data, b.len),
	    RD_KAFKA_V_KEY(e->group_key, e->group_key ? strlen(e->group_key) : 0), RD_KAFKA_V_END);
	ts_buf_free(&b);
	if (ke) {
		pthread_mutex_lock(&h->pmu);
		h->n_inflight--;
		pthread_mutex_unlock(&h->pmu);
		return ts_err_set(err, TS_EIO, "cannot publish to %s: %s", h->topic,
				  rd_kafka_err2str(ke));
	}
	return TS_OK;
}

int alert_ha_sync(alert_ha *h, ts_err *err)
{
	rd_kafka_flush(h->prod, (int)h->timeout_ms);
	pthread_mutex_lock(&h->pmu);
	int rc = h->perr;
	size_t left = h->n_inflight;
	char msg[200];
	snprintf(msg, sizeof(msg), "%s", h->perr_msg);
	h->perr = TS_OK;
	h->perr_msg[0] = '\0';
	pthread_mutex_unlock(&h->pmu);
	if (rc)
		return ts_err_set(err, rc, "publishing to %s failed: %s", h->topic, msg);
	if (left)
		return ts_err_set(err, TS_EIO,
				  "%zu notifications not acknowledged by %s within %lld ms", left,
				  h->topic, (long long)h->timeout_ms);
	return TS_OK;
}

/* ================================================================ tail */

static void *tail_main(void *arg)
{
	alert_ha *h = arg;
	int64_t last_warn = 0;
	while (!atomic_load(&h->stop)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(h->tail, TAIL_POLL_MS);
		if (!m)
			continue;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
			    mono_ms() - last_warn > LOG_EVERY_MS) {
				last_warn = mono_ms();
				ts_log_warn("alert ha: reading %s: %s", h->topic,
					    rd_kafka_message_errstr(m));
			}
		} else if (m->partition == 0) {
			alert_outbox_entry e;
			ts_err err = {0};
			int64_t next = 0;
			if (alert_ha_marker_decode(m->payload, m->len, &next)) {
				if (next > atomic_load(&h->delivered_upto))
					atomic_store(&h->delivered_upto, next);
			} else if (alert_ha_record_decode(m->payload, m->len, &e, &err) == TS_OK) {
				if (e.has_nlog)
					h->cb.apply_nlog(h->cb.ctx, &e.nlog);
				alert_outbox_entry_fini(&e);
			} else {
				ts_log_error("alert ha: %s offset %lld skipped: %s", h->topic,
					     (long long)m->offset, err.msg);
			}
			atomic_store(&h->tail_next, m->offset + 1);
		}
		rd_kafka_message_destroy(m);
	}
	return NULL;
}

/* ================================================================ member: ownership */

static void cur_clear(alert_ha *h)
{
	if (h->cur.is_set)
		alert_outbox_entry_fini(&h->cur.e);
	memset(&h->cur, 0, sizeof(h->cur));
}

static rd_kafka_topic_partition_list_t *p0_list(alert_ha *h, int64_t offset)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	if (l)
		rd_kafka_topic_partition_list_add(l, h->topic, 0)->offset = offset;
	return l;
}

static void p0_pause(alert_ha *h, bool pause);
static bool commit_to(alert_ha *h, int64_t next);

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	alert_ha *h = opaque;
	bool is_coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
	bool has0 = false;
	for (int i = 0; i < parts->cnt; i++)
		has0 = has0 ||
		       (parts->elems[i].partition == 0 && !strcmp(parts->elems[i].topic, h->topic));
	if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		rd_kafka_error_t *ke = is_coop ? rd_kafka_incremental_assign(rk, parts) : NULL;
		rd_kafka_resp_err_t ae =
		    is_coop ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_assign(rk, parts);
		if (ke) {
			ts_log_error("alert ha: assigning %s: %s", h->topic,
				     rd_kafka_error_string(ke));
			rd_kafka_error_destroy(ke);
		} else if (ae) {
			ts_log_error("alert ha: assigning %s: %s", h->topic, rd_kafka_err2str(ae));
		}
		if (!has0)
			return;
		p0_pause(h, false); /* a pause of an earlier ownership must not carry over */
		int64_t lo = -1, hi = -1;
		rd_kafka_resp_err_t we =
		    rd_kafka_query_watermark_offsets(rk, h->topic, 0, &lo, &hi, (int)h->timeout_ms);
		if (we) {
			/* unknown: stay standby; group_main asks again every second */
			ts_log_error("alert ha: partition 0 of %s assigned but its end is unknown "
				     "(%s); not active until it is",
				     h->topic, rd_kafka_err2str(we));
			hi = INT64_MAX;
		}
		atomic_store(&h->takeover_end, hi);
		/* what this node delivered itself is not delivered again, even if its commit
		 * failed (a rebalance while it delivered): it commits it now instead */
		h->skip_below = h->delivered_next;
		h->needs_commit = h->delivered_next > 0;
		cur_clear(h);
		atomic_store(&h->is_owner, true);
		ts_log_info("alert ha: this node owns partition 0 of %s: active notifier once "
			    "its notification log has read offset %lld",
			    h->topic, (long long)hi);
		return;
	}
	bool is_lost = rd_kafka_assignment_lost(rk) != 0;
	if (has0 && atomic_load(&h->is_owner)) {
		/* a delivery whose commit failed (the rebalance was in progress): commit it
		 * while the partition is still ours, or the next owner delivers it again */
		if (!is_lost && h->needs_commit)
			h->needs_commit = !commit_to(h, h->delivered_next);
		atomic_store(&h->is_owner, false);
		cur_clear(h);
		ts_log_info("alert ha: partition 0 of %s %s: this node is a standby", h->topic,
			    is_lost ? "lost (session expired)" : "revoked");
	}
	if (is_coop) {
		rd_kafka_error_t *ke = rd_kafka_incremental_unassign(rk, parts);
		if (ke)
			rd_kafka_error_destroy(ke);
	} else {
		rd_kafka_assign(rk, NULL);
	}
}

/* ================================================================ member: delivery */

static void p0_pause(alert_ha *h, bool pause)
{
	rd_kafka_topic_partition_list_t *l = p0_list(h, RD_KAFKA_OFFSET_INVALID);
	if (!l)
		return;
	if (pause)
		rd_kafka_pause_partitions(h->member, l);
	else
		rd_kafka_resume_partitions(h->member, l);
	rd_kafka_topic_partition_list_destroy(l);
}

/* Commit `next` synchronously (with the member's generation). */
static bool commit_to(alert_ha *h, int64_t next)
{
	rd_kafka_topic_partition_list_t *l = p0_list(h, next);
	if (!l)
		return false;
	h->commit_mono = mono_ms();
	rd_kafka_resp_err_t e = rd_kafka_commit(h->member, l, 0);
	rd_kafka_topic_partition_list_destroy(l);
	if (e)
		ts_log_warn("alert ha: commit of offset %lld on %s failed: %s (retried while this "
			    "node owns the partition; another owner delivers from the previous "
			    "commit)",
			    (long long)next, h->topic, rd_kafka_err2str(e));
	return e == RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* The record before `next` is done: commit, then fetch from next. */
static void advance(alert_ha *h, int64_t next)
{
	h->delivered_next = next;
	h->needs_commit = !commit_to(h, next);
	rd_kafka_topic_partition_list_t *l = p0_list(h, next);
	if (!l)
		return;
	rd_kafka_error_t *se = rd_kafka_seek_partitions(h->member, l, (int)h->timeout_ms);
	if (se) {
		ts_log_warn("alert ha: seek to %lld on %s: %s", (long long)next, h->topic,
			    rd_kafka_error_string(se));
		rd_kafka_error_destroy(se);
	}
	rd_kafka_topic_partition_list_destroy(l);
	h->skip_below = next;
	p0_pause(h, false);
}

/*
 * Publish a delivered marker for the records below `next` and wait (up to the produce
 * timeout) for its acknowledgement, before the commit: if the commit is then lost, the next
 * owner still skips what was delivered. A marker that fails leaves the commit as the only
 * record of the delivery (logged).
 */
static void publish_marker(alert_ha *h, int64_t next)
{
	uint8_t b[ALERT_HA_MARKER_BYTES];
	alert_ha_marker_encode(next, b);
	rd_kafka_resp_err_t ke = rd_kafka_producev(
	    h->prod, RD_KAFKA_V_TOPIC(h->topic), RD_KAFKA_V_PARTITION(0),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(b, sizeof(b)),
	    RD_KAFKA_V_OPAQUE(&h->marker_tag), RD_KAFKA_V_END);
	if (ke) {
		ts_log_warn("alert ha: delivered marker for %s offset %lld not published: %s",
			    h->topic, (long long)next - 1, rd_kafka_err2str(ke));
		return;
	}
	uint64_t mine = ++h->markers_sent;
	int64_t until = mono_ms() + h->timeout_ms;
	bool done = false, failed = false;
	while (!done && mono_ms() < until) {
		rd_kafka_poll(h->prod, 10);
		pthread_mutex_lock(&h->pmu);
		done = h->markers_done >= mine;
		failed = h->marker_failed;
		pthread_mutex_unlock(&h->pmu);
	}
	if (!done || failed)
		ts_log_warn("alert ha: delivered marker for %s offset %lld %s", h->topic,
			    (long long)next - 1, done ? "failed" : "not acknowledged in time");
}

static void take(alert_ha *h, const rd_kafka_message_t *m)
{
	if (!atomic_load(&h->is_owner) || h->cur.is_set || m->offset < h->skip_below)
		return; /* a message fetched before a pause or seek: fetched again later */
	memset(&h->cur, 0, sizeof(h->cur));
	ts_err err = {0};
	int64_t next = 0;
	if (alert_ha_marker_decode(m->payload, m->len, &next)) {
		h->cur.is_marker = true;
	} else if (alert_ha_record_decode(m->payload, m->len, &h->cur.e, &err)) {
		ts_log_error("alert ha: %s offset %lld not delivered: %s", h->topic,
			     (long long)m->offset, err.msg);
		h->cur.is_bad = true;
	}
	h->cur.is_set = true;
	h->cur.offset = m->offset;
	h->cur.due_mono = mono_ms();
	h->cur.first_mono = h->cur.due_mono;
	p0_pause(h, true);
}

static void deliver_due(alert_ha *h)
{
	inflight *c = &h->cur;
	if (!c->is_set || !atomic_load(&h->is_owner) || mono_ms() < c->due_mono)
		return;
	if (!alert_ha_is_active(h))
		return; /* the tail has not read every marker of the previous owner yet */
	if (c->is_bad || c->is_marker || c->offset < atomic_load(&h->delivered_upto)) {
		int64_t off = c->offset;
		cur_clear(h);
		advance(h, off + 1);
		return;
	}
	int64_t retry_after = 0;
	ts_err err = {0};
	alert_send_result r = h->cb.deliver(h->cb.ctx, &h->slot, &c->e, &retry_after, &err);
	c->attempt++;
	int64_t now = mono_ms();
	if (r == ALERT_SEND_RETRY && now - c->first_mono >= atomic_load(&h->max_age_ms)) {
		ts_log_error("alert ha: notification for group %s to receiver \"%s\" dropped after "
			     "%u attempts (older than max_age): %s",
			     c->e.group_key, c->e.receiver, c->attempt, err.msg);
		r = ALERT_SEND_FAIL;
	} else if (r == ALERT_SEND_FAIL) {
		ts_log_error("alert ha: notification for group %s to receiver \"%s\" failed: %s",
			     c->e.group_key, c->e.receiver, err.msg);
	}
	if (r == ALERT_SEND_RETRY) {
		int64_t d =
		    alert_outbox_backoff(atomic_load(&h->retry_initial_ms),
					 atomic_load(&h->retry_max_ms), c->attempt, &h->rng);
		if (retry_after > d)
			d = retry_after;
		c->due_mono = now + d;
		if (now - h->last_warn_mono > LOG_EVERY_MS) {
			h->last_warn_mono = now;
			ts_log_warn(
			    "alert ha: notification for group %s to receiver \"%s\": attempt "
			    "%u failed, retrying: %s",
			    c->e.group_key, c->e.receiver, c->attempt, err.msg);
		}
		return;
	}
	if (r == ALERT_SEND_OK)
		ts_log_debug("alert ha: delivered %s offset %lld (group %s, receiver \"%s\")",
			     h->topic, (long long)c->offset, c->e.group_key, c->e.receiver);
	int64_t off = c->offset;
	cur_clear(h);
	publish_marker(h, off + 1);
	advance(h, off + 1);
}

static void *group_main(void *arg)
{
	alert_ha *h = arg;
	while (!atomic_load(&h->stop)) {
		int wait = h->cur.is_set ? 20 : POLL_MS;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(h->member, wait);
		if (m) {
			if (m->err) {
				if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
				    mono_ms() - h->last_warn_mono > LOG_EVERY_MS) {
					h->last_warn_mono = mono_ms();
					ts_log_warn("alert ha: group %s: %s", h->group_id,
						    rd_kafka_message_errstr(m));
				}
			} else if (m->partition == 0) {
				take(h, m);
			}
			rd_kafka_message_destroy(m);
		}
		if (atomic_load(&h->is_owner) && atomic_load(&h->takeover_end) == INT64_MAX &&
		    mono_ms() - h->commit_mono >= 1000) {
			int64_t lo = -1, hi = -1;
			h->commit_mono = mono_ms();
			if (!rd_kafka_query_watermark_offsets(h->member, h->topic, 0, &lo, &hi,
							      (int)h->timeout_ms))
				atomic_store(&h->takeover_end, hi);
		}
		if (h->needs_commit && atomic_load(&h->is_owner) &&
		    mono_ms() - h->commit_mono >= 1000)
			h->needs_commit = !commit_to(h, h->delivered_next);
		deliver_due(h);
	}
	return NULL;
}

/* ================================================================ lifecycle */

bool alert_ha_is_active(alert_ha *h)
{
	return atomic_load(&h->is_owner) &&
	       atomic_load(&h->tail_next) >= atomic_load(&h->takeover_end);
}

void alert_ha_set_retry(alert_ha *h, int64_t max_age_ms, int64_t retry_initial_ms,
			int64_t retry_max_ms)
{
	if (max_age_ms > 0)
		atomic_store(&h->max_age_ms, max_age_ms);
	if (retry_initial_ms > 0)
		atomic_store(&h->retry_initial_ms, retry_initial_ms);
	if (retry_max_ms > 0)
		atomic_store(&h->retry_max_ms, retry_max_ms);
}

enum { H_PRODUCER, H_MEMBER, H_TAIL };

static int new_handle(alert_ha *h, const alert_ha_options *o, int kind, rd_kafka_t **out,
		      ts_err *err)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (!c)
		return ts_err_set(err, TS_ENOMEM, "alert ha: out of memory");
	rd_kafka_conf_set_opaque(c, h);
	rd_kafka_conf_set_log_cb(c, on_log);
	rd_kafka_conf_set_error_cb(c, on_error);
	char num[32], hb[32], group[600];
	int rc = TS_OK;
	for (size_t i = 0; !rc && i < o->n_properties; i++)
		rc = conf_set(c, o->property_names[i], o->property_values[i], err);
	rc = rc ? rc : conf_set(c, "bootstrap.servers", o->brokers, err);
	rc = rc ? rc : conf_set(c, "client.id", o->client_id, err);
	if (!rc && kind == H_PRODUCER) {
		snprintf(num, sizeof(num), "%lld", (long long)h->timeout_ms);
		rc = conf_set(c, "enable.idempotence", "true", err);
		rc = rc ? rc : conf_set(c, "acks", "all", err);
		rc = rc ? rc : conf_set(c, "message.timeout.ms", num, err);
		rc = rc ? rc : conf_set(c, "linger.ms", "0", err);
		snprintf(num, sizeof(num), "%u", ALERT_HA_RECORD_MAX_BYTES + 65536u);
		rc = rc ? rc : conf_set(c, "message.max.bytes", num, err);
		rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	} else if (!rc) {
		snprintf(group, sizeof(group), "%s%s", o->group_id, kind == H_TAIL ? ".tail" : "");
		rc = conf_set(c, "group.id", group, err);
		rc = rc ? rc : conf_set(c, "enable.auto.commit", "false", err);
		rc = rc ? rc : conf_set(c, "enable.auto.offset.store", "false", err);
		rc = rc ? rc : conf_set(c, "auto.offset.reset", "earliest", err);
		rc = rc ? rc : conf_set(c, "fetch.wait.max.ms", "100", err);
		if (!rc && kind == H_MEMBER) {
			snprintf(num, sizeof(num), "%lld", (long long)o->session_timeout_ms);
			snprintf(hb, sizeof(hb), "%lld", (long long)(o->session_timeout_ms / 5));
			rc =
			    conf_set(c, "partition.assignment.strategy", "cooperative-sticky", err);
			rc = rc ? rc : conf_set(c, "session.timeout.ms", num, err);
			rc = rc ? rc : conf_set(c, "heartbeat.interval.ms", hb, err);
			rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
		}
	}
	if (rc) {
		rd_kafka_conf_destroy(c);
		return rc;
	}
	char why[512] = "";
	rd_kafka_t *rk = rd_kafka_new(kind == H_PRODUCER ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, c,
				      why, sizeof(why));
	if (!rk) {
		rd_kafka_conf_destroy(c);
		return ts_err_set(err, TS_EIO, "alert ha: cannot create a kafka client: %s", why);
	}
	if (kind != H_PRODUCER)
		rd_kafka_poll_set_consumer(rk);
	*out = rk;
	return TS_OK;
}

int alert_ha_new(const alert_ha_options *o, const alert_ha_callbacks *cb, alert_ha **out,
		 ts_err *err)
{
	if (!o->brokers || !o->topic || !o->group_id || !o->client_id || !cb->deliver ||
	    !cb->apply_nlog)
		return ts_err_set(err, TS_EINVAL,
				  "alert ha: brokers, topic and group are required");
	alert_ha *h = ts_calloc(1, sizeof(*h));
	if (!h)
		return ts_err_set(err, TS_ENOMEM, "alert ha: out of memory");
	pthread_mutex_init(&h->pmu, NULL);
	h->cb = *cb;
	h->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	h->rng = (uint64_t)ts_mono_ns() | 1;
	atomic_store(&h->takeover_end, INT64_MAX);
	atomic_store(&h->max_age_ms, DEFAULT_MAX_AGE);
	atomic_store(&h->retry_initial_ms, DEFAULT_RETRY0);
	atomic_store(&h->retry_max_ms, DEFAULT_RETRYMAX);
	int rc = TS_OK;
	rd_kafka_topic_partition_list_t *l = NULL;
	if (!(h->topic = ts_strdup(o->topic)) || !(h->group_id = ts_strdup(o->group_id))) {
		rc = ts_err_set(err, TS_ENOMEM, "alert ha: out of memory");
		goto fail;
	}
	if ((rc = new_handle(h, o, H_PRODUCER, &h->prod, err)) ||
	    (rc = new_handle(h, o, H_MEMBER, &h->member, err)) ||
	    (rc = new_handle(h, o, H_TAIL, &h->tail, err)))
		goto fail;
	if (!(l = p0_list(h, RD_KAFKA_OFFSET_BEGINNING))) {
		rc = ts_err_set(err, TS_ENOMEM, "alert ha: out of memory");
		goto fail;
	}
	rd_kafka_resp_err_t ke = rd_kafka_assign(h->tail, l);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_topic_partition_list_t *sub = ke ? NULL : rd_kafka_topic_partition_list_new(1);
	if (sub) {
		rd_kafka_topic_partition_list_add(sub, h->topic, RD_KAFKA_PARTITION_UA);
		ke = rd_kafka_subscribe(h->member, sub);
		rd_kafka_topic_partition_list_destroy(sub);
	}
	if (ke || !sub) {
		rc = ts_err_set(err, TS_EIO, "alert ha: cannot read %s: %s", h->topic,
				ke ? rd_kafka_err2str(ke) : "out of memory");
		goto fail;
	}
	int e = pthread_create(&h->tail_thread, NULL, tail_main, h);
	if (!e) {
		h->has_tail_thread = true;
		pthread_setname_np(h->tail_thread, "alert-ha-tail");
		e = pthread_create(&h->group_thread, NULL, group_main, h);
	}
	if (e) {
		rc = ts_err_set(err, TS_EIO, "alert ha: cannot start a thread: %s", strerror(e));
		goto fail;
	}
	h->has_group_thread = true;
	pthread_setname_np(h->group_thread, "alert-ha-group");
	*out = h;
	return TS_OK;
fail:
	alert_ha_free(h);
	return rc;
}

void alert_ha_free(alert_ha *h)
{
	if (!h)
		return;
	atomic_store(&h->stop, true);
	if (h->has_group_thread)
		pthread_join(h->group_thread, NULL);
	if (h->has_tail_thread)
		pthread_join(h->tail_thread, NULL);
	if (h->member) {
		if (h->needs_commit && atomic_load(&h->is_owner))
			commit_to(h, h->delivered_next); /* so the next owner does not resend */
		rd_kafka_consumer_close(h->member); /* leaves the group: a standby takes over now */
		rd_kafka_destroy(h->member);
	}
	if (h->tail) {
		rd_kafka_consumer_close(h->tail);
		rd_kafka_destroy(h->tail);
	}
	if (h->prod) {
		rd_kafka_flush(h->prod, (int)h->timeout_ms);
		rd_kafka_destroy(h->prod);
	}
	cur_clear(h);
	if (h->slot && h->cb.slot_free)
		h->cb.slot_free(h->slot);
	pthread_mutex_destroy(&h->pmu);
	ts_free(h->topic);
	ts_free(h->group_id);
	ts_free(h);
}
