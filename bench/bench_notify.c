/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_notify.c: notification throughput, Strata's notifier vs Alertmanager 0.25.
 *
 * Starts a real `strata serve` (alerting config, fresh data dir) and, when installed,
 * Debian's `prometheus-alertmanager` (no clustering) on 127.0.0.1, plus an in-process
 * HTTP/1.1 webhook receiver on 127.0.0.1 that counts notifications and the alerts in
 * them per sender (path /strata or /am). Both get the same routing config: group_by
 * [group], group_wait --group-wait-ms, group_interval 5m, repeat_interval 4h, one webhook
 * receiver. Then, alternating the two servers, each round POSTs N alerts in G groups
 * (alerts of one group contiguous, --batch alerts per POST) to POST /api/v2/alerts over
 * one keep-alive connection and waits until the receiver has seen all N alerts. So the
 * path measured is the whole notifier: API parsing, routing, grouping, the notification
 * log, (Strata:) the fsync'd outbox, rendering, and webhook delivery over loopback.
 *
 * Per round it prints: POST phase alerts/s (accepted by the API), end-to-end seconds
 * from the first POST to the last alert delivered (includes group_wait once, since the
 * groups' timers run while posting), alerts/s and notifications/s over that time, and
 * the notification count (should equal G: each group notified once with all its alerts).
 * Rounds use a new alertname and group values, so every round creates new groups. Medians over
 * rounds and the Strata/Alertmanager ratio close the output. Every wait is bounded (--timeout).
 *
 *   bench_notify [--alerts 10000] [--groups 1000] [--batch 100] [--rounds 3]
 *                [--group-wait-ms 1000] [--timeout 120] [--strata BIN]
 *                [--alertmanager BIN|none]
 *
 * Not a test: never run by ctest (docs/benchmarks.md records results).
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef STRATA_BIN
#define STRATA_BIN "cmd/strata"
#endif

#define MAX_ROUNDS 20
#define REQ_CAP    (8u << 20) /* largest webhook request the receiver accepts */

/* ------------------------------------------------------------------------ receiver */

enum { SIDE_STRATA, SIDE_AM, N_SIDES };

typedef struct side_count {
	_Atomic uint64_t n_notifications; /* POSTs received */
	_Atomic uint64_t n_alerts;        /* alerts in them ("startsAt" keys) */
	_Atomic int64_t last_ns;          /* monotonic time of the latest POST */
	_Atomic int64_t first_ns;         /* ... of the first POST since reset, 0 = none */
} side_count;

typedef struct receiver {
	int fd;
	uint16_t port;
	side_count side[N_SIDES];
} receiver;

typedef struct conn_arg {
	receiver *r;
	int fd;
} conn_arg;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t count_substr(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	uint64_t c = 0;
	const char *end = p + n, *q;
	while (p < end && (q = memmem(p, (size_t)(end - p), needle, k))) {
		c++;
		p = q + k;
	}
	return c;
}

/* Value of header `name` (with the colon) in [h, h + n), or 0 when absent. */
static long long header_num(const char *h, size_t n, const char *name)
{
	size_t k = strlen(name);
	for (size_t i = 0; i + k < n; i++) {
		if ((i == 0 || h[i - 1] == '\n') && !strncasecmp(h + i, name, k)) {
			char tmp[32];
			size_t j = 0;
			for (i += k; i < n && h[i] == ' '; i++)
				;
			while (i < n && j + 1 < sizeof(tmp) && h[i] >= '0' && h[i] <= '9')
				tmp[j++] = h[i++];
			tmp[j] = '\0';
			return strtoll(tmp, NULL, 10);
		}
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One keep-alive connection: read requests (Content-Length bodies), count, answer 200. */
static void *conn_main(void *arg)
{
	conn_arg *a = arg;
	receiver *r = a->r;
	int fd = a->fd;
	free(a);
	char *buf = malloc(REQ_CAP);
	size_t len = 0;
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	while (buf) {
		char *eoh;
		while (!(eoh = memmem(buf, len, "\r\n\r\n", 4))) {
			if (len == REQ_CAP)
				goto out;
			ssize_t n = read(fd, buf + len, REQ_CAP - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				goto out;
			len += (size_t)n;
		}
		size_t hlen = (size_t)(eoh - buf) + 4;
		long long clen = header_num(buf, hlen, "content-length:");
		if (clen < 0 || (size_t)clen > REQ_CAP - hlen)
			goto out;
		if (memmem(buf, hlen, "100-continue", 12) && len == hlen &&
		    write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25))
			goto out;
		while (len < hlen + (size_t)clen) {
			ssize_t n = read(fd, buf + len, REQ_CAP - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				goto out;
			len += (size_t)n;
		}
		const char *path = memchr(buf, ' ', hlen);
		int side = path && !strncmp(path + 1, "/am", 3) ? SIDE_AM : SIDE_STRATA;
		side_count *c = &r->side[side];
		uint64_t n_alerts = count_substr(buf + hlen, (size_t)clen, "\"startsAt\"");
		int64_t now = mono_ns();
		int64_t zero = 0;
		atomic_compare_exchange_strong(&c->first_ns, &zero, now);
		atomic_store(&c->last_ns, now);
		atomic_fetch_add(&c->n_alerts, n_alerts);
		atomic_fetch_add(&c->n_notifications, 1);
		if (write_all(fd, ok, sizeof(ok) - 1))
			goto out;
		size_t used = hlen + (size_t)clen;
		memmove(buf, buf + used, len - used);
		len -= used;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

static void *accept_main(void *arg)
{
	receiver *r = arg;
	for (;;) {
		int fd = accept(r->fd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			return NULL;
		}
		conn_arg *a = malloc(sizeof(*a));
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 256 << 10);
		if (!a) {
			close(fd);
		} else {
			*a = (conn_arg){r, fd};
			if (pthread_create(&t, &at, conn_main, a)) {
				close(fd);
				free(a);
			}
		}
		pthread_attr_destroy(&at);
	}
}

static int receiver_start(receiver *r)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(r->fd, 1024) ||
	    getsockname(r->fd, (struct sockaddr *)&sa, &sl))
		return -1;
	r->port = ntohs(sa.sin_port);
	pthread_t t;
	if (pthread_create(&t, NULL, accept_main, r))
		return -1;
	pthread_detach(t);
	return 0;
}

/* ------------------------------------------------------------------------ servers */

static uint16_t free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &sl))
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Start argv[0] with stdout and stderr to `log`; returns the pid or -1. */
static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* GET or POST url (body NULL = GET); returns the HTTP status, 0 on transport error. */
static long http_req(CURL *c, const char *url, const char *body, size_t len, long timeout_s)
{
	long code = 0;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	return code;
}

static int wait_ready(CURL *c, const char *base, pid_t pid, int seconds)
{
	char url[256];
	snprintf(url, sizeof(url), "%s/-/ready", base);
	for (int i = 0; i < seconds * 10; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		if (http_req(c, url, NULL, 0, 2) == 200)
			return 0;
		usleep(100000);
	}
	return -1;
}

/* Port of `strata serve --listen 127.0.0.1:0` from its startup banner in `log`. */
static int strata_port(const char *log, pid_t pid, int seconds)
{
	static const char key[] = "listening on http://127.0.0.1:";
	for (int i = 0; i < seconds * 10; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		FILE *f = fopen(log, "r");
		char line[1024];
		while (f && fgets(line, sizeof(line), f)) {
			char *p = strstr(line, key);
			if (p) {
				fclose(f);
				return (int)strtol(p + sizeof(key) - 1, NULL, 10);
			}
		}
		if (f)
			fclose(f);
		usleep(100000);
	}
	return -1;
}

/* ------------------------------------------------------------------------ rounds */

typedef struct result {
	double post_s;     /* first POST sent .. last POST answered */
	double e2e_s;      /* first POST sent .. last alert delivered */
	uint64_t n_notif;  /* notifications received */
	uint64_t n_alerts; /* alerts received */
	int is_complete;   /* all alerts delivered before the timeout */
} result;

static int run_round(CURL *c, const char *base, receiver *rc, int side, int round, int n_alerts,
		     int n_groups, int batch, int timeout_s, result *out)
{
	char url[320];
	snprintf(url, sizeof(url), "%s/api/v2/alerts", base);
	size_t cap = (size_t)batch * 512 + 64;
	char *body = malloc(cap);
	if (!body)
		return -1;
	side_count *sc = &rc->side[side];
	atomic_store(&sc->n_notifications, 0);
	atomic_store(&sc->n_alerts, 0);
	atomic_store(&sc->first_ns, 0);
	atomic_store(&sc->last_ns, 0);
	int per_group = n_alerts / n_groups;
	int64_t t0 = mono_ns();
	for (int i = 0; i < n_alerts; i += batch) {
		size_t len = 0;
		body[len++] = '[';
		for (int k = i; k < i + batch && k < n_alerts; k++) {
			int g = k / per_group;
			len += (size_t)snprintf(
			    body + len, cap - len,
			    "%s{\"labels\":{\"alertname\":\"BenchR%d\",\"group\":\"r%d-g%d\","
			    "\"instance\":\"host-%d:9100\",\"severity\":\"page\"},"
			    "\"annotations\":{\"summary\":\"instance host-%d of group g%d is "
			    "down\"},\"generatorURL\":\"http://bench/graph\"}",
			    k > i ? "," : "", round, round, g, k, k, g);
		}
		body[len++] = ']';
		body[len] = '\0';
		long code = http_req(c, url, body, len, 30);
		if (code != 200) {
			fprintf(stderr, "bench_notify: POST %s: HTTP %ld\n", url, code);
			free(body);
			return -1;
		}
	}
	int64_t t_posted = mono_ns();
	free(body);
	int64_t deadline = t0 + (int64_t)timeout_s * 1000000000;
	while (atomic_load(&sc->n_alerts) < (uint64_t)n_alerts && mono_ns() < deadline)
		usleep(2000);
	out->is_complete = atomic_load(&sc->n_alerts) >= (uint64_t)n_alerts;
	int64_t t_last = atomic_load(&sc->last_ns);
	/* a little longer, so duplicate or split notifications would be counted too */
	usleep(500000);
	out->post_s = (double)(t_posted - t0) / 1e9;
	out->e2e_s = (double)(t_last - t0) / 1e9;
	out->n_notif = atomic_load(&sc->n_notifications);
	out->n_alerts = atomic_load(&sc->n_alerts);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int rc = fputs(text, f) < 0;
	return (fclose(f) || rc) ? -1 : 0;
}

static int arg_int(int argc, char **argv, int *i, long lo, long hi, int *out)
{
	if (*i + 1 >= argc)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(argv[++*i], &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	int n_alerts = 10000, n_groups = 1000, batch = 100, rounds = 3, wait_ms = 1000;
	int timeout_s = 120;
	const char *strata = STRATA_BIN, *am = "prometheus-alertmanager";
	for (int i = 1; i < argc; i++) {
		int bad = 0;
		if (!strcmp(argv[i], "--alerts"))
			bad = arg_int(argc, argv, &i, 1, 1000000, &n_alerts);
		else if (!strcmp(argv[i], "--groups"))
			bad = arg_int(argc, argv, &i, 1, 1000000, &n_groups);
		else if (!strcmp(argv[i], "--batch"))
			bad = arg_int(argc, argv, &i, 1, 10000, &batch);
		else if (!strcmp(argv[i], "--rounds"))
			bad = arg_int(argc, argv, &i, 1, MAX_ROUNDS, &rounds);
		else if (!strcmp(argv[i], "--group-wait-ms"))
			bad = arg_int(argc, argv, &i, 0, 600000, &wait_ms);
		else if (!strcmp(argv[i], "--timeout"))
			bad = arg_int(argc, argv, &i, 1, 3600, &timeout_s);
		else if (!strcmp(argv[i], "--strata") && i + 1 < argc)
			strata = argv[++i];
		else if (!strcmp(argv[i], "--alertmanager") && i + 1 < argc)
			am = argv[++i];
		else
			bad = 1;
		if (bad) {
			fprintf(stderr, "usage: bench_notify [--alerts N] [--groups G] [--batch B] "
					"[--rounds R] [--group-wait-ms MS] [--timeout S] "
					"[--strata BIN] [--alertmanager BIN|none]\n");
			return 2;
		}
	}
	if (n_alerts % n_groups) {
		fprintf(stderr, "bench_notify: --alerts must be a multiple of --groups\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	static receiver rc;
	char dir[] = "/tmp/strata-bench-notify.XXXXXX";
	if (!mkdtemp(dir) || receiver_start(&rc)) {
		perror("bench_notify: setup");
		return 1;
	}
	pid_t spid = -1, apid = -1;
	int status = 1;
	char path[512], log[512], cfg[4096], base[N_SIDES][128] = {"", ""};
	CURL *c = curl_easy_init();

	/* Same routing tree for both; Strata wraps it in its `alerting:` section. */
	char route[1024];
	snprintf(route, sizeof(route),
		 "route:\n  receiver: hook\n  group_by: [group]\n  group_wait: %dms\n"
		 "  group_interval: 5m\n  repeat_interval: 4h\nreceivers:\n  - name: hook\n"
		 "    webhook_configs:\n      - url: http://127.0.0.1:%u/%%s\n"
		 "        send_resolved: false\n",
		 wait_ms, rc.port);
	char am_yml[1200], strata_route[1200];
	snprintf(am_yml, sizeof(am_yml), route, "am");
	snprintf(strata_route, sizeof(strata_route), route, "strata");

	/* --- Strata */
	size_t cl = (size_t)snprintf(cfg, sizeof(cfg), "alerting:\n  config:\n    ");
	for (const char *p = strata_route; *p && cl + 6 < sizeof(cfg); p++) {
		cfg[cl++] = *p;
		if (*p == '\n' && p[1])
			cl += (size_t)snprintf(cfg + cl, sizeof(cfg) - cl, "    ");
	}
	cfg[cl] = '\0';
	snprintf(path, sizeof(path), "%s/strata.yml", dir);
	if (write_file(path, cfg))
		goto fail;
	char sdata[512];
	snprintf(sdata, sizeof(sdata), "%s/strata-data", dir);
	snprintf(log, sizeof(log), "%s/strata.log", dir);
	char *sargv[] = {(char *)strata, "serve", "--config",    path,   "--listen", "127.0.0.1:0",
			 "--data-dir",   sdata,   "--log-level", "warn", NULL};
	spid = spawn(sargv, log);
	int sport = strata_port(log, spid, 30);
	if (sport <= 0)
		goto fail_log;
	snprintf(base[SIDE_STRATA], sizeof(base[0]), "http://127.0.0.1:%d", sport);
	if (wait_ready(c, base[SIDE_STRATA], spid, 30))
		goto fail_log;

	/* --- Alertmanager (optional) */
	if (strcmp(am, "none")) {
		char amcfg[512], amdata[512], amlog[512], listen[64];
		snprintf(amcfg, sizeof(amcfg), "%s/alertmanager.yml", dir);
		snprintf(amdata, sizeof(amdata), "%s/am-data", dir);
		snprintf(amlog, sizeof(amlog), "%s/alertmanager.log", dir);
		if (write_file(amcfg, am_yml))
			goto fail;
		for (int attempt = 0; attempt < 3 && !base[SIDE_AM][0]; attempt++) {
			uint16_t p = free_port();
			snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%u", p);
			char cf[600], sf[600];
			snprintf(cf, sizeof(cf), "--config.file=%s", amcfg);
			snprintf(sf, sizeof(sf), "--storage.path=%s", amdata);
			char *aargv[] = {
			    (char *)am,         cf,  sf, listen, "--cluster.listen-address=",
			    "--log.level=warn", NULL};
			apid = spawn(aargv, amlog);
			snprintf(base[SIDE_AM], sizeof(base[0]), "http://127.0.0.1:%u", p);
			if (wait_ready(c, base[SIDE_AM], apid, 30)) {
				stop(apid);
				apid = -1;
				base[SIDE_AM][0] = '\0';
			}
		}
		if (!base[SIDE_AM][0])
			fprintf(stderr, "bench_notify: %s did not start (log %s); Strata only\n",
				am, amlog);
	}

	printf("bench_notify: %d alerts in %d groups, %d alerts per POST, group_wait %d ms, "
	       "%d rounds\n",
	       n_alerts, n_groups, batch, wait_ms, rounds);
	double e2e[N_SIDES][MAX_ROUNDS], post[N_SIDES][MAX_ROUNDS];
	int n_ok[N_SIDES] = {0, 0};
	static const char *names[N_SIDES] = {"strata", "alertmanager"};
	for (int r = 0; r < rounds; r++) {
		for (int s = 0; s < N_SIDES; s++) {
			if (!base[s][0])
				continue;
			result res = {0};
			if (run_round(c, base[s], &rc, s, r * N_SIDES + s, n_alerts, n_groups,
				      batch, timeout_s, &res))
				goto fail_log;
			printf("round %d %-12s post %6.3f s (%7.0f alerts/s)  end-to-end %6.3f s: "
			       "%7.0f alerts/s %6.0f notifications/s  received %llu notifications, "
			       "%llu alerts%s\n",
			       r + 1, names[s], res.post_s, n_alerts / res.post_s, res.e2e_s,
			       n_alerts / res.e2e_s, (double)res.n_notif / res.e2e_s,
			       (unsigned long long)res.n_notif, (unsigned long long)res.n_alerts,
			       res.is_complete ? "" : "  INCOMPLETE (timeout)");
			if (res.is_complete) {
				e2e[s][n_ok[s]] = res.e2e_s;
				post[s][n_ok[s]++] = res.post_s;
			}
			fflush(stdout);
		}
	}
	double med[N_SIDES] = {0, 0};
	for (int s = 0; s < N_SIDES; s++) {
		if (!n_ok[s])
			continue;
		med[s] = median(e2e[s], n_ok[s]);
		double mp = median(post[s], n_ok[s]);
		printf("median %-12s end-to-end %.3f s = %.0f alerts/s, %.0f notifications/s "
		       "(group_wait %d ms included); POST phase %.0f alerts/s\n",
		       names[s], med[s], n_alerts / med[s], n_groups / med[s], wait_ms,
		       n_alerts / mp);
	}
	if (med[SIDE_STRATA] > 0 && med[SIDE_AM] > 0)
		printf("strata/alertmanager throughput ratio (end-to-end medians): %.2f\n",
		       med[SIDE_AM] / med[SIDE_STRATA]);
	status =
	    n_ok[SIDE_STRATA] == rounds && (!base[SIDE_AM][0] || n_ok[SIDE_AM] == rounds) ? 0 : 1;
	goto done;
fail_log:
	fprintf(stderr, "bench_notify: a server failed; logs in %s\n", dir);
	stop(spid);
	stop(apid);
	curl_easy_cleanup(c);
	return 1;
fail:
	perror("bench_notify");
done:
	stop(spid);
	stop(apid);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	if (status == 0) {
		snprintf(path, sizeof(path), "rm -rf '%s'", dir);
		if (system(path) != 0)
			status = 1;
	} else {
		fprintf(stderr, "bench_notify: kept %s\n", dir);
	}
	return status;
}
