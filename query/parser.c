/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parser.c: the PromQL parser: tokens to a query_expr tree in a query_arena.
 *
 * Prometheus 2.42 generates its parser with goyacc (promql/parser/generated_parser.y).
 * This is a hand-written recursive-descent parser with precedence climbing that accepts
 * the same language, builds the same tree and reports the same first error:
 *  - Binary operators, lowest first: or; and unless; == != <= < >= >; + -; * / % atan2;
 *    ^ (right-associative). Unary + and - bind like *, so -2^2 is -(2^2) and -a*b is
 *    (-a)*b; unary minus on a number literal is folded into the literal.
 *  - offset, @ and [range] / [range:step] are postfix and bind tighter than every
 *    operator (a + b offset 5m is a + (b offset 5m)); they may repeat in any order and the
 *    semantic rules (no offset before a range, no double offset...) are checked as in
 *    Prometheus' addOffset / setTimestamp / matrix_selector actions.
 *  - Keywords that Prometheus' grammar accepts as metric names (sum, by, offset, and...)
 *    are metric names where an expression starts and no '(' / by / without follows.
 *  - "unexpected X" messages carry the context of the innermost yacc error rule that
 *    would catch them: "in aggregation" anywhere inside an aggregation, "in grouping
 *    opts", "in label matching", "in offset", "in @", "in subquery selector", ...
 *  - Semantic errors are raised at the point yacc would reduce the rule (before or after
 *    reading the next token, as goyacc does), so the first error matches Prometheus'.
 * Type checking runs after a successful parse (query_check in ast.c).
 *
 * Limits (not in Prometheus): input up to QUERY_MAX_LEN bytes; parser recursion and tree
 * height up to QUERY_MAX_DEPTH; both give TS_ELIMIT.
 *
 * Regexes compile with pcre2 (common/matcher.c); constructs RE2 rejects and PCRE accepts
 * (lookaround, backreferences, possessive quantifiers, unknown escapes) are rejected here
 * so the accepted language stays Prometheus'.
 */
#include "query/ast.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ parser state */

/* Growth limit of scratch buffers for messages (ts_err truncates them anyway). */
#define MSG_BUF_MAX ((size_t)1 << 20)

typedef struct parser {
	query_arena *a;
	const char *in; /* borrowed query text */
	size_t len;
	query_lexer lex;
	query_token tok; /* lookahead, valid when has_tok */
	bool has_tok;
	uint32_t last_end; /* end offset of the last consumed token */
	int depth;         /* current recursion depth */
	int agg_depth;     /* aggregations being parsed (error context) */
	int rc;            /* first error; TS_OK while none */
	ts_err *err;
} parser;

int query_parse_errorf(ts_err *err, const char *in, size_t len, size_t pos, const char *fmt, ...)
{
	if (!err)
		return TS_EPARSE;
	size_t line = 1, col;
	if (pos > len) {
		pos = len;
	}
	size_t last_nl = (size_t)-1;
	for (size_t i = 0; i < pos; i++) {
		if (in[i] == '\n') {
			last_nl = i;
			line++;
		}
	}
	col = pos - last_nl; /* 1-based, bytes (Go's ParseErr.Error) */
	int n = snprintf(err->msg, sizeof(err->msg), "%zu:%zu: parse error: ", line, col);
	if (n > 0 && (size_t)n < sizeof(err->msg)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	err->code = TS_EPARSE;
	return TS_EPARSE;
}

/* Record a parse error at byte offset pos (the first error wins). Returns NULL. */
__attribute__((format(printf, 3, 4))) static void *fail(parser *p, size_t pos, const char *fmt, ...)
{
	if (p->rc)
		return NULL;
	char msg[TS_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->rc = query_parse_errorf(p->err, p->in, p->len, pos, "%s", msg);
	return NULL;
}

static void *fail_nomem(parser *p)
{
	if (p->rc)
		return NULL;
	if (query_arena_over_limit(p->a))
		p->rc =
		    ts_err_set(p->err, TS_ELIMIT, "query exceeds the memory limit while parsing");
	else
		p->rc = ts_err_set(p->err, TS_ENOMEM, "out of memory parsing query");
	return NULL;
}

static void *fail_depth(parser *p)
{
	if (p->rc)
		return NULL;
	p->rc = ts_err_set(p->err, TS_ELIMIT, "query nesting depth exceeds the limit of %d",
			   QUERY_MAX_DEPTH);
	return NULL;
}

static query_token *peek(parser *p)
{
	if (!p->has_tok) {
		do
			query_lexer_next(&p->lex, &p->tok);
		while (p->tok.type == QUERY_TOK_COMMENT);
		p->has_tok = true;
	}
	return &p->tok;
}

static query_token consume(parser *p)
{
	query_token t = *peek(p);
	p->has_tok = false;
	p->last_end = t.pos + t.len;
	return t;
}

static const char *tok_text(const parser *p, const query_token *t)
{
	return p->in + t->pos;
}

/* Report the lookahead as unexpected, like Prometheus' p.unexpected(context, expected).
 * A lexer error token reports the lexer's message instead. Returns NULL. */
static void *unexpected_tok(parser *p, const query_token *t, const char *context,
			    const char *expected)
{
	if (p->rc)
		return NULL;
	if (t->type == QUERY_TOK_ERROR)
		return fail(p, t->pos, "%s", p->lex.err_msg);
	if (!context && p->agg_depth > 0)
		context = "aggregation";
	ts_buf b;
	ts_buf_init(&b, MSG_BUF_MAX);
	int rc = ts_buf_puts(&b, "unexpected ");
	if (!rc)
		rc = query_token_desc(t, p->in, &b);
	if (!rc && context)
		rc = ts_buf_printf(&b, " in %s", context);
	if (!rc && expected)
		rc = ts_buf_printf(&b, ", expected %s", expected);
	if (rc) {
		ts_buf_free(&b);
		return fail_nomem(p);
	}
	fail(p, t->pos, "%s", b.data);
	ts_buf_free(&b);
	return NULL;
}

static void *unexpected(parser *p, const char *context, const char *expected)
{
	return unexpected_tok(p, peek(p), context, expected);
}

/* Allocate a node starting at byte `start` (end set by the caller). */
static query_expr *node_new(parser *p, query_expr_kind kind, uint32_t start)
{
	query_expr *e = query_arena_alloc(p->a, sizeof(*e));
	if (!e)
		return fail_nomem(p);
	e->kind = kind;
	e->pos.start = start;
	e->pos.end = p->last_end;
	e->height = 1;
	return e;
}

/* Set e's height from a child's; false (error recorded) past QUERY_MAX_DEPTH. */
static bool grow_height(parser *p, query_expr *e, const query_expr *child)
{
	if (child && child->height + 1 > e->height)
		e->height = (uint16_t)(child->height + 1 > QUERY_MAX_DEPTH + 1 ? QUERY_MAX_DEPTH + 1
									       : child->height + 1);
	if (e->height > QUERY_MAX_DEPTH) {
		fail_depth(p);
		return false;
	}
	return true;
}

/* A copy of arr[0..n) (elements of elem bytes) in a new arena array of twice the capacity
 * (at least 4); *cap is updated. NULL (error recorded) on allocation failure. */
static void *vec_grow(parser *p, const void *arr, size_t n, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 4;
	void *nv = query_arena_alloc(p->a, ncap * elem);
	if (!nv)
		return fail_nomem(p);
	if (n)
		memcpy(nv, arr, n * elem);
	*cap = ncap;
	return nv;
}

/* ================================================================ literals */

static bool is_dec(char c)
{
	return c >= '0' && c <= '9';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Go's strconv.ParseInt(s, 0, 64) for the forms the lexer produces (decimal, 0x hex,
 * leading-0 octal). 0 ok, -1 syntax error, -2 out of range. */
static int parse_go_int(const char *s, size_t n, int64_t *out)
{
	int base = 10;
	size_t i = 0;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16, i = 2;
	} else if (n >= 2 && s[0] == '0') {
		base = 8, i = 1;
	}
	if (i >= n)
		return -1;
	uint64_t v = 0;
	bool overflow = false;
	for (; i < n; i++) {
		int d = hexval(s[i]);
		if (d < 0 || d >= base)
			return -1;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			overflow = true;
		else
			v = v * (uint64_t)base + (uint64_t)d;
	}
	if (overflow || v > (uint64_t)INT64_MAX)
		return -2;
	*out = (int64_t)v;
	return 0;
}

/* Go's readFloat syntax check for a decimal float: digits [. digits] [e[+-]digits] with
 * at least one mantissa digit. */
static bool go_float_syntax(const char *s, size_t n)
{
	size_t i = 0;
	bool digits = false;
	while (i < n && is_dec(s[i]))
		i++, digits = true;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && is_dec(s[i]))
			i++, digits = true;
	}
	if (!digits)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_dec(s[i]))
			return false;
		while (i < n && is_dec(s[i]))
			i++;
	}
	return i == n;
}

