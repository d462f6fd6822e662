/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lexer.c: the PromQL lexer, plus the Go-compatible text helpers its messages need.
 *
 * The lexer is a state machine that mirrors Prometheus 2.42's promql/parser/lex.go state
 * for state, because the parser's error messages and positions depend on exactly where a
 * token starts and which context it was scanned in:
 *  - top level ("statements"): operators, numbers and durations (a number followed by a
 *    unit letter is a duration), strings, identifiers and keywords (case-insensitive;
 *    "inf" and "nan" are numbers), '@', brackets; ':' or a letter inside [] is the
 *    subquery colon (a 2.42 quirk kept on purpose);
 *  - inside {}: identifiers (keywords are plain identifiers here), strings, the four
 *    matcher operators and commas;
 *  - right after '[' (spaces skipped): a duration only.
 * Unbalanced ( and [ are detected here ("unclosed left parenthesis"). Runes are decoded
 * like Go (invalid bytes become U+FFFD), positions are byte offsets.
 *
 * Errors produce one QUERY_TOK_ERROR token whose position is where the failing token
 * started (Prometheus' l.start); afterwards only EOF tokens follow. Unlike Go's lexer we
 * never continue after an escape-sequence error (the parser stops at the first error).
 *
 * The second half implements Go's strconv quoting (%q of strings and runes, %#U) used by
 * messages and by the printer (ast.c), and Go's UTF-8 decoding.
 */
#include "query/ast.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define EOF_RUNE   (-1)
#define RUNE_ERROR 0xFFFD

enum lex_state {
	ST_NIL = 0,
	ST_STATEMENTS,
	ST_INSIDE_BRACES,
	ST_LINE_COMMENT,
	ST_SPACE,
	ST_STRING,
	ST_RAW_STRING,
	ST_ESCAPE,
	ST_DURATION,
	ST_NUMBER_OR_DURATION,
	ST_KEYWORD_OR_IDENTIFIER,
	ST_IDENTIFIER,
};

/* ================================================================ rune primitives */

static int32_t next(query_lexer *l)
{
	if (l->pos >= l->len) {
		l->width = 0;
		return EOF_RUNE;
	}
	size_t w;
	int32_t r = query_utf8_decode(l->in + l->pos, l->len - l->pos, &w);
	l->width = w;
	l->pos += w;
	return r;
}

static void backup(query_lexer *l)
{
	l->pos -= l->width;
}

static int32_t peek(query_lexer *l)
{
	int32_t r = next(l);
	backup(l);
	return r;
}

static bool in_set(int32_t r, const char *set)
{
	return r > 0 && r < 0x80 && strchr(set, (int)r) != NULL;
}

static bool accept(query_lexer *l, const char *set)
{
	if (in_set(next(l), set))
		return true;
	backup(l);
	return false;
}

static void accept_run(query_lexer *l, const char *set)
{
	while (in_set(next(l), set))
		;
	backup(l);
}

static bool is_space(int32_t r)
{
	return r == ' ' || r == '\t' || r == '\n' || r == '\r';
}

static bool is_alpha(int32_t r)
{
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
}

static bool is_digit(int32_t r)
{
	return r >= '0' && r <= '9';
}

static bool is_alnum(int32_t r)
{
	return is_alpha(r) || is_digit(r);
}

static void emit(query_lexer *l, query_tok t)
{
	l->out->type = t;
	l->out->pos = (uint32_t)l->start;
	l->out->len = (uint32_t)(l->pos - l->start);
	l->start = l->pos;
	l->scanned = true;
}

static void ignore(query_lexer *l)
{
	l->start = l->pos;
}

/* Produce an ERROR token at l->start with a printf message; the lexer stops. */
__attribute__((format(printf, 2, 3))) static int errorf(query_lexer *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->err_msg, sizeof(l->err_msg), fmt, ap);
	va_end(ap);
	l->out->type = QUERY_TOK_ERROR;
	l->out->pos = (uint32_t)l->start;
	l->out->len = 0;
	l->scanned = true;
	return ST_NIL;
}

/* Go's %q of a substring of the input, truncated to what fits in dst. */
static const char *quote_span(char *dst, size_t cap, const char *s, size_t n);

/* ================================================================ keywords */

static const struct {
	const char *word;
	query_tok tok;
} keywords[] = {
    {"and", QUERY_TOK_LAND},
    {"or", QUERY_TOK_LOR},
    {"unless", QUERY_TOK_LUNLESS},
    {"atan2", QUERY_TOK_ATAN2},
    {"sum", QUERY_TOK_SUM},
    {"avg", QUERY_TOK_AVG},
    {"count", QUERY_TOK_COUNT},
    {"min", QUERY_TOK_MIN},
    {"max", QUERY_TOK_MAX},
    {"group", QUERY_TOK_GROUP},
    {"stddev", QUERY_TOK_STDDEV},
    {"stdvar", QUERY_TOK_STDVAR},
    {"topk", QUERY_TOK_TOPK},
    {"bottomk", QUERY_TOK_BOTTOMK},
    {"count_values", QUERY_TOK_COUNT_VALUES},
    {"quantile", QUERY_TOK_QUANTILE},
    {"offset", QUERY_TOK_OFFSET},
    {"by", QUERY_TOK_BY},
    {"without", QUERY_TOK_WITHOUT},
    {"on", QUERY_TOK_ON},
    {"ignoring", QUERY_TOK_IGNORING},
    {"group_left", QUERY_TOK_GROUP_LEFT},
    {"group_right", QUERY_TOK_GROUP_RIGHT},
    {"bool", QUERY_TOK_BOOL},
    {"start", QUERY_TOK_START},
    {"end", QUERY_TOK_END},
    {"inf", QUERY_TOK_NUMBER},
    {"nan", QUERY_TOK_NUMBER},
};

/* Keyword token for word[0..n) compared case-insensitively (ASCII), or -1. */
static int keyword_lookup(const char *word, size_t n)
{
	for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
		const char *kw = keywords[k].word;
		if (strlen(kw) != n)
			continue;
		size_t i = 0;
		while (i < n) {
			char c = word[i];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != kw[i])
				break;
			i++;
		}
		if (i == n)
			return (int)keywords[k].tok;
	}
	return -1;
}

