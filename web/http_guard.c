/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_guard.c: header deadlines for HTTP connections (see http_guard.h).
 *
 * Tested by tests/integration/test_slowloris.sh (100 connections sending their headers a
 * byte at a time against the binary; normal requests meanwhile; all slow ones dropped).
 *
 * Every tracked connection is on one doubly linked list guarded by g->mu, with its
 * deadline (CLOCK_MONOTONIC ns, 0 = none). The watchdog wakes every tick (a quarter of
 * the header timeout, at most 250 ms), walks the list under g->mu and shuts down the
 * sockets past their deadline. Shutting down under g->mu is what makes it safe: the
 * socket is closed only after web_http_guard_close removed the slot, which takes g->mu,
 * so the fd the watchdog touches can never be a reused descriptor. A walk over 10,000
 * connections takes well under a millisecond; the list is not sorted for that reason.
 */
#include "web/http_guard.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct web_http_guard_conn {
	int fd;                           /* the connection's socket (borrowed) */
	int64_t deadline_ns;              /* ts_mono_ns() bound; 0 = none (g->mu) */
	bool is_idle;                     /* between requests on a keep-alive connection (g->mu) */
	bool is_dropped;                  /* shut down by the watchdog (g->mu) */
	web_http_guard_conn *prev, *next; /* list links (g->mu) */
};

struct web_http_guard {
	int64_t header_ns, idle_ns, tick_ns; /* immutable */
	pthread_mutex_t mu;                  /* guards the list and stopping */
	pthread_cond_t wake;                 /* stopping was set */
	web_http_guard_conn *head;
	bool stopping;
	pthread_t thread;
	_Atomic uint64_t n_dropped;
};

static void *watchdog(void *arg)
{
	web_http_guard *g = arg;
	pthread_mutex_lock(&g->mu);
	while (!g->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + g->tick_ns;
		ts.tv_sec = at / 1000000000;
		ts.tv_nsec = at % 1000000000;
		pthread_cond_timedwait(&g->wake, &g->mu, &ts);
		int64_t now = ts_mono_ns();
		for (web_http_guard_conn *c = g->head; c; c = c->next) {
			if (c->is_dropped || !c->deadline_ns || now < c->deadline_ns)
				continue;
			c->is_dropped = true;
			shutdown(c->fd, SHUT_RDWR);
			atomic_fetch_add_explicit(&g->n_dropped, 1, memory_order_relaxed);
		}
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

int web_http_guard_start(int64_t header_timeout_ms, int64_t idle_timeout_ms, web_http_guard **out,
			 ts_err *err)
{
	if (header_timeout_ms <= 0 || idle_timeout_ms <= 0)
		return ts_err_set(err, TS_EINVAL, "http guard: timeouts must be positive");
	web_http_guard *g = ts_calloc(1, sizeof(*g));
	if (!g)
		return ts_err_set(err, TS_ENOMEM, "out of memory starting the http guard");
	g->header_ns = header_timeout_ms * 1000000;
	g->idle_ns = idle_timeout_ms * 1000000;
	g->tick_ns = g->header_ns / 4 < 250000000 ? g->header_ns / 4 : 250000000;
	if (g->tick_ns < 10000000)
		g->tick_ns = 10000000;
	atomic_init(&g->n_dropped, 0);
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->wake, NULL);
	int e = pthread_create(&g->thread, NULL, watchdog, g);
	if (e) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->mu);
		ts_free(g);
		return ts_err_set(err, TS_EIO, "cannot start the http guard thread: %s",
				  strerror(e));
	}
	pthread_setname_np(g->thread, "http-guard");
	*out = g;
	return TS_OK;
}

void web_http_guard_stop(web_http_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	g->stopping = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->thread, NULL);
	/* connections still listed (none after MHD_stop_daemon) are freed here */
	for (web_http_guard_conn *c = g->head, *next; c; c = next) {
		next = c->next;
		ts_free(c);
	}
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->mu);
	ts_free(g);
}

web_http_guard_conn *web_http_guard_open(web_http_guard *g, int fd)
{
	web_http_guard_conn *c = ts_calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	pthread_mutex_lock(&g->mu);
	c->deadline_ns = ts_mono_ns() + g->header_ns;
	c->next = g->head;
	if (g->head)
		g->head->prev = c;
	g->head = c;
	pthread_mutex_unlock(&g->mu);
	return c;
}

void web_http_guard_request_line(web_http_guard *g, web_http_guard_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->mu);
	if (c->is_idle) {
		int64_t d = ts_mono_ns() + g->header_ns;
		if (d < c->deadline_ns)
			c->deadline_ns = d;
		c->is_idle = false;
	}
	pthread_mutex_unlock(&g->mu);
}

void web_http_guard_headers_done(web_http_guard *g, web_http_guard_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->mu);
	c->deadline_ns = 0;
	c->is_idle = false;
	pthread_mutex_unlock(&g->mu);
}

void web_http_guard_request_done(web_http_guard *g, web_http_guard_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->mu);
	c->deadline_ns = ts_mono_ns() + g->idle_ns;
	c->is_idle = true;
	pthread_mutex_unlock(&g->mu);
}

void web_http_guard_close(web_http_guard *g, web_http_guard_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&g->mu);
	ts_free(c);
}

uint64_t web_http_guard_n_dropped(const web_http_guard *g)
{
	return atomic_load_explicit(&((web_http_guard *)g)->n_dropped, memory_order_relaxed);
}
