/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fanout_plan.h: store status and replica planning of the query fan-out (internal to web/
 * and its tests).
 *
 * A store node answers GET /internal/v1/status (api_internal.c) with what it holds per
 * log partition; the query node (fanout.c) polls it and plans every select: per
 * partition one replica whose owner is up and caught up. The status wire format is in
 * docs/formats/internal_read.md; the planning rules in docs/SCALING.md.
 */
#ifndef WEB_FANOUT_PLAN_H
#define WEB_FANOUT_PLAN_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEB_STATUS_MAGIC     "STST"
#define WEB_STATUS_TYPE      "application/x-strata-status"
#define WEB_STATUS_NAME_MAX  64
#define WEB_STATUS_MAX_PARTS 1024 /* as INGEST_LOG_MAX_PARTITIONS */
#define WEB_CAUGHT_UP_LAG    1000 /* records an owner may be behind and count as caught up */

/* Flags of one partition in a store's status. */
#define WEB_PART_OWNED     1u /* the store consumes the partition now */
#define WEB_PART_CAUGHT_UP 2u /* owned, startup/assignment replay done, lag <= the bound */
#define WEB_PART_HELD      4u /* the store has applied records of it (owned now or before) */

typedef struct web_part_status {
	uint8_t flags;    /* WEB_PART_* */
	uint64_t applied; /* next log offset the store applies (records below are in it) */
	uint64_t high;    /* the log's end (high watermark) as last seen; 0 unknown */
	uint64_t lag;     /* records not yet applied (high - applied when owned) */
} web_part_status;

/* A store's answer to /internal/v1/status, or what the query node knows of it. */
typedef struct web_store_status {
	bool up;                                     /* the last status request succeeded */
	char node_id[WEB_STATUS_NAME_MAX + 1];       /* cluster.node_id */
	char replica_group[WEB_STATUS_NAME_MAX + 1]; /* cluster.replica_group */
	int n_partitions; /* log partitions; 0: no partitioned log (holds everything itself) */
	int64_t min_t_ms, max_t_ms; /* time range the store holds (all partitions); min > max
				       when empty */
	uint64_t n_selects;         /* internal selects served since start */
	uint64_t n_series_sent;     /* series sent in their answers */
	web_part_status *parts;     /* n_partitions entries (owned), indexed by partition */
} web_store_status;

/* Free s->parts (s itself is the caller's). NULL allowed. */
void web_store_status_fini(web_store_status *s);

/* Append the binary status answer of s to b (only partitions owned or held are listed). */
int web_store_status_encode(const web_store_status *s, ts_buf *b);
/* Append s as a JSON object (format=json, for people and scripts). */
int web_store_status_json(const web_store_status *s, ts_buf *b);

/*
 * Decode a binary status answer into *s (zeroed first; s->up set; parts allocated).
 * TS_ECORRUPT naming the byte offset for anything malformed, TS_ENOMEM.
 */
int web_store_status_decode(const char *p, size_t n, web_store_status *s, ts_err *err);

/*
 * The partition count of a set of statuses: the value the up stores with a partitioned
 * log agree on. 0 when no up store has one; -1 when two of them disagree (a store of
 * another topic or a changed config is listed).
 */
int web_plan_n_partitions(const web_store_status *st, size_t n);

/*
 * The store to read partition p from: among stores that are up, not excluded
 * (excluded NULL or excluded[i] false), have n_partitions partitions and report p
 * caught up, `prev` if it is one of them (a stable choice while it stays caught up),
 * else the one with the smallest lag, ties to the lowest index. -1 when none.
 */
int web_plan_pick(const web_store_status *st, size_t n, int n_partitions, int p,
		  const bool *excluded, int prev);

/*
 * The plan: choice[p] (n_partitions entries) = web_plan_pick with prev[p] (prev NULL: no
 * previous plan). Returns the number of partitions without a caught-up owner. Pure.
 */
int web_plan_compute(const web_store_status *st, size_t n, int n_partitions, const int *prev,
		     int *choice);

#endif /* WEB_FANOUT_PLAN_H */
