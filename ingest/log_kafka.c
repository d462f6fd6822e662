/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_kafka.c: the Kafka backend of the partitioned log (the only ingest/ file that calls
 * librdkafka).
 *
 * Mapping (docs/formats/kafka.md): log partition p = partition p of one topic; a record
 * = the value of one message, with no key and no headers; a log offset = the Kafka offset;
 * checkpoint(p, X) = the consumer group's committed offset X + 1 for p.
 *
 * Handles. One producer per log (enable.idempotence, acks=all, compression snappy, a small
 * linger.ms so that concurrent appenders share produce requests), one "control" consumer
 * (group.id set, never assigned anything) for commits, committed-offset and watermark
 * queries, and one consumer per reader, assigned to its partition at the reader's offset.
 * A consumer per reader costs librdkafka threads (about 2 + one per broker) and a fetch
 * session each; the log has one reader per partition in normal operation.
 *
 * Append. The record is copied into librdkafka (rd_kafka_producev, RD_KAFKA_MSG_F_COPY)
 * with an explicit partition and a heap-allocated waiter as the message opaque. The thread
 * "kafka-poll" serves the producer's queue: the delivery-report callback fills the waiter
 * under dr_mu and signals the waiter's own condition variable, so a report wakes exactly
 * one appender. The offset returned is the one in the report. librdkafka reports a message
 * it could not deliver within message.timeout.ms (= produce_timeout_ms), but only checks
 * a down broker's queue when its reconnect backoff expires and lets a request in flight run
 * to request.timeout.ms; so the appender also stops waiting itself at produce_timeout_ms +
 * DEADLINE_GRACE_MS. It then returns TS_EUNAVAIL and abandons the waiter, which the report
 * frees when it comes (the waiter is reference counted: appender + report). The copy is
 * what makes abandoning safe: librdkafka never points into the caller's buffer. A
 * timed-out message that had been sent may nevertheless have been stored (at-least-once,
 * as documented in log_kafka.h).
 *
 * Broker state. The producer's error callback (on "kafka-poll") remembers the last
 * broker-level error and whether librdkafka reported all brokers down; append errors quote
 * it so that a 503 says why. An idempotent producer can hit a fatal error (e.g. a broker
 * that lost acknowledged data); every later append then fails with TS_EUNAVAIL naming it,
 * and the log must be reopened.
 *
 * Locks (STYLE.md section 7): dr_mu guards the fields of every waiter; state_mu guards the
 * broker-state text. Neither is held across a librdkafka call. Per-partition counters and
 * the cached committed and next offsets are atomics. Readers are used by one thread at a
 * time and own their consumer.
 *
 * Consumer group (role store). ingest_log_kafka_group_join adds a "member" consumer that
 * subscribes to the topic (cooperative-sticky assignor; eager protocols work too) on the
 * thread "kafka-group". It never reads: assigned partitions are assigned at the end offset
 * and paused. Its rebalance callback hands the owned partitions to the caller, which reads
 * them with ordinary readers (assign(), per partition). While it exists, checkpoints commit
 * through it: Kafka refuses generation-less commits to a group that has members.
 *
 * Not done here: record validation (log.c), decoding (record.c), choosing partitions (the
 * write path), deleting data (the topic's retention does), deciding where a new owner
 * resumes (consumer.c: from its store's persisted offset).
 */
#include "ingest/log_kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_INTERVAL_MS     100   /* kafka-poll wakes at least this often to see `stop` */
#define DEADLINE_GRACE_MS    500   /* an append gives up this long after the produce timeout */
#define LOG_QUIET_MS         10000 /* at most one librdkafka warning per this, per log */
#define COMMITTED_UNKNOWN    INT64_MIN
#define COMMITTED_REFRESH_MS 10000 /* stats re-read the group's offset at most this often */
/* reconnect backoff cap (librdkafka's default: 10 s); librdkafka only notices a down
 * broker's timed-out messages when its backoff expires, so this also bounds that delay */
#define RECONNECT_MAX_MS    "1000"
#define READER_SLICE_MS     1000 /* a reader waiting forever polls in slices of this */
#define TOPIC_RETRY_MS      100  /* wait between metadata polls while a topic appears */
#define MIN_TIMEOUT_MS      100  /* smallest produce/request timeout accepted */
#define MAX_TIMEOUT_MS      (24LL * 3600 * 1000)
#define MAX_LINGER_MS       1000
#define MAX_TOPIC_NAME      249 /* Kafka's limit */
#define STATE_TEXT          200
#define READER_QUEUE_KBYTES "32768" /* prefetch per reader: two of the largest records */
#define READER_FETCH_WAIT   "100"   /* ms a fetch waits for data (latency of an idle reader) */

/* ---------------------------------------------------------------- types */

/* An appender waiting for its delivery report (heap). Every field is guarded by dr_mu. */
typedef struct waiter {
	pthread_cond_t cond;          /* signalled once is_done is set (CLOCK_MONOTONIC) */
	int refs;                     /* 2: appender and report; the last one frees it */
	bool is_done;                 /* the report arrived */
	rd_kafka_resp_err_t rd_err;   /* its error (0: stored) */
	rd_kafka_msg_status_t status; /* persisted, not persisted, possibly persisted */
	int64_t offset;               /* the record's offset when rd_err == 0 */
} waiter;

/* Per-partition state. All atomics: appenders, readers and checkpoints update them. */
typedef struct kpart {
	_Atomic int64_t known_next;      /* highest offset seen + 1 (reports, readers, queries) */
	_Atomic int64_t committed;       /* group's committed offset as last made or seen here; -1:
					    none; COMMITTED_UNKNOWN before the first query */
	_Atomic int64_t committed_ms;    /* mono ms when `committed` was last asked for */
	_Atomic int64_t ckpt_next;       /* highest offset + 1 this log committed; -1: none yet */
	_Atomic bool is_warned;          /* retention overtook the checkpoint (logged once) */
	_Atomic uint64_t n_appends;      /* records acknowledged */
	_Atomic uint64_t n_append_bytes; /* their bytes */
	_Atomic uint64_t n_busy;         /* appends refused: producer queue full */
	_Atomic uint64_t n_errors;       /* other failed appends (timeouts, refusals) */
} kpart;

typedef struct kafka_log {
	ingest_log base;            /* must be first */
	char *brokers;              /* immutable copies of the options */
	char *topic;                /* immutable */
	char *client_id;            /* immutable */
	char *group_id;             /* immutable */
	int64_t produce_timeout_ms; /* immutable */
	int64_t request_timeout_ms; /* immutable */
	int linger_ms;              /* immutable */
	char **prop_names;          /* immutable pass-through properties */
	char **prop_values;         /* immutable */
	size_t n_props;             /* immutable */

	rd_kafka_t *producer;  /* immutable after open; thread-safe */
	rd_kafka_topic_t *rkt; /* immutable; the topic on the producer */
	rd_kafka_t *ctl;       /* immutable; control consumer (commits, offset queries) */
	pthread_t poll_thread; /* "kafka-poll": serves producer and ctl queues */
	bool has_poll_thread;  /* immutable after open */
	_Atomic bool stop;     /* tells kafka-poll to exit */

	pthread_mutex_t dr_mu;   /* guards every waiter */
	pthread_condattr_t mono; /* immutable: CLOCK_MONOTONIC, for waiters' conditions */

	pthread_mutex_t state_mu;    /* guards the three fields below */
	char last_error[STATE_TEXT]; /* last broker-level error (error callback) */
	bool is_all_down;            /* librdkafka said all brokers are down, no delivery since */
	char fatal[STATE_TEXT];      /* the producer's fatal error, "" if none */
	_Atomic bool is_fatal;       /* fatal[] is set: every append fails */

	_Atomic int64_t log_quiet_until;   /* mono ms before which warnings are suppressed */
	_Atomic uint64_t n_log_suppressed; /* warnings suppressed since the last one logged */

	kpart *parts; /* immutable array of n_partitions */

	struct ingest_log_kafka_group *_Atomic group; /* joined group (commits go through it) */
	int64_t member_session_ms; /* session.timeout.ms of the member being created */
} kafka_log;

typedef struct kafka_reader {
	ingest_log_reader base;      /* must be first */
	kafka_log *log;              /* borrowed */
	rd_kafka_t *rk;              /* owned consumer, assigned to the partition */
	rd_kafka_message_t *msg;     /* the message last returned (owns the bytes), or NULL */
	int64_t next;                /* offset of the next record expected */
	char last_error[STATE_TEXT]; /* last transient consumer error (for timeouts) */
} kafka_reader;

typedef enum role { ROLE_PRODUCER, ROLE_CONTROL, ROLE_READER, ROLE_MEMBER } role;

/* A consumer-group membership (ingest_log_kafka_group_join). */
struct ingest_log_kafka_group {
	kafka_log *log;                   /* borrowed */
	ingest_log_kafka_group_options o; /* immutable copy */
	rd_kafka_t *rk;                   /* the member consumer; its callbacks get the log */
	pthread_t thread;                 /* "kafka-group": polls rk, runs the callbacks */
	_Atomic bool stop;                /* tells kafka-group to close the member and exit */
};

static const ingest_log_ops kafka_ops;

/* ---------------------------------------------------------------- small helpers */

static int64_t mono_ms(void)
{
	return ts_mono_ns() / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void atomic_max(_Atomic int64_t *a, int64_t v)
{
	int64_t cur = atomic_load(a);
	while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

/* Milliseconds left until deadline (>= 0), as an int for librdkafka. */
static int left_ms(int64_t deadline)
{
	int64_t left = deadline - mono_ms();
	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * The TS_E* code for a librdkafka error. Broker, network and timeout problems are
 * TS_EUNAVAIL (HTTP 503: retry later), size limits TS_ELIMIT, authentication and
 * authorization TS_EAUTH, a full producer queue TS_EBUSY.
 */
static int err_code(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_NO_ERROR: return TS_OK;
	case RD_KAFKA_RESP_ERR__QUEUE_FULL: return TS_EBUSY;
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE: return TS_ELIMIT;
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED: return TS_EAUTH;
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
	case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
	case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
	case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
	case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
	case RD_KAFKA_RESP_ERR_POLICY_VIOLATION: return TS_EINVAL;
	default: return TS_EUNAVAIL;
	}
}

/* Property names whose values must never appear in messages or logs. */
static bool is_secret(const char *name)
{
	static const char *const words[] = {"password", "secret", "key",
					    "token",    "jaas",   "oauthbearer.config"};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(name, words[i]))
			return true;
	return false;
}

/* Properties Strata sets itself; each with the reason given to the operator. */
static const struct reserved_property {
	const char *name;
	const char *why;
} reserved[] = {
    {"bootstrap.servers", "use kafka.brokers"},
    {"metadata.broker.list", "use kafka.brokers"},
    {"client.id", "use kafka.client_id"},
    {"group.id", "use kafka.group_id"},
    {"message.timeout.ms", "use kafka.produce_timeout"},
    {"delivery.timeout.ms", "use kafka.produce_timeout"},
    {"linger.ms", "use kafka.linger"},
    {"queue.buffering.max.ms", "use kafka.linger"},
    {"enable.idempotence", "always true: appends are acknowledged exactly once"},
    {"acks", "always 'all': an acknowledged record is on every in-sync replica"},
    {"request.required.acks", "always 'all': an acknowledged record is on every in-sync replica"},
    {"transactional.id", "transactions are not used"},
    {"enable.auto.commit", "Strata commits checkpoints itself"},
    {"enable.auto.offset.store", "Strata commits checkpoints itself"},
    {"auto.offset.reset", "readers position themselves; a lost offset is an error"},
    {"enable.partition.eof", "readers wait for records instead"},
    {"allow.auto.create.topics", "use kafka.create_topic"},
};

static const char *reserved_why(const char *name)
{
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(reserved[i].name, name) == 0)
			return reserved[i].why;
	return NULL;
}

/* Set one property; a rejection is TS_EINVAL naming it (never quoting a secret value). */
static int conf_set(rd_kafka_conf_t *c, const char *name, const char *value, ts_err *err)
{
	char why[256] = "";
	rd_kafka_conf_res_t r = rd_kafka_conf_set(c, name, value, why, sizeof(why));
	if (r == RD_KAFKA_CONF_OK)
		return TS_OK;
	if (r == RD_KAFKA_CONF_UNKNOWN)
		return ts_err_set(err, TS_EINVAL, "kafka: '%s' is not a librdkafka property", name);
	if (is_secret(name))
		return ts_err_set(err, TS_EINVAL, "kafka: invalid value for property '%s'", name);
	return ts_err_set(err, TS_EINVAL, "kafka: property '%s': %s", name, why);
}

int ingest_log_kafka_check_property(const char *name, const char *value, ts_err *err)
{
	if (!name || !name[0] || !value)
		return ts_err_set(err, TS_EINVAL, "kafka: empty property name or value");
	const char *why = reserved_why(name);
	if (why)
		return ts_err_set(err, TS_EINVAL, "kafka: property '%s' is set by Strata (%s)",
				  name, why);
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (!c)
		return ts_err_set(err, TS_ENOMEM, "kafka: out of memory");
	int rc = conf_set(c, name, value, err);
	rd_kafka_conf_destroy(c);
	return rc;
}

/*
 * librdkafka's log lines (any thread) go to Strata's log. Its syslog levels 0-4 become
 * warn, not error: they are mostly broker connection failures that librdkafka retries
 * (about once a second per handle and broker while a broker is down), and what they cost
 * a caller is reported to that caller (an append's TS_EUNAVAIL). So that an outage does
 * not flood the log, all handles of a log share one budget: one such line per
 * LOG_QUIET_MS, the next one saying how many were suppressed.
 */
static void log_line(kafka_log *kl, const rd_kafka_t *rk, int level, const char *fac,
		     const char *buf)
{
	const char *who = rd_kafka_name(rk);
	if (level > 5) {
		ts_log_debug("kafka: %s: %s: %s", who, fac, buf);
		return;
	}
	if (level == 5) {
		ts_log_info("kafka: %s: %s: %s", who, fac, buf);
		return;
	}
	int64_t now = mono_ms(), until = atomic_load(&kl->log_quiet_until);
	if (now < until ||
	    !atomic_compare_exchange_strong(&kl->log_quiet_until, &until, now + LOG_QUIET_MS)) {
		atomic_fetch_add(&kl->n_log_suppressed, 1);
		ts_log_debug("kafka: %s: %s: %s", who, fac, buf);
		return;
	}
	uint64_t n = atomic_exchange(&kl->n_log_suppressed, 0);
	if (n)
		ts_log_warn("kafka: %s: %s: %s (%llu similar lines in the last %d s suppressed)",
			    who, fac, buf, (unsigned long long)n, LOG_QUIET_MS / 1000);
	else
		ts_log_warn("kafka: %s: %s: %s", who, fac, buf);
}

/* Log callback of the producer and the control consumer (opaque: the log). */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	log_line(rd_kafka_opaque(rk), rk, level, fac, buf);
}

/* Log callback of a reader's consumer (opaque: the reader). */
static void on_log_reader(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	kafka_reader *r = rd_kafka_opaque(rk);
	log_line(r->log, rk, level, fac, buf);
}

/* Only errors: the mock cluster's own handle is noisy about having no brokers. */
static void on_log_quiet(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (level <= 3)
		ts_log_error("kafka mock: %s: %s", fac, buf);
}

/* ---------------------------------------------------------------- producer callbacks */

/* Delivery report (kafka-poll): settle the waiter and wake its appender. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	kafka_log *kl = opaque;
	waiter *w = m->_private;
	if (!m->err) {
		pthread_mutex_lock(&kl->state_mu);
		bool was_down = kl->is_all_down;
		kl->is_all_down = false;
		pthread_mutex_unlock(&kl->state_mu);
		if (was_down)
			ts_log_info("kafka: topic %s: records are acknowledged again", kl->topic);
	}
	pthread_mutex_lock(&kl->dr_mu);
	w->rd_err = m->err;
	w->status = rd_kafka_message_status(m);
	w->offset = m->offset;
	w->is_done = true;
	bool is_abandoned = --w->refs == 0; /* its appender gave up (deadline) */
	if (!is_abandoned)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&kl->dr_mu); /* a waiting appender may free w from here on */
	if (is_abandoned) {
		if (!m->err)
			ts_log_warn("kafka: topic %s partition %d: a record the appender had given "
				    "up on was stored late at offset %lld (it may be written twice "
				    "if the client retried)",
				    kl->topic, (int)m->partition, (long long)m->offset);
		pthread_cond_destroy(&w->cond);
		ts_free(w);
	}
}

