/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template_lex.c: the lexer of alert templates (Go 1.20's text/template/parse/lex.go).
 *
 * Tested by tests/alert/test_template.c (parse errors with positions).
 *
 * Produces the same items as Go's lexer for the same input: text between actions
 * (with {{- and -}} trimming applied), delimiters, spaces, identifiers and keywords,
 * fields, variables, numbers, strings, chars, and one ERROR item carrying Go's message
 * ("unclosed action", "unterminated quoted string", "bad character U+002D '-'", ...)
 * after which lexing stops. Comments are dropped. Differences: every non-ASCII byte
 * counts as a letter (Go asks unicode.IsLetter), and a stray ')' is passed to the parser
 * (which reports it) rather than rejected here, as the Go version promtool 2.42 was
 * built with does.
 */
#include "alert/template_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct lexer {
	const char *in;
	size_t len, pos, start;
	int paren_depth;
	size_t action; /* offset of the "{{" of the current action */
	alert_arena *a;
	alert_tpl_item *items;
	size_t n, cap;
	bool is_done;
	bool is_nomem;
} lexer;

static const struct {
	const char *word;
	alert_tpl_itype t;
} keywords[] = {
    {"block", ALERT_TPL_I_BLOCK},
    {"break", ALERT_TPL_I_BREAK},
    {"continue", ALERT_TPL_I_CONTINUE},
    {"define", ALERT_TPL_I_DEFINE},
    {"else", ALERT_TPL_I_ELSE},
    {"end", ALERT_TPL_I_END},
    {"if", ALERT_TPL_I_IF},
    {"nil", ALERT_TPL_I_NIL},
    {"range", ALERT_TPL_I_RANGE},
    {"template", ALERT_TPL_I_TEMPLATE},
    {"with", ALERT_TPL_I_WITH},
};

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Go's isAlphaNumeric; every non-ASCII byte counts as a letter. */
static bool is_alnum(int c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c >= 0x80;
}

static int peekc(const lexer *l)
{
	return l->pos < l->len ? (unsigned char)l->in[l->pos] : -1;
}

static bool has_prefix(const lexer *l, size_t at, const char *p)
{
	size_t n = strlen(p);
	return at <= l->len && l->len - at >= n && memcmp(l->in + at, p, n) == 0;
}

static bool left_trim_marker(const lexer *l, size_t at)
{
	return at + 2 <= l->len && l->in[at] == '-' && is_space((unsigned char)l->in[at + 1]);
}

static bool right_trim_marker(const lexer *l, size_t at)
{
	return at + 2 <= l->len && is_space((unsigned char)l->in[at]) && l->in[at + 1] == '-';
}

/* At "}}" or " -}}"? Sets *trim for the latter. */
static bool at_right_delim(const lexer *l, bool *trim)
{
	*trim = false;
	if (right_trim_marker(l, l->pos) && has_prefix(l, l->pos + 2, "}}")) {
		*trim = true;
		return true;
	}
	return has_prefix(l, l->pos, "}}");
}

static void emit_at(lexer *l, alert_tpl_itype t, size_t start, size_t end)
{
	if (l->is_nomem)
		return;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		alert_tpl_item *v = alert_arena_alloc(l->a, nc * sizeof(*v));
		if (!v) {
			l->is_nomem = true;
			return;
		}
		if (l->n)
			memcpy(v, l->items, l->n * sizeof(*v));
		l->items = v;
		l->cap = nc;
	}
	l->items[l->n++] =
	    (alert_tpl_item){t, (uint32_t)start, (uint32_t)(end - start), l->in + start};
	if (t == ALERT_TPL_I_EOF || t == ALERT_TPL_I_ERROR)
		l->is_done = true;
}

static void emit(lexer *l, alert_tpl_itype t)
{
	emit_at(l, t, l->start, l->pos);
	l->start = l->pos;
}

