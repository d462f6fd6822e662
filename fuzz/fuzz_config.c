/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config.c: libFuzzer target for the server config (common/config.c over
 * common/yaml.c) and the sections other modules parse from it: `ingest:` (and `kafka:`,
 * ingest/ingest_config.c, ingest/kafka_config.c), `global:` + `scrape_configs:`
 * (ingest/scrape_config.c) and `alerting:` (alert/notify_config.c).
 *
 * The input is written to a memfd and loaded with ts_config_load through /proc/self/fd/N,
 * exactly as a file given to --config. Invariants (trap when broken): a failure returns a
 * known code with a message; a loaded config has its defaults' invariants (a data dir,
 * positive block duration). Inputs that mention a file key ("_file", "files") are not
 * handed to the section parsers, so the fuzzer never reads arbitrary paths. Seeds:
 * fuzz/corpus/config/ (examples/strata.yml, the config fixtures, a full example with
 * every optional section). Inputs are capped at 64 KiB.
 */
#include "alert/notify_int.h"
#include "common/common.h"
#include "ingest/ingest_config.h"
#include "ingest/scrape.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_INPUT (64 * 1024)

static bool known(int rc)
{
	return rc == TS_EINVAL || rc == TS_EPARSE || rc == TS_ENOMEM || rc == TS_ELIMIT ||
	       rc == TS_EIO || rc == TS_ENOTFOUND;
}

static bool mentions_files(const uint8_t *data, size_t size)
{
	static const char *keys[] = {"_file", "files", "_dir"};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (memmem(data, size, keys[k], strlen(keys[k])))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	int fd = memfd_create("fuzz_config", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ts_config *c = NULL;
	ts_err err = {0};
	int rc = ts_config_load(path, &c, &err);
	close(fd);
	if (rc != TS_OK) {
		if (!known(rc) || !err.msg[0] || c)
			__builtin_trap();
		return 0;
	}
	if (!c->storage.data_dir || c->storage.block_duration_ms <= 0 || !c->server.listen)
		__builtin_trap();
	if (!mentions_files(data, size)) {
		ingest_config ic;
		ingest_config_defaults(&ic);
		ts_err e2 = {0};
		rc = ingest_config_parse(c, &ic, &e2);
		if (rc != TS_OK && (!known(rc) || !e2.msg[0]))
			__builtin_trap();
		if (rc == TS_OK && ic.n_partitions < 1)
			__builtin_trap();
		ingest_config_fini(&ic);

		ingest_scrape_config *sc = NULL;
		ts_err e3 = {0};
		rc = ingest_scrape_config_load(c, &sc, &e3);
		if (rc != TS_OK && (!known(rc) || !e3.msg[0]))
			__builtin_trap();
		ingest_scrape_config_free(sc);

		alert_ncfg *nc = NULL;
		ts_err e4 = {0};
		rc = alert_ncfg_from_config(c, &nc, &e4);
		if (rc != TS_OK && (!known(rc) || !e4.msg[0]))
			__builtin_trap();
		alert_ncfg_release(nc);
	}
	ts_config_free(c);
	return 0;
}
