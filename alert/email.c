/* SPDX-License-Identifier: Apache-2.0 */
/*
 * email.c: email notifications: the RFC 5322 / MIME message and its SMTP submission
 * through curl_client.c (alert/notify_int.h).
 *
 * Message: headers Date (RFC 5322, UTC), From, To, Subject, Message-Id
 * (<unix-ms.random@hostname>), MIME-Version and any configured headers (a configured
 * Subject, From or To replaces the default; others are added), then a multipart/
 * alternative body with a text/plain and a text/html part, both UTF-8 and
 * quoted-printable. `text: ""` or `html: ""` drops that part (then the body is a single
 * part). Non-ASCII header values are RFC 2047 encoded words (base64), except address
 * headers (From, To, Cc, Reply-To), which are sent as configured. Lines end in CRLF.
 *
 * Content "in the spirit of" Alertmanager's default templates:
 *   - Subject is exactly Alertmanager's __subject: "[FIRING:2] <group label values>
 *     (<other common label values>)", or "[RESOLVED] ...".
 *   - The body lists "[N] Firing" then "[N] Resolved" alerts, each with labels,
 *     annotations and its source link, under a summary line and a link to externalURL.
 * Configured html/text are literal (templates are rejected at config load).
 *
 * Delivery: accepted = OK; an SMTP 5xx reply other than 535 (authentication) is a
 * permanent failure; anything else (connection, timeout, 4xx, TLS, auth) is retried.
 */
#include "alert/notify_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define MAX_RCPT 64

/* ================================================================ text helpers */

static const char *status_of(const alert_ndata *d)
{
	for (size_t i = 0; i < d->n_alerts; i++)
		if (!alert_nalert_is_resolved(d->alerts[i], d->now_ms))
			return "firing";
	return "resolved";
}

static size_t n_firing(const alert_ndata *d)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n_alerts; i++)
		n += !alert_nalert_is_resolved(d->alerts[i], d->now_ms);
	return n;
}

int alert_email_subject(const alert_ndata *d, ts_buf *out)
{
	bool firing = !strcmp(status_of(d), "firing");
	int rc = firing ? ts_buf_printf(out, "[FIRING:%zu] ", n_firing(d))
			: ts_buf_puts(out, "[RESOLVED] ");
	for (size_t i = 0; !rc && i < d->n_group_labels; i++)
		rc = (i && ts_buf_putc(out, ' ')) || ts_buf_puts(out, d->group_labels[i].value);
	rc = rc || ts_buf_putc(out, ' ');
	if (rc || !d->n_alerts)
		return rc ? TS_ENOMEM : TS_OK;
	/* CommonLabels minus the group labels, values in name order. */
	const alert_nalert *a0 = d->alerts[0];
	bool any = false;
	for (size_t i = 0; !rc && i < a0->n_labels; i++) {
		const ts_label *l = &a0->labels[i];
		if (ts_labels_get(d->group_labels, d->n_group_labels, l->name))
			continue;
		bool common = true;
		for (size_t j = 1; common && j < d->n_alerts; j++) {
			const char *v =
			    ts_labels_get(d->alerts[j]->labels, d->alerts[j]->n_labels, l->name);
			common = v && !strcmp(v, l->value);
		}
		if (!common)
			continue;
		rc = ts_buf_puts(out, any ? " " : "(") || ts_buf_puts(out, l->value);
		any = true;
	}
	if (!rc && any)
		rc = ts_buf_putc(out, ')');
	return rc ? TS_ENOMEM : TS_OK;
}

static int html_escape(ts_buf *b, const char *s)
{
	int rc = TS_OK;
	for (; !rc && *s; s++) {
		switch (*s) {
		case '&': rc = ts_buf_puts(b, "&amp;"); break;
		case '<': rc = ts_buf_puts(b, "&lt;"); break;
		case '>': rc = ts_buf_puts(b, "&gt;"); break;
		case '"': rc = ts_buf_puts(b, "&#34;"); break;
		case '\'': rc = ts_buf_puts(b, "&#39;"); break;
		default: rc = ts_buf_putc(b, *s);
		}
	}
	return rc;
}

/* ================================================================ default bodies */