static void lex_errorf(lexer *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lex_errorf(lexer *l, const char *fmt, ...)
{
	char msg[160];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	emit_at(l, ALERT_TPL_I_ERROR, l->start, l->start);
	if (!l->is_nomem) {
		char *m = alert_arena_strndup(l->a, msg, (size_t)n);
		if (!m)
			l->is_nomem = true;
		l->items[l->n - 1].val = m;
		l->items[l->n - 1].len = (uint32_t)n;
	}
}

/* Go's %#U of the rune at p: "U+002D '-'". */
static void fmt_rune(const char *p, size_t n, char *out, size_t cap)
{
	unsigned c = n ? (unsigned char)p[0] : 0;
	if (c >= 0x20 && c < 0x7f)
		snprintf(out, cap, "U+%04X '%c'", c, (int)c);
	else if (c < 0x80)
		snprintf(out, cap, "U+%04X", c);
	else
		snprintf(out, cap, "U+%04X '%.*s'", c, (int)(n > 4 ? 1 : n), p);
}

static bool at_terminator(const lexer *l)
{
	int c = peekc(l);
	if (c == -1 || is_space(c) || c == '.' || c == ',' || c == '|' || c == ':' || c == ')' ||
	    c == '(')
		return true;
	return has_prefix(l, l->pos, "}}");
}

static void accept_run(lexer *l, const char *set)
{
	while (l->pos < l->len && strchr(set, l->in[l->pos]) && l->in[l->pos])
		l->pos++;
}

static bool accept(lexer *l, const char *set)
{
	if (l->pos < l->len && l->in[l->pos] && strchr(set, l->in[l->pos])) {
		l->pos++;
		return true;
	}
	return false;
}

/* Go's scanNumber. */
static bool scan_number(lexer *l)
{
	accept(l, "+-");
	const char *digits = "0123456789_";
	if (accept(l, "0")) {
		if (accept(l, "xX"))
			digits = "0123456789abcdefABCDEF_";
		else if (accept(l, "oO"))
			digits = "01234567_";
		else if (accept(l, "bB"))
			digits = "01_";
	}
	accept_run(l, digits);
	if (accept(l, "."))
		accept_run(l, digits);
	if (strlen(digits) == 11 && accept(l, "eE")) {
		accept(l, "+-");
		accept_run(l, "0123456789_");
	}
	if (strlen(digits) == 23 && accept(l, "pP")) {
		accept(l, "+-");
		accept_run(l, "0123456789_");
	}
	accept(l, "i");
	if (l->pos < l->len && is_alnum((unsigned char)l->in[l->pos])) {
		l->pos++;
		return false;
	}
	return true;
}

static void lex_number(lexer *l)
{
	if (!scan_number(l)) {
		lex_errorf(l, "bad number syntax: \"%.*s\"", (int)(l->pos - l->start),
			   l->in + l->start);
		return;
	}
	int c = peekc(l);
	if (c == '+' || c == '-') {
		if (!scan_number(l) || l->in[l->pos - 1] != 'i') {
			lex_errorf(l, "bad number syntax: \"%.*s\"", (int)(l->pos - l->start),
				   l->in + l->start);
			return;
		}
		emit(l, ALERT_TPL_I_COMPLEX);
		return;
	}
	emit(l, ALERT_TPL_I_NUMBER);
}

/* A quoted "..." or '...' body: scan to the closing quote. */
static void lex_quoted(lexer *l, char q, alert_tpl_itype t, const char *unterminated)
{
	for (;;) {
		int c = peekc(l);
		if (c == '\\') {
			l->pos++;
			c = peekc(l);
			if (c != -1 && c != '\n') {
				l->pos++;
				continue;
			}
		}
		if (c == -1 || c == '\n') {
			lex_errorf(l, "%s", unterminated);
			return;
		}
		l->pos++;
		if (c == q)
			break;
	}
	emit(l, t);
}

static void lex_field_or_variable(lexer *l, alert_tpl_itype t)
{
	if (at_terminator(l)) {
		emit(l, t == ALERT_TPL_I_VARIABLE ? ALERT_TPL_I_VARIABLE : ALERT_TPL_I_DOT);
		return;
	}
	while (l->pos < l->len && is_alnum((unsigned char)l->in[l->pos]))
		l->pos++;
	if (!at_terminator(l)) {
		char r[32];
		fmt_rune(l->in + l->pos, l->len - l->pos, r, sizeof(r));
		l->start = l->pos;
		lex_errorf(l, "bad character %s", r);
		return;
	}
	emit(l, t);
}

static void lex_identifier(lexer *l)
{
	while (l->pos < l->len && is_alnum((unsigned char)l->in[l->pos]))
		l->pos++;
	if (!at_terminator(l)) {
		char r[32];
		fmt_rune(l->in + l->pos, l->len - l->pos, r, sizeof(r));
		l->start = l->pos;
		lex_errorf(l, "bad character %s", r);
		return;
	}
	size_t n = l->pos - l->start;
	const char *w = l->in + l->start;
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strlen(keywords[i].word) == n && !memcmp(keywords[i].word, w, n)) {
			emit(l, keywords[i].t);
			return;
		}
	if ((n == 4 && !memcmp(w, "true", 4)) || (n == 5 && !memcmp(w, "false", 5)))
		emit(l, ALERT_TPL_I_BOOL);
	else
		emit(l, ALERT_TPL_I_IDENTIFIER);
}

