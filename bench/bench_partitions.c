/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_partitions.c: partitioning simulation at the capacity plan's scale (standalone
 * program, never run by ctest; docs/SCALING.md uses its output).
 *
 * Builds the series of `pools` x `machines` hosts, each exporting the same 100 series
 * (a node_exporter-like shape: CPU modes per core, memory, filesystems, network and
 * disk devices, load, scrape meta series, an application's request counters and latency
 * histogram), computes every series' partition with the real partitioning function
 * (ts_series_hash of the canonical key, modulo P; common/ts_labels.h), and reports:
 *
 *   1. series per partition: min, mean, max and max/mean for each P;
 *   2. samples/s per partition when a share of the pools is "hot" (scraped every
 *      hot_interval instead of interval): hot pools are whole label sets, so the hash
 *      spreads them like any other series, and the table shows by how much;
 *   3. per store node, for N nodes consuming P partitions: the busiest node's load over
 *      the mean with Kafka's range assignor (contiguous blocks of partitions) and with
 *      the cooperative-sticky/round-robin spread (P/N rounded);
 *   4. rebalancing cost when a node joins (N -> N+1) or leaves (N -> N-1): partitions that
 *      change owner under the range assignor and under the sticky assignor, and the data
 *      the new owners replay from Kafka: each moved partition's samples/s x the replay
 *      window (the store's persisted offsets only advance when the head is cut into a
 *      block, so the window is up to 1.5 x block duration) x log bytes per sample, and
 *      the time that takes at a node's apply rate.
 *
 * Usage: bench_partitions [--pools N] [--machines N] [--interval S] [--hot-share F]
 *                         [--hot-interval S] [--partitions P1,P2,...] [--stores N]
 *                         [--replay-window S] [--log-bytes-per-sample B]
 *                         [--apply-rate SAMPLES_PER_S]
 *        defaults: 1000 pools x 100 machines (10 M series), 10 s interval, 1 % of pools
 *        hot at 1 s, P = 64,128,256,512, 4 stores, 3 h replay window, 25 B/sample in the
 *        log, 1,000,000 samples/s applied per node.
 * Build: cmake -DSTRATA_BENCH=ON -DCMAKE_BUILD_TYPE=Release, target bench_partitions.
 */
#include "common/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SERIES_PER_MACHINE 100
#define MAX_LABELS         8
#define MAX_PARTS          16

typedef struct opts {
	long pools, machines;
	double interval_s, hot_share, hot_interval_s;
	long parts[MAX_PARTS];
	int n_parts;
	long stores;
	double replay_window_s, log_bytes_per_sample, apply_rate;
} opts;

/* One machine's series: metric name plus up to two extra label pairs. */
typedef struct shape {
	const char *name;
	const char *l1, *v1;
	const char *l2, *v2;
} shape;

static const char *const cpu_modes[8] = {"user", "system", "idle",    "iowait",
					 "nice", "irq",    "softirq", "steal"};
static const char *const cores[4] = {"0", "1", "2", "3"};
static const char *const mem[14] = {
    "node_memory_MemTotal_bytes", "node_memory_MemFree_bytes",   "node_memory_MemAvailable_bytes",
    "node_memory_Buffers_bytes",  "node_memory_Cached_bytes",    "node_memory_SwapTotal_bytes",
    "node_memory_SwapFree_bytes", "node_memory_Active_bytes",    "node_memory_Inactive_bytes",
    "node_memory_Dirty_bytes",    "node_memory_Shmem_bytes",     "node_memory_Slab_bytes",
    "node_memory_Mapped_bytes",   "node_memory_PageTables_bytes"};
static const char *const fs_metrics[3] = {
    "node_filesystem_avail_bytes", "node_filesystem_size_bytes", "node_filesystem_free_bytes"};
static const char *const fs_mounts[4] = {"/", "/boot", "/var", "/home"};
static const char *const net_metrics[4] = {
    "node_network_receive_bytes_total", "node_network_transmit_bytes_total",
    "node_network_receive_packets_total", "node_network_transmit_packets_total"};
static const char *const net_devs[3] = {"eth0", "eth1", "lo"};
static const char *const disk_metrics[4] = {
    "node_disk_reads_completed_total", "node_disk_writes_completed_total",
    "node_disk_read_bytes_total", "node_disk_written_bytes_total"};
static const char *const disk_devs[2] = {"sda", "sdb"};
static const char *const misc[6] = {"node_load1",
				    "node_load5",
				    "node_load15",
				    "up",
				    "scrape_duration_seconds",
				    "scrape_samples_scraped"};
