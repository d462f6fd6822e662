/* SPDX-License-Identifier: Apache-2.0 */
/*
 * console.c: serves the browser console, whose files are embedded in the binary.
 *
 *   GET /                          index.html
 *   GET /query /alerts /rules      index.html too: the console routes with the HTML5 history
 *   GET /targets /status           API, so a page's URL can be reloaded, bookmarked, shared
 *   GET /console/<file>            an asset: app.js, style.css, vendor/uPlot.iife.min.js, ...
 *
 * The files come from console_assets.h's table, generated at build time from web/console/
 * and uPlot's npm package by scripts/embed_assets.py; nothing is read from disk or fetched
 * from a CDN, so the console works offline and always matches the binary serving it.
 *
 * Caching: every response carries a strong ETag (a hash of the bytes, computed at build
 * time) and "Cache-Control: no-cache", so browsers keep their copy and revalidate it with
 * If-None-Match, which is answered 304 without a body. Long max-age values would need
 * content-hashed file names in every ES module import, which means a bundler; a 304 on
 * the local network costs less than the complexity. When the client accepts gzip and the
 * table holds a gzip encoding of the file, that encoding is sent (it has its own ETag, as
 * a different representation must); otherwise the plain bytes, which the HTTP layer may
 * still compress on the fly.
 *
 * index.html gets a Content-Security-Policy allowing only same-origin scripts, styles and
 * connections (inline styles too: uPlot positions its elements with style attributes), so
 * the console cannot be made to load code from elsewhere.
 *
 * Not done here: directory listings, range requests, serving files from disk for
 * development (rebuild instead: the generator step reruns when a console file changes).
 */
#include "web/web_int.h"

#include "web/console_assets.h"

#include <string.h>
#include <strings.h>

#define INDEX_PATH "/console/index.html"

#define INDEX_CSP                                                                        \
	"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "      \
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " \
	"frame-ancestors 'none'; form-action 'self'"

/* History-API routes of the single-page app: each serves index.html. */
static const char *const page_paths[] = {"/", "/query", "/alerts", "/rules", "/targets", "/status"};

static const web_console_asset *find_asset(const char *path)
{
	for (size_t i = 0; i < web_console_n_assets; i++)
		if (strcmp(web_console_assets[i].path, path) == 0)
			return &web_console_assets[i];
	return NULL;
}

/* Is c optional whitespace in an HTTP list (RFC 9110 OWS)? */
static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Is the q-value at v ("0", "0.000", "0.5", ...) zero? v points just after "q=". */
static bool is_q_zero(const char *v)
{
	if (*v++ != '0')
		return false;
	if (*v == '.')
		while (*++v == '0')
			;
	return *v == '\0' || *v == ',' || *v == ';' || is_ows(*v);
}

/* Does an Accept-Encoding value list gzip (or x-gzip) without q=0? NULL: no. */
static bool accepts_gzip(const char *ae)
{
	const char *p = ae ? ae : "";
	while (*p) {
		while (*p == ',' || is_ows(*p))
			p++;
		const char *tok = p;
		while (*p && *p != ',' && *p != ';' && !is_ows(*p))
			p++;
		size_t n = (size_t)(p - tok);
		bool is_gzip = (n == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
			       (n == 6 && strncasecmp(tok, "x-gzip", 6) == 0);
		bool q_zero = false;
		while (*p && *p != ',') { /* parameters; only q matters */
			if (*p++ != ';')
				continue;
			while (is_ows(*p))
				p++;
			if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
				q_zero = is_q_zero(p + 2);
		}
		if (is_gzip && !q_zero)
			return true;
	}
	return false;
}

/*
 * Does an If-None-Match value match the ETag of either representation? "*" matches; tags
 * compare weakly (a W/ prefix is ignored), as RFC 9110 section 13.1.2 asks for this header.
 */
static bool etag_matches(const char *inm, const web_console_asset *a)
{
	if (!inm)
		return false;
	const char *p = inm;
	while (*p) {
		while (*p == ',' || is_ows(*p))
			p++;
		if (*p == '*')
			return true;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		const char *tag = p;
		if (*p == '"') {
			const char *end = strchr(p + 1, '"');
			p = end ? end + 1 : p + strlen(p);
		} else {
			while (*p && *p != ',')
				p++;
		}
		size_t n = (size_t)(p - tag);
		if ((n == strlen(a->etag) && memcmp(tag, a->etag, n) == 0) ||
		    (a->etag_gz && n == strlen(a->etag_gz) && memcmp(tag, a->etag_gz, n) == 0))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

/* Fill resp with asset a (or a 304 when the client's copy is current). */
static int send_asset(web_req *req, web_resp *resp, const web_console_asset *a, ts_err *err)
{
	bool use_gz = a->data_gz && accepts_gzip(web_req_header(req, "Accept-Encoding"));
	int rc;
	if ((rc = web_resp_header(resp, "ETag", use_gz ? a->etag_gz : a->etag, err)) ||
	    (rc = web_resp_header(resp, "Cache-Control", "no-cache", err)) ||
	    (rc = web_resp_header(resp, "X-Content-Type-Options", "nosniff", err)))
		return rc;
	if (a->data_gz && (rc = web_resp_header(resp, "Vary", "Accept-Encoding", err)))
		return rc;
	if (etag_matches(web_req_header(req, "If-None-Match"), a)) {
		web_resp_status(resp, 304);
		return TS_OK;
	}
	if (strcmp(a->path, INDEX_PATH) == 0 &&
	    (rc = web_resp_header(resp, "Content-Security-Policy", INDEX_CSP, err)))
		return rc;
	if ((rc = web_resp_content_type(resp, a->content_type)))
		return ts_err_set(err, rc, "out of memory sending %s", a->path);
	if (use_gz && (rc = web_resp_header(resp, "Content-Encoding", "gzip", err)))
		return rc;
	const unsigned char *data = use_gz ? a->data_gz : a->data;
	size_t n = use_gz ? a->size_gz_bytes : a->size_bytes;
	if ((rc = ts_buf_append(web_resp_body(resp), data, n)))
		return ts_err_set(err, rc, "cannot send %s (%zu bytes)", a->path, n);
	return TS_OK;
}

static int h_page(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	const web_console_asset *a = find_asset(INDEX_PATH);
	if (!a)
		return ts_err_set(err, TS_ENOTFOUND, "this build has no console (no %s)",
				  INDEX_PATH);
	return send_asset(req, resp, a, err);
}

static int h_asset(web_req *req, web_resp *resp, void *ctx, ts_err *err)
{
	const char *path = web_req_path(req);
	const web_console_asset *a = find_asset(path);
	if (!a)
		return ts_err_set(err, TS_ENOTFOUND, "no console file %s", path);
	return send_asset(req, resp, a, err);
}

int web_api_console_routes(web_server *s, ts_err *err)
{
	int rc;
	for (size_t i = 0; i < sizeof(page_paths) / sizeof(page_paths[0]); i++)
		if ((rc = web_http_route(s->http, "GET", page_paths[i], h_page, s, err)))
			return rc;
	return web_http_route(s->http, "GET", "/console/*", h_asset, s, err);
}
