/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_curl_client.c: tests for alert/curl_client.c and the delivery policy of
 * alert/webhook.c against a real HTTP/1.1 server on 127.0.0.1 (threads in this test):
 * an alert_curl_conn reuses one keep-alive connection for consecutive POSTs, one-off
 * posts open one connection each, a connection the server closed is replaced
 * transparently, Retry-After is read, network errors are TS_EUNAVAIL, and the webhook
 * result classes (2xx OK, 5xx/429 RETRY, other 4xx FAIL) hold over a reused connection.
 */
#include "alert/notify_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_CONNS 64

typedef struct server {
	int fd;
	uint16_t port;
	_Atomic int n_accepted;
	_Atomic int n_requests;
	pthread_t acceptor;
	pthread_t conns[MAX_CONNS];
	_Atomic int n_conns;
} server;

typedef struct conn_arg {
	server *s;
	int fd;
} conn_arg;

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

/* Serve requests on one connection; the path picks the answer. */
static void *conn_main(void *arg)
{
	conn_arg *a = arg;
	server *s = a->s;
	int fd = a->fd;
	free(a);
	char buf[65536];
	size_t len = 0;
	for (;;) {
		char *eoh;
		while (!(eoh = memmem(buf, len, "\r\n\r\n", 4))) {
			if (len == sizeof(buf))
				goto out;
			ssize_t n = read(fd, buf + len, sizeof(buf) - len);
			if (n <= 0)
				goto out;
			len += (size_t)n;
		}
		size_t hlen = (size_t)(eoh - buf) + 4, clen = 0;
		char *cl = memmem(buf, hlen, "Content-Length:", 15);
		if (cl)
			clen = strtoul(cl + 15, NULL, 10);
		if (clen > sizeof(buf) - hlen)
			goto out;
		while (len < hlen + clen) {
			ssize_t n = read(fd, buf + len, sizeof(buf) - len);
			if (n <= 0)
				goto out;
			len += (size_t)n;
		}
		atomic_fetch_add(&s->n_requests, 1);
		const char *ans = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
		bool close_after = false;
		if (!strncmp(buf, "POST /busy ", 11))
			ans = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: "
			      "0\r\n\r\n";
		else if (!strncmp(buf, "POST /fail ", 11))
			ans = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nno";
		else if (!strncmp(buf, "POST /bad ", 10))
			ans = "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad";
		else if (!strncmp(buf, "POST /close ", 12)) {
			ans = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
			close_after = true;
		}
		if (write_all(fd, ans, strlen(ans)) || close_after)
			goto out;
		memmove(buf, buf + hlen + clen, len - hlen - clen);
		len -= hlen + clen;
	}
out:
	close(fd);
	return NULL;
}

static void *accept_main(void *arg)
{
	server *s = arg;
	for (;;) {
		int fd = accept(s->fd, NULL, NULL);
		if (fd < 0)
			return NULL; /* listening socket shut down */
		int k = atomic_load(&s->n_conns);
		conn_arg *a = malloc(sizeof(*a));
		if (k >= MAX_CONNS || !a) {
			free(a);
			close(fd);
			continue;
		}
		*a = (conn_arg){s, fd};
		atomic_fetch_add(&s->n_accepted, 1);
		if (pthread_create(&s->conns[k], NULL, conn_main, a)) {
			free(a);
			close(fd);
			continue;
		}
		atomic_store(&s->n_conns, k + 1);
	}
}

static void server_start(server *s)
{
	memset(s, 0, sizeof(*s));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->fd, 64), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sa, &sl), 0);
	s->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&s->acceptor, NULL, accept_main, s), 0);
}

/* Call after every client is gone: connection threads end at EOF. */
static void server_stop(server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->acceptor, NULL);
	for (int i = 0; i < atomic_load(&s->n_conns); i++)
		pthread_join(s->conns[i], NULL);
}

static int post(alert_curl_conn *c, const server *s, const char *path, int *status, int64_t *ra)
{
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", s->port, path);
	alert_http_post p = {.url = url,
			     .content_type = "application/json",
			     .body = "{\"x\":1}",
			     .len = 7,
			     .timeout_ms = 5000};
	ts_err e = {0};
	return c ? alert_curl_conn_post(c, &p, status, ra, &e)
		 : alert_curl_post(&p, status, ra, &e);
}