static bool word_is(const char *s, size_t n, const char *w)
{
	if (strlen(w) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != w[i])
			return false;
	}
	return true;
}

/* The value of a NUMBER token as Prometheus' parser.number() computes it. */
static bool number_value(parser *p, const query_token *t, double *out)
{
	const char *s = tok_text(p, t);
	size_t n = t->len;
	if (word_is(s, n, "inf")) {
		*out = INFINITY;
		return true;
	}
	if (word_is(s, n, "nan")) {
		*out = NAN;
		return true;
	}
	int64_t iv;
	if (parse_go_int(s, n, &iv) == 0) {
		*out = (double)iv;
		return true;
	}
	const char *why = "invalid syntax";
	bool hex = n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	if (!hex && go_float_syntax(s, n)) {
		char small[128];
		char *buf = n < sizeof(small) ? small : ts_malloc(n + 1);
		if (!buf) {
			fail_nomem(p);
			return false;
		}
		memcpy(buf, s, n);
		buf[n] = '\0';
		double v = strtod(buf, NULL); /* correctly rounded, like Go's ParseFloat */
		if (buf != small)
			ts_free(buf);
		if (!isinf(v)) {
			*out = v;
			return true;
		}
		why = "value out of range";
	}
	ts_buf b;
	ts_buf_init(&b, MSG_BUF_MAX);
	if (query_quote(&b, s, n) != TS_OK) {
		ts_buf_free(&b);
		fail_nomem(p);
		return false;
	}
	fail(p, t->pos, "error parsing number: strconv.ParseFloat: parsing %s: %s", b.data, why);
	ts_buf_free(&b);
	return false;
}

/* model.ParseDuration's accepted form: one or more <digits><unit>, units y w d h m s ms in
 * this order, each at most once. */
static bool duration_form_ok(const char *s, size_t n)
{
	static const char *const units[] = {"y", "w", "d", "h", "m", "s", "ms"};
	size_t i = 0;
	int last = -1;
	if (n == 0)
		return false;
	while (i < n) {
		if (!is_dec(s[i]))
			return false;
		while (i < n && is_dec(s[i]))
			i++;
		int u = -1;
		if (i + 1 < n && s[i] == 'm' && s[i + 1] == 's')
			u = 6;
		else
			for (int k = 0; k < 6 && i < n; k++)
				if (s[i] == units[k][0])
					u = k;
		if (u <= last)
			return false;
		i += strlen(units[u]);
		last = u;
	}
	return true;
}

/* The value of a DURATION token in ms (Prometheus' parseDuration: > 0, fits in ns). */
static bool duration_value(parser *p, const query_token *t, int64_t *ms)
{
	const char *s = tok_text(p, t);
	size_t n = t->len;
	if (!duration_form_ok(s, n)) {
		ts_buf b;
		ts_buf_init(&b, MSG_BUF_MAX);
		if (query_quote(&b, s, n) != TS_OK) {
			ts_buf_free(&b);
			fail_nomem(p);
			return false;
		}
		fail(p, t->pos, "not a valid duration string: %s", b.data);
		ts_buf_free(&b);
		return false;
	}
	int64_t v;
	/* time.Duration is int64 nanoseconds: ~292 years at most. */
	if (ts_parse_duration_ms(s, n, &v, NULL) != TS_OK || v > INT64_MAX / 1000000) {
		fail(p, t->pos, "duration out of range");
		return false;
	}
	if (v == 0) {
		fail(p, t->pos, "duration must be greater than 0");
		return false;
	}
	*ms = v;
	return true;
}