/* Client-level errors of the producer and the control consumer (kafka-poll). */
static void on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
	kafka_log *kl = opaque;
	char fatal[STATE_TEXT] = "";
	if (e == RD_KAFKA_RESP_ERR__FATAL)
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
	bool is_news = false;
	pthread_mutex_lock(&kl->state_mu);
	if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		is_news = !kl->is_all_down;
		kl->is_all_down = true;
	}
	snprintf(kl->last_error, sizeof(kl->last_error), "%s", reason);
	if (fatal[0] && !kl->fatal[0])
		snprintf(kl->fatal, sizeof(kl->fatal), "%s", fatal);
	pthread_mutex_unlock(&kl->state_mu);
	if (is_news)
		ts_log_warn("kafka: all brokers of %s are down; appends fail after %lld ms: %s",
			    kl->brokers, (long long)kl->produce_timeout_ms, reason);
	if (fatal[0] && !atomic_exchange(&kl->is_fatal, true))
		ts_log_error("kafka: producer for topic %s hit a fatal error, appends fail until "
			     "the log is reopened: %s",
			     kl->topic, fatal);
}

static void *poll_main(void *arg)
{
	kafka_log *kl = arg;
	while (!atomic_load(&kl->stop)) {
		rd_kafka_poll(kl->producer, POLL_INTERVAL_MS);
		rd_kafka_poll(kl->ctl, 0);
	}
	return NULL;
}