/* ================================================================ states */

/* Scan a number (decimal, hex, octal, float, exponent) as lex.go's scanNumber does. The
 * scanned text need not be a valid number; the parser checks. */
static bool scan_number(query_lexer *l)
{
	const char *digits = "0123456789";
	if (accept(l, "0") && accept(l, "xX"))
		digits = "0123456789abcdefABCDEF";
	accept_run(l, digits);
	if (accept(l, "."))
		accept_run(l, digits);
	if (accept(l, "eE")) {
		accept(l, "+-");
		accept_run(l, "0123456789");
	}
	return !is_alnum(peek(l));
}

/* The rest of a duration after its leading digits (lex.go's acceptRemainingDuration). */
static bool accept_remaining_duration(query_lexer *l)
{
	if (!accept(l, "smhdwy"))
		return false;
	accept(l, "s"); /* "ms"; bad units like "hs" are caught when parsing the value */
	while (accept(l, "0123456789")) {
		while (accept(l, "0123456789"))
			;
		if (!accept(l, "smhdw"))
			return false;
		accept(l, "s");
	}
	return !is_alnum(next(l));
}

static int lex_statements(query_lexer *l)
{
	if (l->brace_open)
		return ST_INSIDE_BRACES;
	if (l->pos < l->len && l->in[l->pos] == '#')
		return ST_LINE_COMMENT;

	char q[QUERY_RUNE_TEXT_MAX];
	int32_t r = next(l);
	switch (r) {
	case EOF_RUNE:
		if (l->paren_depth != 0)
			return errorf(l, "unclosed left parenthesis");
		if (l->bracket_open)
			return errorf(l, "unclosed left bracket");
		emit(l, QUERY_TOK_EOF);
		return ST_NIL;
	case ',': emit(l, QUERY_TOK_COMMA); break;
	case ' ':
	case '\t':
	case '\n':
	case '\r': return ST_SPACE;
	case '*': emit(l, QUERY_TOK_MUL); break;
	case '/': emit(l, QUERY_TOK_DIV); break;
	case '%': emit(l, QUERY_TOK_MOD); break;
	case '+': emit(l, QUERY_TOK_ADD); break;
	case '-': emit(l, QUERY_TOK_SUB); break;
	case '^': emit(l, QUERY_TOK_POW); break;
	case '=': {
		int32_t t = peek(l);
		if (t == '=') {
			next(l);
			emit(l, QUERY_TOK_EQLC);
		} else if (t == '~') {
			query_quote_rune(q, t);
			return errorf(l, "unexpected character after '=': %s", q);
		} else {
			emit(l, QUERY_TOK_EQL);
		}
		break;
	}
	case '!': {
		int32_t t = next(l);
		if (t != '=') {
			query_quote_rune(q, t);
			return errorf(l, "unexpected character after '!': %s", q);
		}
		emit(l, QUERY_TOK_NEQ);
		break;
	}
	case '<':
		if (peek(l) == '=') {
			next(l);
			emit(l, QUERY_TOK_LTE);
		} else {
			emit(l, QUERY_TOK_LSS);
		}
		break;
	case '>':
		if (peek(l) == '=') {
			next(l);
			emit(l, QUERY_TOK_GTE);
		} else {
			emit(l, QUERY_TOK_GTR);
		}
		break;
	case '"':
	case '\'': l->string_open = r; return ST_STRING;
	case '`': l->string_open = r; return ST_RAW_STRING;
	case '(':
		emit(l, QUERY_TOK_LEFT_PAREN);
		l->paren_depth++;
		break;
	case ')':
		emit(l, QUERY_TOK_RIGHT_PAREN);
		l->paren_depth--;
		if (l->paren_depth < 0)
			return errorf(l, "unexpected right parenthesis ')'");
		break;
	case '{':
		emit(l, QUERY_TOK_LEFT_BRACE);
		l->brace_open = true;
		return ST_INSIDE_BRACES;
	case '[':
		if (l->bracket_open)
			return errorf(l, "unexpected left bracket '['");
		l->got_colon = false;
		emit(l, QUERY_TOK_LEFT_BRACKET);
		while (is_space(peek(l)))
			next(l);
		ignore(l);
		l->bracket_open = true;
		return ST_DURATION;
	case ']':
		if (!l->bracket_open)
			return errorf(l, "unexpected right bracket ']'");
		emit(l, QUERY_TOK_RIGHT_BRACKET);
		l->bracket_open = false;
		break;
	case '@': emit(l, QUERY_TOK_AT); break;
	default:
		if (is_digit(r) || (r == '.' && is_digit(peek(l)))) {
			backup(l);
			return ST_NUMBER_OR_DURATION;
		}
		if (is_alpha(r) || r == ':') {
			if (!l->bracket_open) {
				backup(l);
				return ST_KEYWORD_OR_IDENTIFIER;
			}
			/* Inside [] (2.42): a letter or ':' is the subquery colon. */
			if (l->got_colon) {
				query_quote_rune(q, r);
				return errorf(l, "unexpected colon %s", q);
			}
			emit(l, QUERY_TOK_COLON);
			l->got_colon = true;
			break;
		}
		query_quote_rune(q, r);
		return errorf(l, "unexpected character: %s", q);
	}
	return ST_STATEMENTS;
}

