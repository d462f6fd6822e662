/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_http_server.c: tests for web/http_server.c and web/http_params.c. Each test starts
 * a server on 127.0.0.1 with an ephemeral port and talks to it with libcurl (raw sockets
 * where curl would hide the behaviour: 100-continue, requests during drain).
 *
 * Covered: routing (exact, prefix, 404, 405 + Allow, HEAD), query and form parameters with
 * repeats and escapes, 400 on bad escapes, 413 by Content-Length and by chunked body,
 * gzip request bodies (ok, corrupt, truncated, bomb), gzip responses, handler errors,
 * response headers, keep-alive reuse with 5,000-line bodies, concurrent clients in both
 * threading modes, graceful stop with a request in flight, statistics, web_req_new.
 */
#include "web/http_server.h"

#include "web/json.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#define MAX_BODY    (1024 * 1024)
#define MAX_DECODED (4 * 1024 * 1024)

/* ------------------------------------------------------------------------------------ */
/* Handlers                                                                              */
/* ------------------------------------------------------------------------------------ */

/* Echo the request as JSON. */
static int h_echo(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	(void)ctx;
	(void)err;
	web_json w;
	web_json_init(&w, web_resp_body(resp));
	web_json_object_begin(&w);
	web_json_key(&w, "method");
	web_json_string(&w, web_req_method(req));
	web_json_key(&w, "path");
	web_json_string(&w, web_req_path(req));
	web_json_key(&w, "rest");
	web_json_string(&w, web_req_path_rest(req));
	web_json_key(&w, "client");
	web_json_string(&w, web_req_client(req));
	web_json_key(&w, "query");
	web_json_string(&w, web_req_param(req, "query"));
	web_json_key(&w, "match");
	web_json_array_begin(&w);
	const char *const *vals;
	size_t n;
	web_req_params(req, "match[]", &vals, &n);
	for (size_t i = 0; i < n; i++)
		web_json_string(&w, vals[i]);
	web_json_array_end(&w);
	web_json_key(&w, "params");
	web_json_array_begin(&w);
	for (size_t i = 0; i < web_req_n_params(req); i++) {
		const char *k, *v;
		web_req_param_at(req, i, &k, &v);
		web_json_array_begin(&w);
		web_json_string(&w, k);
		web_json_string(&w, v);
		web_json_array_end(&w);
	}
	web_json_array_end(&w);
	web_json_key(&w, "x_test");
	web_json_string(&w, web_req_header(req, "x-TEST"));
	size_t blen;
	web_req_body(req, &blen);
	web_json_key(&w, "body_len");
	web_json_uint(&w, blen);
	web_json_object_end(&w);
	web_resp_content_type(resp, "application/json");
	return web_json_finish(&w);
}

/* Body length and FNV-1a hash of the (decoded) body. */
static int h_write(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	(void)ctx;
	(void)err;
	size_t n;
	const char *b = web_req_body(req, &n);
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)b[i]) * 0x100000001b3ULL;
	return ts_buf_printf(web_resp_body(resp), "%zu %016llx", n, (unsigned long long)h);
}

/* A body of n (param, default 100000) bytes of repetitive JSON-ish text. */
static int h_big(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	(void)ctx;
	(void)err;
	const char *p = web_req_param(req, "n");
	size_t n = p ? (size_t)strtoull(p, NULL, 10) : 100000;
	ts_buf b;
	ts_buf_init(&b, 1 << 30);
	for (size_t i = 0; b.len < n; i++)
		if (ts_buf_printf(&b, "[%zu,\"%zu\"],", 1700000000 + i * 15, i % 97))
			return TS_ENOMEM;
	b.len = n;
	web_resp_set_body(resp, &b);
	ts_buf_free(&b);
	return TS_OK;
}

/* Sleep ms (param) then answer. */
static int h_slow(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	(void)err;
	atomic_int *entered = ctx;
	const char *p = web_req_param(req, "ms");
	long ms = p ? strtol(p, NULL, 10) : 300;
	if (entered)
		atomic_fetch_add(entered, 1);
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	return ts_buf_puts(web_resp_body(resp), "slept");
}

static int h_fail(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	(void)ctx;
	ts_buf_puts(web_resp_body(resp), "partial output that must not be sent");
	const char *code = web_req_param(req, "code");
	if (code && strcmp(code, "busy") == 0)
		return ts_err_set(err, TS_EBUSY, "ingest queue full");
	return ts_err_set(err, TS_EINVAL, "invalid parameter \"step\": \"<x>\"");
}