static const char *const codes[3] = {"200", "404", "500"};
static const char *const methods[2] = {"GET", "POST"};
static const char *const les[9] = {"0.005", "0.01", "0.05", "0.1", "0.25", "0.5", "1", "5", "+Inf"};

/* Fill the 100 per-machine shapes; returns how many (always SERIES_PER_MACHINE). */
static size_t build_shapes(shape *s)
{
	size_t n = 0;
	for (int c = 0; c < 4; c++)
		for (int m = 0; m < 8; m++)
			s[n++] = (shape){"node_cpu_seconds_total", "cpu", cores[c], "mode",
					 cpu_modes[m]};
	for (int i = 0; i < 14; i++)
		s[n++] = (shape){mem[i], NULL, NULL, NULL, NULL};
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 4; j++)
			s[n++] = (shape){fs_metrics[i], "device", "/dev/vda1", "mountpoint",
					 fs_mounts[j]};
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 3; j++)
			s[n++] = (shape){net_metrics[i], "device", net_devs[j], NULL, NULL};
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 2; j++)
			s[n++] = (shape){disk_metrics[i], "device", disk_devs[j], NULL, NULL};
	for (int i = 0; i < 6; i++)
		s[n++] = (shape){misc[i], NULL, NULL, NULL, NULL};
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 2; j++)
			s[n++] =
			    (shape){"http_requests_total", "code", codes[i], "method", methods[j]};
	for (int i = 0; i < 9; i++)
		s[n++] = (shape){"http_request_duration_seconds_bucket", "le", les[i], NULL, NULL};
	s[n++] = (shape){"http_request_duration_seconds_sum", NULL, NULL, NULL, NULL};
	return n;
}

static int parse_args(int argc, char **argv, opts *o)
{
	*o = (opts){1000, 100, 10, 0.01, 1, {64, 128, 256, 512}, 4, 4, 3 * 3600.0, 25, 1e6};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return -1;
		i++;
		if (strcmp(a, "--pools") == 0)
			o->pools = strtol(v, NULL, 10);
		else if (strcmp(a, "--machines") == 0)
			o->machines = strtol(v, NULL, 10);
		else if (strcmp(a, "--interval") == 0)
			o->interval_s = strtod(v, NULL);
		else if (strcmp(a, "--hot-share") == 0)
			o->hot_share = strtod(v, NULL);
		else if (strcmp(a, "--hot-interval") == 0)
			o->hot_interval_s = strtod(v, NULL);
		else if (strcmp(a, "--stores") == 0)
			o->stores = strtol(v, NULL, 10);
		else if (strcmp(a, "--replay-window") == 0)
			o->replay_window_s = strtod(v, NULL);
		else if (strcmp(a, "--log-bytes-per-sample") == 0)
			o->log_bytes_per_sample = strtod(v, NULL);
		else if (strcmp(a, "--apply-rate") == 0)
			o->apply_rate = strtod(v, NULL);
		else if (strcmp(a, "--partitions") == 0) {
			o->n_parts = 0;
			for (char *p = (char *)v; *p && o->n_parts < MAX_PARTS;) {
				char *end;
				long x = strtol(p, &end, 10);
				if (end == p || x <= 0)
					return -1;
				o->parts[o->n_parts++] = x;
				p = *end == ',' ? end + 1 : end;
			}
		} else
			return -1;
	}
	if (o->pools <= 0 || o->machines <= 0 || o->interval_s <= 0 || o->hot_interval_s <= 0 ||
	    o->hot_share < 0 || o->hot_share > 1 || o->stores < 2 || o->n_parts == 0 ||
	    o->apply_rate <= 0)
		return -1;
	return 0;
}

/* Range assignor: consumer i of n gets partitions [i*q + min(i,r), ...) with q = P/n. */
static long range_owner(long p, long n_parts, long n)
{
	long q = n_parts / n, r = n_parts % n;
	long split = r * (q + 1);
	return p < split ? p / (q + 1) : r + (p - split) / q;
}

/*
 * Sticky assignor from an old balanced assignment (owner[p] in [0, n_old)) to n_new
 * consumers: every consumer keeps up to its new quota of its old partitions, the rest
 * move. Returns the partitions that move; writes the new owners.
 */