static int lex_inside_braces(query_lexer *l)
{
	if (l->pos < l->len && l->in[l->pos] == '#')
		return ST_LINE_COMMENT;

	char q[QUERY_RUNE_TEXT_MAX];
	int32_t r = next(l);
	switch (r) {
	case EOF_RUNE: return errorf(l, "unexpected end of input inside braces");
	case ' ':
	case '\t':
	case '\n':
	case '\r': return ST_SPACE;
	case ',': emit(l, QUERY_TOK_COMMA); break;
	case '"':
	case '\'': l->string_open = r; return ST_STRING;
	case '`': l->string_open = r; return ST_RAW_STRING;
	case '=':
		if (next(l) == '~') {
			emit(l, QUERY_TOK_EQL_REGEX);
			break;
		}
		backup(l);
		emit(l, QUERY_TOK_EQL);
		break;
	case '!': {
		int32_t nr = next(l);
		if (nr == '~') {
			emit(l, QUERY_TOK_NEQ_REGEX);
		} else if (nr == '=') {
			emit(l, QUERY_TOK_NEQ);
		} else {
			query_quote_rune(q, nr);
			return errorf(l, "unexpected character after '!' inside braces: %s", q);
		}
		break;
	}
	case '{': return errorf(l, "unexpected left brace '{'");
	case '}':
		emit(l, QUERY_TOK_RIGHT_BRACE);
		l->brace_open = false;
		return ST_STATEMENTS;
	default:
		if (is_alpha(r)) {
			backup(l);
			return ST_IDENTIFIER;
		}
		query_quote_rune(q, r);
		return errorf(l, "unexpected character inside braces: %s", q);
	}
	return ST_INSIDE_BRACES;
}