static int h_headers(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	(void)req;
	(void)ctx;
	web_resp_status(resp, 503);
	int rc = web_resp_header(resp, "Retry-After", "7", err);
	if (!rc)
		rc = web_resp_header(resp, "X-Strata-Tier", "1m", err);
	assert_int_equal(web_resp_header(resp, "X-Bad", "a\r\nInjected: 1", NULL), TS_EINVAL);
	assert_int_equal(web_resp_header(resp, "Content-Length", "5", NULL), TS_EINVAL);
	assert_int_equal(web_resp_header(resp, "Bad Name", "x", NULL), TS_EINVAL);
	if (!rc)
		rc = ts_buf_puts(web_resp_body(resp), "try later");
	return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Fixture                                                                               */
/* ------------------------------------------------------------------------------------ */

typedef struct fixture {
	web_http_server *srv;
	uint16_t port;
	atomic_int slow_entered;
	atomic_int n_access;
} fixture;

static void on_access_log(const web_http_access *a, void *ctx)
{
	fixture *f = ctx;
	assert_non_null(a->method);
	assert_non_null(a->route);
	atomic_fetch_add(&f->n_access, 1);
}

static fixture *start_server(web_http_threading threading)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	web_http_options o;
	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.port = 0;
	o.threading = threading;
	o.n_threads = 2;
	o.max_body_bytes = MAX_BODY;
	o.max_decoded_bytes = MAX_DECODED;
	o.drain_timeout_ms = 5000;
	o.access_hook = on_access_log;
	o.access_hook_ctx = f;
	ts_err err = {0};
	int rc = web_http_start(&o, &f->srv, &err);
	if (rc)
		fail_msg("web_http_start: %s", err.msg);
	f->port = web_http_port(f->srv);
	assert_true(f->port > 0);
	assert_int_equal(web_http_route(f->srv, "GET", "/echo", h_echo, NULL, &err), TS_OK);
	assert_int_equal(web_http_route(f->srv, "POST", "/echo", h_echo, NULL, &err), TS_OK);
	assert_int_equal(web_http_route(f->srv, NULL, "/any", h_echo, NULL, &err), TS_OK);
	assert_int_equal(web_http_route(f->srv, "GET", "/api/v1/label/*", h_echo, NULL, &err),
			 TS_OK);
	assert_int_equal(web_http_route(f->srv, "GET", "/api/*", h_echo, NULL, &err), TS_OK);
	assert_int_equal(web_http_route(f->srv, "POST", "/write", h_write, NULL, &err), TS_OK);
	assert_int_equal(web_http_route(f->srv, "GET", "/big", h_big, NULL, &err), TS_OK);
	assert_int_equal(web_http_route(f->srv, "GET", "/slow", h_slow, &f->slow_entered, &err),
			 TS_OK);
	assert_int_equal(web_http_route(f->srv, "GET", "/fail", h_fail, NULL, &err), TS_OK);
	assert_int_equal(web_http_route(f->srv, "GET", "/headers", h_headers, NULL, &err), TS_OK);
	return f;
}

static void stop_server(fixture *f)
{
	web_http_stop(f->srv);
	free(f);
}

static int setup_tpc(void **state)
{
	*state = start_server(WEB_HTTP_THREAD_PER_CONNECTION);
	return 0;
}

static int setup_pool(void **state)
{
	*state = start_server(WEB_HTTP_THREAD_POOL);
	return 0;
}

static int teardown(void **state)
{
	stop_server(*state);
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* libcurl helpers                                                                       */
/* ------------------------------------------------------------------------------------ */

typedef struct result {
	long status;
	ts_buf body;
	ts_buf headers;
	long n_connects; /* new connections this transfer made (0 = reused) */
	CURLcode cc;
} result;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	ts_buf_append(ud, p, sz * n);
	return sz * n;
}

typedef struct upload {
	const char *data;
	size_t len, off;
	size_t piece;
} upload;

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
	upload *u = ud;
	size_t k = sz * n;
	if (k > u->piece)
		k = u->piece;
	if (k > u->len - u->off)
		k = u->len - u->off;
	memcpy(p, u->data + u->off, k);
	u->off += k;
	return k;
}

static void result_free(result *r)
{
	ts_buf_free(&r->body);
	ts_buf_free(&r->headers);
}

/* Case-insensitive search for a response header line's value ("" when absent). */
static const char *header_value(result *r, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	const char *p = r->headers.data ? r->headers.data : "";
	size_t nl = strlen(name);
	while (*p) {
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)(eol - v), v);
		}
		p = eol + 2;
	}
	return out;
}

/*
 * One request. method NULL = GET; body NULL = none; chunk > 0 sends the body chunked in
 * pieces of that size; hdrs are extra header lines.
 */
static void request(CURL *c, uint16_t port, const char *method, const char *target,
		    const char *body, size_t body_len, size_t chunk, struct curl_slist *hdrs,
		    result *r)
{
	char url[4096];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, target);
	memset(r, 0, sizeof(*r));
	ts_buf_init(&r->body, 64 << 20);
	ts_buf_init(&r->headers, 1 << 20);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	upload u = {body, body_len, 0, chunk ? chunk : body_len + 1};
	if (method && strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (body && chunk) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &u);
		hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
	} else if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	if (method && strcmp(method, "HEAD") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (hdrs)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	r->cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->n_connects);
	if (hdrs)
		curl_slist_free_all(hdrs);
	ts_buf_putc(&r->body, '\0');
	r->body.len--;
}

static void get(uint16_t port, const char *target, result *r)
{
	CURL *c = curl_easy_init();
	request(c, port, NULL, target, NULL, 0, 0, NULL, r);
	curl_easy_cleanup(c);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" not found in \"%s\"", needle, hay);
}

static void gzip_data(const char *in, size_t n, ts_buf *out, int flush_member)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	ts_buf_init(out, 64 << 20);
	assert_int_equal(ts_buf_reserve(out, deflateBound(&zs, n) + 64), TS_OK);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	zs.next_out = (Bytef *)out->data;
	zs.avail_out = (uInt)out->cap;
	assert_int_equal(deflate(&zs, flush_member ? Z_FINISH : Z_FULL_FLUSH),
			 flush_member ? Z_STREAM_END : Z_OK);
	out->len = zs.total_out;
	deflateEnd(&zs);
}

