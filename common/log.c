/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: logfmt log lines (see ts_log.h).
 *
 * Each line is formatted into a stack buffer and written with one fwrite+fflush under
 * the stdio lock, so lines from different threads never interleave. Messages longer
 * than the buffer are truncated (never inside an escape). Control characters are escaped
 * so one call is always one line. The caller path is shortened to "module/file.c".
 */
#include "common/ts_log.h"

#include "common/globals.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void ts_log_set_level(ts_log_level level)
{
	atomic_store(&ts_g_log_level, (int)level);
}

int ts_log_level_parse(const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void ts_log_set_file(FILE *f)
{
	ts_g_log_file = f;
}

bool ts_log_enabled(ts_log_level level)
{
	return (int)level <= atomic_load_explicit(&ts_g_log_level, memory_order_relaxed);
}

/* Keep the last two path components: "/x/y/tsdb/head.c" -> "tsdb/head.c". */
static const char *short_path(const char *file)
{
	const char *last = strrchr(file, '/');
	if (!last)
		return file;
	const char *p = last;
	while (p > file && p[-1] != '/')
		p--;
	return p;
}

void ts_log_write(ts_log_level level, const char *file, int line, const char *fmt, ...)
{
	char buf[2048];
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	time_t secs = tv.tv_sec;
	gmtime_r(&secs, &tm);
	int n =
	    snprintf(buf, sizeof(buf),
		     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s caller=%s:%d msg=\"",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (long)(tv.tv_usec / 1000), level_names[level & 3], short_path(file), line);
	if (n < 0 || (size_t)n > sizeof(buf) - 2)
		return;
	char msg[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Escape as go-logfmt does (JSON-style) so a line stays one logfmt record: quotes,
	 * backslashes, \n \r \t, and other control bytes as \u00XX. An escape is written
	 * whole or not at all; the loop leaves room for the closing quote and newline. */
	static const char hex[] = "0123456789abcdef";
	for (const char *m = msg; *m; m++) {
		unsigned char c = (unsigned char)*m;
		char esc[6];
		size_t k = 0;
		if (c == '"' || c == '\\') {
			esc[k++] = '\\';
			esc[k++] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			esc[k++] = '\\';
			esc[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			k = 6;
		} else {
			esc[k++] = (char)c;
		}
		if ((size_t)n + k > sizeof(buf) - 2)
			break;
		memcpy(buf + n, esc, k);
		n += (int)k;
	}
	buf[n++] = '"';
	buf[n++] = '\n';
	FILE *out = ts_g_log_file ? ts_g_log_file : stderr;
	flockfile(out);
	fwrite(buf, 1, (size_t)n, out);
	fflush(out);
	funlockfile(out);
	atomic_fetch_add_explicit(&ts_g_stats.log_lines[level & 3], 1, memory_order_relaxed);
}