static int lex_line_comment(query_lexer *l)
{
	l->pos += 1; /* '#' */
	int32_t r = next(l);
	while (r != '\r' && r != '\n' && r != EOF_RUNE)
		r = next(l);
	backup(l);
	emit(l, QUERY_TOK_COMMENT);
	return ST_STATEMENTS;
}

static int lex_space(query_lexer *l)
{
	while (is_space(peek(l)))
		next(l);
	ignore(l);
	return ST_STATEMENTS;
}

static int lex_string(query_lexer *l)
{
	for (;;) {
		int32_t r = next(l);
		if (r == '\\')
			return ST_ESCAPE;
		if (r == RUNE_ERROR)
			return errorf(l, "invalid UTF-8 rune");
		if (r == EOF_RUNE || r == '\n')
			return errorf(l, "unterminated quoted string");
		if (r == l->string_open)
			break;
	}
	emit(l, QUERY_TOK_STRING);
	return ST_STATEMENTS;
}

static int lex_raw_string(query_lexer *l)
{
	for (;;) {
		int32_t r = next(l);
		if (r == RUNE_ERROR)
			return errorf(l, "invalid UTF-8 rune");
		if (r == EOF_RUNE)
			return errorf(l, "unterminated raw string");
		if (r == l->string_open)
			break;
	}
	emit(l, QUERY_TOK_STRING);
	return ST_STATEMENTS;
}

static uint32_t digit_val(int32_t ch)
{
	if (ch >= '0' && ch <= '9')
		return (uint32_t)(ch - '0');
	if (ch >= 'a' && ch <= 'f')
		return (uint32_t)(ch - 'a' + 10);
	if (ch >= 'A' && ch <= 'F')
		return (uint32_t)(ch - 'A' + 10);
	return 16;
}

/* A string escape; the backslash has been consumed (lex.go's lexEscape). */
static int lex_escape(query_lexer *l)
{
	char u[QUERY_RUNE_TEXT_MAX];
	int n;
	uint32_t base, max;
	int32_t ch = next(l);
	switch (ch) {
	case 'a':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
	case 'v':
	case '\\': return ST_STRING;
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7': n = 3, base = 8, max = 255; break;
	case 'x':
		ch = next(l);
		n = 2, base = 16, max = 255;
		break;
	case 'u':
		ch = next(l);
		n = 4, base = 16, max = 0x10FFFF;
		break;
	case 'U':
		ch = next(l);
		n = 8, base = 16, max = 0x10FFFF;
		break;
	case EOF_RUNE: return errorf(l, "escape sequence not terminated");
	default:
		if (ch == l->string_open)
			return ST_STRING;
		query_format_unicode(u, ch);
		return errorf(l, "unknown escape sequence %s", u);
	}
	uint32_t x = 0;
	while (n > 0) {
		uint32_t d = digit_val(ch);
		if (d >= base) {
			if (ch == EOF_RUNE)
				return errorf(l, "escape sequence not terminated");
			query_format_unicode(u, ch);
			return errorf(l, "illegal character %s in escape sequence", u);
		}
		x = x * base + d;
		n--;
		if (n > 0)
			ch = next(l);
	}
	if (x > max || (x >= 0xD800 && x < 0xE000))
		return errorf(l, "escape sequence is an invalid Unicode code point");
	return ST_STRING;
}