/*
 * Client-level errors of a reader's consumer. librdkafka calls it from inside
 * rd_kafka_consumer_poll, i.e. on the reader's own thread: no lock needed. They are
 * transient (librdkafka reconnects); a reader that times out quotes the last one.
 */
static void on_reader_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
	kafka_reader *r = opaque;
	snprintf(r->last_error, sizeof(r->last_error), "%s", reason);
}

/* "; all brokers down; last broker error: ..." for messages (may be empty). */
static void broker_state(kafka_log *kl, char *out, size_t cap)
{
	pthread_mutex_lock(&kl->state_mu);
	if (kl->fatal[0])
		snprintf(out, cap, "; producer fatal error: %s", kl->fatal);
	else if (kl->last_error[0])
		snprintf(out, cap, "; %slast broker error: %s",
			 kl->is_all_down ? "all brokers down; " : "", kl->last_error);
	else
		out[0] = '\0';
	pthread_mutex_unlock(&kl->state_mu);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
			 rd_kafka_topic_partition_list_t *parts, void *opaque);

/* ---------------------------------------------------------------- handles */

/*
 * A configuration for a handle of `r`: tunable defaults, then the operator's properties,
 * then what Strata requires. *out returned owned (rd_kafka_new takes it).
 */
static int make_conf(kafka_log *kl, role r, void *opaque, rd_kafka_conf_t **out, ts_err *err)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (!c)
		return ts_err_set(err, TS_ENOMEM, "kafka: out of memory");
	char num[32];
	int rc;
	rd_kafka_conf_set_log_cb(c, r == ROLE_READER ? on_log_reader : on_log);
	rd_kafka_conf_set_opaque(c, opaque);
	snprintf(num, sizeof(num), "%u", INGEST_LOG_KAFKA_MESSAGE_MAX_BYTES);
	if ((rc = conf_set(c, "message.max.bytes", num, err)) ||
	    (rc = conf_set(c, "reconnect.backoff.max.ms", RECONNECT_MAX_MS, err)))
		goto fail;
	if (r == ROLE_PRODUCER) {
		/* a request in flight gives up with the append (librdkafka's maximum: 900 s) */
		int64_t req_ms = kl->produce_timeout_ms < 900000 ? kl->produce_timeout_ms : 900000;
		snprintf(num, sizeof(num), "%lld", (long long)req_ms);
		if ((rc = conf_set(c, "compression.type", "snappy", err)) ||
		    (rc = conf_set(c, "request.timeout.ms", num, err)))
			goto fail;
	} else if (r == ROLE_READER) {
		if ((rc = conf_set(c, "queued.max.messages.kbytes", READER_QUEUE_KBYTES, err)) ||
		    (rc = conf_set(c, "fetch.wait.max.ms", READER_FETCH_WAIT, err)))
			goto fail;
	} else if (r == ROLE_MEMBER) {
		char hb[32];
		snprintf(num, sizeof(num), "%lld", (long long)kl->member_session_ms);
		snprintf(hb, sizeof(hb), "%lld", (long long)(kl->member_session_ms / 5));
		if ((rc =
			 conf_set(c, "partition.assignment.strategy", "cooperative-sticky", err)) ||
		    (rc = conf_set(c, "session.timeout.ms", num, err)) ||
		    (rc = conf_set(c, "heartbeat.interval.ms", hb, err)))
			goto fail;
		rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
	}
	for (size_t i = 0; i < kl->n_props; i++)
		if ((rc = conf_set(c, kl->prop_names[i], kl->prop_values[i], err)))
			goto fail;
	if ((rc = conf_set(c, "bootstrap.servers", kl->brokers, err)) ||
	    (rc = conf_set(c, "client.id", kl->client_id, err)) ||
	    (rc = conf_set(c, "allow.auto.create.topics", "false", err)))
		goto fail;
	if (r == ROLE_PRODUCER) {
		snprintf(num, sizeof(num), "%lld", (long long)kl->produce_timeout_ms);
		if ((rc = conf_set(c, "enable.idempotence", "true", err)) ||
		    (rc = conf_set(c, "acks", "all", err)) ||
		    (rc = conf_set(c, "message.timeout.ms", num, err)))
			goto fail;
		snprintf(num, sizeof(num), "%d", kl->linger_ms);
		if ((rc = conf_set(c, "linger.ms", num, err)))
			goto fail;
		rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
		rd_kafka_conf_set_error_cb(c, on_error);
	} else {
		if ((rc = conf_set(c, "group.id", kl->group_id, err)) ||
		    (rc = conf_set(c, "enable.auto.commit", "false", err)) ||
		    (rc = conf_set(c, "enable.auto.offset.store", "false", err)) ||
		    (rc = conf_set(c, "enable.partition.eof", "false", err)) ||
		    (rc = conf_set(c, "auto.offset.reset", "error", err)))
			goto fail;
		rd_kafka_conf_set_error_cb(c, r == ROLE_READER ? on_reader_error : on_error);
	}
	*out = c;
	return TS_OK;
fail:
	rd_kafka_conf_destroy(c);
	return rc;
}

/* A new handle of role r; opaque is what its callbacks get (the log, or the reader). */
static int new_handle(kafka_log *kl, role r, void *opaque, rd_kafka_t **out, ts_err *err)
{
	rd_kafka_conf_t *c = NULL;
	int rc = make_conf(kl, r, opaque, &c, err);
	if (rc)
		return rc;
	char why[512] = "";
	rd_kafka_t *rk = rd_kafka_new(r == ROLE_PRODUCER ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, c,
				      why, sizeof(why));
	if (!rk) {
		rd_kafka_conf_destroy(c);
		return ts_err_set(err, TS_EINVAL, "kafka: cannot create a %s: %s",
				  r == ROLE_PRODUCER ? "producer" : "consumer", why);
	}
	*out = rk;
	return TS_OK;
}

