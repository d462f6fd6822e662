/* SPDX-License-Identifier: Apache-2.0 */
/*
 * batch.h: the writer every ingest_batch commits through (internal to ingest/).
 *
 * The batch API itself (begin/add/commit/free) is declared in ingest_int.h; this header
 * is the pipeline's side: pipeline.c opens one writer per pipeline and batch.c finds it
 * through ingest_pipeline_writer(). A writer owns the partitioned log (or borrows the one
 * given in ingest_options), the consumers that feed the store from it, and the append
 * threads that let one commit append to several partitions at once.
 *
 * Direct mode: with neither a log nor a config in the options, there is no log; add()
 * appends straight to the store and commit() only reports (memory-only stores, tests,
 * benchmarks). Nothing is durable then.
 */
#ifndef INGEST_BATCH_H
#define INGEST_BATCH_H

#include "ingest/consumer.h"
#include "ingest/ingest.h"
#include "ingest/ingest_int.h"

#include <stdint.h>

typedef struct ingest_writer ingest_writer;

/*
 * Open the writer o describes: parse o->config's `ingest:` section, open (or borrow
 * o->log) the log, start the consumers (which begin replaying) and the append threads.
 * *out returned owned. Errors of the config (file:line:col), the log and the consumers.
 * Not thread-safe.
 */
int ingest_writer_open(const ingest_options *o, ingest_writer **out, ts_err *err);

/*
 * Stop: append threads first, then drain the consumers to the end of the log, then close
 * the log if the writer opened it. No batch may be in use. NULL allowed.
 */
void ingest_writer_close(ingest_writer *w);

/* Samples the store refused asynchronously (consumers), all partitions. Thread-safe. */
uint64_t ingest_writer_rejected(const ingest_writer *w);

/* The writer's consumers (borrowed; NULL in direct mode). For tests. Thread-safe. */
ingest_consumers *ingest_writer_consumers(ingest_writer *w);

/* The pipeline's writer (borrowed). Defined in pipeline.c. Thread-safe. */
ingest_writer *ingest_pipeline_writer(ingest_pipeline *p);

#endif /* INGEST_BATCH_H */