/* Unquote a STRING token like Prometheus' strutil.Unquote (Go escapes; single quotes may
 * hold any number of characters). Result in the arena. */
static bool unquote(parser *p, const query_token *t, const char **out, size_t *out_len)
{
	const char *s = tok_text(p, t);
	size_t n = t->len;
	char q = n ? s[0] : 0;
	if (n < 2 || s[n - 1] != q)
		goto bad;
	s++, n -= 2;
	char *dst = query_arena_alloc(p->a, n + 1);
	if (!dst) {
		fail_nomem(p);
		return false;
	}
	size_t k = 0;
	if (q == '`') {
		if (memchr(s, '`', n))
			goto bad;
		memcpy(dst, s, n);
		k = n;
		goto done;
	}
	for (size_t i = 0; i < n;) {
		char c = s[i];
		if (c == q || c == '\n')
			goto bad;
		if (c != '\\') {
			dst[k++] = c;
			i++;
			continue;
		}
		if (i + 1 >= n)
			goto bad;
		c = s[i + 1];
		i += 2;
		switch (c) {
		case 'a': dst[k++] = '\a'; break;
		case 'b': dst[k++] = '\b'; break;
		case 'f': dst[k++] = '\f'; break;
		case 'n': dst[k++] = '\n'; break;
		case 'r': dst[k++] = '\r'; break;
		case 't': dst[k++] = '\t'; break;
		case 'v': dst[k++] = '\v'; break;
		case '\\': dst[k++] = '\\'; break;
		case '\'':
		case '"':
			if (c != q)
				goto bad;
			dst[k++] = c;
			break;
		case 'x':
		case 'u':
		case 'U': {
			size_t digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
			if (n - i < digits)
				goto bad;
			uint32_t v = 0;
			for (size_t j = 0; j < digits; j++) {
				int d = hexval(s[i + j]);
				if (d < 0)
					goto bad;
				v = v << 4 | (uint32_t)d;
			}
			i += digits;
			if (c == 'x') {
				dst[k++] = (char)v;
				break;
			}
			if (v > 0x10FFFF)
				goto bad;
			if (v >= 0xD800 && v <= 0xDFFF)
				v = 0xFFFD; /* Go's utf8.EncodeRune */
			/* Worst case 4 bytes for a 6- or 10-byte escape: fits in dst. */
			if (v < 0x80) {
				dst[k++] = (char)v;
			} else if (v < 0x800) {
				dst[k++] = (char)(0xC0 | (v >> 6));
				dst[k++] = (char)(0x80 | (v & 0x3F));
			} else if (v < 0x10000) {
				dst[k++] = (char)(0xE0 | (v >> 12));
				dst[k++] = (char)(0x80 | ((v >> 6) & 0x3F));
				dst[k++] = (char)(0x80 | (v & 0x3F));
			} else {
				dst[k++] = (char)(0xF0 | (v >> 18));
				dst[k++] = (char)(0x80 | ((v >> 12) & 0x3F));
				dst[k++] = (char)(0x80 | ((v >> 6) & 0x3F));
				dst[k++] = (char)(0x80 | (v & 0x3F));
			}
			break;
		}
		default:
			if (c >= '0' && c <= '7') {
				if (n - i < 2)
					goto bad;
				uint32_t v = (uint32_t)(c - '0');
				for (int j = 0; j < 2; j++) {
					char o = s[i + (size_t)j];
					if (o < '0' || o > '7')
						goto bad;
					v = v << 3 | (uint32_t)(o - '0');
				}
				i += 2;
				if (v > 255)
					goto bad;
				dst[k++] = (char)v;
				break;
			}
			goto bad;
		}
	}
done:
	dst[k] = '\0';
	*out = dst;
	*out_len = k;
	return true;
bad : {
	ts_buf b;
	ts_buf_init(&b, MSG_BUF_MAX);
	if (query_quote(&b, tok_text(p, t), t->len) != TS_OK) {
		ts_buf_free(&b);
		fail_nomem(p);
		return false;
	}
	fail(p, t->pos, "error unquoting string %s: invalid syntax", b.data);
	ts_buf_free(&b);
	return false;
}
}

/* ================================================================ RE2 compatibility */

static bool is_ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_dec(c);
}

/*
 * Find syntax that Go's regexp (RE2) rejects but pcre2 accepts. Returns false and fills
 * msg with Go's wording ("invalid escape sequence: `\\1`") on the first such construct.
 */
static bool re2_compatible(const char *re, size_t n, char *msg, size_t cap)
{
	bool in_class = false;
	for (size_t i = 0; i < n; i++) {
		char c = re[i];
		if (c == '\\') {
			if (i + 1 >= n)
				return true; /* trailing backslash: pcre2 reports it */
			char e = re[i + 1];
			if (e == 'Q') { /* literal text up to \E */
				size_t j = i + 2;
				while (j + 1 < n && !(re[j] == '\\' && re[j + 1] == 'E'))
					j++;
				i = j + 1;
				continue;
			}
			if (is_ascii_alnum(e)) {
				bool ok = strchr("aftnrvxAbBzdDsSwWpP0", e) != NULL;
				if (e >= '1' && e <= '7')
					ok = i + 2 < n && re[i + 2] >= '0' && re[i + 2] <= '7';
				if (!ok) {
					snprintf(msg, cap, "invalid escape sequence: `\\%c`", e);
					return false;
				}
			}
			i++;
			continue;
		}
		if (in_class) {
			if (c == '[' && i + 1 < n && re[i + 1] == ':') {
				const char *end = strstr(re + i + 2, ":]");
				if (end && (size_t)(end - re) < n)
					i = (size_t)(end - re) + 1;
			} else if (c == ']') {
				in_class = false;
			}
			continue;
		}
		if (c == '[') {
			in_class = true;
			if (i + 1 < n && re[i + 1] == '^')
				i++;
			if (i + 1 < n && re[i + 1] == ']')
				i++; /* a leading ']' is literal */
			continue;
		}
		if ((c == '*' || c == '+' || c == '?') && i + 1 < n && re[i + 1] == '+') {
			snprintf(msg, cap, "invalid nested repetition operator: `%c+`", c);
			return false;
		}
		if (c == '(' && i + 1 < n && re[i + 1] == '?') {
			size_t j = i + 2;
			if (j + 1 < n && re[j] == 'P' && re[j + 1] == '<')
				continue; /* named capture */
			while (j < n && strchr("imsU-", re[j]) && re[j] != '\0')
				j++;
			if (j < n && (re[j] == ':' || re[j] == ')'))
				continue;
			if (j >= n) /* missing ')': pcre2 reports it */
				continue;
			size_t w = 1;
			query_utf8_decode(re + j, n - j, &w);
			snprintf(msg, cap, "invalid or unsupported Perl syntax: `%.*s`",
				 (int)(j + w - i), re + i);
			return false;
		}
	}
	return true;
}