static void test_alert_curl_conn_post_reuses_connection(void **state)
{
	server s;
	server_start(&s);
	alert_curl_conn *c = NULL;
	ts_err e = {0};
	assert_int_equal(alert_curl_conn_new(&c, &e), TS_OK);
	int status = 0;
	int64_t ra = 0;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(post(c, &s, "/hook", &status, &ra), TS_OK);
		assert_int_equal(status, 200);
	}
	assert_int_equal(atomic_load(&s.n_accepted), 1); /* one keep-alive connection */
	assert_int_equal(post(c, &s, "/busy", &status, &ra), TS_OK);
	assert_int_equal(status, 429);
	assert_int_equal(ra, 7000);
	assert_int_equal(post(c, &s, "/hook", &status, &ra), TS_OK);
	assert_int_equal(ra, 0); /* not carried over from the previous answer */
	assert_int_equal(atomic_load(&s.n_accepted), 1);
	/* the server closes: the next request opens a new connection by itself */
	assert_int_equal(post(c, &s, "/close", &status, &ra), TS_OK);
	assert_int_equal(post(c, &s, "/hook", &status, &ra), TS_OK);
	assert_int_equal(status, 200);
	assert_int_equal(atomic_load(&s.n_accepted), 2);
	/* one-off posts: a connection each */
	for (int i = 0; i < 3; i++)
		assert_int_equal(post(NULL, &s, "/hook", &status, &ra), TS_OK);
	assert_int_equal(atomic_load(&s.n_accepted), 5);
	assert_int_equal(atomic_load(&s.n_requests), 12);
	alert_curl_conn_free(c);
	alert_curl_conn_free(NULL);
	server_stop(&s);
}

static void test_alert_curl_conn_post_network_error(void **state)
{
	server s;
	server_start(&s);
	uint16_t live = s.port;
	alert_curl_conn *c = NULL;
	assert_int_equal(alert_curl_conn_new(&c, NULL), TS_OK);
	s.port = 1; /* nothing listens on port 1 */
	int status = -1;
	int64_t ra = -1;
	assert_int_equal(post(c, &s, "/hook", &status, &ra), TS_EUNAVAIL);
	assert_int_equal(status, 0);
	s.port = live; /* the same handle works afterwards */
	assert_int_equal(post(c, &s, "/hook", &status, &ra), TS_OK);
	assert_int_equal(status, 200);
	alert_curl_conn_free(c);
	server_stop(&s);
}

static void test_alert_webhook_send_policy_over_conn(void **state)
{
	server s;
	server_start(&s);
	alert_curl_conn *c = NULL;
	assert_int_equal(alert_curl_conn_new(&c, NULL), TS_OK);
	char url[128];
	alert_ncfg_webhook wh = {.url = url};
	int64_t ra = 0;
	ts_err e = {0};
	static const struct {
		const char *path;
		alert_send_result want;
	} cases[] = {{"/hook", ALERT_SEND_OK},
		     {"/fail", ALERT_SEND_RETRY},
		     {"/busy", ALERT_SEND_RETRY},
		     {"/bad", ALERT_SEND_FAIL},
		     {"/hook", ALERT_SEND_OK}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", s.port, cases[i].path);
		assert_int_equal(alert_webhook_send(&wh, c, 5000, "{}", 2, &ra, &e), cases[i].want);
	}
	assert_int_equal(atomic_load(&s.n_accepted), 1);
	wh.url = "gopher://127.0.0.1/"; /* refused by libcurl: cannot get better */
	assert_int_equal(alert_webhook_send(&wh, c, 5000, "{}", 2, &ra, &e), ALERT_SEND_FAIL);
	alert_curl_conn_free(c);
	server_stop(&s);
}

int main(void)
{
	ts_err e = {0};
	if (alert_curl_init(&e))
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_curl_conn_post_reuses_connection),
	    cmocka_unit_test(test_alert_curl_conn_post_network_error),
	    cmocka_unit_test(test_alert_webhook_send_policy_over_conn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