static long sticky_reassign(const long *owner, long *out, long n_parts, long n_old, long n_new)
{
	long q = n_parts / n_new, r = n_parts % n_new;
	long *kept = calloc((size_t)(n_old > n_new ? n_old : n_new), sizeof(long));
	long moved = 0;
	if (!kept)
		return -1;
	/* Consumers keep their id; ids >= n_new left the group. Quota: q + 1 for the first r. */
	for (long p = 0; p < n_parts; p++) {
		long c = owner[p];
		long quota = c < n_new ? q + (c < r ? 1 : 0) : 0;
		if (kept[c] < quota) {
			kept[c]++;
			out[p] = c;
		} else {
			out[p] = -1;
			moved++;
		}
	}
	long c = 0;
	for (long p = 0; p < n_parts; p++) {
		if (out[p] >= 0)
			continue;
		while (kept[c] >= q + (c < r ? 1 : 0))
			c++;
		out[p] = c;
		kept[c]++;
	}
	free(kept);
	return moved;
}

typedef struct move_cost {
	long moved;
	double bytes, seconds;
} move_cost;

static move_cost cost_of(const long *old_owner, const long *new_owner, const double *rate,
			 long n_parts, long n_new, const opts *o)
{
	move_cost mc = {0, 0, 0};
	double *per_node = calloc((size_t)n_new, sizeof(double));
	if (!per_node)
		return mc;
	for (long p = 0; p < n_parts; p++) {
		if (old_owner[p] == new_owner[p])
			continue;
		mc.moved++;
		double b = rate[p] * o->replay_window_s * o->log_bytes_per_sample;
		mc.bytes += b;
		per_node[new_owner[p]] += rate[p] * o->replay_window_s;
	}
	/* The handover ends when the slowest new owner has replayed its share while it
	 * keeps applying live traffic: replay / (apply_rate - live rate of the node). */
	for (long c = 0; c < n_new; c++) {
		double live = 0;
		for (long p = 0; p < n_parts; p++)
			if (new_owner[p] == c)
				live += rate[p];
		double spare = o->apply_rate - live;
		double t = per_node[c] > 0 ? (spare > 0 ? per_node[c] / spare : INFINITY) : 0;
		if (t > mc.seconds)
			mc.seconds = t;
	}
	free(per_node);
	return mc;
}

static double node_max_over_mean(const long *owner, const double *rate, long n_parts, long n)
{
	double *load = calloc((size_t)n, sizeof(double)), total = 0, max = 0;
	if (!load)
		return NAN;
	for (long p = 0; p < n_parts; p++) {
		load[owner[p]] += rate[p];
		total += rate[p];
	}
	for (long c = 0; c < n; c++)
		if (load[c] > max)
			max = load[c];
	free(load);
	return max / (total / (double)n);
}

