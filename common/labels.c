/* SPDX-License-Identifier: Apache-2.0 */
/*
 * labels.c: label sets, canonical series key, name validation and sanitizing
 * (see ts_labels.h for the key encoding).
 */
#include "common/ts_labels.h"

#include "common/ts_hash.h"

#include <stdlib.h>
#include <string.h>

static int label_cmp_name(const void *a, const void *b)
{
	return strcmp(((const ts_label *)a)->name, ((const ts_label *)b)->name);
}

int ts_labels_normalize(ts_label *v, size_t *n, ts_err *err)
{
	size_t w = 0;
	for (size_t i = 0; i < *n; i++) {
		if (!v[i].name || !v[i].name[0])
			return ts_err_set(err, TS_EINVAL, "empty label name");
		if (v[i].value && v[i].value[0])
			v[w++] = v[i];
	}
	if (w > 1) /* v may be NULL when *n == 0; qsort must not see it */
		qsort(v, w, sizeof(*v), label_cmp_name);
	for (size_t i = 1; i < w; i++)
		if (strcmp(v[i - 1].name, v[i].name) == 0)
			return ts_err_set(err, TS_EINVAL, "duplicate label name '%s'", v[i].name);
	*n = w;
	return TS_OK;
}

int ts_labels_cmp(const ts_label *a, size_t na, const ts_label *b, size_t nb)
{
	size_t n = na < nb ? na : nb;
	for (size_t i = 0; i < n; i++) {
		int c = strcmp(a[i].name, b[i].name);
		if (c)
			return c;
		c = strcmp(a[i].value, b[i].value);
		if (c)
			return c;
	}
	return na < nb ? -1 : na > nb ? 1 : 0;
}

const char *ts_labels_get(const ts_label *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return v[i].value;
	return NULL;
}

int ts_series_key(const ts_label *v, size_t n, ts_buf *out)
{
	static const char sep = (char)0xFF;
	size_t len0 = out->len;
	for (size_t i = 0; i < n; i++) {
		int rc;
		if ((rc = ts_buf_puts(out, v[i].name)) || (rc = ts_buf_putc(out, sep)) ||
		    (rc = ts_buf_puts(out, v[i].value)) || (rc = ts_buf_putc(out, sep))) {
			/* All or nothing: drop the partial key so out is as the caller left it. */
			out->len = len0;
			if (out->data)
				out->data[len0] = '\0';
			return rc;
		}
	}
	return TS_OK;
}

uint64_t ts_series_hash(const ts_label *v, size_t n)
{
	/* Common case: build the key on the stack and hash it in one go (the one-shot hash
	 * is about twice as fast as streaming many short pieces). Larger keys are streamed,
	 * so this never allocates and never fails. Both hash the bytes of ts_series_key. */
	static const uint8_t sep = 0xFF;
	char stack[1024];
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		size_t ln = strlen(v[i].name), lv = strlen(v[i].value);
		if (ln + lv + 2 > sizeof(stack) - off)
			goto stream;
		memcpy(stack + off, v[i].name, ln);
		off += ln;
		stack[off++] = (char)sep;
		memcpy(stack + off, v[i].value, lv);
		off += lv;
		stack[off++] = (char)sep;
	}
	return ts_hash64(stack, off, 0);
stream:;
	ts_hash64_state st;
	ts_hash64_init(&st, 0);
	for (size_t i = 0; i < n; i++) {
		ts_hash64_update(&st, v[i].name, strlen(v[i].name));
		ts_hash64_update(&st, &sep, 1);
		ts_hash64_update(&st, v[i].value, strlen(v[i].value));
		ts_hash64_update(&st, &sep, 1);
	}
	return ts_hash64_digest(&st);
}

static bool is_alpha_(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

bool ts_metric_name_valid(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(is_alpha_(c) || c == ':' || (i > 0 && is_digit(c))))
			return false;
	}
	return true;
}

bool ts_label_name_valid(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(is_alpha_(c) || (i > 0 && is_digit(c))))
			return false;
	}
	return true;
}

bool ts_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + n;
	while (s < end) {
		unsigned char c = *s;
		if (c < 0x80) {
			s++;
			continue;
		}
		size_t len;
		uint32_t cp;
		if (c >= 0xC2 && c <= 0xDF)
			len = 2, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			len = 3, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			len = 4, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - s) < len)
			return false;
		for (size_t i = 1; i < len; i++) {
			if ((s[i] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3F);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		s += len;
	}
	return true;
}

size_t ts_name_sanitize(const char *s, size_t n, bool allow_colon, char *out, size_t cap)
{
	if (n == 0)
		return 0;
	size_t w = 0;
	if (is_digit((unsigned char)s[0])) {
		if (cap < 2)
			return 0;
		out[w++] = '_';
	}
	for (size_t i = 0; i < n; i++) {
		if (w + 1 >= cap)
			return 0;
		unsigned char c = (unsigned char)s[i];
		bool ok = is_alpha_(c) || is_digit(c) || (allow_colon && c == ':');
		out[w++] = ok ? (char)c : '_';
	}
	out[w] = '\0';
	return w;
}