/* ================================================================ selectors */

static void selector_cleanup(void *arg)
{
	query_expr *e = arg;
	for (size_t i = 0; i < e->vs.n_matchers; i++)
		ts_matcher_fini(&e->vs.matchers[i]);
}

/* Compile one more matcher into e (the node's array grows inside the arena). */
static bool add_matcher(parser *p, query_expr *e, size_t *cap, ts_match_type type, const char *name,
			const char *value, size_t value_len, uint32_t pos)
{
	if (strlen(value) != value_len) {
		fail(p, pos, "label matcher value for %s must not contain a NUL byte", name);
		return false;
	}
	if (type == TS_MATCH_RE || type == TS_MATCH_NRE) {
		char msg[TS_ERR_MSG_MAX];
		if (!re2_compatible(value, value_len, msg, sizeof(msg))) {
			fail(p, pos, "error parsing regexp: %s", msg);
			return false;
		}
	}
	if (e->vs.n_matchers == *cap) {
		ts_matcher *nm = vec_grow(p, e->vs.matchers, e->vs.n_matchers, cap, sizeof(*nm));
		if (!nm)
			return false;
		e->vs.matchers = nm; /* the cleanup reads through e, so moving is safe */
	}
	ts_err merr;
	ts_err_clear(&merr);
	int rc = ts_matcher_init(&e->vs.matchers[e->vs.n_matchers], type, name, value, &merr);
	if (rc == TS_ENOMEM) {
		fail_nomem(p);
		return false;
	}
	if (rc != TS_OK) {
		fail(p, pos, "error parsing regexp: %s", merr.msg);
		return false;
	}
	e->vs.n_matchers++;
	return true;
}

/*
 * A vector selector: `name`, `name{...}` or `{...}`. name is the consumed metric
 * identifier token or NULL when the lookahead is '{'.
 */
static query_expr *parse_selector(parser *p, const query_token *name)
{
	query_token *t = peek(p);
	query_expr *e = node_new(p, QUERY_EXPR_VECTOR_SELECTOR, name ? name->pos : t->pos);
	if (!e)
		return NULL;
	if (query_arena_defer(p->a, selector_cleanup, e) != TS_OK)
		return fail_nomem(p);
	size_t cap = 0;
	if (name) {
		char *nm = query_arena_strndup(p->a, tok_text(p, name), name->len);
		if (!nm)
			return fail_nomem(p);
		e->vs.name = nm;
	}
	if (t->type == QUERY_TOK_LEFT_BRACE) {
		consume(p);
		if (peek(p)->type == QUERY_TOK_RIGHT_BRACE) {
			consume(p);
		} else {
			for (;;) {
				t = peek(p);
				if (t->type != QUERY_TOK_IDENTIFIER)
					return unexpected(p, "label matching",
							  "identifier or \"}\"");
				query_token id = consume(p);
				t = peek(p);
				ts_match_type type;
				switch (t->type) {
				case QUERY_TOK_EQL: type = TS_MATCH_EQ; break;
				case QUERY_TOK_NEQ: type = TS_MATCH_NEQ; break;
				case QUERY_TOK_EQL_REGEX: type = TS_MATCH_RE; break;
				case QUERY_TOK_NEQ_REGEX: type = TS_MATCH_NRE; break;
				default:
					return unexpected(p, "label matching",
							  "label matching operator");
				}
				consume(p);
				if (peek(p)->type != QUERY_TOK_STRING)
					return unexpected(p, "label matching", "string");
				query_token str = consume(p);
				const char *val;
				size_t val_len;
				if (!unquote(p, &str, &val, &val_len))
					return NULL;
				char *label = query_arena_strndup(p->a, tok_text(p, &id), id.len);
				if (!label)
					return fail_nomem(p);
				if (!add_matcher(p, e, &cap, type, label, val, val_len, id.pos))
					return NULL;
				t = peek(p);
				if (t->type == QUERY_TOK_COMMA) {
					consume(p);
					if (peek(p)->type == QUERY_TOK_RIGHT_BRACE) {
						consume(p);
						break;
					}
					continue;
				}
				if (t->type == QUERY_TOK_RIGHT_BRACE) {
					consume(p);
					break;
				}
				return unexpected(p, "label matching", "\",\" or \"}\"");
			}
		}
	}
	if (e->vs.name && !add_matcher(p, e, &cap, TS_MATCH_EQ, TS_METRIC_NAME, e->vs.name,
				       strlen(e->vs.name), e->pos.start))
		return NULL;
	e->pos.end = p->last_end;
	return e;
}

/* ================================================================ grouping labels */

/* Tokens Prometheus' maybe_label rule accepts as a label name in grouping lists. */
static bool is_maybe_label(query_tok t)
{
	switch (t) {
	case QUERY_TOK_IDENTIFIER:
	case QUERY_TOK_METRIC_IDENTIFIER:
	case QUERY_TOK_LAND:
	case QUERY_TOK_LOR:
	case QUERY_TOK_LUNLESS:
	case QUERY_TOK_ATAN2:
	case QUERY_TOK_START:
	case QUERY_TOK_END: return true;
	default: return query_tok_is_aggregator(t) || query_tok_is_keyword(t);
	}
}