static int text_section(const alert_ndata *d, bool resolved, ts_buf *b)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n_alerts; i++)
		n += alert_nalert_is_resolved(d->alerts[i], d->now_ms) == resolved;
	if (!n)
		return TS_OK;
	int rc = ts_buf_printf(b, "\n[%zu] %s\n", n, resolved ? "Resolved" : "Firing");
	for (size_t i = 0; !rc && i < d->n_alerts; i++) {
		const alert_nalert *a = d->alerts[i];
		if (alert_nalert_is_resolved(a, d->now_ms) != resolved)
			continue;
		rc = ts_buf_puts(b, "\nLabels:\n");
		for (size_t k = 0; !rc && k < a->n_labels; k++)
			rc = ts_buf_printf(b, "  %s = %s\n", a->labels[k].name, a->labels[k].value);
		if (!rc && a->n_annotations)
			rc = ts_buf_puts(b, "Annotations:\n");
		for (size_t k = 0; !rc && k < a->n_annotations; k++)
			rc = ts_buf_printf(b, "  %s = %s\n", a->annotations[k].name,
					   a->annotations[k].value);
		if (!rc && a->generator_url[0])
			rc = ts_buf_printf(b, "Source: %s\n", a->generator_url);
	}
	return rc;
}

static int default_text(const alert_ndata *d, const char *subject, ts_buf *b)
{
	int rc = ts_buf_printf(b, "%s\n\n%zu alert%s for", subject, d->n_alerts,
			       d->n_alerts == 1 ? "" : "s");
	for (size_t i = 0; !rc && i < d->n_group_labels; i++)
		rc = ts_buf_printf(b, " %s=%s", d->group_labels[i].name, d->group_labels[i].value);
	rc = rc || ts_buf_putc(b, '\n');
	if (!rc && d->external_url && d->external_url[0])
		rc = ts_buf_printf(b, "View in Strata: %s\n", d->external_url);
	rc = rc || text_section(d, false, b) || text_section(d, true, b);
	return rc ? TS_ENOMEM : TS_OK;
}

static int html_section(const alert_ndata *d, bool resolved, ts_buf *b)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n_alerts; i++)
		n += alert_nalert_is_resolved(d->alerts[i], d->now_ms) == resolved;
	if (!n)
		return TS_OK;
	int rc = ts_buf_printf(b, "<h2>[%zu] %s</h2>\n", n, resolved ? "Resolved" : "Firing");
	for (size_t i = 0; !rc && i < d->n_alerts; i++) {
		const alert_nalert *a = d->alerts[i];
		if (alert_nalert_is_resolved(a, d->now_ms) != resolved)
			continue;
		rc = ts_buf_puts(b, "<p><strong>Labels</strong><br>\n");
		for (size_t k = 0; !rc && k < a->n_labels; k++)
			rc = html_escape(b, a->labels[k].name) || ts_buf_puts(b, " = ") ||
			     html_escape(b, a->labels[k].value) || ts_buf_puts(b, "<br>\n");
		if (!rc && a->n_annotations)
			rc = ts_buf_puts(b, "<strong>Annotations</strong><br>\n");
		for (size_t k = 0; !rc && k < a->n_annotations; k++)
			rc = html_escape(b, a->annotations[k].name) || ts_buf_puts(b, " = ") ||
			     html_escape(b, a->annotations[k].value) || ts_buf_puts(b, "<br>\n");
		if (!rc && a->generator_url[0])
			rc = ts_buf_puts(b, "<a href=\"") || html_escape(b, a->generator_url) ||
			     ts_buf_puts(b, "\">Source</a>\n");
		rc = rc || ts_buf_puts(b, "</p>\n");
	}
	return rc;
}

static int default_html(const alert_ndata *d, const char *subject, ts_buf *b)
{
	bool firing = !strcmp(status_of(d), "firing");
	int rc =
	    ts_buf_puts(b, "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\"><title>") ||
	    html_escape(b, subject) ||
	    ts_buf_puts(b, "</title></head>\n<body style=\"font-family: sans-serif\">\n") ||
	    ts_buf_printf(b,
			  "<div style=\"background:%s;color:#fff;padding:10px\">%zu alert%s "
			  "for",
			  firing ? "#e45959" : "#68b90f", d->n_alerts, d->n_alerts == 1 ? "" : "s");
	for (size_t i = 0; !rc && i < d->n_group_labels; i++)
		rc = ts_buf_putc(b, ' ') || html_escape(b, d->group_labels[i].name) ||
		     ts_buf_putc(b, '=') || html_escape(b, d->group_labels[i].value);
	rc = rc || ts_buf_puts(b, "</div>\n");
	if (!rc && d->external_url && d->external_url[0])
		rc = ts_buf_puts(b, "<p><a href=\"") || html_escape(b, d->external_url) ||
		     ts_buf_puts(b, "\">View in Strata</a></p>\n");
	rc = rc || html_section(d, false, b) || html_section(d, true, b) ||
	     ts_buf_puts(b, "</body></html>\n");
	return rc ? TS_ENOMEM : TS_OK;
}

/* ================================================================ MIME encoding */