static void lex_right_delim(lexer *l)
{
	bool trim;
	at_right_delim(l, &trim);
	if (trim) {
		l->pos += 2;
		l->start = l->pos;
	}
	l->pos += 2;
	emit(l, ALERT_TPL_I_RIGHT_DELIM);
	if (trim) {
		while (l->pos < l->len && is_space((unsigned char)l->in[l->pos]))
			l->pos++;
		l->start = l->pos;
	}
}

/* Inside {{ }}: returns false once the action ended (or an error/EOF was emitted). */
static bool lex_inside_action(lexer *l)
{
	bool trim;
	if (at_right_delim(l, &trim)) {
		if (l->paren_depth == 0) {
			lex_right_delim(l);
			return false;
		}
		lex_errorf(l, "unclosed left paren");
		return false;
	}
	int c = peekc(l);
	if (c == -1) {
		l->start = l->action;
		lex_errorf(l, "unclosed action");
		return false;
	}
	if (is_space(c)) {
		size_t n_spaces = 0;
		while (l->pos < l->len && is_space((unsigned char)l->in[l->pos])) {
			l->pos++;
			n_spaces++;
		}
		if (right_trim_marker(l, l->pos - 1) && has_prefix(l, l->pos + 1, "}}")) {
			l->pos--; /* before the space of " -}}" */
			if (n_spaces == 1) {
				lex_right_delim(l);
				return false;
			}
		}
		emit(l, ALERT_TPL_I_SPACE);
		return true;
	}
	l->pos++;
	switch (c) {
	case '=': emit(l, ALERT_TPL_I_ASSIGN); return true;
	case ':':
		if (peekc(l) != '=') {
			lex_errorf(l, "expected :=");
			return false;
		}
		l->pos++;
		emit(l, ALERT_TPL_I_DECLARE);
		return true;
	case '|': emit(l, ALERT_TPL_I_PIPE); return true;
	case '"': lex_quoted(l, '"', ALERT_TPL_I_STRING, "unterminated quoted string"); return true;
	case '\'':
		lex_quoted(l, '\'', ALERT_TPL_I_CHAR_CONSTANT, "unterminated character constant");
		return true;
	case '`': {
		const char *e = memchr(l->in + l->pos, '`', l->len - l->pos);
		if (!e) {
			lex_errorf(l, "unterminated raw quoted string");
			return false;
		}
		l->pos = (size_t)(e - l->in) + 1;
		emit(l, ALERT_TPL_I_RAW_STRING);
		return true;
	}
	case '$': lex_field_or_variable(l, ALERT_TPL_I_VARIABLE); return true;
	case '(':
		l->paren_depth++;
		emit(l, ALERT_TPL_I_LEFT_PAREN);
		return true;
	case ')':
		l->paren_depth--;
		emit(l, ALERT_TPL_I_RIGHT_PAREN);
		return true;
	}
	if (c == '.') {
		int d = peekc(l);
		if (d < '0' || d > '9') {
			lex_field_or_variable(l, ALERT_TPL_I_FIELD);
			return true;
		}
	}
	if (c == '.' || c == '+' || c == '-' || (c >= '0' && c <= '9')) {
		l->pos--;
		lex_number(l);
		return true;
	}
	if (is_alnum(c)) {
		l->pos--;
		lex_identifier(l);
		return true;
	}
	if (c < 0x7f && c >= 0x20) {
		emit(l, ALERT_TPL_I_CHAR);
		return true;
	}
	char r[32];
	fmt_rune(l->in + l->pos - 1, l->len - l->pos + 1, r, sizeof(r));
	lex_errorf(l, "unrecognized character in action: %s", r);
	return false;
}