static bool is_label_name(const char *s, size_t n)
{
	if (n == 0 ||
	    !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(s[i] == '_' || is_ascii_alnum(s[i])))
			return false;
	return true;
}

/* `( label, ... )` after by/without/on/ignoring/group_x. */
static bool parse_grouping(parser *p, const char ***labels, size_t *n_labels)
{
	size_t cap = 0;
	*labels = NULL;
	*n_labels = 0;
	if (peek(p)->type != QUERY_TOK_LEFT_PAREN) {
		unexpected(p, "grouping opts", "\"(\"");
		return false;
	}
	consume(p);
	if (peek(p)->type == QUERY_TOK_RIGHT_PAREN) {
		consume(p);
		return true;
	}
	for (;;) {
		query_token *t = peek(p);
		if (!is_maybe_label(t->type)) {
			unexpected(p, "grouping opts", "label");
			return false;
		}
		query_token lt = consume(p);
		if (!is_label_name(tok_text(p, &lt), lt.len)) {
			unexpected_tok(p, &lt, "grouping opts", "label");
			return false;
		}
		char *name = query_arena_strndup(p->a, tok_text(p, &lt), lt.len);
		if (!name) {
			fail_nomem(p);
			return false;
		}
		if (*n_labels == cap) {
			const char **nv = vec_grow(p, *labels, *n_labels, &cap, sizeof(**labels));
			if (!nv)
				return false;
			*labels = nv;
		}
		(*labels)[(*n_labels)++] = name;
		t = peek(p);
		if (t->type == QUERY_TOK_COMMA) {
			consume(p);
			if (peek(p)->type == QUERY_TOK_RIGHT_PAREN) {
				consume(p);
				return true;
			}
			continue;
		}
		if (t->type == QUERY_TOK_RIGHT_PAREN) {
			consume(p);
			return true;
		}
		unexpected(p, "grouping opts", "\",\" or \")\"");
		return false;
	}
}

/* ================================================================ expressions */

static query_expr *parse_expr(parser *p, int min_prec);

/* FIRST(expr): tokens that can start an expression. */
static bool starts_expr(query_tok t)
{
	switch (t) {
	case QUERY_TOK_NUMBER:
	case QUERY_TOK_STRING:
	case QUERY_TOK_LEFT_PAREN:
	case QUERY_TOK_LEFT_BRACE:
	case QUERY_TOK_IDENTIFIER:
	case QUERY_TOK_METRIC_IDENTIFIER:
	case QUERY_TOK_ADD:
	case QUERY_TOK_SUB:
	case QUERY_TOK_LAND:
	case QUERY_TOK_LOR:
	case QUERY_TOK_LUNLESS:
	case QUERY_TOK_BY:
	case QUERY_TOK_WITHOUT:
	case QUERY_TOK_OFFSET:
	case QUERY_TOK_START:
	case QUERY_TOK_END: return true;
	default: return query_tok_is_aggregator(t);
	}
}

/* `( args )` of a call or aggregation; the lookahead is '('. */
static bool parse_call_body(parser *p, query_expr ***args, size_t *n_args)
{
	size_t cap = 0;
	*args = NULL;
	*n_args = 0;
	consume(p); /* ( */
	if (peek(p)->type == QUERY_TOK_RIGHT_PAREN) {
		consume(p);
		return true;
	}
	for (;;) {
		query_expr *arg = parse_expr(p, 0);
		if (!arg)
			return false;
		if (*n_args == cap) {
			query_expr **nv = vec_grow(p, *args, *n_args, &cap, sizeof(**args));
			if (!nv)
				return false;
			*args = nv;
		}
		(*args)[(*n_args)++] = arg;
		query_token *t = peek(p);
		if (t->type == QUERY_TOK_COMMA) {
			query_token comma = consume(p);
			t = peek(p);
			if (t->type == QUERY_TOK_ERROR) {
				unexpected(p, NULL, NULL);
				return false;
			}
			if (!starts_expr(t->type)) {
				fail(p, comma.pos,
				     "trailing commas not allowed in function call args");
				return false;
			}
			continue;
		}
		if (t->type == QUERY_TOK_RIGHT_PAREN) {
			consume(p);
			return true;
		}
		unexpected(p, NULL, NULL);
		return false;
	}
}

static query_expr *parse_call(parser *p, const query_token *name)
{
	query_expr **args;
	size_t n_args;
	if (!parse_call_body(p, &args, &n_args))
		return NULL;
	const query_func *fn = query_func_lookup(tok_text(p, name), name->len);
	if (!fn) {
		ts_buf b;
		ts_buf_init(&b, MSG_BUF_MAX);
		if (query_quote(&b, tok_text(p, name), name->len) != TS_OK) {
			ts_buf_free(&b);
			return fail_nomem(p);
		}
		fail(p, name->pos, "unknown function with name %s", b.data);
		ts_buf_free(&b);
		return NULL;
	}
	query_expr *e = node_new(p, QUERY_EXPR_CALL, name->pos);
	if (!e)
		return NULL;
	e->call.func = fn;
	e->call.args = args;
	e->call.n_args = n_args;
	for (size_t i = 0; i < n_args; i++)
		if (!grow_height(p, e, args[i]))
			return NULL;
	return e;
}

static query_aggop aggop_of(query_tok t)
{
	switch (t) {
	case QUERY_TOK_AVG: return QUERY_AGG_AVG;
	case QUERY_TOK_BOTTOMK: return QUERY_AGG_BOTTOMK;
	case QUERY_TOK_COUNT: return QUERY_AGG_COUNT;
	case QUERY_TOK_COUNT_VALUES: return QUERY_AGG_COUNT_VALUES;
	case QUERY_TOK_GROUP: return QUERY_AGG_GROUP;
	case QUERY_TOK_MAX: return QUERY_AGG_MAX;
	case QUERY_TOK_MIN: return QUERY_AGG_MIN;
	case QUERY_TOK_QUANTILE: return QUERY_AGG_QUANTILE;
	case QUERY_TOK_STDDEV: return QUERY_AGG_STDDEV;
	case QUERY_TOK_STDVAR: return QUERY_AGG_STDVAR;
	case QUERY_TOK_TOPK: return QUERY_AGG_TOPK;
	default: return QUERY_AGG_SUM;
	}
}