static void gunzip_data(const char *in, size_t n, ts_buf *out)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 31), Z_OK);
	ts_buf_init(out, 64 << 20);
	assert_int_equal(ts_buf_reserve(out, 16 << 20), TS_OK);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	zs.next_out = (Bytef *)out->data;
	zs.avail_out = (uInt)out->cap;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	out->len = zs.total_out;
	inflateEnd(&zs);
}

/* ------------------------------------------------------------------------------------ */
/* Raw socket helpers                                                                    */
/* ------------------------------------------------------------------------------------ */

static int raw_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void raw_send(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
		assert_true(k > 0);
		s += k;
		n -= (size_t)k;
	}
}

/*
 * Read one response (headers + Content-Length body) or until EOF/timeout. Returns bytes
 * read into buf (NUL-terminated).
 */
static size_t raw_read_response(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t n = 0;
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
		if (k <= 0)
			break;
		n += (size_t)k;
		buf[n] = '\0';
		const char *eoh = strstr(buf, "\r\n\r\n");
		if (!eoh)
			continue;
		const char *cl = strcasestr(buf, "\r\nContent-Length:");
		size_t want = cl && cl < eoh ? (size_t)strtoull(cl + 17, NULL, 10) : 0;
		if (n >= (size_t)(eoh + 4 - buf) + want)
			break;
	}
	buf[n] = '\0';
	return n;
}

/* ------------------------------------------------------------------------------------ */
/* Tests: routing                                                                        */
/* ------------------------------------------------------------------------------------ */

