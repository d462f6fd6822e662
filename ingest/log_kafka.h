/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_kafka.h: the Kafka backend of the partitioned log, its `kafka:` config section and a
 * mock cluster for tests (internal to ingest/).
 *
 * ingest_log_kafka_open returns an ingest_log (ingest/log.h) whose partitions are the
 * partitions of one Kafka topic: log partition p is Kafka partition p, a log offset is the
 * Kafka offset, a record is the value of one message. Topic layout, keys and guarantees:
 * docs/formats/kafka.md. Only log_kafka.c calls librdkafka (STYLE.md section 1): the config
 * parser (kafka_config.c) validates pass-through properties through
 * ingest_log_kafka_check_property, and tests drive librdkafka's mock cluster through the
 * ingest_kafka_mock_* functions below.
 *
 * Differences from the embedded log that callers see (the log.h contract otherwise holds):
 *  - an append that fails with TS_EUNAVAIL (not acknowledged within produce_timeout_ms;
 *    it returns at the latest 0.5 s after that) may still have been stored by the broker
 *    and can appear to readers later (at-least-once; the store drops exact duplicates);
 *  - ingest_log_stats asks the brokers for the watermarks (first_offset, next_offset) and,
 *    at most every 10 s, for the group's committed offset, so it can block up to
 *    request_timeout_ms and fails with TS_EUNAVAIL when they are down; `bytes`,
 *    `pending_bytes`, `n_segments`, `n_syncs` and the repair counters are 0;
 *  - checkpoints are kept by Kafka (the consumer group's committed offset = offset + 1),
 *    so stats' checkpoint_next survives a restart. The first checkpoint of a partition a
 *    log makes is committed even if the group held a higher offset (the store's persisted
 *    offset is the truth); later ones below an earlier one are ignored. Deleting data is
 *    left to the topic's retention (retention.ms / retention.bytes), never done by a
 *    checkpoint; a reader whose offset retention deleted gets TS_ENOTFOUND;
 *  - TS_EBUSY only when librdkafka's producer queue is full; TS_EAUTH for authentication
 *    and authorization failures; TS_ECORRUPT never (records are checked by their decoder).
 */
#ifndef INGEST_LOG_KAFKA_H
#define INGEST_LOG_KAFKA_H

#include "ingest/log.h"
#include "ingest/record.h"

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One librdkafka property passed through unchanged ("security.protocol" = "sasl_ssl"). */
typedef struct ingest_log_kafka_property {
	const char *name;  /* librdkafka property name (borrowed) */
	const char *value; /* its value as text (borrowed) */
} ingest_log_kafka_property;

/* Options of the Kafka log. Start from INGEST_LOG_KAFKA_OPTIONS_DEFAULT. */
typedef struct ingest_log_kafka_options {
	const char *brokers;        /* bootstrap.servers "host:port[,host:port...]" (borrowed) */
	const char *topic;          /* the topic holding the log (borrowed) */
	int n_partitions;           /* 0: use the topic's partition count; otherwise the topic
				       must have exactly this many (or is created with them) */
	bool create_topic;          /* create the topic when it is missing (needs n_partitions) */
	int replication_factor;     /* replicas of a created topic; -1: the broker's default */
	const char *client_id;      /* client.id (borrowed) */
	const char *group_id;       /* consumer group holding the checkpoints (borrowed) */
	int64_t produce_timeout_ms; /* an append not acknowledged by then fails (TS_EUNAVAIL) */
	int64_t request_timeout_ms; /* metadata, offset queries, commits, topic creation */
	int linger_ms;              /* producer batching delay (linger.ms), < produce timeout */
	const ingest_log_kafka_property *properties; /* passed to every librdkafka handle
							(borrowed array) */
	size_t n_properties;                         /* entries in properties */
} ingest_log_kafka_options;

#define INGEST_LOG_KAFKA_TOPIC_DEFAULT      "strata"
#define INGEST_LOG_KAFKA_CLIENT_ID_DEFAULT  "strata"
#define INGEST_LOG_KAFKA_GROUP_ID_DEFAULT   "strata"
#define INGEST_LOG_KAFKA_PRODUCE_TIMEOUT_MS 10000
#define INGEST_LOG_KAFKA_REQUEST_TIMEOUT_MS 10000
#define INGEST_LOG_KAFKA_LINGER_MS_DEFAULT  1
/* message.max.bytes of every handle and max.message.bytes of a created topic: the largest
 * record plus room for the record-batch framing around it. */
#define INGEST_LOG_KAFKA_MESSAGE_MAX_BYTES (INGEST_RECORD_MAX_BYTES + 65536u)
#define INGEST_LOG_KAFKA_OPTIONS_DEFAULT                                                      \
	{                                                                                     \
		NULL, INGEST_LOG_KAFKA_TOPIC_DEFAULT, 0, true, -1,                            \
		    INGEST_LOG_KAFKA_CLIENT_ID_DEFAULT, INGEST_LOG_KAFKA_GROUP_ID_DEFAULT,    \
		    INGEST_LOG_KAFKA_PRODUCE_TIMEOUT_MS, INGEST_LOG_KAFKA_REQUEST_TIMEOUT_MS, \
		    INGEST_LOG_KAFKA_LINGER_MS_DEFAULT, NULL, 0                               \
	}

/*
 * Open the Kafka log: check the options and properties, create the producer (idempotent,
 * acks=all, snappy) and a control consumer (group o->group_id: commits and offset
 * queries), fetch the topic's metadata (creating the topic when it is missing and
 * o->create_topic is set) and check its partition count. o and everything it points to are
 * borrowed and copied. *out returned owned; close with ingest_log_close (appenders stopped
 * and readers closed first). The brokers must be reachable within request_timeout_ms.
 * TS_OK; TS_EINVAL (bad options, a property librdkafka rejects or Strata sets itself, a
 * topic whose partition count differs from o->n_partitions, a missing topic that may not
 * be created); TS_EUNAVAIL (brokers unreachable, topic creation or metadata timed out);
 * TS_EAUTH (authentication or authorization failed); TS_ENOMEM. Thread-safe (opens share
 * nothing).
 */
int ingest_log_kafka_open(const ingest_log_kafka_options *o, ingest_log **out, ts_err *err);

/*
 * Check that `name` = `value` (borrowed) may be passed through to librdkafka: the name is
 * known to librdkafka, the value is valid for it, and it is not one Strata sets itself
 * (durability settings such as acks or enable.idempotence, group and offset handling,
 * and those with their own `kafka:` key such as bootstrap.servers). TS_OK or TS_EINVAL
 * with a message that never contains the value of a secret (password, key, token).
 * Thread-safe.
 */
int ingest_log_kafka_check_property(const char *name, const char *value, ts_err *err);

/* ---------------------------------------------------------------- consumer group (role store) */

/*
 * Membership of the log's consumer group (group_id of the options) for stores that split
 * the partitions among themselves (cluster.role store, docs/formats/kafka.md section 8).
 * The member subscribes to the topic with the cooperative-sticky assignor and never reads
 * records itself (its partitions are paused): the callbacks tell the caller which
 * partitions it owns, and the caller reads them with ordinary readers. While a member is
 * joined, ingest_log_checkpoint commits through it (with the member's generation, as Kafka
 * requires of a group with members) instead of through the standalone control consumer.
 */
typedef struct ingest_log_kafka_group ingest_log_kafka_group;

typedef struct ingest_log_kafka_group_options {
	int64_t session_timeout_ms; /* session.timeout.ms: a member silent this long is
				       removed and its partitions reassigned (>= 1000) */
	/* Called on the thread "kafka-group": this member now owns partitions[0..n) (borrowed,
	 * valid during the call). The first checkpoint of each then commits unconditionally
	 * (the new owner's persisted offset), later ones only move forward. */
	void (*assigned)(void *ctx, const int *partitions, int n);
	/* Called on "kafka-group": partitions[0..n) are taken away. The callee must stop
	 * reading them and may checkpoint them (unless is_lost: the session expired, another
	 * member may own them already and commits would fail) before it returns. */
	void (*revoked)(void *ctx, const int *partitions, int n, bool is_lost);
	void *ctx; /* passed to the callbacks (borrowed) */
} ingest_log_kafka_group_options;

/*
 * Join the log's consumer group and start "kafka-group", which serves the membership and
 * calls o's callbacks (o copied; at most one group per log). *out returned owned; leave
 * with ingest_log_kafka_group_leave before closing the log. TS_OK; TS_EINVAL (not a Kafka
 * log, already joined, bad options); TS_ENOMEM. Not thread-safe against leave.
 */
int ingest_log_kafka_group_join(ingest_log *l, const ingest_log_kafka_group_options *o,
				ingest_log_kafka_group **out, ts_err *err);

/*
 * Leave the group: the revoked callback runs for every owned partition (on "kafka-group",
 * before this returns), the member leaves (the others get its partitions at once instead
 * of after the session timeout), and everything is freed. NULL allowed.
 */
void ingest_log_kafka_group_leave(ingest_log_kafka_group *g);

/* ---------------------------------------------------------------- kafka: config section */

typedef struct ingest_kafka_config ingest_kafka_config;

/*
 * Parse the top-level `kafka:` section (node `section` of document d, both borrowed;
 * section NULL = absent) into a config (returned owned, free with ingest_kafka_config_free).
 * Keys (docs/formats/kafka.md has the table): brokers (string or list, required), topic,
 * partitions, create_topic, replication_factor, client_id, group_id, produce_timeout,
 * request_timeout, linger, properties (a map of librdkafka properties, values as text).
 * TS_ENOTFOUND when section is NULL; TS_EINVAL "file:line:col: kafka.<key>: reason" for an
 * unknown key or bad value; TS_ENOMEM. Thread-safe.
 */
int ingest_kafka_config_parse(const ts_yaml_doc *d, const ts_yaml_node *section,
			      ingest_kafka_config **out, ts_err *err);

/* ingest_kafka_config_parse on the `kafka:` section of a loaded server config (borrowed).
 * Thread-safe. */
int ingest_kafka_config_load(const ts_config *c, ingest_kafka_config **out, ts_err *err);

/* The options for ingest_log_kafka_open (borrowed from c, valid until its free).
 * Thread-safe (c is immutable). */
const ingest_log_kafka_options *ingest_kafka_config_options(const ingest_kafka_config *c);

/* Free a config. NULL allowed. */
void ingest_kafka_config_free(ingest_kafka_config *c);

/* ---------------------------------------------------------------- mock cluster (tests) */

/*
 * librdkafka's in-process mock cluster (a test fixture, not a Kafka implementation: no
 * replication, no retention, no CreateTopics; a topic it has not been told about is created
 * with 4 partitions on first use). Brokers listen on 127.0.0.1 ephemeral ports and have
 * ids 1..n_brokers. *out returned owned. TS_OK, TS_EINVAL (n_brokers outside 1..64),
 * TS_EIO (librdkafka could not start it), TS_ENOMEM. The functions below may be called from
 * any thread (librdkafka serializes them on the cluster's own thread), except _free, which
 * must not race with the others.
 */
typedef struct ingest_kafka_mock ingest_kafka_mock;
int ingest_kafka_mock_new(int n_brokers, ingest_kafka_mock **out, ts_err *err);

/* The bootstrap servers "127.0.0.1:port,..." (borrowed from m). */
const char *ingest_kafka_mock_bootstraps(const ingest_kafka_mock *m);

/* Create `topic` with n_partitions (1..INGEST_LOG_MAX_PARTITIONS) and replication_factor
 * (1..n_brokers). TS_OK, TS_EINVAL (bad arguments or the topic exists). */
int ingest_kafka_mock_topic_create(ingest_kafka_mock *m, const char *topic, int n_partitions,
				   int replication_factor, ts_err *err);

/* Take broker `id` down (close its connections, refuse new ones) or bring it back up.
 * TS_OK, TS_EINVAL (unknown broker). */
int ingest_kafka_mock_broker_set_down(ingest_kafka_mock *m, int id, bool is_down, ts_err *err);

/* Delay every response of broker `id` by rtt_ms (0 = none). TS_OK, TS_EINVAL. */
int ingest_kafka_mock_broker_set_rtt(ingest_kafka_mock *m, int id, int rtt_ms, ts_err *err);

/* Stop the cluster (clients still connected see their brokers go away). NULL allowed. */
void ingest_kafka_mock_free(ingest_kafka_mock *m);

#endif /* INGEST_LOG_KAFKA_H */
