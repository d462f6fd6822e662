/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cluster_config.h: opening the log a node's cluster role needs (internal to ingest/).
 *
 * The `cluster:` section itself is parsed by ingest_cluster_config_load (public, in
 * ingest/ingest.h); this is the part batch.c uses to open the log for the role.
 */
#ifndef INGEST_CLUSTER_CONFIG_H
#define INGEST_CLUSTER_CONFIG_H

#include "ingest/ingest.h"
#include "ingest/ingest_config.h"

/*
 * Open the log for role cc->role: role all opens what the `ingest:` section ic describes
 * (ingest_config_open_log, unchanged); roles ingest and store open the Kafka topic with
 * client.id "<kafka.client_id>-<node_id>", and role store with the consumer group
 * "<kafka.group_id>.<replica_group>" (its checkpoints and its membership). cc, ic and cfg
 * are borrowed. *out returned owned. Errors as ingest_log_kafka_open. Thread-safe.
 */
int ingest_cluster_open_log(const ingest_cluster_config *cc, const ingest_config *ic,
			    const ts_config *cfg, ingest_log **out, ts_err *err);

/* The consumer group of a store ("<group_id>.<replica_group>") into buf (cap bytes). */
void ingest_cluster_group_id(const ingest_cluster_config *cc, const char *group_id, char *buf,
			     size_t cap);

#endif /* INGEST_CLUSTER_CONFIG_H */