/* Right after '[': a duration must follow (lex.go's lexDuration). */
static int lex_duration(query_lexer *l)
{
	char q[128];
	if (scan_number(l))
		return errorf(l, "missing unit character in duration");
	if (!accept_remaining_duration(l))
		return errorf(l, "bad duration syntax: %s",
			      quote_span(q, sizeof(q), l->in + l->start, l->pos - l->start));
	backup(l);
	emit(l, QUERY_TOK_DURATION);
	return ST_STATEMENTS;
}

static int lex_number_or_duration(query_lexer *l)
{
	char q[128];
	if (scan_number(l)) {
		emit(l, QUERY_TOK_NUMBER);
		return ST_STATEMENTS;
	}
	if (accept_remaining_duration(l)) {
		backup(l);
		emit(l, QUERY_TOK_DURATION);
		return ST_STATEMENTS;
	}
	return errorf(l, "bad number or duration syntax: %s",
		      quote_span(q, sizeof(q), l->in + l->start, l->pos - l->start));
}

static int lex_keyword_or_identifier(query_lexer *l)
{
	for (;;) {
		int32_t r = next(l);
		if (is_alnum(r) || r == ':')
			continue;
		backup(l);
		const char *word = l->in + l->start;
		size_t n = l->pos - l->start;
		int kw = keyword_lookup(word, n);
		if (kw >= 0)
			emit(l, (query_tok)kw);
		else if (memchr(word, ':', n))
			emit(l, QUERY_TOK_METRIC_IDENTIFIER);
		else
			emit(l, QUERY_TOK_IDENTIFIER);
		return ST_STATEMENTS;
	}
}

static int lex_identifier(query_lexer *l)
{
	while (is_alnum(next(l)))
		;
	backup(l);
	emit(l, QUERY_TOK_IDENTIFIER);
	return ST_STATEMENTS;
}

static int step(query_lexer *l, int state)
{
	switch (state) {
	case ST_STATEMENTS: return lex_statements(l);
	case ST_INSIDE_BRACES: return lex_inside_braces(l);
	case ST_LINE_COMMENT: return lex_line_comment(l);
	case ST_SPACE: return lex_space(l);
	case ST_STRING: return lex_string(l);
	case ST_RAW_STRING: return lex_raw_string(l);
	case ST_ESCAPE: return lex_escape(l);
	case ST_DURATION: return lex_duration(l);
	case ST_NUMBER_OR_DURATION: return lex_number_or_duration(l);
	case ST_KEYWORD_OR_IDENTIFIER: return lex_keyword_or_identifier(l);
	case ST_IDENTIFIER: return lex_identifier(l);
	}
	return ST_NIL;
}

void query_lexer_init(query_lexer *l, const char *in, size_t len)
{
	memset(l, 0, sizeof(*l));
	l->in = in;
	l->len = len;
	l->state = ST_STATEMENTS;
}

void query_lexer_next(query_lexer *l, query_token *tok)
{
	l->scanned = false;
	l->out = tok;
	if (l->state == ST_NIL) {
		tok->type = QUERY_TOK_EOF;
		tok->pos = (uint32_t)l->pos;
		tok->len = 0;
		return;
	}
	while (!l->scanned)
		l->state = step(l, l->state);
}

/* ================================================================ token names */

bool query_tok_is_operator(query_tok t)
{
	return t >= QUERY_TOK_ADD && t <= QUERY_TOK_ATAN2;
}

bool query_tok_is_aggregator(query_tok t)
{
	return t >= QUERY_TOK_AVG && t <= QUERY_TOK_TOPK;
}

bool query_tok_is_keyword(query_tok t)
{
	return t >= QUERY_TOK_BOOL && t <= QUERY_TOK_WITHOUT;
}