/* An aggregation; op is consumed and the lookahead is '(', by or without. */
static query_expr *parse_aggregate(parser *p, const query_token *op)
{
	const char **grouping = NULL;
	size_t n_grouping = 0;
	bool is_without = false, modifier_first = false;
	query_expr **args;
	size_t n_args;

	p->agg_depth++;
	query_token *t = peek(p);
	if (t->type == QUERY_TOK_BY || t->type == QUERY_TOK_WITHOUT) {
		is_without = consume(p).type == QUERY_TOK_WITHOUT;
		if (!parse_grouping(p, &grouping, &n_grouping))
			return NULL;
		modifier_first = true;
		if (peek(p)->type != QUERY_TOK_LEFT_PAREN)
			return unexpected(p, NULL, NULL);
	}
	if (!parse_call_body(p, &args, &n_args))
		return NULL;
	if (!modifier_first) {
		/* goyacc reads the next token to see whether by/without follows. */
		t = peek(p);
		if (t->type == QUERY_TOK_ERROR)
			return unexpected(p, NULL, NULL);
		if (t->type == QUERY_TOK_BY || t->type == QUERY_TOK_WITHOUT) {
			is_without = consume(p).type == QUERY_TOK_WITHOUT;
			if (!parse_grouping(p, &grouping, &n_grouping))
				return NULL;
		}
	}
	p->agg_depth--;

	query_expr *e = node_new(p, QUERY_EXPR_AGGREGATE, op->pos);
	if (!e)
		return NULL;
	e->agg.op = aggop_of(op->type);
	e->agg.grouping = grouping;
	e->agg.n_grouping = n_grouping;
	e->agg.is_without = is_without;
	if (n_args == 0)
		return fail(p, op->pos, "no arguments for aggregate expression provided");
	size_t want = query_aggop_has_param(e->agg.op) ? 2 : 1;
	if (n_args != want)
		return fail(p, op->pos,
			    "wrong number of arguments for aggregate expression provided, "
			    "expected %zu, got %zu",
			    want, n_args);
	e->agg.expr = args[want - 1];
	e->agg.param = want == 2 ? args[0] : NULL;
	if (!grow_height(p, e, e->agg.expr) || !grow_height(p, e, e->agg.param))
		return NULL;
	return e;
}

static query_expr *parse_primary(parser *p)
{
	query_token *t = peek(p);
	switch (t->type) {
	case QUERY_TOK_NUMBER: {
		query_token nt = consume(p);
		double v;
		if (!number_value(p, &nt, &v))
			return NULL;
		query_expr *e = node_new(p, QUERY_EXPR_NUMBER, nt.pos);
		if (e)
			e->number = v;
		return e;
	}
	case QUERY_TOK_STRING: {
		query_token st = consume(p);
		query_expr *e = node_new(p, QUERY_EXPR_STRING, st.pos);
		if (!e || !unquote(p, &st, &e->string.val, &e->string.len))
			return NULL;
		return e;
	}
	case QUERY_TOK_LEFT_PAREN: {
		query_token lp = consume(p);
		query_expr *inner = parse_expr(p, 0);
		if (!inner)
			return NULL;
		if (peek(p)->type != QUERY_TOK_RIGHT_PAREN)
			return unexpected(p, NULL, NULL);
		consume(p);
		query_expr *e = node_new(p, QUERY_EXPR_PAREN, lp.pos);
		if (!e)
			return NULL;
		e->paren.expr = inner;
		return grow_height(p, e, inner) ? e : NULL;
	}
	case QUERY_TOK_LEFT_BRACE: return parse_selector(p, NULL);
	case QUERY_TOK_IDENTIFIER: {
		query_token name = consume(p);
		if (peek(p)->type == QUERY_TOK_LEFT_PAREN)
			return parse_call(p, &name);
		return parse_selector(p, &name);
	}
	case QUERY_TOK_METRIC_IDENTIFIER:
	case QUERY_TOK_LAND:
	case QUERY_TOK_LOR:
	case QUERY_TOK_LUNLESS:
	case QUERY_TOK_BY:
	case QUERY_TOK_WITHOUT:
	case QUERY_TOK_OFFSET:
	case QUERY_TOK_START:
	case QUERY_TOK_END: {
		query_token name = consume(p);
		return parse_selector(p, &name);
	}
	default:
		if (query_tok_is_aggregator(t->type)) {
			query_token op = consume(p);
			query_tok next = peek(p)->type;
			if (next == QUERY_TOK_LEFT_PAREN || next == QUERY_TOK_BY ||
			    next == QUERY_TOK_WITHOUT)
				return parse_aggregate(p, &op);
			return parse_selector(p, &op);
		}
		return unexpected(p, NULL, NULL);
	}
}

/* ---------------------------------------------------------------- postfix modifiers */

/* The offset/@ holder of e (Prometheus' addOffset / getAtModifierVars targets). */
static query_mods *mods_of(query_expr *e)
{
	switch (e->kind) {
	case QUERY_EXPR_VECTOR_SELECTOR: return &e->vs.mods;
	case QUERY_EXPR_MATRIX_SELECTOR: return &e->matrix.vs->vs.mods;
	case QUERY_EXPR_SUBQUERY: return &e->subquery.mods;
	default: return NULL;
	}
}

static query_expr *parse_offset(parser *p, query_expr *e)
{
	consume(p); /* offset */
	bool neg = false;
	if (peek(p)->type == QUERY_TOK_SUB) {
		consume(p);
		neg = true;
	}
	if (peek(p)->type != QUERY_TOK_DURATION)
		return unexpected(p, "offset", "duration");
	query_token dt = consume(p);
	int64_t ms;
	if (!duration_value(p, &dt, &ms))
		return NULL;
	query_mods *m = mods_of(e);
	if (!m)
		return fail(p, e->pos.start,
			    "offset modifier must be preceded by an instant vector selector or "
			    "range vector selector or a subquery");
	if (m->offset_ms != 0)
		return fail(p, e->pos.start, "offset may not be set multiple times");
	m->offset_ms = neg ? -ms : ms;
	e->pos.end = p->last_end;
	return e;
}

