/* SPDX-License-Identifier: Apache-2.0 */
/*
 * curl_client.c: alert/'s one libcurl wrapper (STYLE.md section 1): HTTP POST for
 * webhooks and Alertmanager forwarding, SMTP submission for email (alert/notify_int.h).
 *
 * Tested by tests/integration/test_webhook.sh, test_email.sh, test_alertmanager_forward.sh
 * (real HTTP and SMTP peers) and tests/alert/test_curl_client.c (keep-alive reuse).
 *
 * alert_curl_post uses a fresh easy handle per call. alert_curl_conn keeps one easy
 * handle for one thread (each outbox sender has its own): between requests it is reset
 * with curl_easy_reset, which keeps the open connections, so consecutive webhooks to the
 * same host reuse one keep-alive connection instead of a TCP handshake each (libcurl
 * matches a connection only to a request with the same host, port, TLS and proxy
 * settings). Every request gets a total timeout, no signals (CURLOPT_NOSIGNAL, so it is
 * safe in threads), redirects only when http_config.follow_redirects is true (at most 5),
 * and a response body capped at 64 KiB and discarded. Errors become TS_E* codes with
 * curl's message; URLs and credentials never appear in messages (webhook URLs often
 * carry tokens), only the host.
 *
 * SMTP: smtp://host:port (smtps:// for port 465, implicit TLS); with require_tls the
 * session must upgrade with STARTTLS (CURLUSESSL_ALL), otherwise plain text is used as
 * Alertmanager does; AUTH (PLAIN/LOGIN/CRAM-MD5, libcurl's choice) when a username is
 * configured. The EHLO name is the URL path, as libcurl defines it.
 */
#include "alert/notify_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RESPONSE_BYTES (64 * 1024)

int alert_curl_init(ts_err *err)
{
	CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (c != CURLE_OK)
		return ts_err_set(err, TS_EIO, "libcurl init failed: %s", curl_easy_strerror(c));
	return TS_OK;
}

typedef struct sink {
	size_t n;
	int64_t retry_after_ms;
} sink;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	sink *s = ud;
	size_t n = size * nmemb;
	s->n += n;
	return s->n > MAX_RESPONSE_BYTES ? 0 : n; /* 0 aborts an overlong answer */
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	sink *s = ud;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n > sizeof(name) - 1 && !strncasecmp(p, name, sizeof(name) - 1)) {
		char buf[32];
		size_t l = n - (sizeof(name) - 1);
		if (l >= sizeof(buf))
			l = sizeof(buf) - 1;
		memcpy(buf, p + sizeof(name) - 1, l);
		buf[l] = '\0';
		char *end;
		long long secs = strtoll(buf, &end, 10);
		if (end != buf && secs > 0 && secs < 86400)
			s->retry_after_ms = secs * 1000;
	}
	return n;
}

/* Host part of a URL for messages (no userinfo, path or query). */
static void url_host(const char *url, char *out, size_t cap)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	const char *at = strpbrk(p, "@/?#");
	if (at && *at == '@')
		p = at + 1;
	size_t n = strcspn(p, "/?#");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static int net_error(CURLcode c, const char *errbuf, const char *host, ts_err *err)
{
	int code = c == CURLE_OPERATION_TIMEDOUT     ? TS_ETIMEOUT
		   : c == CURLE_LOGIN_DENIED         ? TS_EAUTH
		   : c == CURLE_URL_MALFORMAT        ? TS_EINVAL
		   : c == CURLE_UNSUPPORTED_PROTOCOL ? TS_EINVAL
						     : TS_EUNAVAIL;
	return ts_err_set(err, code, "%s: %s", host, errbuf[0] ? errbuf : curl_easy_strerror(c));
}

static void set_tls(CURL *h, bool insecure, const char *ca, const char *cert, const char *key)
{
	if (insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	if (cert)
		curl_easy_setopt(h, CURLOPT_SSLCERT, cert);
	if (key)
		curl_easy_setopt(h, CURLOPT_SSLKEY, key);
}

struct alert_curl_conn {
	CURL *h; /* easy handle: its connection cache survives curl_easy_reset */
};

int alert_curl_conn_new(alert_curl_conn **out, ts_err *err)
{
	alert_curl_conn *c = ts_calloc(1, sizeof(*c));
	if (!c || !(c->h = curl_easy_init())) {
		ts_free(c);
		return ts_err_set(err, TS_ENOMEM, "cannot create a curl handle");
	}
	*out = c;
	return TS_OK;
}

void alert_curl_conn_free(alert_curl_conn *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->h);
	ts_free(c);
}