const char *query_tok_name(query_tok t)
{
	static const char *const names[] = {
	    [QUERY_TOK_EOF] = "end of input",
	    [QUERY_TOK_ERROR] = "error",
	    [QUERY_TOK_COMMENT] = "comment",
	    [QUERY_TOK_IDENTIFIER] = "identifier",
	    [QUERY_TOK_METRIC_IDENTIFIER] = "metric identifier",
	    [QUERY_TOK_NUMBER] = "number",
	    [QUERY_TOK_STRING] = "string",
	    [QUERY_TOK_DURATION] = "duration",
	    [QUERY_TOK_LEFT_PAREN] = "(",
	    [QUERY_TOK_RIGHT_PAREN] = ")",
	    [QUERY_TOK_LEFT_BRACE] = "{",
	    [QUERY_TOK_RIGHT_BRACE] = "}",
	    [QUERY_TOK_LEFT_BRACKET] = "[",
	    [QUERY_TOK_RIGHT_BRACKET] = "]",
	    [QUERY_TOK_COMMA] = ",",
	    [QUERY_TOK_EQL] = "=",
	    [QUERY_TOK_COLON] = ":",
	    [QUERY_TOK_ADD] = "+",
	    [QUERY_TOK_SUB] = "-",
	    [QUERY_TOK_MUL] = "*",
	    [QUERY_TOK_DIV] = "/",
	    [QUERY_TOK_MOD] = "%",
	    [QUERY_TOK_POW] = "^",
	    [QUERY_TOK_EQLC] = "==",
	    [QUERY_TOK_NEQ] = "!=",
	    [QUERY_TOK_LTE] = "<=",
	    [QUERY_TOK_LSS] = "<",
	    [QUERY_TOK_GTE] = ">=",
	    [QUERY_TOK_GTR] = ">",
	    [QUERY_TOK_EQL_REGEX] = "=~",
	    [QUERY_TOK_NEQ_REGEX] = "!~",
	    [QUERY_TOK_AT] = "@",
	    [QUERY_TOK_LAND] = "and",
	    [QUERY_TOK_LOR] = "or",
	    [QUERY_TOK_LUNLESS] = "unless",
	    [QUERY_TOK_ATAN2] = "atan2",
	    [QUERY_TOK_AVG] = "avg",
	    [QUERY_TOK_BOTTOMK] = "bottomk",
	    [QUERY_TOK_COUNT] = "count",
	    [QUERY_TOK_COUNT_VALUES] = "count_values",
	    [QUERY_TOK_GROUP] = "group",
	    [QUERY_TOK_MAX] = "max",
	    [QUERY_TOK_MIN] = "min",
	    [QUERY_TOK_QUANTILE] = "quantile",
	    [QUERY_TOK_STDDEV] = "stddev",
	    [QUERY_TOK_STDVAR] = "stdvar",
	    [QUERY_TOK_SUM] = "sum",
	    [QUERY_TOK_TOPK] = "topk",
	    [QUERY_TOK_BOOL] = "bool",
	    [QUERY_TOK_BY] = "by",
	    [QUERY_TOK_GROUP_LEFT] = "group_left",
	    [QUERY_TOK_GROUP_RIGHT] = "group_right",
	    [QUERY_TOK_IGNORING] = "ignoring",
	    [QUERY_TOK_OFFSET] = "offset",
	    [QUERY_TOK_ON] = "on",
	    [QUERY_TOK_WITHOUT] = "without",
	    [QUERY_TOK_START] = "start",
	    [QUERY_TOK_END] = "end",
	};
	if ((size_t)t < sizeof(names) / sizeof(names[0]) && names[t])
		return names[t];
	return "?";
}

/* Append Go's "%.10q..." (at most 10 runes quoted, then "...") or "%q" of s[0..n). */
static int quote_val(ts_buf *out, const char *s, size_t n, bool truncate)
{
	if (!truncate)
		return query_quote(out, s, n);
	size_t runes = 0, i = 0;
	while (i < n) {
		size_t w;
		query_utf8_decode(s + i, n - i, &w);
		i += w;
		runes++;
	}
	if (runes <= 10)
		return query_quote(out, s, n);
	size_t cut = 0;
	for (int k = 0; k < 10; k++) {
		size_t w;
		query_utf8_decode(s + cut, n - cut, &w);
		cut += w;
	}
	int rc = query_quote(out, s, cut);
	return rc ? rc : ts_buf_puts(out, "...");
}