static void lex_all(lexer *l)
{
	while (!l->is_done && !l->is_nomem) {
		/* text up to the next "{{" */
		const char *d = NULL;
		for (size_t i = l->pos; i + 1 < l->len; i++)
			if (l->in[i] == '{' && l->in[i + 1] == '{') {
				d = l->in + i;
				break;
			}
		if (!d) {
			if (l->len > l->start)
				emit_at(l, ALERT_TPL_I_TEXT, l->start, l->len);
			l->pos = l->start = l->len;
			emit(l, ALERT_TPL_I_EOF);
			return;
		}
		size_t at = (size_t)(d - l->in);
		size_t end = at;
		if (left_trim_marker(l, at + 2))
			while (end > l->start && is_space((unsigned char)l->in[end - 1]))
				end--;
		if (end > l->start)
			emit_at(l, ALERT_TPL_I_TEXT, l->start, end);
		l->pos = at + 2;
		bool trim = left_trim_marker(l, l->pos);
		size_t after = trim ? 2 : 0;
		if (has_prefix(l, l->pos + after, "/*")) {
			l->pos += after;
			l->start = l->pos;
			const char *c = NULL;
			for (size_t i = l->pos + 2; i + 1 < l->len; i++)
				if (l->in[i] == '*' && l->in[i + 1] == '/') {
					c = l->in + i;
					break;
				}
			if (!c) {
				lex_errorf(l, "unclosed comment");
				return;
			}
			l->pos = (size_t)(c - l->in) + 2;
			bool rtrim;
			if (!at_right_delim(l, &rtrim)) {
				lex_errorf(l, "comment ends before closing delimiter");
				return;
			}
			l->pos += (rtrim ? 2 : 0) + 2;
			if (rtrim)
				while (l->pos < l->len && is_space((unsigned char)l->in[l->pos]))
					l->pos++;
			l->start = l->pos;
			continue;
		}
		emit_at(l, ALERT_TPL_I_LEFT_DELIM, at, at + 2);
		l->action = at;
		l->pos += after;
		l->start = l->pos;
		l->paren_depth = 0;
		while (lex_inside_action(l) && !l->is_nomem)
			;
	}
}

int alert_tpl_lex(const char *in, size_t len, alert_arena *a, alert_tpl_item **items, size_t *n)
{
	lexer l = {.in = in, .len = len, .a = a};
	lex_all(&l);
	if (l.is_nomem || !l.n)
		return alert_arena_over_limit(a) ? TS_ELIMIT : TS_ENOMEM;
	*items = l.items;
	*n = l.n;
	return TS_OK;
}