/* Quoted-printable (RFC 2045): CRLF line breaks, soft breaks before 76 columns. */
static int put_qp(ts_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = TS_OK;
	size_t col = 0;
	for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n') {
			rc = ts_buf_puts(b, "\r\n");
			col = 0;
			continue;
		}
		bool at_eol = p[1] == '\n' || p[1] == '\r' || p[1] == '\0';
		bool lit =
		    (*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !at_eol);
		size_t w = lit ? 1 : 3;
		if (col + w > 75) {
			rc = ts_buf_puts(b, "=\r\n");
			col = 0;
		}
		if (!rc && lit)
			rc = ts_buf_putc(b, (char)*p);
		else if (!rc)
			rc = ts_buf_putc(b, '=') || ts_buf_putc(b, hex[*p >> 4]) ||
			     ts_buf_putc(b, hex[*p & 15]);
		col += w;
	}
	return rc || ts_buf_puts(b, "\r\n") ? TS_ENOMEM : TS_OK;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80 || (unsigned char)*s < 0x20)
			return false;
	return true;
}

/* A header value, as RFC 2047 base64 encoded words when it is not plain ASCII. */
static int put_header(ts_buf *b, const char *name, const char *value)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int rc = ts_buf_printf(b, "%s: ", name);
	/* Address headers stay as written: an encoded word may not contain an address. */
	bool addr = !strcasecmp(name, "From") || !strcasecmp(name, "To") ||
		    !strcasecmp(name, "Cc") || !strcasecmp(name, "Reply-To");
	if (rc || addr || is_ascii(value))
		return rc || ts_buf_puts(b, value) || ts_buf_puts(b, "\r\n") ? TS_ENOMEM : TS_OK;
	const unsigned char *p = (const unsigned char *)value;
	size_t n = strlen(value), i = 0;
	bool first = true;
	while (!rc && i < n) {
		size_t take = n - i > 45 ? 45 : n - i;
		while (take < n - i && take > 0 && (p[i + take] & 0xC0) == 0x80)
			take--; /* never split a UTF-8 sequence between words */
		rc = ts_buf_puts(b, first ? "=?UTF-8?b?" : "\r\n =?UTF-8?b?");
		first = false;
		for (size_t k = 0; !rc && k < take; k += 3) {
			uint32_t v = (uint32_t)p[i + k] << 16;
			if (k + 1 < take)
				v |= (uint32_t)p[i + k + 1] << 8;
			if (k + 2 < take)
				v |= p[i + k + 2];
			char q[4] = {b64[v >> 18], b64[(v >> 12) & 63],
				     k + 1 < take ? b64[(v >> 6) & 63] : '=',
				     k + 2 < take ? b64[v & 63] : '='};
			rc = ts_buf_append(b, q, 4);
		}
		rc = rc || ts_buf_puts(b, "?=");
		i += take;
	}
	return rc || ts_buf_puts(b, "\r\n") ? TS_ENOMEM : TS_OK;
}

static const char *find_header(const alert_ncfg_email *e, const char *name)
{
	for (size_t i = 0; i < e->n_headers; i++)
		if (!strcasecmp(e->headers[i].name, name))
			return e->headers[i].value;
	return NULL;
}