/* ---------------------------------------------------------------- offsets */

/* Low and high watermark of a partition (asks the leader). */
static int query_watermarks(kafka_log *kl, int partition, int64_t *lo, int64_t *hi, ts_err *err)
{
	int64_t l = -1, h = -1;
	rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(kl->ctl, kl->topic, partition, &l,
								 &h, (int)kl->request_timeout_ms);
	if (e) {
		char state[STATE_TEXT + 64];
		broker_state(kl, state, sizeof(state));
		return ts_err_set(err, err_code(e),
				  "kafka: topic %s partition %d: offsets not available within "
				  "%lld ms: %s%s",
				  kl->topic, partition, (long long)kl->request_timeout_ms,
				  rd_kafka_err2str(e), state);
	}
	atomic_max(&kl->parts[partition].known_next, h);
	*lo = l;
	*hi = h;
	return TS_OK;
}

/* The group's committed offset for a partition (-1: none). */
static int query_committed(kafka_log *kl, int partition, int64_t *out, ts_err *err)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	if (!l)
		return ts_err_set(err, TS_ENOMEM, "kafka: out of memory");
	rd_kafka_topic_partition_list_add(l, kl->topic, partition);
	rd_kafka_resp_err_t e = rd_kafka_committed(kl->ctl, l, (int)kl->request_timeout_ms);
	if (!e)
		e = l->elems[0].err;
	int64_t off = l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		char state[STATE_TEXT + 64];
		broker_state(kl, state, sizeof(state));
		return ts_err_set(err, err_code(e),
				  "kafka: group %s, topic %s partition %d: committed offset not "
				  "available within %lld ms: %s%s",
				  kl->group_id, kl->topic, partition,
				  (long long)kl->request_timeout_ms, rd_kafka_err2str(e), state);
	}
	*out = off >= 0 ? off : -1;
	return TS_OK;
}

/* Commit `next` (checkpointed offset + 1) for the group and wait for the answer: through
 * the member when a group is joined (the group's generation), else the control consumer. */
static int commit_next(kafka_log *kl, int partition, int64_t next, ts_err *err)
{
	struct ingest_log_kafka_group *g = atomic_load(&kl->group);
	rd_kafka_t *h = g ? g->rk : kl->ctl;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_queue_t *q = rd_kafka_queue_new(h);
	if (!l || !q) {
		if (l)
			rd_kafka_topic_partition_list_destroy(l);
		if (q)
			rd_kafka_queue_destroy(q);
		return ts_err_set(err, TS_ENOMEM, "kafka: out of memory");
	}
	rd_kafka_topic_partition_list_add(l, kl->topic, partition)->offset = next;
	rd_kafka_resp_err_t e = rd_kafka_commit_queue(h, l, q, NULL, NULL);
	if (!e) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)kl->request_timeout_ms);
		if (!ev) {
			e = RD_KAFKA_RESP_ERR__TIMED_OUT;
		} else {
			e = rd_kafka_event_error(ev);
			const rd_kafka_topic_partition_list_t *r =
			    rd_kafka_event_topic_partition_list(ev);
			if (!e && r && r->cnt == 1)
				e = r->elems[0].err;
			rd_kafka_event_destroy(ev);
		}
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		char state[STATE_TEXT + 64];
		broker_state(kl, state, sizeof(state));
		return ts_err_set(err, err_code(e),
				  "kafka: group %s, topic %s partition %d: commit of offset %lld "
				  "failed: %s%s",
				  kl->group_id, kl->topic, partition, (long long)next,
				  rd_kafka_err2str(e), state);
	}
	return TS_OK;
}

/* ---------------------------------------------------------------- append */