static void test_web_http_route_match(void **state)
{
	fixture *f = *state;
	result r;
	char hv[256];

	get(f->port, "/echo", &r);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_contains(r.body.data, "\"method\":\"GET\",\"path\":\"/echo\",\"rest\":\"\"");
	assert_contains(r.body.data, "\"client\":\"127.0.0.1:");
	assert_string_equal(header_value(&r, "Content-Type", hv, sizeof(hv)), "application/json");
	result_free(&r);

	/* longest prefix wins; the rest of the path is available */
	get(f->port, "/api/v1/label/job/values", &r);
	assert_int_equal(r.status, 200);
	assert_contains(r.body.data, "\"rest\":\"job/values\"");
	result_free(&r);
	get(f->port, "/api/v1/query", &r);
	assert_contains(r.body.data, "\"rest\":\"v1/query\"");
	result_free(&r);

	/* percent-decoded path */
	get(f->port, "/api/v1/label/a%2Fb+c/values", &r);
	assert_contains(r.body.data, "\"rest\":\"a/b+c/values\"");
	result_free(&r);

	/* 404: JSON body */
	get(f->port, "/nope", &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body.data, "{\"status\":\"error\",\"errorType\":\"not_found\","
					 "\"error\":\"path /nope not found\"}");
	assert_string_equal(header_value(&r, "Content-Type", hv, sizeof(hv)), "application/json");
	result_free(&r);

	/* 405 with Allow */
	CURL *c = curl_easy_init();
	request(c, f->port, "DELETE", "/echo", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(header_value(&r, "Allow", hv, sizeof(hv)), "GET, HEAD, POST");
	assert_contains(r.body.data, "method DELETE not allowed for /echo");
	result_free(&r);

	/* a NULL-method route takes anything */
	request(c, f->port, "PUT", "/any", "x=1", 3, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_contains(r.body.data, "\"method\":\"PUT\"");
	result_free(&r);

	/* HEAD on a GET route: headers (with the GET's Content-Length), no body */
	request(c, f->port, "HEAD", "/big?n=5000", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	assert_string_equal(header_value(&r, "Content-Length", hv, sizeof(hv)), "5000");
	result_free(&r);

	/* bad escape in the path */
	request(c, f->port, NULL, "/ech%zz", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_contains(r.body.data, "invalid URL escape \\\"%zz\\\" in path");
	result_free(&r);
	curl_easy_cleanup(c);
}

static void test_web_http_route_register(void **state)
{
	fixture *f = *state;
	ts_err err = {0};
	assert_int_equal(web_http_route(f->srv, "GET", "/echo", h_echo, NULL, &err), TS_EEXIST);
	assert_contains(err.msg, "already registered");
	assert_int_equal(web_http_route(f->srv, "GET", "echo", h_echo, NULL, &err), TS_EINVAL);
	assert_int_equal(web_http_route(f->srv, "GET", "/a*b", h_echo, NULL, &err), TS_EINVAL);
	assert_int_equal(web_http_route(f->srv, "get", "/x", h_echo, NULL, &err), TS_EINVAL);
	assert_int_equal(web_http_route(f->srv, "GET", "/x", NULL, NULL, &err), TS_EINVAL);
	/* registering while serving: visible to the next request */
	result r;
	get(f->port, "/late", &r);
	assert_int_equal(r.status, 404);
	result_free(&r);
	assert_int_equal(web_http_route(f->srv, "GET", "/late", h_echo, NULL, &err), TS_OK);
	get(f->port, "/late", &r);
	assert_int_equal(r.status, 200);
	result_free(&r);
}

/* ------------------------------------------------------------------------------------ */
/* Tests: parameters                                                                     */
/* ------------------------------------------------------------------------------------ */

static void test_web_http_params_query_and_form(void **state)
{
	fixture *f = *state;
	result r;
	CURL *c = curl_easy_init();

	/* query string: repeats in order, '+' and %XX, UTF-8 */
	request(c, f->port, NULL,
		"/echo?query=rate(up%5B5m%5D)+%3E+0&match[]=up&match%5B%5D=%7Bjob%3D%22a%22%7D"
		"&empty=&novalue&&x=%C3%A9",
		NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_contains(r.body.data, "\"query\":\"rate(up[5m]) \\u003e 0\"");
	assert_contains(r.body.data, "\"match\":[\"up\",\"{job=\\\"a\\\"}\"]");
	assert_contains(r.body.data, "[\"empty\",\"\"],[\"novalue\",\"\"],[\"x\",\"\xc3\xa9\"]");
	result_free(&r);

	/* form body first, then query (Go's Request.Form order) */
	const char *form = "match[]=from_body_1&query=sum(x)+by+(job)&match%5B%5D=from_body_2";
	struct curl_slist *h =
	    curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
	request(c, f->port, "POST", "/echo?match[]=from_query", form, strlen(form), 0, h, &r);
	assert_int_equal(r.status, 200);
	assert_contains(r.body.data, "\"query\":\"sum(x) by (job)\"");
	assert_contains(r.body.data, "\"match\":[\"from_body_1\",\"from_body_2\",\"from_query\"]");
	result_free(&r);

	/* charset parameter on the content type; a GET body is not a form */
	h = curl_slist_append(NULL,
			      "Content-Type: application/x-www-form-urlencoded; charset=UTF-8");
	request(c, f->port, "POST", "/echo", "query=up", 8, 0, h, &r);
	assert_contains(r.body.data, "\"query\":\"up\"");
	result_free(&r);
	h = curl_slist_append(NULL, "Content-Type: text/plain");
	request(c, f->port, "POST", "/echo", "query=up", 8, 0, h, &r);
	assert_contains(r.body.data, "\"query\":null");
	assert_contains(r.body.data, "\"body_len\":8");
	result_free(&r);

	/* bad escapes: 400 naming the escape and where it was */
	request(c, f->port, NULL, "/echo?query=100%", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 400);
	assert_contains(r.body.data, "\"errorType\":\"bad_data\"");
	assert_contains(r.body.data, "invalid URL escape \\\"%\\\" in query string");
	result_free(&r);
	h = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
	request(c, f->port, "POST", "/echo", "a=%4g", 5, 0, h, &r);
	assert_int_equal(r.status, 400);
	assert_contains(r.body.data, "invalid URL escape \\\"%4g\\\" in form body");
	result_free(&r);
	request(c, f->port, NULL, "/echo?a=%00", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 400);
	result_free(&r);

	/* headers are case-insensitive */
	h = curl_slist_append(NULL, "X-Test: hello");
	request(c, f->port, NULL, "/echo", NULL, 0, 0, h, &r);
	assert_contains(r.body.data, "\"x_test\":\"hello\"");
	result_free(&r);
	curl_easy_cleanup(c);
}

static void test_web_req_new_params(void **state)
{
	(void)state;
	web_req *req = NULL;
	ts_err err = {0};
	const char *body = "b=2&a=1&a=%2B";
	assert_int_equal(web_req_new("POST", "/p%20q?a=0&c=x+y",
				     "application/x-www-form-urlencoded", body, strlen(body), &req,
				     &err),
			 TS_OK);
	assert_string_equal(web_req_path(req), "/p q");
	assert_string_equal(web_req_method(req), "POST");
	assert_string_equal(web_req_param(req, "a"), "1");
	assert_string_equal(web_req_param(req, "c"), "x y");
	assert_null(web_req_param(req, "zz"));
	const char *const *vals;
	size_t n;
	web_req_params(req, "a", &vals, &n);
	assert_int_equal(n, 3);
	assert_string_equal(vals[0], "1");
	assert_string_equal(vals[1], "+");
	assert_string_equal(vals[2], "0");
	web_req_params(req, "missing", &vals, &n);
	assert_int_equal(n, 0);
	assert_null(vals);
	assert_int_equal(web_req_n_params(req), 5);
	const char *k, *v;
	web_req_param_at(req, 0, &k, &v);
	assert_string_equal(k, "b");
	web_req_param_at(req, 4, &k, &v);
	assert_string_equal(k, "c");
	assert_string_equal(web_req_header(req, "content-type"),
			    "application/x-www-form-urlencoded");
	assert_int_equal(web_req_add_header(req, "X-A", "1", &err), TS_OK);
	assert_string_equal(web_req_header(req, "x-a"), "1");
	assert_string_equal(web_req_client(req), "");
	web_req_free(req);

	assert_int_equal(web_req_new("GET", "/x?a=%G1", NULL, NULL, 0, &req, &err), TS_EPARSE);
	assert_string_equal(err.msg, "invalid URL escape \"%G1\" in query string");
	assert_int_equal(web_req_new("GET", "x", NULL, NULL, 0, &req, &err), TS_EINVAL);
	assert_int_equal(web_req_new("GET", "http://h:1/abs?q=1", NULL, NULL, 0, &req, &err),
			 TS_OK);
	assert_string_equal(web_req_path(req), "/abs");
	assert_string_equal(web_req_param(req, "q"), "1");
	web_req_free(req);

	/* allocation failures at every step leave nothing behind (ASan checks leaks) */
	for (int i = 0; i < 12; i++) {
		ts_alloc_fail_after(i);
		int rc = web_req_new("POST", "/a?x=1", "application/x-www-form-urlencoded", "y=2",
				     3, &req, &err);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK)
			web_req_free(req);
		else
			assert_int_equal(rc, TS_ENOMEM);
	}
}

static void test_web_resp_objects(void **state)
{
	(void)state;
	web_resp *resp = web_resp_new();
	assert_non_null(resp);
	assert_int_equal(web_resp_get_status(resp), 200);
	ts_buf b;
	ts_buf_init(&b, 100);
	ts_buf_puts(&b, "hello");
	web_resp_set_body(resp, &b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 100);
	size_t n;
	assert_string_equal(web_resp_get_body(resp, &n), "hello");
	assert_int_equal(web_resp_header(resp, "X-Strata-Tier", "raw", NULL), TS_OK);
	assert_string_equal(web_resp_get_header(resp, "x-strata-tier"), "raw");
	assert_int_equal(web_resp_error(resp, 422, "execution", "too many samples: %d", 5), TS_OK);
	assert_int_equal(web_resp_get_status(resp), 422);
	assert_null(web_resp_get_header(resp, "X-Strata-Tier"));
	assert_string_equal(web_resp_get_header(resp, "Content-Type"), "application/json");
	assert_string_equal(web_resp_get_body(resp, NULL),
			    "{\"status\":\"error\",\"errorType\":\"execution\","
			    "\"error\":\"too many samples: 5\"}");
	web_resp_free(resp);
	web_resp_free(NULL);

	assert_int_equal(web_http_status_for_err(TS_EPARSE), 400);
	assert_int_equal(web_http_status_for_err(TS_ENOTFOUND), 404);
	assert_int_equal(web_http_status_for_err(TS_ELIMIT), 422);
	assert_int_equal(web_http_status_for_err(TS_ETIMEOUT), 503);
	assert_int_equal(web_http_status_for_err(TS_EIO), 500);
	assert_string_equal(web_http_error_type(TS_ETIMEOUT), "timeout");
	assert_string_equal(web_http_error_type(TS_EINVAL), "bad_data");
	assert_string_equal(web_http_error_type(TS_ECORRUPT), "internal");
}

/* ------------------------------------------------------------------------------------ */
/* Tests: bodies                                                                         */
/* ------------------------------------------------------------------------------------ */

static char *make_lines(size_t n_lines, size_t *len)
{
	ts_buf b;
	ts_buf_init(&b, 64 << 20);
	for (size_t i = 0; i < n_lines; i++)
		ts_buf_printf(&b,
			      "cpu,host=server%03zu,region=eu-west,pool=p%zu usage_user=%zu.5,"
			      "usage_system=%zu i 1700000000%09zu\n",
			      i % 100, i % 7, i, i * 3, i);
	return ts_buf_take(&b, len);
}

static void test_web_http_body_limit(void **state)
{
	fixture *f = *state;
	result r;
	CURL *c = curl_easy_init();
	size_t big_n = MAX_BODY + MAX_BODY / 2;
	char *big = malloc(big_n);
	memset(big, 'x', big_n);

	/* declared length over the limit: 413 before the body is read */
	request(c, f->port, "POST", "/write", big, big_n, 0, NULL, &r);
	assert_int_equal(r.status, 413);
	assert_contains(r.body.data, "request body of 1572864 bytes exceeds the limit of 1048576");
	result_free(&r);

	/* chunked, no length: the rest is dropped and the answer is still 413 */
	request(c, f->port, "POST", "/write", big, big_n, 65536, NULL, &r);
	assert_int_equal(r.cc, CURLE_OK);
	assert_int_equal(r.status, 413);
	assert_contains(r.body.data, "request body exceeds the limit of 1048576 bytes");
	result_free(&r);

	/* exactly at the limit is fine, chunked or not */
	request(c, f->port, "POST", "/write", big, MAX_BODY, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_contains(r.body.data, "1048576 ");
	result_free(&r);
	request(c, f->port, "POST", "/write", big, MAX_BODY, 10000, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_contains(r.body.data, "1048576 ");
	result_free(&r);
	free(big);
	curl_easy_cleanup(c);

	/* raw: Expect: 100-continue with a large length gets 413 and no 100 */
	int fd = raw_connect(f->port);
	raw_send(fd, "POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n"
		     "Expect: 100-continue\r\n\r\n");
	char buf[4096];
	raw_read_response(fd, buf, sizeof(buf), 5000);
	assert_true(strncmp(buf, "HTTP/1.1 413", 12) == 0);
	assert_null(strstr(buf, "100 Continue"));
	close(fd);
}

static void test_web_http_gzip_request(void **state)
{
	fixture *f = *state;
	result r, plain;
	CURL *c = curl_easy_init();
	size_t n;
	char *lines = make_lines(5000, &n);
	request(c, f->port, "POST", "/write", lines, n, 0, NULL, &plain);
	assert_int_equal(plain.status, 200);

	ts_buf gz;
	gzip_data(lines, n, &gz, 1);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Encoding: gzip");
	request(c, f->port, "POST", "/write", gz.data, gz.len, 0, h, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, plain.body.data);
	result_free(&r);
	/* chunked too, in small pieces */
	h = curl_slist_append(NULL, "Content-Encoding: gzip");
	request(c, f->port, "POST", "/write", gz.data, gz.len, 333, h, &r);
	assert_string_equal(r.body.data, plain.body.data);
	result_free(&r);

	/* two concatenated members decode to the concatenation */
	ts_buf two;
	ts_buf_init(&two, 64 << 20);
	ts_buf_append(&two, gz.data, gz.len);
	ts_buf_append(&two, gz.data, gz.len);
	h = curl_slist_append(NULL, "Content-Encoding: gzip");
	request(c, f->port, "POST", "/write", two.data, two.len, 0, h, &r);
	assert_int_equal(r.status, 200);
	char want[64];
	snprintf(want, sizeof(want), "%zu ", 2 * n);
	assert_contains(r.body.data, want);
	result_free(&r);
	ts_buf_free(&two);

	/* truncated */
	h = curl_slist_append(NULL, "Content-Encoding: gzip");
	request(c, f->port, "POST", "/write", gz.data, gz.len / 2, 0, h, &r);
	assert_int_equal(r.status, 400);
	assert_contains(r.body.data, "truncated gzip request body");
	result_free(&r);
	/* corrupt */
	gz.data[gz.len / 2] ^= 0x55;
	gz.data[gz.len / 2 + 1] ^= 0x55;
	h = curl_slist_append(NULL, "Content-Encoding: gzip");
	request(c, f->port, "POST", "/write", gz.data, gz.len, 0, h, &r);
	assert_int_equal(r.status, 400);
	assert_contains(r.body.data, "invalid gzip request body");
	result_free(&r);
	h = curl_slist_append(NULL, "Content-Encoding: gzip");
	request(c, f->port, "POST", "/write", "not gzip at all", 15, 0, h, &r);
	assert_int_equal(r.status, 400);
	result_free(&r);
	ts_buf_free(&gz);

	/* bomb: small on the wire, over the decoded limit */
	char *zeros = calloc(1, 2 * MAX_DECODED);
	gzip_data(zeros, 2 * MAX_DECODED, &gz, 1);
	assert_true(gz.len < MAX_BODY);
	h = curl_slist_append(NULL, "Content-Encoding: gzip");
	request(c, f->port, "POST", "/write", gz.data, gz.len, 0, h, &r);
	assert_int_equal(r.status, 413);
	assert_contains(r.body.data, "decompressed request body exceeds the limit of 4194304");
	result_free(&r);
	ts_buf_free(&gz);
	free(zeros);

	/* the same connection still works */
	request(c, f->port, "POST", "/write", lines, n, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, plain.body.data);
	result_free(&r);
	result_free(&plain);
	free(lines);
	curl_easy_cleanup(c);
}

static void test_web_http_gzip_response(void **state)
{
	fixture *f = *state;
	result r;
	char hv[256];
	CURL *c = curl_easy_init();

	/* big body + Accept-Encoding: gzip -> compressed, and it decodes to the original */
	struct curl_slist *h = curl_slist_append(NULL, "Accept-Encoding: deflate, gzip;q=0.8");
	request(c, f->port, NULL, "/big?n=200000", NULL, 0, 0, h, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header_value(&r, "Content-Encoding", hv, sizeof(hv)), "gzip");
	assert_string_equal(header_value(&r, "Vary", hv, sizeof(hv)), "Accept-Encoding");
	assert_true(r.body.len < 200000 / 3);
	ts_buf plain;
	gunzip_data(r.body.data, r.body.len, &plain);
	assert_int_equal(plain.len, 200000);
	assert_memory_equal(plain.data, "[1700000000,\"0\"],[1700000015,\"1\"]", 32);
	ts_buf_free(&plain);
	result_free(&r);

	/* q=0 refuses gzip; no header means identity */
	h = curl_slist_append(NULL, "Accept-Encoding: gzip;q=0");
	request(c, f->port, NULL, "/big?n=200000", NULL, 0, 0, h, &r);
	assert_string_equal(header_value(&r, "Content-Encoding", hv, sizeof(hv)), "");
	assert_int_equal(r.body.len, 200000);
	result_free(&r);
	request(c, f->port, NULL, "/big?n=200000", NULL, 0, 0, NULL, &r);
	assert_string_equal(header_value(&r, "Content-Encoding", hv, sizeof(hv)), "");
	result_free(&r);

	/* 1 KiB or less is not worth compressing */
	h = curl_slist_append(NULL, "Accept-Encoding: gzip");
	request(c, f->port, NULL, "/big?n=1024", NULL, 0, 0, h, &r);
	assert_string_equal(header_value(&r, "Content-Encoding", hv, sizeof(hv)), "");
	assert_int_equal(r.body.len, 1024);
	result_free(&r);
	h = curl_slist_append(NULL, "Accept-Encoding: gzip");
	request(c, f->port, NULL, "/big?n=1025", NULL, 0, 0, h, &r);
	assert_string_equal(header_value(&r, "Content-Encoding", hv, sizeof(hv)), "gzip");
	result_free(&r);

	/* curl's own decoding agrees */
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/big?n=300000", (unsigned)f->port);
	ts_buf body;
	ts_buf_init(&body, 1 << 24);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	assert_int_equal(body.len, 300000);
	ts_buf_free(&body);
	curl_easy_cleanup(c);
}

/* ------------------------------------------------------------------------------------ */
/* Tests: handler results                                                                */
/* ------------------------------------------------------------------------------------ */

static void test_web_http_handler_errors(void **state)
{
	fixture *f = *state;
	result r;
	char hv[256];
	get(f->port, "/fail", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.body.data,
			    "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":"
			    "\"invalid parameter \\\"step\\\": \\\"\\u003cx\\u003e\\\"\"}");
	result_free(&r);
	get(f->port, "/fail?code=busy", &r);
	assert_int_equal(r.status, 503);
	assert_contains(r.body.data, "\"errorType\":\"unavailable\"");
	assert_contains(r.body.data, "ingest queue full");
	result_free(&r);

	get(f->port, "/headers", &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(header_value(&r, "Retry-After", hv, sizeof(hv)), "7");
	assert_string_equal(header_value(&r, "X-Strata-Tier", hv, sizeof(hv)), "1m");
	assert_string_equal(header_value(&r, "Content-Type", hv, sizeof(hv)),
			    "text/plain; charset=utf-8");
	assert_string_equal(header_value(&r, "Injected", hv, sizeof(hv)), "");
	assert_string_equal(r.body.data, "try later");
	result_free(&r);
}

/* ------------------------------------------------------------------------------------ */
/* Tests: connections                                                                    */
/* ------------------------------------------------------------------------------------ */

static void test_web_http_keepalive(void **state)
{
	fixture *f = *state;
	result r;
	CURL *c = curl_easy_init();
	size_t n;
	char *lines = make_lines(5000, &n);
	assert_true(n > 400000);
	for (int i = 0; i < 20; i++) {
		if (i % 2)
			request(c, f->port, "POST", "/write", lines, n, 0, NULL, &r);
		else
			request(c, f->port, NULL, "/echo?i=1", NULL, 0, 0, NULL, &r);
		assert_int_equal(r.cc, CURLE_OK);
		assert_int_equal(r.status, 200);
		/* one connection for all twenty requests */
		if (r.n_connects != (i == 0 ? 1 : 0))
			fail_msg("request %d opened %ld connections", i, r.n_connects);
		result_free(&r);
	}
	/* errors keep the connection too */
	request(c, f->port, NULL, "/nope", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 404);
	result_free(&r);
	request(c, f->port, NULL, "/echo", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.n_connects, 0);
	result_free(&r);
	free(lines);
	curl_easy_cleanup(c);
}

typedef struct client_arg {
	uint16_t port;
	int n_ok;
	const char *body;
	size_t body_len;
} client_arg;

static void *client_thread(void *p)
{
	client_arg *a = p;
	CURL *c = curl_easy_init();
	for (int i = 0; i < 40; i++) {
		result r;
		if (i % 4 == 0)
			request(c, a->port, "POST", "/write", a->body, a->body_len, 0, NULL, &r);
		else if (i % 4 == 1)
			request(c, a->port, NULL, "/big?n=50000", NULL, 0, 0,
				curl_slist_append(NULL, "Accept-Encoding: gzip"), &r);
		else
			request(c, a->port, NULL, "/echo?query=up&match[]=a&match[]=b", NULL, 0, 0,
				NULL, &r);
		if (r.cc == CURLE_OK && r.status == 200)
			a->n_ok++;
		result_free(&r);
	}
	curl_easy_cleanup(c);
	return NULL;
}

static void test_web_http_concurrent(void **state)
{
	fixture *f = *state;
	enum { N = 8 };
	pthread_t th[N];
	client_arg args[N];
	size_t n;
	char *lines = make_lines(2000, &n);
	for (int i = 0; i < N; i++) {
		args[i] = (client_arg){f->port, 0, lines, n};
		assert_int_equal(pthread_create(&th[i], NULL, client_thread, &args[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].n_ok, 40);
	}
	free(lines);
}

typedef struct slow_arg {
	uint16_t port;
	result r;
} slow_arg;

static void *slow_thread(void *p)
{
	slow_arg *a = p;
	CURL *c = curl_easy_init();
	request(c, a->port, NULL, "/slow?ms=400", NULL, 0, 0, NULL, &a->r);
	curl_easy_cleanup(c);
	return NULL;
}

static void *stop_thread(void *srv)
{
	web_http_stop(srv);
	return NULL;
}

static void test_web_http_stop_inflight(void **state)
{
	(void)state;
	fixture *f = start_server(WEB_HTTP_THREAD_PER_CONNECTION);
	/* an idle keep-alive connection that will try a request during the drain */
	int idle = raw_connect(f->port);
	char buf[8192];
	raw_send(idle, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_true(raw_read_response(idle, buf, sizeof(buf), 5000) > 0);
	assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);

	slow_arg a = {f->port, {0}};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, slow_thread, &a), 0);
	while (atomic_load(&f->slow_entered) == 0) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(web_http_in_flight(f->srv), 1);
	int64_t t0 = ts_mono_ns();
	/* stop from another thread so this one can poke the idle connection meanwhile */
	pthread_t stopper;
	assert_int_equal(pthread_create(&stopper, NULL, stop_thread, f->srv), 0);
	/* new connections are refused once stop has begun (and draining is set by then) */
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(f->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool refused = false;
	for (int i = 0; i < 5000 && !refused; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		refused = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0;
		close(fd);
		if (!refused) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	assert_true(refused);
	/* a request on an open keep-alive connection gets 503 and the connection closes */
	raw_send(idle, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_read_response(idle, buf, sizeof(buf), 5000);
	assert_true(strncmp(buf, "HTTP/1.1 503", 12) == 0);
	assert_non_null(strcasestr(buf, "Connection: close"));
	assert_non_null(strstr(buf, "server is shutting down"));

	pthread_join(stopper, NULL);
	int64_t waited_ms = (ts_mono_ns() - t0) / 1000000;
	pthread_join(th, NULL);
	/* the in-flight request finished normally, and stop waited for it */
	assert_int_equal(a.r.cc, CURLE_OK);
	assert_int_equal(a.r.status, 200);
	assert_string_equal(a.r.body.data, "slept");
	assert_true(waited_ms >= 250);
	result_free(&a.r);
	close(idle);
	free(f);
}

static void test_web_http_start_errors(void **state)
{
	fixture *f = *state;
	web_http_options o;
	memset(&o, 0, sizeof(o));
	o.host = "127.0.0.1";
	o.port = f->port; /* taken */
	web_http_server *srv = NULL;
	ts_err err = {0};
	assert_int_equal(web_http_start(&o, &srv, &err), TS_EIO);
	assert_contains(err.msg, "bind 127.0.0.1:");
	assert_contains(err.msg, "Address already in use");
	o.port = 0;
	o.host = "no-such-host.invalid";
	assert_int_equal(web_http_start(&o, &srv, &err), TS_EINVAL);
	o.host = "127.0.0.1";
	o.threading = (web_http_threading)7;
	assert_int_equal(web_http_start(&o, &srv, &err), TS_EINVAL);
	web_http_stop(NULL);
	/* IPv6 loopback, when the host has it */
	o.threading = WEB_HTTP_THREAD_PER_CONNECTION;
	o.host = "[::1]";
	if (web_http_start(&o, &srv, &err) == TS_OK) {
		assert_true(web_http_port(srv) > 0);
		web_http_stop(srv);
	}
}

static void test_web_http_alloc_failures(void **state)
{
	fixture *f = *state;
	CURL *c = curl_easy_init();
	size_t n;
	char *lines = make_lines(200, &n);
	ts_buf gz;
	gzip_data(lines, n, &gz, 1);
	int n_ok = 0;
	/* fail the i-th allocation of a request that exercises every path: each must end in
	 * an error response or a dropped connection, never a crash or a leak */
	for (int i = 0; i < 40; i++) {
		result r;
		struct curl_slist *h = curl_slist_append(NULL, "Content-Encoding: gzip");
		h = curl_slist_append(h, "Accept-Encoding: gzip");
		ts_alloc_fail_after(i);
		request(c, f->port, "POST", "/write?a=1&b=%20", gz.data, gz.len, 0, h, &r);
		ts_alloc_fail_after(-1);
		n_ok += r.cc == CURLE_OK && r.status == 200;
		result_free(&r);
		h = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
		ts_alloc_fail_after(i);
		request(c, f->port, "POST", "/echo?x=1", "match[]=a&match[]=b", 19, 0, h, &r);
		ts_alloc_fail_after(-1);
		result_free(&r);
	}
	assert_true(n_ok > 0);
	result r;
	request(c, f->port, "POST", "/write", lines, n, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	result_free(&r);
	ts_buf_free(&gz);
	free(lines);
	curl_easy_cleanup(c);
}

static void test_web_http_metrics(void **state)
{
	fixture *f = *state;
	result r;
	for (int i = 0; i < 3; i++) {
		get(f->port, "/echo", &r);
		result_free(&r);
	}
	get(f->port, "/nope", &r);
	result_free(&r);
	get(f->port, "/fail", &r);
	result_free(&r);
	/* the access hook runs after the response is sent: wait for it */
	for (int i = 0; i < 1000 && atomic_load(&f->n_access) < 5; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	ts_buf out;
	ts_buf_init(&out, 1 << 20);
	assert_int_equal(web_http_write_metrics(f->srv, &out), TS_OK);
	assert_contains(out.data, "# TYPE strata_http_requests_total counter\n");
	assert_contains(out.data, "strata_http_requests_total{handler=\"/echo\",code=\"200\"} 3\n");
	assert_contains(out.data, "strata_http_requests_total{handler=\"other\",code=\"404\"} 1\n");
	assert_contains(out.data, "strata_http_requests_total{handler=\"/fail\",code=\"400\"} 1\n");
	assert_contains(out.data,
			"strata_http_request_duration_seconds_count{handler=\"/echo\"} 3\n");
	assert_contains(out.data, "strata_http_request_duration_seconds_sum{handler=\"/echo\"} 0.");
	assert_contains(out.data,
			"strata_http_request_duration_seconds_count{handler=\"/big\"} 0\n");
	assert_contains(out.data, "strata_http_requests_in_flight 0\n");
	ts_buf_free(&out);
	assert_int_equal(atomic_load(&f->n_access), 5);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_web_http_route_match, setup_tpc, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_route_register, setup_tpc, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_params_query_and_form, setup_tpc,
					    teardown),
	    cmocka_unit_test(test_web_req_new_params),
	    cmocka_unit_test(test_web_resp_objects),
	    cmocka_unit_test_setup_teardown(test_web_http_body_limit, setup_tpc, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_gzip_request, setup_tpc, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_gzip_response, setup_tpc, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_handler_errors, setup_tpc, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_keepalive, setup_tpc, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_concurrent, setup_tpc, teardown),
	    cmocka_unit_test(test_web_http_stop_inflight),
	    cmocka_unit_test_setup_teardown(test_web_http_start_errors, setup_tpc, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_alloc_failures, setup_tpc, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_metrics, setup_tpc, teardown),
	    /* the epoll pool mode must behave the same */
	    cmocka_unit_test_setup_teardown(test_web_http_route_match, setup_pool, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_body_limit, setup_pool, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_gzip_request, setup_pool, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_keepalive, setup_pool, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_concurrent, setup_pool, teardown),
	    cmocka_unit_test_setup_teardown(test_web_http_metrics, setup_pool, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
