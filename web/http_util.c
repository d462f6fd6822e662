/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_util.c: small pure helpers of the HTTP server: header-value checks and parsing
 * (control characters, media types, Accept-Encoding) and the mapping from TS_E* codes to
 * HTTP statuses and Prometheus error types (declared in http_server.h).
 *
 * Split from http_server.c to keep that file under the size limit; no libmicrohttpd call
 * here. Tested through the server by tests/web/test_http_server.c (gzip negotiation,
 * form parameters, error statuses).
 */
#include "web/http_server.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool web_http_has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\t')
			return true;
	return false;
}

/* Case-insensitive: does the media type in ct equal type (ignoring parameters)? */
bool web_http_media_type_is(const char *ct, const char *type)
{
	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	size_t n = strlen(type);
	if (strncasecmp(ct, type, n) != 0)
		return false;
	char c = ct[n];
	return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

/* Does an Accept-Encoding value allow gzip (a "gzip" token whose q is not 0)? */
bool web_http_accepts_gzip(const char *ae)
{
	if (!ae)
		return false;
	const char *p = ae;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *tok = p;
		while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
			p++;
		size_t tn = (size_t)(p - tok);
		bool is_gzip = (tn == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
			       (tn == 6 && strncasecmp(tok, "x-gzip", 6) == 0);
		bool q_zero = false;
		const char *params = p;
		while (*p && *p != ',')
			p++;
		for (const char *q = params; q < p; q++) {
			if ((*q == 'q' || *q == 'Q') && q[1] == '=') {
				double qv = strtod(q + 2, NULL);
				q_zero = qv <= 0;
				break;
			}
		}
		if (is_gzip && !q_zero)
			return true;
	}
	return false;
}

int web_http_status_for_err(int code)
{
	switch (code) {
	case TS_OK: return 200;
	case TS_EINVAL:
	case TS_EPARSE:
	case TS_EOUTOFORDER: return 400;
	case TS_EAUTH: return 401;
	case TS_ENOTFOUND: return 404;
	case TS_EEXIST: return 409;
	case TS_ELIMIT: return 422;
	case TS_EBUSY:
	case TS_ETIMEOUT:
	case TS_EUNAVAIL:
	case TS_ENOMEM:
	case TS_EFULL: return 503;
	default: return 500;
	}
}

const char *web_http_error_type(int code)
{
	switch (code) {
	case TS_EINVAL:
	case TS_EPARSE:
	case TS_EOUTOFORDER:
	case TS_EEXIST: return "bad_data";
	case TS_EAUTH: return "unauthorized";
	case TS_ENOTFOUND: return "not_found";
	case TS_ELIMIT: return "execution";
	case TS_ETIMEOUT: return "timeout";
	case TS_EBUSY:
	case TS_EUNAVAIL:
	case TS_ENOMEM:
	case TS_EFULL: return "unavailable";
	default: return "internal";
	}
}