static int kafka_append(ingest_log *l, int partition, const void *rec, size_t len, uint64_t *offset,
			ts_err *err)
{
	kafka_log *kl = (kafka_log *)l;
	kpart *p = &kl->parts[partition];
	char state[STATE_TEXT + 64];
	if (atomic_load(&kl->is_fatal)) {
		atomic_fetch_add(&p->n_errors, 1);
		broker_state(kl, state, sizeof(state));
		return ts_err_set(err, TS_EUNAVAIL,
				  "kafka: topic %s partition %d: append refused%s", kl->topic,
				  partition, state);
	}
	waiter *w = ts_malloc(sizeof(*w));
	if (!w)
		return ts_err_set(err, TS_ENOMEM, "kafka: out of memory");
	*w = (waiter){.refs = 2, .is_done = false, .rd_err = 0, .status = 0, .offset = -1};
	pthread_cond_init(&w->cond, &kl->mono);
	int64_t deadline_ns = ts_mono_ns() + (kl->produce_timeout_ms + DEADLINE_GRACE_MS) * 1000000;
	rd_kafka_resp_err_t e = rd_kafka_producev(
	    kl->producer, RD_KAFKA_V_RKT(kl->rkt), RD_KAFKA_V_PARTITION(partition),
	    RD_KAFKA_V_VALUE((void *)rec, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_OPAQUE(w), RD_KAFKA_V_END);
	if (e) {
		pthread_cond_destroy(&w->cond);
		ts_free(w);
		int rc = err_code(e);
		atomic_fetch_add(rc == TS_EBUSY ? &p->n_busy : &p->n_errors, 1);
		broker_state(kl, state, sizeof(state));
		return ts_err_set(err, rc,
				  "kafka: topic %s partition %d: cannot queue a %zu-byte "
				  "record: %s%s",
				  kl->topic, partition, len, rd_kafka_err2str(e),
				  rc == TS_EBUSY ? " (too many appends in flight; retry later)"
						 : state);
	}
	struct timespec ts = {.tv_sec = deadline_ns / 1000000000,
			      .tv_nsec = deadline_ns % 1000000000};
	pthread_mutex_lock(&kl->dr_mu);
	while (!w->is_done && pthread_cond_timedwait(&w->cond, &kl->dr_mu, &ts) != ETIMEDOUT)
		;
	bool is_done = w->is_done;
	rd_kafka_resp_err_t rd_err = w->rd_err;
	rd_kafka_msg_status_t status = w->status;
	int64_t got_offset = w->offset;
	bool is_last = --w->refs == 0;
	pthread_mutex_unlock(&kl->dr_mu);
	if (is_last) {
		pthread_cond_destroy(&w->cond);
		ts_free(w);
	} /* else the report frees it */
	if (!is_done) {
		atomic_fetch_add(&p->n_errors, 1);
		broker_state(kl, state, sizeof(state));
		return ts_err_set(err, TS_EUNAVAIL,
				  "kafka: topic %s partition %d: record not acknowledged within "
				  "%lld ms (it may still be stored)%s",
				  kl->topic, partition, (long long)kl->produce_timeout_ms, state);
	}
	if (rd_err) {
		int rc = err_code(rd_err);
		atomic_fetch_add(&p->n_errors, 1);
		broker_state(kl, state, sizeof(state));
		const char *maybe = status == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED
					? " (it may still have been stored)"
					: "";
		if (rd_err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
			return ts_err_set(err, rc,
					  "kafka: topic %s partition %d: record not acknowledged "
					  "within %lld ms%s%s",
					  kl->topic, partition, (long long)kl->produce_timeout_ms,
					  maybe, state);
		if (rc == TS_ELIMIT)
			return ts_err_set(err, rc,
					  "kafka: topic %s partition %d: the broker refused a "
					  "%zu-byte record (%s): raise the topic's "
					  "max.message.bytes",
					  kl->topic, partition, len, rd_kafka_err2str(rd_err));
		return ts_err_set(err, rc, "kafka: topic %s partition %d: append failed: %s%s%s",
				  kl->topic, partition, rd_kafka_err2str(rd_err), maybe, state);
	}
	atomic_max(&p->known_next, got_offset + 1);
	atomic_fetch_add(&p->n_appends, 1);
	atomic_fetch_add(&p->n_append_bytes, len);
	if (offset)
		*offset = (uint64_t)got_offset;
	return TS_OK;
}

/* ---------------------------------------------------------------- checkpoint, stats */

static int kafka_checkpoint(ingest_log *l, int partition, uint64_t offset, ts_err *err)
{
	kafka_log *kl = (kafka_log *)l;
	kpart *p = &kl->parts[partition];
	if (offset >= (uint64_t)INT64_MAX)
		return ts_err_set(err, TS_EINVAL,
				  "kafka: partition %d: checkpoint %llu out of range", partition,
				  (unsigned long long)offset);
	int64_t next = (int64_t)offset + 1;
	if (next <= atomic_load(&p->ckpt_next))
		return TS_OK; /* not above an earlier checkpoint of this log: nothing to do */
	if (next > atomic_load(&p->known_next)) {
		int64_t lo, hi;
		int rc = query_watermarks(kl, partition, &lo, &hi, err);
		if (rc)
			return rc;
		if (next > hi)
			return ts_err_set(err, TS_EINVAL,
					  "kafka: topic %s partition %d: checkpoint %llu is not "
					  "below the next offset %lld",
					  kl->topic, partition, (unsigned long long)offset,
					  (long long)hi);
	}
	int rc = commit_next(kl, partition, next, err);
	if (rc)
		return rc;
	atomic_max(&p->ckpt_next, next);
	atomic_store(&p->committed, atomic_load(&p->ckpt_next));
	atomic_store(&p->committed_ms, mono_ms());
	return TS_OK;
}

static int kafka_stats(ingest_log *l, int partition, ingest_log_partition_stats *out, ts_err *err)
{
	kafka_log *kl = (kafka_log *)l;
	kpart *p = &kl->parts[partition];
	int64_t lo, hi, committed = atomic_load(&p->committed), now = mono_ms();
	int rc = query_watermarks(kl, partition, &lo, &hi, err);
	if (rc)
		return rc;
	/* this log's own commits keep the cache exact; re-read it now and then in case
	 * another process committed for the group */
	if (committed == COMMITTED_UNKNOWN ||
	    now - atomic_load(&p->committed_ms) >= COMMITTED_REFRESH_MS) {
		if ((rc = query_committed(kl, partition, &committed, err)))
			return rc;
		atomic_store(&p->committed, committed);
		atomic_store(&p->committed_ms, now);
	}
	if (committed >= 0 && committed < lo && !atomic_exchange(&p->is_warned, true))
		ts_log_warn("kafka: topic %s partition %d: the group %s checkpoint (next offset "
			    "%lld) is below the oldest retained offset %lld: records were deleted "
			    "by retention before the store persisted them",
			    kl->topic, partition, kl->group_id, (long long)committed,
			    (long long)lo);
	memset(out, 0, sizeof(*out));
	out->first_offset = (uint64_t)lo;
	out->next_offset = (uint64_t)hi;
	out->checkpoint_next = (uint64_t)(committed > lo ? committed : lo);
	out->n_appends = atomic_load(&p->n_appends);
	out->n_append_bytes = atomic_load(&p->n_append_bytes);
	out->n_busy = atomic_load(&p->n_busy);
	out->n_io_errors = atomic_load(&p->n_errors);
	return TS_OK;
}

/* ---------------------------------------------------------------- readers */

static void kafka_reader_close(ingest_log_reader *rd)
{
	kafka_reader *r = (kafka_reader *)rd;
	if (r->msg)
		rd_kafka_message_destroy(r->msg);
	if (r->rk)
		rd_kafka_destroy_flags(r->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	ts_free(r);
}

static int kafka_reader_open(ingest_log *l, int partition, uint64_t from, ingest_log_reader **out,
			     ts_err *err)
{
	kafka_log *kl = (kafka_log *)l;
	if (from > (uint64_t)INT64_MAX)
		return ts_err_set(err, TS_EINVAL, "kafka: partition %d: offset %llu out of range",
				  partition, (unsigned long long)from);
	int64_t lo, hi;
	int rc = query_watermarks(kl, partition, &lo, &hi, err);
	if (rc)
		return rc;
	if ((int64_t)from < lo)
		return ts_err_set(err, TS_ENOTFOUND,
				  "kafka: topic %s partition %d: offset %llu was deleted by "
				  "retention (first offset %lld)",
				  kl->topic, partition, (unsigned long long)from, (long long)lo);
	if ((int64_t)from > hi)
		return ts_err_set(err, TS_EINVAL,
				  "kafka: topic %s partition %d: offset %llu is beyond the end "
				  "(%lld)",
				  kl->topic, partition, (unsigned long long)from, (long long)hi);
	kafka_reader *r = ts_calloc(1, sizeof(*r));
	if (!r)
		return ts_err_set(err, TS_ENOMEM, "kafka: out of memory");
	r->base.ops = &kafka_ops;
	r->base.partition = partition;
	r->log = kl;
	r->next = (int64_t)from;
	if ((rc = new_handle(kl, ROLE_READER, r, &r->rk, err)))
		goto fail;
	rd_kafka_poll_set_consumer(r->rk); /* errors come through consumer_poll */
	rd_kafka_topic_partition_list_t *a = rd_kafka_topic_partition_list_new(1);
	if (!a) {
		rc = ts_err_set(err, TS_ENOMEM, "kafka: out of memory");
		goto fail;
	}
	rd_kafka_topic_partition_list_add(a, kl->topic, partition)->offset = (int64_t)from;
	rd_kafka_resp_err_t e = rd_kafka_assign(r->rk, a);
	rd_kafka_topic_partition_list_destroy(a);
	if (e) {
		rc = ts_err_set(err, err_code(e), "kafka: topic %s partition %d: assign failed: %s",
				kl->topic, partition, rd_kafka_err2str(e));
		goto fail;
	}
	*out = &r->base;
	return TS_OK;
fail:
	kafka_reader_close(&r->base);
	return rc;
}

/* The code for a consumer error that ends reading, or TS_OK for one librdkafka retries. */
static int reader_error_code(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
	case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE: return TS_ENOTFOUND;
	case RD_KAFKA_RESP_ERR__FATAL:
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART: return TS_EUNAVAIL;
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED: return TS_EAUTH;
	default: return TS_OK; /* transport, leader changes, timeouts: librdkafka retries */
	}
}

static int kafka_reader_next(ingest_log_reader *rd, const void **rec, size_t *len, uint64_t *offset,
			     int timeout_ms, ts_err *err)
{
	kafka_reader *r = (kafka_reader *)rd;
	kafka_log *kl = r->log;
	if (r->msg) {
		rd_kafka_message_destroy(r->msg);
		r->msg = NULL;
	}
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : mono_ms() + timeout_ms;
	for (;;) {
		int wait = timeout_ms < 0 ? READER_SLICE_MS : left_ms(deadline);
		rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, wait);
		if (m && !m->err) {
			if (m->partition != rd->partition || m->offset < r->next) {
				rd_kafka_message_destroy(m); /* not ours (cannot happen) */
				continue;
			}
			r->msg = m;
			r->next = m->offset + 1;
			r->last_error[0] = '\0';
			atomic_max(&kl->parts[rd->partition].known_next, r->next);
			*rec = m->payload ? m->payload : (const void *)"";
			*len = m->payload ? m->len : 0;
			*offset = (uint64_t)m->offset;
			return TS_OK;
		}
		if (m) {
			int rc = reader_error_code(m->err);
			char what[STATE_TEXT];
			snprintf(what, sizeof(what), "%s", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			if (rc == TS_ENOTFOUND)
				return ts_err_set(err, rc,
						  "kafka: topic %s partition %d: offset %lld is no "
						  "longer stored (deleted by retention): %s",
						  kl->topic, rd->partition, (long long)r->next,
						  what);
			if (rc)
				return ts_err_set(err, rc,
						  "kafka: topic %s partition %d: reading at offset "
						  "%lld failed: %s",
						  kl->topic, rd->partition, (long long)r->next,
						  what);
			snprintf(r->last_error, sizeof(r->last_error), "%s", what);
		}
		if (timeout_ms >= 0 && mono_ms() >= deadline)
			return ts_err_set(err, TS_ETIMEOUT,
					  "kafka: topic %s partition %d: no record at offset %lld "
					  "within %d ms%s%s",
					  kl->topic, rd->partition, (long long)r->next, timeout_ms,
					  r->last_error[0] ? "; last consumer error: " : "",
					  r->last_error);
	}
}

/* ---------------------------------------------------------------- topic */

/* Ask the brokers to create the topic (n partitions); TOPIC_ALREADY_EXISTS is fine. */
static int create_topic(kafka_log *kl, int n, int replication_factor, ts_err *err)
{
	char why[512] = "", num[32];
	int rc = TS_OK;
	rd_kafka_AdminOptions_t *ao = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	rd_kafka_NewTopic_t *nt =
	    rd_kafka_NewTopic_new(kl->topic, n, replication_factor, why, sizeof(why));
	if (!nt)
		return ts_err_set(err, TS_EINVAL, "kafka: cannot create topic %s: %s", kl->topic,
				  why);
	snprintf(num, sizeof(num), "%u", INGEST_LOG_KAFKA_MESSAGE_MAX_BYTES);
	if (rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "delete") ||
	    rd_kafka_NewTopic_set_config(nt, "max.message.bytes", num)) {
		rc = ts_err_set(err, TS_ENOMEM, "kafka: out of memory");
		goto done;
	}
	ao = rd_kafka_AdminOptions_new(kl->producer, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	q = rd_kafka_queue_new(kl->producer);
	if (!ao || !q) {
		rc = ts_err_set(err, TS_ENOMEM, "kafka: out of memory");
		goto done;
	}
	rd_kafka_AdminOptions_set_request_timeout(ao, (int)kl->request_timeout_ms, why,
						  sizeof(why));
	rd_kafka_AdminOptions_set_operation_timeout(ao, (int)kl->request_timeout_ms, why,
						    sizeof(why));
	rd_kafka_CreateTopics(kl->producer, &nt, 1, ao, q);
	/* the request times out by itself; the margin only guards against a lost answer */
	ev = rd_kafka_queue_poll(q, (int)kl->request_timeout_ms + 1000);
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
	const char *msg = "no answer";
	if (ev) {
		e = rd_kafka_event_error(ev);
		msg = rd_kafka_event_error_string(ev);
		const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
		size_t cnt = 0;
		const rd_kafka_topic_result_t **tr =
		    res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
		if (!e && cnt == 1) {
			e = rd_kafka_topic_result_error(tr[0]);
			msg = rd_kafka_topic_result_error_string(tr[0]);
		}
	}
	if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
		rc = ts_err_set(err, err_code(e),
				"kafka: creating topic %s (%d partitions, replication factor %d) "
				"failed: %s",
				kl->topic, n, replication_factor, msg ? msg : rd_kafka_err2str(e));
	else
		ts_log_info("kafka: created topic %s with %d partitions", kl->topic, n);
done:
	if (ev)
		rd_kafka_event_destroy(ev);
	if (q)
		rd_kafka_queue_destroy(q);
	if (ao)
		rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_NewTopic_destroy(nt);
	return rc;
}

/*
 * Find the topic's partition count (*n_out), creating the topic when it is missing and
 * allowed, and check it against the configured count.
 */
static int load_topic(kafka_log *kl, const ingest_log_kafka_options *o, int *n_out, ts_err *err)
{
	int64_t deadline = mono_ms() + kl->request_timeout_ms;
	bool is_created = false;
	for (;;) {
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t e =
		    rd_kafka_metadata(kl->producer, 0, kl->rkt, &md, left_ms(deadline));
		if (e) {
			char state[STATE_TEXT + 64];
			broker_state(kl, state, sizeof(state));
			return ts_err_set(err, err_code(e),
					  "kafka: no metadata for topic %s from %s within %lld "
					  "ms: %s%s",
					  kl->topic, kl->brokers, (long long)kl->request_timeout_ms,
					  rd_kafka_err2str(e), state);
		}
		rd_kafka_resp_err_t te = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
		int n = 0;
		if (md->topic_cnt == 1) {
			te = md->topics[0].err;
			n = md->topics[0].partition_cnt;
		}
		rd_kafka_metadata_destroy(md);
		if (!te && n > 0) {
			if (n > INGEST_LOG_MAX_PARTITIONS)
				return ts_err_set(err, TS_EINVAL,
						  "kafka: topic %s has %d partitions; at most %d "
						  "are supported",
						  kl->topic, n, INGEST_LOG_MAX_PARTITIONS);
			if (o->n_partitions && n != o->n_partitions)
				return ts_err_set(err, TS_EINVAL,
						  "kafka: topic %s has %d partitions but "
						  "kafka.partitions is %d; changing it would move "
						  "series between partitions",
						  kl->topic, n, o->n_partitions);
			*n_out = n;
			return TS_OK;
		}
		if (te == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && !is_created) {
			if (!o->create_topic)
				return ts_err_set(err, TS_EINVAL,
						  "kafka: topic %s does not exist and "
						  "kafka.create_topic is false",
						  kl->topic);
			if (!o->n_partitions)
				return ts_err_set(err, TS_EINVAL,
						  "kafka: topic %s does not exist; set "
						  "kafka.partitions to create it",
						  kl->topic);
			int rc = create_topic(kl, o->n_partitions, o->replication_factor, err);
			if (rc)
				return rc;
			is_created = true;
			continue;
		}
		if (te != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && te &&
		    te != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE)
			return ts_err_set(err, err_code(te), "kafka: topic %s: %s", kl->topic,
					  rd_kafka_err2str(te));
		if (left_ms(deadline) == 0)
			return ts_err_set(err, TS_EUNAVAIL,
					  "kafka: topic %s not ready within %lld ms: %s", kl->topic,
					  (long long)kl->request_timeout_ms, rd_kafka_err2str(te));
		sleep_ms(TOPIC_RETRY_MS); /* a new topic propagates to all brokers */
	}
}

/* ---------------------------------------------------------------- open, close */

static void kafka_close(ingest_log *l)
{
	kafka_log *kl = (kafka_log *)l;
	if (kl->has_poll_thread) {
		atomic_store(&kl->stop, true);
		pthread_join(kl->poll_thread, NULL);
	}
	if (kl->rkt)
		rd_kafka_topic_destroy(kl->rkt);
	if (kl->producer) {
		/*
		 * Every append has returned, so whatever is still queued or in flight belongs
		 * to appends that gave up at their deadline (their clients got an error).
		 * Purge it; flushing serves the reports, which free the abandoned waiters.
		 */
		rd_kafka_purge(kl->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(kl->producer, (int)kl->request_timeout_ms);
		rd_kafka_destroy(kl->producer);
	}
	if (kl->ctl)
		rd_kafka_destroy_flags(kl->ctl, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	for (size_t i = 0; i < kl->n_props; i++) {
		ts_free(kl->prop_names[i]);
		ts_free(kl->prop_values[i]);
	}
	ts_free(kl->prop_names);
	ts_free(kl->prop_values);
	ts_free(kl->brokers);
	ts_free(kl->topic);
	ts_free(kl->client_id);
	ts_free(kl->group_id);
	ts_free(kl->parts);
	pthread_mutex_destroy(&kl->dr_mu);
	pthread_condattr_destroy(&kl->mono);
	pthread_mutex_destroy(&kl->state_mu);
	ts_free(kl);
}

static bool valid_topic(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > MAX_TOPIC_NAME || strcmp(t, ".") == 0 || strcmp(t, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int check_options(const ingest_log_kafka_options *o, ts_err *err)
{
	if (!o)
		return ts_err_set(err, TS_EINVAL, "kafka: no options");
	if (!o->brokers || !o->brokers[0])
		return ts_err_set(err, TS_EINVAL, "kafka: no brokers given");
	if (!o->topic || !valid_topic(o->topic))
		return ts_err_set(err, TS_EINVAL,
				  "kafka: topic '%s' is not a valid Kafka topic name (1-%d of "
				  "[a-zA-Z0-9._-])",
				  o->topic ? o->topic : "", MAX_TOPIC_NAME);
	if (o->n_partitions < 0 || o->n_partitions > INGEST_LOG_MAX_PARTITIONS)
		return ts_err_set(err, TS_EINVAL, "kafka: %d partitions outside [0, %d]",
				  o->n_partitions, INGEST_LOG_MAX_PARTITIONS);
	if (o->replication_factor == 0 || o->replication_factor < -1 ||
	    o->replication_factor > 1000)
		return ts_err_set(err, TS_EINVAL,
				  "kafka: replication factor %d: use -1 (broker default) or >= 1",
				  o->replication_factor);
	if (!o->client_id || !o->client_id[0] || !o->group_id || !o->group_id[0])
		return ts_err_set(err, TS_EINVAL, "kafka: client id and group id must be set");
	if (o->produce_timeout_ms < MIN_TIMEOUT_MS || o->produce_timeout_ms > MAX_TIMEOUT_MS ||
	    o->request_timeout_ms < MIN_TIMEOUT_MS || o->request_timeout_ms > MAX_TIMEOUT_MS)
		return ts_err_set(err, TS_EINVAL,
				  "kafka: produce and request timeouts must lie in [%d ms, 24h]",
				  MIN_TIMEOUT_MS);
	if (o->linger_ms < 0 || o->linger_ms > MAX_LINGER_MS ||
	    o->linger_ms >= o->produce_timeout_ms)
		return ts_err_set(err, TS_EINVAL,
				  "kafka: linger %d ms must lie in [0, %d] and below the produce "
				  "timeout",
				  o->linger_ms, MAX_LINGER_MS);
	if (o->n_properties && !o->properties)
		return ts_err_set(err, TS_EINVAL, "kafka: properties missing");
	for (size_t i = 0; i < o->n_properties; i++) {
		int rc = ingest_log_kafka_check_property(o->properties[i].name,
							 o->properties[i].value, err);
		if (rc)
			return rc;
	}
	return TS_OK;
}

int ingest_log_kafka_open(const ingest_log_kafka_options *o, ingest_log **out, ts_err *err)
{
	int rc = check_options(o, err);
	if (rc)
		return rc;
	kafka_log *kl = ts_calloc(1, sizeof(*kl));
	if (!kl)
		return ts_err_set(err, TS_ENOMEM, "kafka: out of memory");
	kl->base.ops = &kafka_ops;
	pthread_mutex_init(&kl->dr_mu, NULL);
	pthread_condattr_init(&kl->mono);
	pthread_condattr_setclock(&kl->mono, CLOCK_MONOTONIC);
	pthread_mutex_init(&kl->state_mu, NULL);
	atomic_init(&kl->stop, false);
	atomic_init(&kl->is_fatal, false);
	atomic_init(&kl->log_quiet_until, 0);
	atomic_init(&kl->n_log_suppressed, 0);
	atomic_init(&kl->group, NULL);
	kl->produce_timeout_ms = o->produce_timeout_ms;
	kl->request_timeout_ms = o->request_timeout_ms;
	kl->linger_ms = o->linger_ms;
	kl->brokers = ts_strdup(o->brokers);
	kl->topic = ts_strdup(o->topic);
	kl->client_id = ts_strdup(o->client_id);
	kl->group_id = ts_strdup(o->group_id);
	if (o->n_properties) {
		kl->prop_names = ts_calloc(o->n_properties, sizeof(char *));
		kl->prop_values = ts_calloc(o->n_properties, sizeof(char *));
	}
	if (!kl->brokers || !kl->topic || !kl->client_id || !kl->group_id ||
	    (o->n_properties && (!kl->prop_names || !kl->prop_values)))
		goto oom;
	for (size_t i = 0; i < o->n_properties; i++) {
		kl->prop_names[i] = ts_strdup(o->properties[i].name);
		kl->prop_values[i] = ts_strdup(o->properties[i].value);
		kl->n_props = i + 1;
		if (!kl->prop_names[i] || !kl->prop_values[i])
			goto oom;
	}
	if ((rc = new_handle(kl, ROLE_PRODUCER, kl, &kl->producer, err)) ||
	    (rc = new_handle(kl, ROLE_CONTROL, kl, &kl->ctl, err)))
		goto fail;
	if (!(kl->rkt = rd_kafka_topic_new(kl->producer, kl->topic, NULL))) {
		rc = ts_err_set(err, TS_EINVAL, "kafka: topic %s: %s", kl->topic,
				rd_kafka_err2str(rd_kafka_last_error()));
		goto fail;
	}
	if (pthread_create(&kl->poll_thread, NULL, poll_main, kl) != 0) {
		rc = ts_err_set(err, TS_ENOMEM, "kafka: cannot start the poll thread");
		goto fail;
	}
	pthread_setname_np(kl->poll_thread, "kafka-poll");
	kl->has_poll_thread = true;
	int n = 0;
	if ((rc = load_topic(kl, o, &n, err)))
		goto fail;
	if (!(kl->parts = ts_calloc((size_t)n, sizeof(*kl->parts))))
		goto oom;
	for (int i = 0; i < n; i++) {
		atomic_init(&kl->parts[i].known_next, 0);
		atomic_init(&kl->parts[i].committed, COMMITTED_UNKNOWN);
		atomic_init(&kl->parts[i].committed_ms, 0);
		atomic_init(&kl->parts[i].ckpt_next, -1);
	}
	kl->base.n_partitions = n;
	*out = &kl->base;
	return TS_OK;
oom:
	rc = ts_err_set(err, TS_ENOMEM, "kafka: out of memory");
fail:
	kafka_close(&kl->base);
	return rc;
}

static const ingest_log_ops kafka_ops = {
    .name = "kafka",
    .close = kafka_close,
    .append = kafka_append,
    .reader_open = kafka_reader_open,
    .reader_next = kafka_reader_next,
    .reader_close = kafka_reader_close,
    .checkpoint = kafka_checkpoint,
    .stats = kafka_stats,
};

/* ---------------------------------------------------------------- consumer group */

/*
 * Rebalance callback of the member (on "kafka-group", inside rd_kafka_consumer_poll or
 * rd_kafka_consumer_close; opaque: the log). Assigned partitions are assigned to the member
 * at the end offset and paused, so that it never fetches records (the caller's readers
 * do); revoked ones are handed back after the callee stopped reading them.
 */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	kafka_log *kl = opaque;
	struct ingest_log_kafka_group *g = atomic_load(&kl->group);
	const char *proto = rd_kafka_rebalance_protocol(rk);
	bool is_coop = proto && strcmp(proto, "COOPERATIVE") == 0;
	int *ps = ts_calloc((size_t)parts->cnt + 1, sizeof(int)), n = 0;
	for (int i = 0; ps && i < parts->cnt; i++)
		if (parts->elems[i].partition >= 0 &&
		    parts->elems[i].partition < kl->base.n_partitions)
			ps[n++] = parts->elems[i].partition;
	if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (int i = 0; i < parts->cnt; i++)
			parts->elems[i].offset = RD_KAFKA_OFFSET_END;
		rd_kafka_error_t *ae = is_coop ? rd_kafka_incremental_assign(rk, parts) : NULL;
		rd_kafka_resp_err_t re =
		    is_coop ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_assign(rk, parts);
		if (ae || re)
			ts_log_error("kafka: group %s: assigning %d partitions failed: %s",
				     kl->group_id, parts->cnt,
				     ae ? rd_kafka_error_string(ae) : rd_kafka_err2str(re));
		if (ae)
			rd_kafka_error_destroy(ae);
		rd_kafka_pause_partitions(rk, parts);
		for (int i = 0; i < n; i++) /* a new ownership: its first checkpoint commits */
			atomic_store(&kl->parts[ps[i]].ckpt_next, -1);
		if (g && ps)
			g->o.assigned(g->o.ctx, ps, n);
	} else {
		if (e != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
			ts_log_error("kafka: group %s: rebalance failed: %s", kl->group_id,
				     rd_kafka_err2str(e));
		if (g && ps)
			g->o.revoked(g->o.ctx, ps, n, rd_kafka_assignment_lost(rk) != 0);
		rd_kafka_error_t *ue = is_coop ? rd_kafka_incremental_unassign(rk, parts) : NULL;
		if (!is_coop)
			rd_kafka_assign(rk, NULL);
		if (ue)
			rd_kafka_error_destroy(ue);
	}
	if (!ps)
		ts_log_error("kafka: group %s: out of memory in a rebalance (%d partitions "
			     "ignored)",
			     kl->group_id, parts->cnt);
	ts_free(ps);
}

static void *group_main(void *arg)
{
	struct ingest_log_kafka_group *g = arg;
	while (!atomic_load(&g->stop)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(g->rk, POLL_INTERVAL_MS);
		if (m && m->err)
			ts_log_debug("kafka: group %s: %s", g->log->group_id,
				     rd_kafka_message_errstr(m));
		if (m) /* a record fetched before its partition was paused: not ours to read */
			rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(g->rk); /* revokes everything (callback), leaves the group */
	return NULL;
}

int ingest_log_kafka_group_join(ingest_log *l, const ingest_log_kafka_group_options *o,
				ingest_log_kafka_group **out, ts_err *err)
{
	if (l->ops != &kafka_ops)
		return ts_err_set(err, TS_EINVAL, "consumer groups need the Kafka log");
	kafka_log *kl = (kafka_log *)l;
	if (!o || !o->assigned || !o->revoked || o->session_timeout_ms < 1000 ||
	    o->session_timeout_ms > INT_MAX)
		return ts_err_set(err, TS_EINVAL, "kafka: bad consumer group options");
	if (atomic_load(&kl->group))
		return ts_err_set(err, TS_EINVAL, "kafka: group %s already joined", kl->group_id);
	struct ingest_log_kafka_group *g = ts_calloc(1, sizeof(*g));
	if (!g)
		return ts_err_set(err, TS_ENOMEM, "kafka: out of memory");
	g->log = kl;
	g->o = *o;
	atomic_init(&g->stop, false);
	kl->member_session_ms = o->session_timeout_ms;
	int rc = new_handle(kl, ROLE_MEMBER, kl, &g->rk, err);
	if (rc) {
		ts_free(g);
		return rc;
	}
	rd_kafka_poll_set_consumer(g->rk);
	rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__NOENT;
	if (t) {
		rd_kafka_topic_partition_list_add(t, kl->topic, RD_KAFKA_PARTITION_UA);
		e = rd_kafka_subscribe(g->rk, t);
		rd_kafka_topic_partition_list_destroy(t);
	}
	atomic_store(&kl->group, g);
	if (e || pthread_create(&g->thread, NULL, group_main, g) != 0) {
		rc = ts_err_set(err, e ? err_code(e) : TS_ENOMEM, "kafka: cannot join group %s: %s",
				kl->group_id, e ? rd_kafka_err2str(e) : "no thread");
		atomic_store(&kl->group, NULL);
		rd_kafka_destroy_flags(g->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
		ts_free(g);
		return rc;
	}
	pthread_setname_np(g->thread, "kafka-group");
	ts_log_info("kafka: joined consumer group %s for topic %s as %s", kl->group_id, kl->topic,
		    rd_kafka_name(g->rk));
	*out = g;
	return TS_OK;
}

void ingest_log_kafka_group_leave(ingest_log_kafka_group *g)
{
	if (!g)
		return;
	atomic_store(&g->stop, true);
	pthread_join(g->thread, NULL);
	atomic_store(&g->log->group, NULL);
	rd_kafka_destroy(g->rk);
	ts_log_info("kafka: left consumer group %s", g->log->group_id);
	ts_free(g);
}

/* ---------------------------------------------------------------- mock cluster */

struct ingest_kafka_mock {
	rd_kafka_t *rk;              /* the handle the cluster runs in */
	rd_kafka_mock_cluster_t *mc; /* the cluster */
	int n_brokers;               /* ids 1..n_brokers */
};

int ingest_kafka_mock_new(int n_brokers, ingest_kafka_mock **out, ts_err *err)
{
	if (n_brokers < 1 || n_brokers > 64)
		return ts_err_set(err, TS_EINVAL, "kafka mock: %d brokers outside [1, 64]",
				  n_brokers);
	ingest_kafka_mock *m = ts_calloc(1, sizeof(*m));
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (!m || !c) {
		ts_free(m);
		if (c)
			rd_kafka_conf_destroy(c);
		return ts_err_set(err, TS_ENOMEM, "kafka mock: out of memory");
	}
	rd_kafka_conf_set_log_cb(c, on_log_quiet);
	char why[512] = "";
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof(why));
	if (!m->rk) {
		rd_kafka_conf_destroy(c);
		ts_free(m);
		return ts_err_set(err, TS_EIO, "kafka mock: %s", why);
	}
	m->mc = rd_kafka_mock_cluster_new(m->rk, n_brokers);
	if (!m->mc) {
		rd_kafka_destroy(m->rk);
		ts_free(m);
		return ts_err_set(err, TS_EIO, "kafka mock: cannot start %d brokers", n_brokers);
	}
	m->n_brokers = n_brokers;
	*out = m;
	return TS_OK;
}

const char *ingest_kafka_mock_bootstraps(const ingest_kafka_mock *m)
{
	return rd_kafka_mock_cluster_bootstraps(m->mc);
}

int ingest_kafka_mock_topic_create(ingest_kafka_mock *m, const char *topic, int n_partitions,
				   int replication_factor, ts_err *err)
{
	if (!topic || !valid_topic(topic) || n_partitions < 1 ||
	    n_partitions > INGEST_LOG_MAX_PARTITIONS || replication_factor < 1 ||
	    replication_factor > m->n_brokers)
		return ts_err_set(err, TS_EINVAL, "kafka mock: bad topic arguments");
	rd_kafka_resp_err_t e =
	    rd_kafka_mock_topic_create(m->mc, topic, n_partitions, replication_factor);
	if (e)
		return ts_err_set(err, TS_EINVAL, "kafka mock: create topic %s: %s", topic,
				  rd_kafka_err2str(e));
	return TS_OK;
}

int ingest_kafka_mock_broker_set_down(ingest_kafka_mock *m, int id, bool is_down, ts_err *err)
{
	if (id < 1 || id > m->n_brokers)
		return ts_err_set(err, TS_EINVAL, "kafka mock: no broker %d", id);
	rd_kafka_resp_err_t e = is_down ? rd_kafka_mock_broker_set_down(m->mc, id)
					: rd_kafka_mock_broker_set_up(m->mc, id);
	if (e)
		return ts_err_set(err, TS_EINVAL, "kafka mock: broker %d: %s", id,
				  rd_kafka_err2str(e));
	return TS_OK;
}

int ingest_kafka_mock_broker_set_rtt(ingest_kafka_mock *m, int id, int rtt_ms, ts_err *err)
{
	if (id < 1 || id > m->n_brokers || rtt_ms < 0)
		return ts_err_set(err, TS_EINVAL, "kafka mock: bad broker %d or rtt %d", id,
				  rtt_ms);
	rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_rtt(m->mc, id, rtt_ms);
	if (e)
		return ts_err_set(err, TS_EINVAL, "kafka mock: broker %d: %s", id,
				  rd_kafka_err2str(e));
	return TS_OK;
}

void ingest_kafka_mock_free(ingest_kafka_mock *m)
{
	if (!m)
		return;
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->rk);
	ts_free(m);
}