/* Go's %f (used by the @ bounds message): C's, except for infinities and NaN. */
static const char *go_fmt_f(char *buf, size_t cap, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "NaN");
	else if (isinf(v))
		snprintf(buf, cap, "%s", v > 0 ? "+Inf" : "-Inf");
	else
		snprintf(buf, cap, "%f", v);
	return buf;
}

static query_expr *set_at(parser *p, query_expr *e, query_at at, double ts)
{
	if (at == QUERY_AT_TIME && (isnan(ts) || isinf(ts) || ts >= 9223372036854775807.0 ||
				    ts <= -9223372036854775808.0)) {
		char buf[400];
		return fail(p, e->pos.start, "timestamp out of bounds for @ modifier: %s",
			    go_fmt_f(buf, sizeof(buf), ts));
	}
	query_mods *m = mods_of(e);
	if (!m)
		return fail(p, e->pos.start,
			    "@ modifier must be preceded by an instant vector selector or range "
			    "vector selector or a subquery");
	if (m->at != QUERY_AT_NONE)
		return fail(p, e->pos.start, "@ <timestamp> may not be set multiple times");
	m->at = at;
	if (at == QUERY_AT_TIME) {
		/* timestamp.FromFloatSeconds: int64(math.Round(ts*1000)); out-of-range
		 * conversions give INT64_MIN as Go does on amd64. */
		double msf = round(ts * 1000.0);
		m->at_ms = (msf >= -9223372036854775808.0 && msf < 9223372036854775808.0)
			       ? (int64_t)msf
			       : INT64_MIN;
	}
	e->pos.end = p->last_end;
	return e;
}

static query_expr *parse_at(parser *p, query_expr *e)
{
	consume(p); /* @ */
	query_token *t = peek(p);
	if (t->type == QUERY_TOK_START || t->type == QUERY_TOK_END) {
		query_at at = consume(p).type == QUERY_TOK_START ? QUERY_AT_START : QUERY_AT_END;
		if (peek(p)->type != QUERY_TOK_LEFT_PAREN)
			return unexpected(p, "@", "timestamp");
		consume(p);
		if (peek(p)->type != QUERY_TOK_RIGHT_PAREN)
			return unexpected(p, "@", "timestamp");
		consume(p);
		return set_at(p, e, at, 0);
	}
	bool neg = false;
	if (t->type == QUERY_TOK_ADD || t->type == QUERY_TOK_SUB) {
		neg = consume(p).type == QUERY_TOK_SUB;
		t = peek(p);
		if (t->type != QUERY_TOK_NUMBER)
			return unexpected(p, "@", "timestamp");
	} else if (t->type != QUERY_TOK_NUMBER) {
		return unexpected(p, "@", "timestamp");
	}
	query_token nt = consume(p);
	double v;
	if (!number_value(p, &nt, &v))
		return NULL;
	return set_at(p, e, QUERY_AT_TIME, neg ? -v : v);
}

/* `[range]` or `[range:step]` / `[range:]` after e; the lookahead is '['. */
static query_expr *parse_bracket(parser *p, query_expr *e)
{
	query_token lb = consume(p);
	if (peek(p)->type != QUERY_TOK_DURATION)
		return unexpected(p, "subquery selector", "duration");
	query_token dt = consume(p);
	int64_t range_ms, step_ms = 0;
	if (!duration_value(p, &dt, &range_ms))
		return NULL;
	query_token *t = peek(p);
	if (t->type == QUERY_TOK_RIGHT_BRACKET) {
		consume(p);
		const char *msg = NULL;
		if (e->kind != QUERY_EXPR_VECTOR_SELECTOR)
			msg = "ranges only allowed for vector selectors";
		else if (e->vs.mods.offset_ms != 0)
			msg = "no offset modifiers allowed before range";
		else if (e->vs.mods.at == QUERY_AT_TIME)
			msg = "no @ modifiers allowed before range";
		if (msg)
			return fail(p, lb.pos, "%s", msg);
		query_expr *m = node_new(p, QUERY_EXPR_MATRIX_SELECTOR, e->pos.start);
		if (!m)
			return NULL;
		m->matrix.vs = e;
		m->matrix.range_ms = range_ms;
		return grow_height(p, m, e) ? m : NULL;
	}
	if (t->type != QUERY_TOK_COLON)
		return unexpected(p, "subquery or range", "\":\" or \"]\"");
	consume(p);
	t = peek(p);
	if (t->type == QUERY_TOK_DURATION) {
		query_token st = consume(p);
		if (!duration_value(p, &st, &step_ms))
			return NULL;
		t = peek(p);
	}
	if (t->type != QUERY_TOK_RIGHT_BRACKET)
		return unexpected(p, "subquery selector", "duration or \"]\"");
	consume(p);
	query_expr *s = node_new(p, QUERY_EXPR_SUBQUERY, e->pos.start);
	if (!s)
		return NULL;
	s->subquery.expr = e;
	s->subquery.range_ms = range_ms;
	s->subquery.step_ms = step_ms;
	return grow_height(p, s, e) ? s : NULL;
}

