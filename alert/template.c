/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template.c: the parser of alert templates (see template.h): Go's text/template
 * language as Prometheus alert templates use it. Lexer: template_lex.c; executor:
 * template_exec.c; values and printing: template_fmt.c; functions: template_funcs.c.
 *
 * The lexer and parser follow Go 1.20's text/template/parse (lex.go, parse.go) closely so
 * that a template is accepted or rejected exactly when promtool accepts or rejects it,
 * with the same messages (plus a column): actions {{ }}, trim markers {{- -}}, comments,
 * pipelines with declarations ($x := ...) and assignments ($x = ...), if / else if /
 * else, range (with $k, $v and else), with, break, continue, define, template,
 * block, parenthesized pipelines, fields (.A.b) and variables ($a.b), literals (strings,
 * raw strings, chars, numbers, true, false, nil). Function names are checked at parse
 * time against Go's builtins and Prometheus' functions; a few Prometheus functions are
 * accepted but fail at execution (template_funcs.c lists them).
 *
 * The whole text is lexed into an item array first (Go lexes lazily, but it stops at the
 * first error too, so the parser sees the same tokens). Nodes live in the template's
 * arena. Variables in scope are tracked at parse time ("undefined variable"), starting
 * with $ and the four Prometheus prepends ($labels, $externalLabels, $externalURL,
 * $value); a {{define}} body starts with only $, as in Go.
 *
 * Execution mirrors text/template/exec.go: a variable stack with marks, Go's truth, the
 * ideal-constant typing of number literals, typed function parameters, lazy and/or,
 * break/continue. Deliberately bounded: nesting at parse (ALERT_TEMPLATE_MAX_DEPTH), template
 * call depth, and the output size (ALERT_TEMPLATE_MAX_OUTPUT); exceeding a bound is an
 * error, never a crash.
 */
#include "alert/template_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEMPLATE_ARENA_MAX (16u << 20)

void alert_tpl_line_col(const char *text, size_t pos, int *line, int *col)
{
	int ln = 1;
	size_t bol = 0;
	for (size_t i = 0; i < pos; i++)
		if (text[i] == '\n') {
			ln++;
			bol = i + 1;
		}
	*line = ln;
	*col = (int)(pos - bol) + 1;
}

typedef struct parser {
	alert_template *t;
	alert_tpl_item *items;
	size_t n, i;
	uint32_t last_pos; /* position of the last token read (for messages) */
	const char **vars;
	size_t n_vars, cap_vars;
	int range_depth;
	int depth;
	bool is_failed;
	ts_err *err;
	int rc;
	alert_tpl_def *defs;
	size_t n_defs, cap_defs;
} parser;