int query_token_desc(const query_token *t, const char *in, ts_buf *out)
{
	const char *val = in + t->pos;
	size_t n = t->len;
	int rc;
	switch (t->type) {
	case QUERY_TOK_EOF: return ts_buf_puts(out, "end of input");
	case QUERY_TOK_IDENTIFIER:
	case QUERY_TOK_METRIC_IDENTIFIER:
		rc = ts_buf_printf(out, "%s ", query_tok_name(t->type));
		return rc ? rc : query_quote(out, val, n);
	case QUERY_TOK_NUMBER:
	case QUERY_TOK_STRING:
	case QUERY_TOK_DURATION:
	case QUERY_TOK_COMMENT:
	case QUERY_TOK_ERROR:
		rc = ts_buf_printf(out, "%s ", query_tok_name(t->type));
		return rc ? rc : quote_val(out, val, n, true);
	default: break;
	}
	if (query_tok_is_keyword(t->type))
		return ts_buf_printf(out, "<%.*s>", (int)n, val);
	if (query_tok_is_operator(t->type))
		return ts_buf_printf(out, "<op:%.*s>", (int)n, val);
	if (query_tok_is_aggregator(t->type))
		return ts_buf_printf(out, "<aggr:%.*s>", (int)n, val);
	return quote_val(out, val, n, true);
}

/* ================================================================ Go-compatible text */

int32_t query_utf8_decode(const char *s, size_t n, size_t *width)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char c = p[0];
	*width = 1;
	if (c < 0x80)
		return c;
	int need;
	int32_t r, min;
	if (c >= 0xC2 && c <= 0xDF)
		need = 1, r = c & 0x1F, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 2, r = c & 0x0F, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 3, r = c & 0x07, min = 0x10000;
	else
		return RUNE_ERROR;
	if ((size_t)need >= n)
		return RUNE_ERROR;
	for (int k = 1; k <= need; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return RUNE_ERROR;
		r = (r << 6) | (p[k] & 0x3F);
	}
	if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		return RUNE_ERROR;
	*width = (size_t)need + 1;
	return r;
}

bool query_rune_is_print(int32_t r)
{
	/* Ranges Go's unicode.IsPrint rejects: controls, non-ASCII spaces, format
	 * characters, separators, surrogates, private use and noncharacters. Unassigned
	 * code points are treated as printable (a documented approximation). */
	static const int32_t not_print[][2] = {
	    {0x0000, 0x001F},   {0x007F, 0x00A0},   {0x00AD, 0x00AD},    {0x0600, 0x0605},
	    {0x061C, 0x061C},   {0x06DD, 0x06DD},   {0x070F, 0x070F},    {0x08E2, 0x08E2},
	    {0x1680, 0x1680},   {0x180E, 0x180E},   {0x2000, 0x200F},    {0x2028, 0x202F},
	    {0x205F, 0x2064},   {0x2066, 0x206F},   {0x3000, 0x3000},    {0xD800, 0xF8FF},
	    {0xFDD0, 0xFDEF},   {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},    {0xFFFE, 0xFFFF},
	    {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F},  {0x1BCA0, 0x1BCA3},
	    {0x1D173, 0x1D17A}, {0xE0000, 0xE00FF}, {0xE01F0, 0x10FFFF},
	};
	if (r < 0 || r > 0x10FFFF)
		return false;
	if (r >= 0x20 && r < 0x7F)
		return true;
	for (size_t k = 0; k < sizeof(not_print) / sizeof(not_print[0]); k++)
		if (r >= not_print[k][0] && r <= not_print[k][1])
			return false;
	if ((r & 0xFFFE) == 0xFFFE) /* U+xFFFE and U+xFFFF of every plane */
		return false;
	return true;
}