/* One POST on handle h (fresh or reset). Leaves h reset (no dangling option pointers). */
static int post_on(CURL *h, const alert_http_post *p, int *status, int64_t *retry_after_ms,
		   ts_err *err)
{
	char host[256];
	url_host(p->url, host, sizeof(host));
	*status = 0;
	*retry_after_ms = 0;
	char errbuf[CURL_ERROR_SIZE] = "";
	char ct[128], auth[1024];
	struct curl_slist *hdrs = NULL, *t;
	snprintf(ct, sizeof(ct), "Content-Type: %s", p->content_type);
	int rc = TS_OK;
	if (!(t = curl_slist_append(hdrs, ct)))
		goto nomem;
	hdrs = t;
	if (!(t = curl_slist_append(hdrs, "Expect:")))
		goto nomem;
	hdrs = t;
	const alert_ncfg_http *hc = p->http;
	if (hc && hc->auth_credentials) {
		snprintf(auth, sizeof(auth), "Authorization: %s %s",
			 hc->auth_type ? hc->auth_type : "Bearer", hc->auth_credentials);
		t = curl_slist_append(hdrs, auth);
		memset(auth, 0, sizeof(auth));
		if (!t)
			goto nomem;
		hdrs = t;
	}
	sink s = {0};
	curl_easy_setopt(h, CURLOPT_URL, p->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, p->body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "Strata/" STRATA_VERSION);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(p->timeout_ms > 0 ? p->timeout_ms : 10000));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (hc) {
		if (hc->follow_redirects) {
			curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
			curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
			curl_easy_setopt(h, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
			curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
		}
		if (hc->basic_user) {
			curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(h, CURLOPT_USERNAME, hc->basic_user);
			curl_easy_setopt(h, CURLOPT_PASSWORD,
					 hc->basic_password ? hc->basic_password : "");
		}
		if (hc->proxy_url)
			curl_easy_setopt(h, CURLOPT_PROXY, hc->proxy_url);
		set_tls(h, hc->is_insecure, hc->ca_file, hc->cert_file, hc->key_file);
	}
	CURLcode c = curl_easy_perform(h);
	if (c == CURLE_WRITE_ERROR && s.n > MAX_RESPONSE_BYTES)
		c = CURLE_OK; /* the status is known; the rest of the body is not needed */
	if (c != CURLE_OK) {
		rc = net_error(c, errbuf, host, err);
	} else {
		long code = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		*status = (int)code;
		*retry_after_ms = s.retry_after_ms;
	}
	curl_easy_reset(h);
	curl_slist_free_all(hdrs);
	return rc;
nomem:
	curl_easy_reset(h);
	curl_slist_free_all(hdrs);
	return ts_err_set(err, TS_ENOMEM, "%s: out of memory", host);
}

int alert_curl_conn_post(alert_curl_conn *c, const alert_http_post *p, int *status,
			 int64_t *retry_after_ms, ts_err *err)
{
	return post_on(c->h, p, status, retry_after_ms, err);
}

int alert_curl_post(const alert_http_post *p, int *status, int64_t *retry_after_ms, ts_err *err)
{
	*status = 0;
	*retry_after_ms = 0;
	CURL *h = curl_easy_init();
	if (!h)
		return ts_err_set(err, TS_ENOMEM, "cannot create a curl handle");
	int rc = post_on(h, p, status, retry_after_ms, err);
	curl_easy_cleanup(h);
	return rc;
}

typedef struct reader {
	const char *p;
	size_t left;
} reader;

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
	reader *r = ud;
	size_t n = size * nmemb;
	if (n > r->left)
		n = r->left;
	memcpy(buf, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

int alert_curl_smtp(const alert_smtp_send *s, int *smtp_code, ts_err *err)
{
	*smtp_code = 0;
	char host[256];
	int port = 0;
	ts_err e = {0};
	if (ts_config_split_hostport(s->smarthost, host, sizeof(host), &port, &e))
		return ts_err_set(err, TS_EINVAL, "smarthost: %s", e.msg);
	CURL *h = curl_easy_init();
	if (!h)
		return ts_err_set(err, TS_ENOMEM, "%s: cannot create a curl handle", s->smarthost);
	char url[512], errbuf[CURL_ERROR_SIZE] = "";
	bool v6 = strchr(host, ':') != NULL;
	snprintf(url, sizeof(url), "%s://%s%s%s:%d/%s", port == 465 ? "smtps" : "smtp",
		 v6 ? "[" : "", host, v6 ? "]" : "", port, s->hello ? s->hello : "localhost");
	char from[512];
	snprintf(from, sizeof(from), "<%s>", s->from);
	struct curl_slist *rcpt = NULL, *t;
	int rc = TS_OK;
	for (size_t i = 0; i < s->n_rcpt; i++) {
		char a[512];
		snprintf(a, sizeof(a), "<%s>", s->rcpt[i]);
		if (!(t = curl_slist_append(rcpt, a))) {
			curl_slist_free_all(rcpt);
			curl_easy_cleanup(h);
			return ts_err_set(err, TS_ENOMEM, "%s: out of memory", s->smarthost);
		}
		rcpt = t;
	}
	reader r = {s->message, s->len};
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &r);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->len);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(s->timeout_ms > 0 ? s->timeout_ms : 10000));
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	if (port != 465)
		curl_easy_setopt(h, CURLOPT_USE_SSL,
				 (long)(s->require_tls ? CURLUSESSL_ALL : CURLUSESSL_NONE));
	if (s->username && s->username[0]) {
		curl_easy_setopt(h, CURLOPT_USERNAME, s->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, s->password ? s->password : "");
	}
	set_tls(h, s->is_insecure, s->ca_file, NULL, NULL);
	CURLcode c = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	*smtp_code = (int)code;
	if (c != CURLE_OK)
		rc = net_error(c, errbuf, s->smarthost, err);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(h);
	return rc;
}