static query_expr *parse_postfix(parser *p, query_expr *e)
{
	while (e) {
		switch (peek(p)->type) {
		case QUERY_TOK_OFFSET: e = parse_offset(p, e); break;
		case QUERY_TOK_AT: e = parse_at(p, e); break;
		case QUERY_TOK_LEFT_BRACKET: e = parse_bracket(p, e); break;
		default: return e;
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- operators */

enum {
	PREC_NONE = 0,
	PREC_OR,
	PREC_AND, /* and, unless */
	PREC_CMP,
	PREC_ADD,
	PREC_MUL, /* also unary + and - */
	PREC_POW,
};

static int binop_of(query_tok t, query_binop *op)
{
	switch (t) {
	case QUERY_TOK_LOR: *op = QUERY_OP_OR; return PREC_OR;
	case QUERY_TOK_LAND: *op = QUERY_OP_AND; return PREC_AND;
	case QUERY_TOK_LUNLESS: *op = QUERY_OP_UNLESS; return PREC_AND;
	case QUERY_TOK_EQLC: *op = QUERY_OP_EQ; return PREC_CMP;
	case QUERY_TOK_NEQ: *op = QUERY_OP_NE; return PREC_CMP;
	case QUERY_TOK_LTE: *op = QUERY_OP_LE; return PREC_CMP;
	case QUERY_TOK_LSS: *op = QUERY_OP_LT; return PREC_CMP;
	case QUERY_TOK_GTE: *op = QUERY_OP_GE; return PREC_CMP;
	case QUERY_TOK_GTR: *op = QUERY_OP_GT; return PREC_CMP;
	case QUERY_TOK_ADD: *op = QUERY_OP_ADD; return PREC_ADD;
	case QUERY_TOK_SUB: *op = QUERY_OP_SUB; return PREC_ADD;
	case QUERY_TOK_MUL: *op = QUERY_OP_MUL; return PREC_MUL;
	case QUERY_TOK_DIV: *op = QUERY_OP_DIV; return PREC_MUL;
	case QUERY_TOK_MOD: *op = QUERY_OP_MOD; return PREC_MUL;
	case QUERY_TOK_ATAN2: *op = QUERY_OP_ATAN2; return PREC_MUL;
	case QUERY_TOK_POW: *op = QUERY_OP_POW; return PREC_POW;
	default: return PREC_NONE;
	}
}

static query_expr *parse_unary(parser *p)
{
	query_token *t = peek(p);
	if (t->type != QUERY_TOK_ADD && t->type != QUERY_TOK_SUB)
		return parse_postfix(p, parse_primary(p));
	query_token op = consume(p);
	/* `unary_op expr %prec MUL`: only ^ (and postfix modifiers) bind tighter. */
	query_expr *operand = parse_expr(p, PREC_POW);
	if (!operand)
		return NULL;
	if (operand->kind == QUERY_EXPR_NUMBER) {
		if (op.type == QUERY_TOK_SUB)
			operand->number = -operand->number;
		operand->pos.start = op.pos;
		return operand;
	}
	query_expr *e = node_new(p, QUERY_EXPR_UNARY, op.pos);
	if (!e)
		return NULL;
	e->unary.is_neg = op.type == QUERY_TOK_SUB;
	e->unary.expr = operand;
	e->pos.end = operand->pos.end;
	return grow_height(p, e, operand) ? e : NULL;
}

/* Binary modifiers after the operator: [bool] [on|ignoring (...) [group_x [(...)]]]. */
static bool parse_bin_modifiers(parser *p, query_expr *e)
{
	if (peek(p)->type == QUERY_TOK_BOOL) {
		consume(p);
		e->binary.is_bool = true;
	}
	query_tok t = peek(p)->type;
	if (t != QUERY_TOK_ON && t != QUERY_TOK_IGNORING)
		return true;
	consume(p);
	query_vector_matching *vm = query_arena_alloc(p->a, sizeof(*vm));
	if (!vm) {
		fail_nomem(p);
		return false;
	}
	vm->is_on = t == QUERY_TOK_ON;
	if (!parse_grouping(p, &vm->labels, &vm->n_labels))
		return false;
	t = peek(p)->type;
	if (t == QUERY_TOK_GROUP_LEFT || t == QUERY_TOK_GROUP_RIGHT) {
		consume(p);
		vm->card =
		    t == QUERY_TOK_GROUP_LEFT ? QUERY_CARD_MANY_TO_ONE : QUERY_CARD_ONE_TO_MANY;
		/* goyacc shifts '(' here: it always starts the include list. */
		if (peek(p)->type == QUERY_TOK_LEFT_PAREN &&
		    !parse_grouping(p, &vm->include, &vm->n_include))
			return false;
	}
	e->binary.matching = vm;
	return true;
}

static query_expr *parse_expr(parser *p, int min_prec)
{
	if (p->depth >= QUERY_MAX_DEPTH)
		return fail_depth(p);
	p->depth++;
	query_expr *lhs = parse_unary(p);
	while (lhs) {
		query_binop op;
		int prec = binop_of(peek(p)->type, &op);
		if (prec == PREC_NONE || prec < min_prec)
			break;
		consume(p);
		query_expr *e = node_new(p, QUERY_EXPR_BINARY, lhs->pos.start);
		if (!e || !parse_bin_modifiers(p, e)) {
			lhs = NULL;
			break;
		}
		e->binary.op = op;
		e->binary.lhs = lhs;
		/* ^ is right-associative; everything else left-associative. */
		e->binary.rhs = parse_expr(p, prec == PREC_POW ? prec : prec + 1);
		if (!e->binary.rhs) {
			lhs = NULL;
			break;
		}
		if (!e->binary.matching) {
			e->binary.matching = query_arena_alloc(p->a, sizeof(*e->binary.matching));
			if (!e->binary.matching) {
				lhs = fail_nomem(p);
				break;
			}
		}
		e->pos.end = e->binary.rhs->pos.end;
		lhs = grow_height(p, e, lhs) && grow_height(p, e, e->binary.rhs) ? e : NULL;
	}
	p->depth--;
	return lhs;
}

/* ================================================================ entry point */

int query_parse(query_arena *a, const char *text, size_t len, query_expr **out, ts_err *err)
{
	if (len > QUERY_MAX_LEN)
		return ts_err_set(err, TS_ELIMIT, "query too long: %zu bytes, the limit is %d", len,
				  QUERY_MAX_LEN);
	parser p;
	memset(&p, 0, sizeof(p));
	p.a = a;
	p.in = text;
	p.len = len;
	p.err = err;
	query_lexer_init(&p.lex, text, len);

	query_token *t = peek(&p);
	if (t->type == QUERY_TOK_EOF) {
		fail(&p, 0, "no expression found in input");
		return p.rc;
	}
	query_expr *e = parse_expr(&p, 0);
	if (!e)
		return p.rc;
	if (peek(&p)->type != QUERY_TOK_EOF) {
		unexpected(&p, NULL, NULL);
		return p.rc;
	}
	int rc = query_check(e, text, len, err);
	if (rc != TS_OK)
		return rc;
	*out = e;
	return TS_OK;
}