static void perrorf(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perrorf(parser *p, const char *fmt, ...)
{
	if (p->is_failed)
		return;
	p->is_failed = true;
	p->rc = TS_EPARSE;
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int line, col;
	alert_tpl_line_col(p->t->text, p->last_pos, &line, &col);
	ts_err_set(p->err, TS_EPARSE, "template: %s:%d:%d: %s", p->t->name, line, col, msg);
}

static void pnomem(parser *p)
{
	if (p->is_failed)
		return;
	p->is_failed = true;
	p->rc = alert_arena_over_limit(p->t->a) ? TS_ELIMIT : TS_ENOMEM;
	ts_err_set(p->err, p->rc, "template: %s: out of memory", p->t->name);
}

/* The item at index i; past the end, the last item (EOF or ERROR) again. */
static alert_tpl_item *item_at(parser *p, size_t i)
{
	return &p->items[i < p->n ? i : p->n - 1];
}

/* p->i may reach n (one past the last item) so that a backup after reading the last
 * item returns to it rather than to the item before it. */
static alert_tpl_item *pnext(parser *p)
{
	alert_tpl_item *it = item_at(p, p->i);
	if (p->i < p->n)
		p->i++;
	p->last_pos = it->pos;
	return it;
}

static void pbackup(parser *p)
{
	if (p->i > 0)
		p->i--;
}

static alert_tpl_item *ppeek(parser *p)
{
	return item_at(p, p->i);
}

static alert_tpl_item *pnext_nonspace(parser *p)
{
	alert_tpl_item *it;
	do
		it = pnext(p);
	while (it->t == ALERT_TPL_I_SPACE);
	return it;
}

static alert_tpl_item *ppeek_nonspace(parser *p)
{
	while (p->i < p->n && p->items[p->i].t == ALERT_TPL_I_SPACE)
		p->i++;
	return item_at(p, p->i);
}

/* Go's item.String(): EOF, error text, <keyword>, %q (at most 10 bytes then "..."). */
static void item_str(const alert_tpl_item *it, char *out, size_t cap)
{
	if (it->t == ALERT_TPL_I_EOF)
		snprintf(out, cap, "EOF");
	else if (it->t == ALERT_TPL_I_ERROR)
		snprintf(out, cap, "%.*s", (int)it->len, it->val);
	else if (it->t > ALERT_TPL_I_KEYWORD)
		snprintf(out, cap, "<%.*s>", (int)it->len, it->val);
	else {
		ts_buf b;
		ts_buf_init(&b, 256);
		size_t n = it->len > 10 ? 10 : it->len;
		if (alert_tpl_quote(&b, it->val, n) == TS_OK)
			snprintf(out, cap, "%s%s", b.data, it->len > 10 ? "..." : "");
		else
			snprintf(out, cap, "?");
		ts_buf_free(&b);
	}
}

static void unexpected(parser *p, const alert_tpl_item *it, const char *context)
{
	char s[80];
	item_str(it, s, sizeof(s));
	if (it->t == ALERT_TPL_I_ERROR)
		perrorf(p, "%s", s);
	else
		perrorf(p, "unexpected %s in %s", s, context);
}

static alert_tpl_node *new_node(parser *p, alert_tpl_ntype t, uint32_t pos)
{
	alert_tpl_node *n = alert_arena_alloc(p->t->a, sizeof(*n));
	if (!n) {
		pnomem(p);
		return NULL;
	}
	n->t = t;
	n->pos = pos;
	n->src = pos;
	n->end = pos;
	return n;
}

static void add_kid(parser *p, alert_tpl_node *parent, alert_tpl_node *kid)
{
	if (!parent || !kid || p->is_failed)
		return;
	if (parent->n_kids == parent->cap_kids) {
		size_t nc = parent->cap_kids ? parent->cap_kids * 2 : 4;
		alert_tpl_node **v = alert_arena_alloc(p->t->a, nc * sizeof(*v));
		if (!v) {
			pnomem(p);
			return;
		}
		if (parent->n_kids)
			memcpy(v, parent->kids, parent->n_kids * sizeof(*v));
		parent->kids = v;
		parent->cap_kids = nc;
	}
	parent->kids[parent->n_kids++] = kid;
}

static bool push_var(parser *p, const char *name, size_t n)
{
	if (p->n_vars == p->cap_vars) {
		size_t nc = p->cap_vars ? p->cap_vars * 2 : 16;
		const char **v = alert_arena_alloc(p->t->a, nc * sizeof(*v));
		if (!v) {
			pnomem(p);
			return false;
		}
		if (p->n_vars)
			memcpy(v, p->vars, p->n_vars * sizeof(*v));
		p->vars = v;
		p->cap_vars = nc;
	}
	const char *s = alert_arena_strndup(p->t->a, name, n);
	if (!s) {
		pnomem(p);
		return false;
	}
	p->vars[p->n_vars++] = s;
	return true;
}

/* Split "$x.a.b" or ".a.b" into identifiers (the leading '.' of fields dropped). */
static bool split_idents(parser *p, alert_tpl_node *n, const char *s, size_t len)
{
	size_t k = 1;
	for (size_t i = 1; i < len; i++)
		k += s[i] == '.';
	n->idents = alert_arena_alloc(p->t->a, k * sizeof(*n->idents));
	if (!n->idents) {
		pnomem(p);
		return false;
	}
	size_t i = 0;
	if (s[0] == '.')
		i = 1;
	while (i <= len) {
		size_t j = i;
		while (j < len && s[j] != '.')
			j++;
		if (j > i || s[0] != '.') {
			n->idents[n->n_idents] = alert_arena_strndup(p->t->a, s + i, j - i);
			if (!n->idents[n->n_idents++]) {
				pnomem(p);
				return false;
			}
		}
		i = j + 1;
	}
	return true;
}

static alert_tpl_node *string_node(parser *p, const alert_tpl_item *it)
{
	alert_tpl_node *n = new_node(p, ALERT_TPL_N_STRING, it->pos);
	if (!n)
		return NULL;
	char *buf = alert_arena_alloc(p->t->a, it->len + 1);
	if (!buf) {
		pnomem(p);
		return NULL;
	}
	size_t len;
	if (alert_tpl_unquote(it->val, it->len, buf, &len)) {
		perrorf(p, "invalid syntax");
		return NULL;
	}
	n->s = buf;
	n->n = len;
	n->end = it->pos + it->len;
	return n;
}

/* Go's strconv.ParseInt(s, 0, 64) with underscores; false on syntax error or overflow. */
static bool parse_go_int(const char *s, size_t n, int64_t *out, int *overflow)
{
	*overflow = 0;
	size_t i = 0;
	bool neg = false;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	int base = 10;
	if (n - i >= 2 && s[i] == '0') {
		char c = s[i + 1];
		if (c == 'x' || c == 'X')
			base = 16, i += 2;
		else if (c == 'o' || c == 'O')
			base = 8, i += 2;
		else if (c == 'b' || c == 'B')
			base = 2, i += 2;
		else
			base = 8, i += 1;
	}
	if (i >= n && base != 8)
		return false;
	uint64_t v = 0;
	bool any = base == 8 && i > 0 && s[i - 1] == '0';
	for (; i < n; i++) {
		int c = (unsigned char)s[i], d;
		if (c == '_')
			continue;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		if (d >= base)
			return false;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) {
			*overflow = 2; /* does not fit uint64 */
			return false;
		}
		v = v * (uint64_t)base + (uint64_t)d;
		any = true;
	}
	if (!any)
		return false;
	if ((!neg && v > (uint64_t)INT64_MAX) || (neg && v > (uint64_t)INT64_MAX + 1)) {
		*overflow = neg ? 2 : 1; /* 1: a uint64 that overflows int */
		return false;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static alert_tpl_node *number_node(parser *p, const alert_tpl_item *it)
{
	alert_tpl_node *n = new_node(p, ALERT_TPL_N_NUMBER, it->pos);
	if (!n)
		return NULL;
	n->end = it->pos + it->len;
	const char *s = it->val;
	size_t len = it->len;
	if (it->t == ALERT_TPL_I_CHAR_CONSTANT) {
		char buf[64];
		size_t bl;
		/* reuse the string unquoter on a "..." form of the char body */
		char tmp[64];
		if (len < 3 || len > sizeof(tmp)) {
			perrorf(p, "malformed character constant: %.*s", (int)len, s);
			return NULL;
		}
		tmp[0] = '"';
		memcpy(tmp + 1, s + 1, len - 2);
		tmp[len - 1] = '"';
		if (alert_tpl_unquote(tmp, len, buf, &bl) || bl == 0 || bl > 4) {
			perrorf(p, "malformed character constant: %.*s", (int)len, s);
			return NULL;
		}
		uint32_t r = (unsigned char)buf[0];
		if (bl > 1) {
			r = (unsigned char)buf[0] & (0xff >> (bl + 1));
			for (size_t k = 1; k < bl; k++)
				r = (r << 6) | ((unsigned char)buf[k] & 0x3f);
		}
		/* one rune exactly: its UTF-8 length must be bl */
		size_t want = r < 0x80 ? 1 : r < 0x800 ? 2 : r < 0x10000 ? 3 : 4;
		if (want != bl) {
			perrorf(p, "malformed character constant: %.*s", (int)len, s);
			return NULL;
		}
		n->num_kind = 0;
		n->i = r;
		n->f = r;
		return n;
	}
	if (it->t == ALERT_TPL_I_COMPLEX || (len && s[len - 1] == 'i')) {
		n->num_kind = 2;
		return n;
	}
	int overflow;
	int64_t iv;
	bool has_float_chars = false;
	for (size_t k = 0; k < len; k++)
		if (s[k] && strchr(".eEpP", s[k]))
			has_float_chars = true;
	if (parse_go_int(s, len, &iv, &overflow)) {
		n->num_kind = 0;
		n->i = iv;
		n->f = (double)iv;
		return n;
	}
	char buf[128];
	if (len >= sizeof(buf)) {
		perrorf(p, "illegal number syntax: \"%.*s\"", (int)len, s);
		return NULL;
	}
	size_t bl = 0;
	for (size_t k = 0; k < len; k++)
		if (s[k] != '_')
			buf[bl++] = s[k];
	buf[bl] = '\0';
	char *end;
	errno = 0;
	double f = strtod(buf, &end);
	if (end == buf || *end || isspace((unsigned char)buf[0]) || isnan(f) ||
	    (isinf(f) && errno != ERANGE)) {
		perrorf(p, "illegal number syntax: \"%.*s\"", (int)len, s);
		return NULL;
	}
	if (!has_float_chars) {
		if (overflow == 1)
			n->num_kind = 3; /* fits uint64 maybe; Go: overflows int at execution */
		else {
			perrorf(p, "integer overflow: \"%.*s\"", (int)len, s);
			return NULL;
		}
		return n;
	}
	n->num_kind = 1;
	n->f = f;
	return n;
}

static alert_tpl_node *pipeline(parser *p, const char *context, alert_tpl_itype end);
static alert_tpl_node *item_list(parser *p, alert_tpl_node **end_node);

static alert_tpl_node *term(parser *p)
{
	alert_tpl_item *it = pnext_nonspace(p);
	alert_tpl_node *n;
	switch (it->t) {
	case ALERT_TPL_I_IDENTIFIER: {
		const alert_tpl_func *f = alert_tpl_func_lookup(it->val, it->len);
		if (!f) {
			perrorf(p, "function \"%.*s\" not defined", (int)it->len, it->val);
			return NULL;
		}
		if (!(n = new_node(p, ALERT_TPL_N_IDENT, it->pos)))
			return NULL;
		n->func = f;
		n->s = f->name;
		n->n = it->len;
		n->end = it->pos + it->len;
		return n;
	}
	case ALERT_TPL_I_DOT:
	case ALERT_TPL_I_NIL:
		n = new_node(p, it->t == ALERT_TPL_I_DOT ? ALERT_TPL_N_DOT : ALERT_TPL_N_NIL,
			     it->pos);
		if (n)
			n->end = it->pos + it->len;
		return n;
	case ALERT_TPL_I_VARIABLE:
		for (size_t k = p->n_vars; k-- > 0;)
			if (strlen(p->vars[k]) == it->len &&
			    !memcmp(p->vars[k], it->val, it->len)) {
				if (!(n = new_node(p, ALERT_TPL_N_VARIABLE, it->pos)))
					return NULL;
				n->end = it->pos + it->len;
				split_idents(p, n, it->val, it->len);
				return n;
			}
		perrorf(p, "undefined variable \"%.*s\"", (int)it->len, it->val);
		return NULL;
	case ALERT_TPL_I_FIELD:
		if (!(n = new_node(p, ALERT_TPL_N_FIELD, it->pos)))
			return NULL;
		n->end = it->pos + it->len;
		split_idents(p, n, it->val, it->len);
		return n;
	case ALERT_TPL_I_BOOL:
		if (!(n = new_node(p, ALERT_TPL_N_BOOL, it->pos)))
			return NULL;
		n->b = it->len == 4;
		n->end = it->pos + it->len;
		return n;
	case ALERT_TPL_I_CHAR_CONSTANT:
	case ALERT_TPL_I_COMPLEX:
	case ALERT_TPL_I_NUMBER: return number_node(p, it);
	case ALERT_TPL_I_LEFT_PAREN:
		if (++p->depth > ALERT_TEMPLATE_MAX_DEPTH) {
			perrorf(p, "nesting deeper than %d", ALERT_TEMPLATE_MAX_DEPTH);
			p->rc = TS_ELIMIT;
			if (p->err)
				p->err->code = TS_ELIMIT;
			return NULL;
		}
		n = pipeline(p, "parenthesized pipeline", ALERT_TPL_I_RIGHT_PAREN);
		p->depth--;
		return n;
	case ALERT_TPL_I_STRING:
	case ALERT_TPL_I_RAW_STRING: return string_node(p, it);
	default: pbackup(p); return NULL;
	}
}

static alert_tpl_node *operand(parser *p)
{
	alert_tpl_node *node = term(p);
	if (!node || p->is_failed)
		return NULL;
	if (ppeek(p)->t != ALERT_TPL_I_FIELD)
		return node;
	/* a chain: collect the fields; Go positions it at the first trailing field */
	ts_buf b;
	ts_buf_init(&b, 1 << 16);
	uint32_t end = node->end, chain_pos = ppeek(p)->pos;
	while (ppeek(p)->t == ALERT_TPL_I_FIELD) {
		alert_tpl_item *f = pnext(p);
		if (ts_buf_append(&b, f->val, f->len)) {
			ts_buf_free(&b);
			pnomem(p);
			return NULL;
		}
		end = f->pos + f->len;
	}
	alert_tpl_node *r = NULL;
	switch (node->t) {
	case ALERT_TPL_N_FIELD:
	case ALERT_TPL_N_VARIABLE: {
		/* append the names to the original */
		ts_buf all;
		ts_buf_init(&all, 1 << 16);
		if (node->t == ALERT_TPL_N_VARIABLE)
			ts_buf_puts(&all, node->idents[0]);
		for (size_t k = node->t == ALERT_TPL_N_VARIABLE ? 1 : 0; k < node->n_idents; k++) {
			ts_buf_putc(&all, '.');
			ts_buf_puts(&all, node->idents[k]);
		}
		if (ts_buf_append(&all, b.data, b.len) == TS_OK) {
			r = new_node(p, node->t, chain_pos);
			if (r) {
				r->src = node->src;
				r->end = end;
				split_idents(p, r, all.data, all.len);
			}
		} else {
			pnomem(p);
		}
		ts_buf_free(&all);
		break;
	}
	case ALERT_TPL_N_BOOL:
	case ALERT_TPL_N_STRING:
	case ALERT_TPL_N_NUMBER:
	case ALERT_TPL_N_NIL:
	case ALERT_TPL_N_DOT:
		ts_buf_reset(&b);
		if (alert_tpl_quote(&b, p->t->text + node->src, node->end - node->src) == TS_OK)
			perrorf(p, "unexpected . after term %s", b.data);
		else
			pnomem(p);
		break;
	default:
		r = new_node(p, ALERT_TPL_N_CHAIN, chain_pos);
		if (r) {
			r->src = node->src;
			r->pipe = node;
			r->end = end;
			split_idents(p, r, b.data, b.len);
		}
	}
	ts_buf_free(&b);
	return p->is_failed ? NULL : r;
}

static alert_tpl_node *command(parser *p)
{
	alert_tpl_node *cmd = new_node(p, ALERT_TPL_N_COMMAND, ppeek_nonspace(p)->pos);
	if (!cmd)
		return NULL;
	for (;;) {
		ppeek_nonspace(p);
		alert_tpl_node *o = operand(p);
		if (p->is_failed)
			return NULL;
		if (o) {
			add_kid(p, cmd, o);
			cmd->end = o->end > o->src ? o->end : o->src + 1;
		}
		alert_tpl_item *it = pnext(p);
		if (it->t == ALERT_TPL_I_SPACE)
			continue;
		if (it->t == ALERT_TPL_I_RIGHT_DELIM || it->t == ALERT_TPL_I_RIGHT_PAREN)
			pbackup(p);
		else if (it->t != ALERT_TPL_I_PIPE)
			unexpected(p, it, "operand");
		break;
	}
	if (p->is_failed)
		return NULL;
	if (cmd->n_kids == 0) {
		perrorf(p, "empty command");
		return NULL;
	}
	return cmd;
}

static bool add_decl(parser *p, alert_tpl_node *pipe, const alert_tpl_item *v, bool define)
{
	const char **d = alert_arena_alloc(p->t->a, (pipe->n_decl + 1) * sizeof(*d));
	if (!d) {
		pnomem(p);
		return false;
	}
	if (pipe->n_decl)
		memcpy(d, pipe->decl, pipe->n_decl * sizeof(*d));
	d[pipe->n_decl] = alert_arena_strndup(p->t->a, v->val, v->len);
	if (!d[pipe->n_decl]) {
		pnomem(p);
		return false;
	}
	pipe->decl = d;
	pipe->n_decl++;
	return !define || push_var(p, v->val, v->len);
}

static alert_tpl_node *pipeline(parser *p, const char *context, alert_tpl_itype end)
{
	alert_tpl_node *pipe = new_node(p, ALERT_TPL_N_PIPE, ppeek_nonspace(p)->pos);
	if (!pipe)
		return NULL;
decls:
	if (ppeek_nonspace(p)->t == ALERT_TPL_I_VARIABLE) {
		size_t at = p->i;
		alert_tpl_item *v = pnext(p);
		alert_tpl_item *next = ppeek_nonspace(p);
		if (next->t == ALERT_TPL_I_ASSIGN || next->t == ALERT_TPL_I_DECLARE) {
			pipe->is_assign = next->t == ALERT_TPL_I_ASSIGN;
			pnext_nonspace(p);
			if (!add_decl(p, pipe, v, true))
				return NULL;
		} else if (next->t == ALERT_TPL_I_CHAR && next->len == 1 && next->val[0] == ',') {
			pnext_nonspace(p);
			if (!add_decl(p, pipe, v, true))
				return NULL;
			if (!strcmp(context, "range") && pipe->n_decl < 2) {
				alert_tpl_itype t = ppeek_nonspace(p)->t;
				if (t == ALERT_TPL_I_VARIABLE || t == ALERT_TPL_I_RIGHT_DELIM ||
				    t == ALERT_TPL_I_RIGHT_PAREN)
					goto decls;
				perrorf(p, "range can only initialize variables");
				return NULL;
			}
			perrorf(p, "too many declarations in %s", context);
			return NULL;
		} else {
			p->i = at; /* an argument, not a declaration */
		}
	}
	for (;;) {
		alert_tpl_item *it = pnext_nonspace(p);
		if (it->t == end) {
			pipe->end = it->pos;
			if (pipe->n_kids == 0) {
				perrorf(p, "missing value for %s", context);
				return NULL;
			}
			for (size_t k = 1; k < pipe->n_kids; k++) {
				alert_tpl_ntype t = pipe->kids[k]->kids[0]->t;
				if (t == ALERT_TPL_N_BOOL || t == ALERT_TPL_N_DOT ||
				    t == ALERT_TPL_N_NIL || t == ALERT_TPL_N_NUMBER ||
				    t == ALERT_TPL_N_STRING) {
					perrorf(p, "non executable command in pipeline stage %zu",
						k + 1);
					return NULL;
				}
			}
			return pipe;
		}
		switch (it->t) {
		case ALERT_TPL_I_BOOL:
		case ALERT_TPL_I_CHAR_CONSTANT:
		case ALERT_TPL_I_COMPLEX:
		case ALERT_TPL_I_DOT:
		case ALERT_TPL_I_FIELD:
		case ALERT_TPL_I_IDENTIFIER:
		case ALERT_TPL_I_NUMBER:
		case ALERT_TPL_I_NIL:
		case ALERT_TPL_I_RAW_STRING:
		case ALERT_TPL_I_STRING:
		case ALERT_TPL_I_VARIABLE:
		case ALERT_TPL_I_LEFT_PAREN: {
			pbackup(p);
			alert_tpl_node *c = command(p);
			if (!c)
				return NULL;
			add_kid(p, pipe, c);
			break;
		}
		default: unexpected(p, it, context); return NULL;
		}
		if (p->is_failed)
			return NULL;
	}
}

static alert_tpl_node *if_control(parser *p, uint32_t pos);

/* Go's parseControl: pipeline, list, optional else (else if for `if`). */
static alert_tpl_node *control(parser *p, alert_tpl_ntype t, const char *context, uint32_t pos)
{
	if (++p->depth > ALERT_TEMPLATE_MAX_DEPTH) {
		perrorf(p, "nesting deeper than %d", ALERT_TEMPLATE_MAX_DEPTH);
		p->rc = TS_ELIMIT;
		if (p->err)
			p->err->code = TS_ELIMIT;
		return NULL;
	}
	size_t mark = p->n_vars;
	alert_tpl_node *n = new_node(p, t, pos);
	alert_tpl_node *next = NULL;
	if (!n || !(n->pipe = pipeline(p, context, ALERT_TPL_I_RIGHT_DELIM)))
		goto out;
	if (t == ALERT_TPL_N_RANGE)
		p->range_depth++;
	n->list = item_list(p, &next);
	if (t == ALERT_TPL_N_RANGE)
		p->range_depth--;
	if (!n->list)
		goto out;
	if (next->t == ALERT_TPL_N_ELSE) {
		if (t == ALERT_TPL_N_IF && ppeek(p)->t == ALERT_TPL_I_IF) {
			alert_tpl_item *it = pnext(p);
			n->else_list = new_node(p, ALERT_TPL_N_LIST, next->pos);
			add_kid(p, n->else_list, if_control(p, it->pos));
		} else {
			n->else_list = item_list(p, &next);
			if (n->else_list && next->t != ALERT_TPL_N_END) {
				p->last_pos = next->pos;
				perrorf(p, "expected end; found {{else}}");
			}
		}
	}
out:
	p->n_vars = mark;
	p->depth--;
	return p->is_failed ? NULL : n;
}

static alert_tpl_node *if_control(parser *p, uint32_t pos)
{
	return control(p, ALERT_TPL_N_IF, "if", pos);
}

static bool template_name(parser *p, const alert_tpl_item *it, const char *context,
			  alert_tpl_node *n)
{
	if (it->t != ALERT_TPL_I_STRING && it->t != ALERT_TPL_I_RAW_STRING) {
		unexpected(p, it, context);
		return false;
	}
	alert_tpl_node *s = string_node(p, it);
	if (!s)
		return false;
	n->s = s->s;
	n->n = s->n;
	return true;
}

static bool add_def(parser *p, const char *name, size_t n, alert_tpl_node *list)
{
	for (size_t k = 0; k < p->n_defs; k++)
		if (strlen(p->defs[k].name) == n && !memcmp(p->defs[k].name, name, n) &&
		    list->n_kids && p->defs[k].list->n_kids) {
			perrorf(p, "template: multiple definition of template \"%.*s\"", (int)n,
				name);
			return false;
		}
	if (p->n_defs == p->cap_defs) {
		size_t nc = p->cap_defs ? p->cap_defs * 2 : 4;
		alert_tpl_def *v = alert_arena_alloc(p->t->a, nc * sizeof(*v));
		if (!v) {
			pnomem(p);
			return false;
		}
		if (p->n_defs)
			memcpy(v, p->defs, p->n_defs * sizeof(*v));
		p->defs = v;
		p->cap_defs = nc;
	}
	p->defs[p->n_defs++] = (alert_tpl_def){name, list};
	return true;
}

/* {{define "name"}} ... {{end}} (after the "define" keyword). */
static void definition(parser *p)
{
	const char *context = "define clause";
	alert_tpl_node tmp = {0};
	alert_tpl_item *it = pnext_nonspace(p);
	if (!template_name(p, it, context, &tmp))
		return;
	it = pnext_nonspace(p);
	if (it->t != ALERT_TPL_I_RIGHT_DELIM) {
		unexpected(p, it, context);
		return;
	}
	/* a definition has its own variables: only $ */
	const char **saved = p->vars;
	size_t saved_n = p->n_vars, saved_cap = p->cap_vars;
	p->vars = NULL;
	p->n_vars = p->cap_vars = 0;
	push_var(p, "$", 1);
	alert_tpl_node *end = NULL;
	alert_tpl_node *list = item_list(p, &end);
	p->vars = saved;
	p->n_vars = saved_n;
	p->cap_vars = saved_cap;
	if (!list)
		return;
	if (end->t != ALERT_TPL_N_END) {
		perrorf(p, "unexpected {{else}} in %s", context);
		return;
	}
	add_def(p, tmp.s, tmp.n, list);
}

static alert_tpl_node *action(parser *p)
{
	alert_tpl_item *it = pnext_nonspace(p);
	alert_tpl_node *n;
	switch (it->t) {
	case ALERT_TPL_I_BLOCK: {
		const char *context = "block clause";
		n = new_node(p, ALERT_TPL_N_TEMPLATE, it->pos);
		alert_tpl_item *name = pnext_nonspace(p);
		if (!n || !template_name(p, name, context, n))
			return NULL;
		n->pos = name->pos;
		if (!(n->pipe = pipeline(p, context, ALERT_TPL_I_RIGHT_DELIM)))
			return NULL;
		const char **saved = p->vars;
		size_t saved_n = p->n_vars, saved_cap = p->cap_vars;
		p->vars = NULL;
		p->n_vars = p->cap_vars = 0;
		push_var(p, "$", 1);
		alert_tpl_node *end = NULL;
		alert_tpl_node *list = item_list(p, &end);
		p->vars = saved;
		p->n_vars = saved_n;
		p->cap_vars = saved_cap;
		if (!list)
			return NULL;
		if (end->t != ALERT_TPL_N_END) {
			perrorf(p, "unexpected {{else}} in %s", context);
			return NULL;
		}
		return add_def(p, n->s, n->n, list) ? n : NULL;
	}
	case ALERT_TPL_I_BREAK:
	case ALERT_TPL_I_CONTINUE: {
		bool is_break = it->t == ALERT_TPL_I_BREAK;
		alert_tpl_item *d = pnext_nonspace(p);
		if (d->t != ALERT_TPL_I_RIGHT_DELIM) {
			unexpected(p, d, is_break ? "{{break}}" : "{{continue}}");
			return NULL;
		}
		if (p->range_depth == 0) {
			perrorf(p, "{{%s}} outside {{range}}", is_break ? "break" : "continue");
			return NULL;
		}
		return new_node(p, is_break ? ALERT_TPL_N_BREAK : ALERT_TPL_N_CONTINUE, it->pos);
	}
	case ALERT_TPL_I_ELSE: {
		if (ppeek_nonspace(p)->t == ALERT_TPL_I_IF)
			return new_node(p, ALERT_TPL_N_ELSE, it->pos);
		alert_tpl_item *d = pnext_nonspace(p);
		if (d->t != ALERT_TPL_I_RIGHT_DELIM) {
			unexpected(p, d, "else");
			return NULL;
		}
		return new_node(p, ALERT_TPL_N_ELSE, it->pos);
	}
	case ALERT_TPL_I_END: {
		alert_tpl_item *d = pnext_nonspace(p);
		if (d->t != ALERT_TPL_I_RIGHT_DELIM) {
			unexpected(p, d, "end");
			return NULL;
		}
		return new_node(p, ALERT_TPL_N_END, it->pos);
	}
	case ALERT_TPL_I_IF: return if_control(p, it->pos);
	case ALERT_TPL_I_RANGE: return control(p, ALERT_TPL_N_RANGE, "range", it->pos);
	case ALERT_TPL_I_WITH: return control(p, ALERT_TPL_N_WITH, "with", it->pos);
	case ALERT_TPL_I_TEMPLATE: {
		const char *context = "template clause";
		n = new_node(p, ALERT_TPL_N_TEMPLATE, it->pos);
		alert_tpl_item *name = pnext_nonspace(p);
		if (!n || !template_name(p, name, context, n))
			return NULL;
		n->pos = name->pos;
		if (pnext_nonspace(p)->t != ALERT_TPL_I_RIGHT_DELIM) {
			pbackup(p);
			if (!(n->pipe = pipeline(p, context, ALERT_TPL_I_RIGHT_DELIM)))
				return NULL;
		}
		return n;
	}
	default: break;
	}
	pbackup(p);
	n = new_node(p, ALERT_TPL_N_ACTION, ppeek(p)->pos);
	if (!n || !(n->pipe = pipeline(p, "command", ALERT_TPL_I_RIGHT_DELIM)))
		return NULL;
	n->end = n->pipe->end;
	return n;
}

static alert_tpl_node *text_or_action(parser *p)
{
	alert_tpl_item *it = pnext_nonspace(p);
	switch (it->t) {
	case ALERT_TPL_I_TEXT: {
		alert_tpl_node *n = new_node(p, ALERT_TPL_N_TEXT, it->pos);
		if (n) {
			n->s = it->val;
			n->n = it->len;
		}
		return n;
	}
	case ALERT_TPL_I_LEFT_DELIM: return action(p);
	default: unexpected(p, it, "input"); return NULL;
	}
}

/* Nodes up to {{end}} or {{else}} (returned in *end_node). */
static alert_tpl_node *item_list(parser *p, alert_tpl_node **end_node)
{
	alert_tpl_node *list = new_node(p, ALERT_TPL_N_LIST, ppeek_nonspace(p)->pos);
	if (!list)
		return NULL;
	while (ppeek_nonspace(p)->t != ALERT_TPL_I_EOF) {
		alert_tpl_node *n = text_or_action(p);
		if (!n || p->is_failed)
			return NULL;
		if (n->t == ALERT_TPL_N_END || n->t == ALERT_TPL_N_ELSE) {
			*end_node = n;
			return list;
		}
		add_kid(p, list, n);
	}
	pnext(p);
	perrorf(p, "unexpected EOF");
	return NULL;
}

bool alert_template_is_static(const char *text, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (text[i] == '{' && text[i + 1] == '{')
			return false;
	return true;
}

void alert_template_free(alert_template *t)
{
	if (!t)
		return;
	alert_arena_free(t->a);
	ts_free(t->name);
	ts_free(t);
}

int alert_template_parse(const char *name, const char *text, size_t len, alert_template **out,
			 ts_err *err)
{
	if (len > ALERT_TEMPLATE_MAX_TEXT)
		return ts_err_set(err, TS_ELIMIT, "template: %s: longer than %d bytes", name,
				  ALERT_TEMPLATE_MAX_TEXT);
	alert_template *t = ts_calloc(1, sizeof(*t));
	if (!t || !(t->name = ts_strdup(name)) || !(t->a = alert_arena_new(TEMPLATE_ARENA_MAX)) ||
	    !(t->text = alert_arena_strndup(t->a, text, len))) {
		alert_template_free(t);
		return ts_err_set(err, TS_ENOMEM, "template: %s: out of memory", name);
	}
	t->len = len;
	parser p = {.t = t, .err = err};
	if (alert_tpl_lex(t->text, len, t->a, &p.items, &p.n)) {
		pnomem(&p);
		goto fail;
	}
	static const char *const predefined[] = {"$", "$labels", "$externalLabels", "$externalURL",
						 "$value"};
	for (size_t k = 0; k < 5; k++)
		push_var(&p, predefined[k], strlen(predefined[k]));
	t->root = new_node(&p, ALERT_TPL_N_LIST, 0);
	while (!p.is_failed && ppeek(&p)->t != ALERT_TPL_I_EOF) {
		if (ppeek(&p)->t == ALERT_TPL_I_LEFT_DELIM) {
			size_t at = p.i;
			pnext(&p);
			if (pnext_nonspace(&p)->t == ALERT_TPL_I_DEFINE) {
				definition(&p);
				continue;
			}
			p.i = at;
		}
		alert_tpl_node *n = text_or_action(&p);
		if (!n)
			break;
		if (n->t == ALERT_TPL_N_END || n->t == ALERT_TPL_N_ELSE) {
			p.last_pos = n->pos;
			perrorf(&p, "unexpected {{%s}}", n->t == ALERT_TPL_N_END ? "end" : "else");
			break;
		}
		add_kid(&p, t->root, n);
	}
	if (p.is_failed)
		goto fail;
	t->defs = p.defs;
	t->n_defs = p.n_defs;
	*out = t;
	return TS_OK;
fail:
	alert_template_free(t);
	return p.rc ? p.rc : TS_EPARSE;
}