static void report_partitions(const opts *o, const uint64_t *hash, const unsigned char *hot,
			      size_t n_series, long n_parts)
{
	long *count = calloc((size_t)n_parts, sizeof(long));
	double *rate = calloc((size_t)n_parts, sizeof(double));
	long *rng = malloc((size_t)n_parts * sizeof(long));
	long *tmp = malloc((size_t)n_parts * sizeof(long));
	long *stk = malloc((size_t)n_parts * sizeof(long));
	if (!count || !rate || !rng || !tmp || !stk) {
		fprintf(stderr, "out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < n_series; i++) {
		long p = (long)(hash[i] % (uint64_t)n_parts);
		count[p]++;
		rate[p] += 1.0 / (hot[i] ? o->hot_interval_s : o->interval_s);
	}
	long cmin = count[0], cmax = count[0];
	double rmax = 0, rtotal = 0;
	for (long p = 0; p < n_parts; p++) {
		cmin = count[p] < cmin ? count[p] : cmin;
		cmax = count[p] > cmax ? count[p] : cmax;
		rmax = rate[p] > rmax ? rate[p] : rmax;
		rtotal += rate[p];
	}
	double cmean = (double)n_series / (double)n_parts, rmean = rtotal / (double)n_parts;
	printf("P=%-5ld series/partition min %ld mean %.0f max %ld (max/mean %.4f, "
	       "binomial 3-sigma bound %.4f); samples/s per partition mean %.0f max %.0f "
	       "(max/mean %.4f)\n",
	       n_parts, cmin, cmean, cmax, (double)cmax / cmean, 1 + 3 / sqrt(cmean), rmean, rmax,
	       rmax / rmean);

	long n = o->stores;
	for (long p = 0; p < n_parts; p++)
		rng[p] = range_owner(p, n_parts, n);
	printf("        %ld stores: busiest/mean load: range %.4f", n,
	       node_max_over_mean(rng, rate, n_parts, n));
	for (long p = 0; p < n_parts; p++)
		stk[p] = p % n;
	printf(", round-robin %.4f\n", node_max_over_mean(stk, rate, n_parts, n));

	const long deltas[2] = {n + 1, n - 1};
	for (int d = 0; d < 2; d++) {
		long nn = deltas[d];
		for (long p = 0; p < n_parts; p++)
			tmp[p] = range_owner(p, n_parts, nn);
		move_cost r = cost_of(rng, tmp, rate, n_parts, nn, o);
		long *st_new = malloc((size_t)n_parts * sizeof(long));
		if (!st_new)
			break;
		sticky_reassign(stk, st_new, n_parts, n, nn);
		move_cost s = cost_of(stk, st_new, rate, n_parts, nn, o);
		free(st_new);
		printf("        %ld -> %ld stores: range moves %ld partitions (%.1f GB replay, "
		       "%.0f s), sticky moves %ld (%.1f GB, %.0f s)\n",
		       n, nn, r.moved, r.bytes / 1e9, r.seconds, s.moved, s.bytes / 1e9, s.seconds);
	}
out:
	free(count);
	free(rate);
	free(rng);
	free(tmp);
	free(stk);
}

int main(int argc, char **argv)
{
	opts o;
	if (parse_args(argc, argv, &o) != 0) {
		fprintf(stderr,
			"usage: %s [--pools N] [--machines N] [--interval S] "
			"[--hot-share F] [--hot-interval S] [--partitions P1,P2,...] "
			"[--stores N>=2] [--replay-window S] [--log-bytes-per-sample B] "
			"[--apply-rate R]\n",
			argv[0]);
		return 2;
	}
	shape shapes[SERIES_PER_MACHINE];
	size_t n_shapes = build_shapes(shapes);
	size_t n_series = (size_t)o.pools * (size_t)o.machines * n_shapes;
	uint64_t *hash = malloc(n_series * sizeof(uint64_t));
	unsigned char *hot = malloc(n_series);
	if (!hash || !hot) {
		fprintf(stderr, "out of memory for %zu series\n", n_series);
		return 1;
	}
	long hot_pools = lround((double)o.pools * o.hot_share);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t k = 0;
	for (long p = 0; p < o.pools; p++) {
		char pool[32], inst[80];
		snprintf(pool, sizeof(pool), "pool-%04ld", p);
		/* Spread the hot pools over the range (every pools/hot_pools-th pool). */
		bool is_hot = hot_pools > 0 && p % (o.pools / hot_pools) == 0 &&
			      p / (o.pools / hot_pools) < hot_pools;
		for (long m = 0; m < o.machines; m++) {
			snprintf(inst, sizeof(inst), "p%04ld-m%03ld.example.net:9100", p, m);
			for (size_t s = 0; s < n_shapes; s++) {
				ts_label l[MAX_LABELS];
				size_t n = 0;
				l[n++] = (ts_label){TS_METRIC_NAME, shapes[s].name};
				l[n++] = (ts_label){"instance", inst};
				l[n++] = (ts_label){"job", "node"};
				l[n++] = (ts_label){"pool", pool};
				if (shapes[s].l1)
					l[n++] = (ts_label){shapes[s].l1, shapes[s].v1};
				if (shapes[s].l2)
					l[n++] = (ts_label){shapes[s].l2, shapes[s].v2};
				ts_err e = {0};
				if (ts_labels_normalize(l, &n, &e) != TS_OK) {
					fprintf(stderr, "bad labels: %s\n", e.msg);
					return 1;
				}
				hash[k] = ts_series_hash(l, n);
				hot[k] = is_hot;
				k++;
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	double rate = 0;
	for (size_t i = 0; i < n_series; i++)
		rate += 1.0 / (hot[i] ? o.hot_interval_s : o.interval_s);
	printf("%zu series (%ld pools x %ld machines x %zu), %ld hot pools at %.0f s, others "
	       "at %.0f s: %.0f samples/s; hashed in %.2f s (%.0f ns/series)\n",
	       n_series, o.pools, o.machines, n_shapes, hot_pools, o.hot_interval_s, o.interval_s,
	       rate, secs, secs * 1e9 / (double)n_series);
	printf("replay window %.0f s, %.0f B/sample in the log, %.0f samples/s applied per "
	       "node\n",
	       o.replay_window_s, o.log_bytes_per_sample, o.apply_rate);
	for (int i = 0; i < o.n_parts; i++)
		report_partitions(&o, hash, hot, n_series, o.parts[i]);
	free(hash);
	free(hot);
	return 0;
}