int alert_email_render(const alert_ndata *d, const alert_ncfg_email *e, const char *hostname,
		       ts_buf *out)
{
	ts_buf subj, text, html;
	ts_buf_init(&subj, 1 << 16);
	ts_buf_init(&text, 16 << 20);
	ts_buf_init(&html, 16 << 20);
	int rc = alert_email_subject(d, &subj);
	const char *subject = find_header(e, "Subject");
	if (!subject)
		subject = subj.data ? subj.data : "";
	bool want_text = !e->text || e->text[0], want_html = !e->html || e->html[0];
	if (!want_text && !want_html)
		want_text = true;
	if (!rc && want_text)
		rc = e->text ? ts_buf_puts(&text, e->text) : default_text(d, subject, &text);
	if (!rc && want_html)
		rc = e->html ? ts_buf_puts(&html, e->html) : default_html(d, subject, &html);

	char date[64];
	time_t secs = (time_t)(d->now_ms / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	uint64_t rnd[2] = {0, 0};
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd[0] = (uint64_t)ts_mono_ns(), rnd[1] = (uint64_t)d->now_ms;
	char boundary[48];
	snprintf(boundary, sizeof(boundary), "strata-%016llx", (unsigned long long)rnd[1]);

	const char *to = find_header(e, "To"), *from = find_header(e, "From");
	if (!rc)
		rc = put_header(out, "Date", date) ||
		     put_header(out, "From", from ? from : e->from) ||
		     put_header(out, "To", to ? to : e->to) ||
		     put_header(out, "Subject", subject) ||
		     ts_buf_printf(out, "Message-Id: <%lld.%016llx@%s>\r\n", (long long)d->now_ms,
				   (unsigned long long)rnd[0], hostname) ||
		     ts_buf_puts(out, "MIME-Version: 1.0\r\n");
	for (size_t i = 0; !rc && i < e->n_headers; i++) {
		const char *n = e->headers[i].name;
		if (strcasecmp(n, "Subject") && strcasecmp(n, "To") && strcasecmp(n, "From"))
			rc = put_header(out, n, e->headers[i].value);
	}
	bool multi = want_text && want_html;
	if (!rc && multi)
		rc = ts_buf_printf(
		    out, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
	for (int part = 0; !rc && part < 2; part++) {
		if (!(part ? want_html : want_text))
			continue;
		if (multi)
			rc = ts_buf_printf(out, "--%s\r\n", boundary);
		rc = rc || ts_buf_printf(out,
					 "Content-Type: text/%s; charset=UTF-8\r\n"
					 "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
					 part ? "html" : "plain");
		rc = rc || put_qp(out, part ? (html.data ? html.data : "")
					    : (text.data ? text.data : ""));
	}
	if (!rc && multi)
		rc = ts_buf_printf(out, "--%s--\r\n", boundary);
	ts_buf_free(&subj);
	ts_buf_free(&text);
	ts_buf_free(&html);
	return rc ? TS_ENOMEM : TS_OK;
}

/* ================================================================ sending */

/* Split an address list into bare addresses (inside <...> when present). */
static size_t parse_addrs(const char *list, char (*out)[256], size_t cap)
{
	size_t n = 0;
	const char *p = list;
	while (*p && n < cap) {
		const char *start = p;
		bool quoted = false, angle = false;
		while (*p && (quoted || angle || *p != ',')) {
			if (*p == '"')
				quoted = !quoted;
			else if (*p == '<' && !quoted)
				angle = true;
			else if (*p == '>' && !quoted)
				angle = false;
			p++;
		}
		const char *end = p;
		const char *lt = memchr(start, '<', (size_t)(end - start));
		const char *gt = lt ? memchr(lt, '>', (size_t)(end - lt)) : NULL;
		if (lt && gt) {
			start = lt + 1;
			end = gt;
		}
		while (start < end && (*start == ' ' || *start == '\t'))
			start++;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		size_t l = (size_t)(end - start);
		if (l && l < 256) {
			memcpy(out[n], start, l);
			out[n][l] = '\0';
			n++;
		}
		if (*p == ',')
			p++;
	}
	return n;
}

alert_send_result alert_email_send(const alert_ncfg_email *e, int64_t timeout_ms,
				   const char *message, size_t len, ts_err *err)
{
	char(*rc_addrs)[256] = ts_malloc((MAX_RCPT + 1) * 256);
	if (!rc_addrs) {
		ts_err_set(err, TS_ENOMEM, "out of memory sending email");
		return ALERT_SEND_RETRY;
	}
	size_t n_from = parse_addrs(e->from, rc_addrs, 1);
	size_t n_to = parse_addrs(e->to, rc_addrs + 1, MAX_RCPT);
	if (!n_from || !n_to) {
		ts_free(rc_addrs);
		ts_err_set(err, TS_EINVAL, "email: no valid %s address", n_from ? "to" : "from");
		return ALERT_SEND_FAIL;
	}
	const char *rcpt[MAX_RCPT];
	for (size_t i = 0; i < n_to; i++)
		rcpt[i] = rc_addrs[1 + i];
	alert_smtp_send s = {
	    .smarthost = e->smarthost,
	    .hello = e->hello,
	    .from = rc_addrs[0],
	    .rcpt = rcpt,
	    .n_rcpt = n_to,
	    .username = e->auth_username,
	    .password = e->auth_password,
	    .require_tls = e->require_tls,
	    .is_insecure = e->is_insecure,
	    .ca_file = e->ca_file,
	    .message = message,
	    .len = len,
	    .timeout_ms = timeout_ms,
	};
	int code = 0;
	ts_err ce = {0};
	int rc = alert_curl_smtp(&s, &code, &ce);
	ts_free(rc_addrs);
	if (!rc)
		return ALERT_SEND_OK;
	if (code)
		ts_err_set(err, rc, "%s (last SMTP reply %d)", ce.msg, code);
	else
		ts_err_set(err, rc, "%s", ce.msg);
	if (rc == TS_EINVAL)
		return ALERT_SEND_FAIL;
	if (code >= 500 && code < 600 && code != 535)
		return ALERT_SEND_FAIL;
	return ALERT_SEND_RETRY;
}
