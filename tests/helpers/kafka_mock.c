/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_mock.c: a Kafka cluster for integration tests (librdkafka's mock cluster).
 *
 *   kafka_mock [--brokers N] [--topic NAME [--partitions P] [--replication R]]...
 *
 * Starts N mock brokers (default 1) on 127.0.0.1 ephemeral ports, creates each --topic
 * with the --partitions (default 1) and --replication (default 1) that follow it, prints
 * the bootstrap servers ("127.0.0.1:p1,127.0.0.1:p2") as the first line on stdout, and
 * then reads commands from stdin, one per line, answering each with "ok" or
 * "error: <why>" on stdout:
 *
 *   down <broker-id>               take a broker down (ids 1..N): connections are closed
 *                                  and new ones refused
 *   up <broker-id>                 bring it back
 *   rtt <broker-id> <ms>           delay the broker's responses
 *   topic <name> <partitions> [R]  create another topic
 *
 * It exits 0 at end of input (so `exec 3> >(kafka_mock ...)` style tests stop it by
 * closing the pipe) and 2 on bad arguments. The mock keeps everything in memory: no
 * retention, no replication, and a topic it was not told about is created with 4
 * partitions on first use. Scripts: see tests/integration/test_kafka.sh.
 */
#include "ingest/log_kafka.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOPICS 16
#define LINE_BYTES 512

typedef struct topic_arg {
	const char *name;
	long partitions;
	long replication;
} topic_arg;

/* Decimal integer in [lo, hi]; false if s is not one. */
static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static int usage(const char *why)
{
	fprintf(stderr,
		"kafka_mock: %s\nusage: kafka_mock [--brokers N] [--topic NAME [--partitions P] "
		"[--replication R]]...\n",
		why);
	return 2;
}

/* Run one stdin command; the answer goes to stdout. */
static void run_command(ingest_kafka_mock *m, char *line)
{
	char *save = NULL;
	const char *cmd = strtok_r(line, " \t\r\n", &save);
	const char *a1 = cmd ? strtok_r(NULL, " \t\r\n", &save) : NULL;
	const char *a2 = a1 ? strtok_r(NULL, " \t\r\n", &save) : NULL;
	const char *a3 = a2 ? strtok_r(NULL, " \t\r\n", &save) : NULL;
	ts_err err = {0};
	long id, n, r = 1;
	int rc;
	if (!cmd) {
		return; /* blank line */
	} else if ((!strcmp(cmd, "down") || !strcmp(cmd, "up")) && a1 && !a2 &&
		   parse_long(a1, 1, 64, &id)) {
		rc = ingest_kafka_mock_broker_set_down(m, (int)id, cmd[0] == 'd', &err);
	} else if (!strcmp(cmd, "rtt") && a1 && a2 && !a3 && parse_long(a1, 1, 64, &id) &&
		   parse_long(a2, 0, 3600000, &n)) {
		rc = ingest_kafka_mock_broker_set_rtt(m, (int)id, (int)n, &err);
	} else if (!strcmp(cmd, "topic") && a1 && a2 && parse_long(a2, 1, 1 << 20, &n) &&
		   (!a3 || parse_long(a3, 1, 64, &r))) {
		rc = ingest_kafka_mock_topic_create(m, a1, (int)n, (int)r, &err);
	} else {
		rc = ts_err_set(&err, TS_EINVAL,
				"unknown command (down ID | up ID | rtt ID MS | "
				"topic NAME PARTITIONS [REPLICATION])");
	}
	if (rc)
		printf("error: %s\n", err.msg);
	else
		printf("ok\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	long brokers = 1;
	topic_arg topics[MAX_TOPICS];
	int n_topics = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage("missing value");
		i++;
		if (!strcmp(a, "--brokers")) {
			if (!parse_long(v, 1, 64, &brokers))
				return usage("--brokers wants 1..64");
		} else if (!strcmp(a, "--topic")) {
			if (n_topics == MAX_TOPICS)
				return usage("too many topics");
			topics[n_topics++] = (topic_arg){v, 1, 1};
		} else if (!strcmp(a, "--partitions") && n_topics) {
			if (!parse_long(v, 1, INGEST_LOG_MAX_PARTITIONS,
					&topics[n_topics - 1].partitions))
				return usage("bad --partitions");
		} else if (!strcmp(a, "--replication") && n_topics) {
			if (!parse_long(v, 1, 64, &topics[n_topics - 1].replication))
				return usage("bad --replication");
		} else {
			return usage("unknown argument (or --partitions before --topic)");
		}
	}
	ingest_kafka_mock *m = NULL;
	ts_err err = {0};
	if (ingest_kafka_mock_new((int)brokers, &m, &err)) {
		fprintf(stderr, "kafka_mock: %s\n", err.msg);
		return 1;
	}
	for (int i = 0; i < n_topics; i++) {
		if (ingest_kafka_mock_topic_create(m, topics[i].name, (int)topics[i].partitions,
						   (int)topics[i].replication, &err)) {
			fprintf(stderr, "kafka_mock: %s\n", err.msg);
			ingest_kafka_mock_free(m);
			return 2;
		}
	}
	printf("%s\n", ingest_kafka_mock_bootstraps(m));
	fflush(stdout);
	char line[LINE_BYTES];
	while (fgets(line, sizeof(line), stdin))
		run_command(m, line);
	ingest_kafka_mock_free(m);
	return 0;
}