static size_t put_utf8(char *dst, int32_t r)
{
	if (r < 0x80) {
		dst[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		dst[0] = (char)(0xC0 | (r >> 6));
		dst[1] = (char)(0x80 | (r & 0x3F));
		return 2;
	}
	if (r < 0x10000) {
		dst[0] = (char)(0xE0 | (r >> 12));
		dst[1] = (char)(0x80 | ((r >> 6) & 0x3F));
		dst[2] = (char)(0x80 | (r & 0x3F));
		return 3;
	}
	dst[0] = (char)(0xF0 | (r >> 18));
	dst[1] = (char)(0x80 | ((r >> 12) & 0x3F));
	dst[2] = (char)(0x80 | ((r >> 6) & 0x3F));
	dst[3] = (char)(0x80 | (r & 0x3F));
	return 4;
}

/* Go's appendEscapedRune: the escaped form of rune r inside quotes `quote`; at most 10
 * bytes, not NUL-terminated. */
static size_t escape_rune(char *dst, int32_t r, char quote)
{
	static const char hex[] = "0123456789abcdef";
	if (r == quote || r == '\\') {
		dst[0] = '\\';
		dst[1] = (char)r;
		return 2;
	}
	if (query_rune_is_print(r))
		return put_utf8(dst, r);
	switch (r) {
	case '\a': memcpy(dst, "\\a", 2); return 2;
	case '\b': memcpy(dst, "\\b", 2); return 2;
	case '\f': memcpy(dst, "\\f", 2); return 2;
	case '\n': memcpy(dst, "\\n", 2); return 2;
	case '\r': memcpy(dst, "\\r", 2); return 2;
	case '\t': memcpy(dst, "\\t", 2); return 2;
	case '\v': memcpy(dst, "\\v", 2); return 2;
	default: break;
	}
	if (r < ' ' || r == 0x7F) {
		dst[0] = '\\';
		dst[1] = 'x';
		dst[2] = hex[(r >> 4) & 0xF];
		dst[3] = hex[r & 0xF];
		return 4;
	}
	if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		r = RUNE_ERROR;
	if (r < 0x10000) {
		dst[0] = '\\';
		dst[1] = 'u';
		for (int k = 0; k < 4; k++)
			dst[2 + k] = hex[(r >> (12 - 4 * k)) & 0xF];
		return 6;
	}
	dst[0] = '\\';
	dst[1] = 'U';
	for (int k = 0; k < 8; k++)
		dst[2 + k] = hex[(r >> (28 - 4 * k)) & 0xF];
	return 10;
}

/* The escaped form of the rune at s[0..n) (an invalid byte becomes \xNN); sets *width. */
static size_t escape_at(char *dst, const char *s, size_t n, size_t *width)
{
	int32_t r = query_utf8_decode(s, n, width);
	if (r == RUNE_ERROR && *width == 1) {
		static const char hex[] = "0123456789abcdef";
		unsigned char b = (unsigned char)s[0];
		dst[0] = '\\';
		dst[1] = 'x';
		dst[2] = hex[b >> 4];
		dst[3] = hex[b & 0xF];
		return 4;
	}
	return escape_rune(dst, r, '"');
}

int query_quote(ts_buf *out, const char *s, size_t n)
{
	int rc = ts_buf_putc(out, '"');
	size_t i = 0;
	while (rc == TS_OK && i < n) {
		char tmp[16];
		size_t w;
		size_t k = escape_at(tmp, s + i, n - i, &w);
		rc = ts_buf_append(out, tmp, k);
		i += w;
	}
	return rc ? rc : ts_buf_putc(out, '"');
}

static const char *quote_span(char *dst, size_t cap, const char *s, size_t n)
{
	size_t len = 0, i = 0;
	dst[len++] = '"';
	while (i < n) {
		char tmp[16];
		size_t w;
		size_t k = escape_at(tmp, s + i, n - i, &w);
		if (len + k + 5 > cap) { /* room for `..."` and NUL */
			memcpy(dst + len, "...", 3);
			len += 3;
			break;
		}
		memcpy(dst + len, tmp, k);
		len += k;
		i += w;
	}
	dst[len++] = '"';
	dst[len] = '\0';
	return dst;
}

size_t query_quote_rune(char out[QUERY_RUNE_TEXT_MAX], int32_t r)
{
	if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		r = RUNE_ERROR;
	size_t len = 0;
	out[len++] = '\'';
	len += escape_rune(out + len, r, '\'');
	out[len++] = '\'';
	out[len] = '\0';
	return len;
}

size_t query_format_unicode(char out[QUERY_RUNE_TEXT_MAX], int32_t r)
{
	int len = snprintf(out, QUERY_RUNE_TEXT_MAX, "U+%04X", (unsigned)r);
	if (r >= 0 && r <= 0x10FFFF && query_rune_is_print(r)) {
		out[len++] = ' ';
		out[len++] = '\'';
		len += (int)put_utf8(out + len, r);
		out[len++] = '\'';
		out[len] = '\0';
	}
	return (size_t)len;
}
