/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template_exec.c: expanding a parsed alert template (Go's text/template/exec.go).
 *
 * Tested by tests/alert/test_template.c (expansions compared with Prometheus output).
 *
 * A walk over the parse tree with a variable stack (marks are restored at the end of
 * if/with/range, so variables declared inside do not leak), Go's truth for if/with/and/
 * or/not, the "ideal constant" typing of number literals (1 is an int, 1.0 a float64, so
 * `gt $value 1` is Go's "incompatible types for comparison"), typed function parameters
 * with Go's messages, lazy and/or, break/continue, and {{template}} calls with a depth
 * bound. Map fields never fail (missingkey=zero, as Prometheus runs Go's templates).
 * Output goes to a bounded buffer first and is appended to the caller's only on
 * success, so a failed expansion leaves nothing behind.
 */
#include "alert/template_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TEMPLATE_MAX_CALLS 100 /* {{template}} call depth */
/* strlen("{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
 *        "{{$externalURL := .ExternalURL}}{{$value := .Value}}") */
#define PROM_DEFS_LEN 112

typedef struct xvar {
	const char *name;
	alert_tpl_value v;
} xvar;

typedef struct xstate {
	alert_tpl_exec x;
	const alert_template *t;
	ts_buf *out;
	xvar *vars;
	size_t n_vars, cap_vars;
	int calls;    /* {{template}} depth */
	int loop_ctl; /* 0, or LOOP_BREAK / LOOP_CONTINUE while unwinding */
	bool is_failed;
	int rc;
	ts_err *err;
	const alert_tpl_node *at; /* node being evaluated (for messages) */
} xstate;

enum { LOOP_BREAK = 1, LOOP_CONTINUE = 2 };

static void xerrorf(xstate *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xerrorf(xstate *s, const char *fmt, ...)
{
	if (s->is_failed)
		return;
	s->is_failed = true;
	s->rc = TS_EINVAL;
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Go's ErrorContext: line and 0-based byte column, where line 1 starts after the
	 * variable definitions Prometheus prepends (PROM_DEFS_LEN bytes). */
	int line = 1, col = 1;
	char ctx[64] = "";
	if (s->at) {
		alert_tpl_line_col(s->t->text, s->at->pos, &line, &col);
		col = col - 1 + (line == 1 ? PROM_DEFS_LEN : 0);
		if (s->at->t == ALERT_TPL_N_TEMPLATE)
			snprintf(ctx, sizeof(ctx), "{{template \"%.*s\"}}", (int)s->at->n,
				 s->at->s);
		else if (s->at->end > s->at->src)
			snprintf(ctx, sizeof(ctx), "%.*s", (int)(s->at->end - s->at->src),
				 s->t->text + s->at->src);
	}
	ts_err_set(s->err, TS_EINVAL,
		   "error executing template %s: template: %s:%d:%d: executing \"%s\" at <%s>: %s",
		   s->t->name, s->t->name, line, col, s->t->name, ctx, msg);
}

static void xnomem(xstate *s)
{
	if (s->is_failed)
		return;
	s->is_failed = true;
	s->rc = alert_arena_over_limit(s->x.arena) ? TS_ELIMIT : TS_ENOMEM;
	ts_err_set(s->err, s->rc, "template: %s: out of memory", s->t->name);
}

static void xpush(xstate *s, const char *name, alert_tpl_value v)
{
	if (s->n_vars == s->cap_vars) {
		size_t nc = s->cap_vars ? s->cap_vars * 2 : 16;
		xvar *nv = alert_arena_alloc(s->x.arena, nc * sizeof(*nv));
		if (!nv) {
			xnomem(s);
			return;
		}
		if (s->n_vars)
			memcpy(nv, s->vars, s->n_vars * sizeof(*nv));
		s->vars = nv;
		s->cap_vars = nc;
	}
	s->vars[s->n_vars++] = (xvar){name, v};
}

static xvar *xfind(xstate *s, const char *name)
{
	for (size_t k = s->n_vars; k-- > 0;)
		if (!strcmp(s->vars[k].name, name))
			return &s->vars[k];
	return NULL;
}

static alert_tpl_value eval_pipeline(xstate *s, alert_tpl_value dot, const alert_tpl_node *pipe);
static alert_tpl_value eval_arg_any(xstate *s, alert_tpl_value dot, const alert_tpl_node *n);

static void not_a_function(xstate *s, const alert_tpl_node *cmd, const alert_tpl_value *final)
{
	if ((cmd && cmd->n_kids > 1) || final->kind != ALERT_TPL_MISSING) {
		const alert_tpl_node *a = cmd ? cmd->kids[0] : s->at;
		xerrorf(s, "can't give argument to non-function %.*s", (int)(a->end - a->src),
			s->t->text + a->src);
	}
}

/* One field access: receiver.name. */
static alert_tpl_value eval_field(xstate *s, const char *name, alert_tpl_value recv, bool has_args)
{
	alert_tpl_value r = {.kind = ALERT_TPL_INVALID};
	switch (recv.kind) {
	case ALERT_TPL_MISSING:
	case ALERT_TPL_INVALID: return r;
	case ALERT_TPL_DATA: {
		const alert_template_data *d = s->x.data;
		if (!strcmp(name, "Labels")) {
			r = (alert_tpl_value){.kind = ALERT_TPL_MAP,
					      .map = {d->labels, d->n_labels}};
		} else if (!strcmp(name, "ExternalLabels")) {
			r = (alert_tpl_value){.kind = ALERT_TPL_MAP,
					      .map = {d->external_labels, d->n_external_labels}};
		} else if (!strcmp(name, "ExternalURL")) {
			const char *u = d->external_url ? d->external_url : "";
			r = (alert_tpl_value){.kind = ALERT_TPL_STRING, .s = {u, strlen(u)}};
		} else if (!strcmp(name, "Value")) {
			r = (alert_tpl_value){.kind = ALERT_TPL_FLOAT, .f = d->value};
		} else {
			xerrorf(
			    s,
			    "can't evaluate field %s in type struct { Labels map[string]string; "
			    "ExternalLabels map[string]string; ExternalURL string; Value float64 }",
			    name);
			return r;
		}
		if (has_args)
			xerrorf(s, "%s has arguments but cannot be invoked as function", name);
		return r;
	}
	case ALERT_TPL_SAMPLE:
		if (!recv.sample) {
			xerrorf(s, "nil pointer evaluating *template.sample.%s", name);
			return r;
		}
		if (!strcmp(name, "Labels"))
			return (alert_tpl_value){
			    .kind = ALERT_TPL_MAP,
			    .map = {recv.sample->labels, recv.sample->n_labels}};
		if (!strcmp(name, "Value"))
			return (alert_tpl_value){.kind = ALERT_TPL_FLOAT, .f = recv.sample->v};
		xerrorf(s, "can't evaluate field %s in type *template.sample", name);
		return r;
	case ALERT_TPL_MAP: {
		if (has_args) {
			xerrorf(s, "%s is not a method but has arguments", name);
			return r;
		}
		const char *v = alert_tpl_map_get(recv.map.l, recv.map.n, name, strlen(name));
		/* missingkey=zero: a missing key gives the zero string */
		return (alert_tpl_value){.kind = ALERT_TPL_STRING,
					 .s = {v ? v : "", v ? strlen(v) : 0}};
	}
	default:
		xerrorf(s, "can't evaluate field %s in type %s", name, alert_tpl_type_name(&recv));
		return r;
	}
}

static alert_tpl_value eval_field_chain(xstate *s, alert_tpl_value recv, const char *const *idents,
					size_t n, bool has_args)
{
	for (size_t k = 0; k < n && !s->is_failed; k++)
		recv = eval_field(s, idents[k], recv, has_args && k + 1 == n);
	return recv;
}

static alert_tpl_value eval_variable(xstate *s, const alert_tpl_node *n, bool has_args)
{
	xvar *v = xfind(s, n->idents[0]);
	if (!v) {
		xerrorf(s, "undefined variable: %s", n->idents[0]);
		return (alert_tpl_value){.kind = ALERT_TPL_INVALID};
	}
	return eval_field_chain(s, v->v, n->idents + 1, n->n_idents - 1, has_args);
}

/* Evaluate argument node n for a parameter of kind `param`. */
static alert_tpl_value eval_arg(xstate *s, alert_tpl_value dot, const alert_tpl_node *n, char param,
				bool *bad)
{
	const alert_tpl_node *saved = s->at;
	s->at = n;
	alert_tpl_value v;
	*bad = false;
	switch (n->t) {
	case ALERT_TPL_N_DOT:
	case ALERT_TPL_N_FIELD:
	case ALERT_TPL_N_VARIABLE:
	case ALERT_TPL_N_PIPE:
	case ALERT_TPL_N_IDENT:
	case ALERT_TPL_N_CHAIN: v = eval_arg_any(s, dot, n); break;
	case ALERT_TPL_N_NIL:
		if (param == ALERT_TPL_P_STRING) {
			xerrorf(s, "cannot assign nil to string");
			*bad = true;
		}
		v = (alert_tpl_value){.kind = ALERT_TPL_NIL};
		s->at = saved;
		return v;
	default:
		if (param == ALERT_TPL_P_ANY) {
			v = eval_arg_any(s, dot, n);
			break;
		}
		if (param == ALERT_TPL_P_STRING && n->t == ALERT_TPL_N_STRING) {
			v = (alert_tpl_value){.kind = ALERT_TPL_STRING, .s = {n->s, n->n}};
			break;
		}
		xerrorf(s, "expected %s; found %.*s",
			param == ALERT_TPL_P_STRING   ? "string"
			: param == ALERT_TPL_P_VECTOR ? "template.queryResult"
						      : "*template.sample",
			(int)(n->end > n->src ? n->end - n->src : 1), s->t->text + n->src);
		*bad = true;
		s->at = saved;
		return (alert_tpl_value){.kind = ALERT_TPL_INVALID};
	}
	s->at = saved;
	return v;
}

/* validateType for a typed parameter. */
static bool validate(xstate *s, const alert_tpl_value *v, char param)
{
	if (s->is_failed)
		return false;
	if (param == ALERT_TPL_P_ANY)
		return true;
	if (v->kind == ALERT_TPL_INVALID || v->kind == ALERT_TPL_MISSING) {
		if (param == ALERT_TPL_P_STRING) {
			xerrorf(s, "invalid value; expected string");
			return false;
		}
		return true; /* pointers and slices may be nil */
	}
	alert_tpl_kind want = param == ALERT_TPL_P_STRING   ? ALERT_TPL_STRING
			      : param == ALERT_TPL_P_VECTOR ? ALERT_TPL_VECTOR
							    : ALERT_TPL_SAMPLE;
	if (v->kind == want || (v->kind == ALERT_TPL_NIL && param != ALERT_TPL_P_STRING))
		return true;
	xerrorf(s, "wrong type for value; expected %s; got %s",
		param == ALERT_TPL_P_STRING   ? "string"
		: param == ALERT_TPL_P_VECTOR ? "template.queryResult"
					      : "*template.sample",
		alert_tpl_type_name(v));
	return false;
}

#define MAX_ARGS 32

static alert_tpl_value eval_call(xstate *s, alert_tpl_value dot, const alert_tpl_node *ident,
				 const alert_tpl_node *cmd, alert_tpl_value final)
{
	const alert_tpl_func *f = ident->func;
	alert_tpl_value r = {.kind = ALERT_TPL_INVALID};
	size_t n_args = cmd ? cmd->n_kids - 1 : 0;
	const alert_tpl_node *const *args =
	    cmd ? (const alert_tpl_node *const *)cmd->kids + 1 : NULL;
	size_t n_in = n_args + (final.kind != ALERT_TPL_MISSING);
	if (f->is_variadic) {
		if (n_in < (size_t)f->n_params - 1) {
			xerrorf(s, "wrong number of args for %s: want at least %d got %zu", f->name,
				f->n_params - 1, n_args);
			return r;
		}
	} else if (n_in != (size_t)f->n_params) {
		xerrorf(s, "wrong number of args for %s: want %d got %zu", f->name, f->n_params,
			n_in);
		return r;
	}
	if (n_in > MAX_ARGS) {
		xerrorf(s, "too many arguments for %s", f->name);
		return r;
	}
	bool is_and = !strcmp(f->name, "and"), is_or = !strcmp(f->name, "or");
	if (is_and || is_or) {
		alert_tpl_value v = {.kind = ALERT_TPL_INVALID};
		bool bad;
		for (size_t k = 0; k < n_args; k++) {
			v = eval_arg(s, dot, args[k], ALERT_TPL_P_ANY, &bad);
			if (s->is_failed)
				return r;
			bool ok;
			if (alert_tpl_truth(&v, &ok) == is_or)
				return v;
		}
		return final.kind != ALERT_TPL_MISSING ? final : v;
	}
	alert_tpl_value argv[MAX_ARGS];
	for (size_t k = 0; k < n_args; k++) {
		size_t pi = k < (size_t)f->n_params ? k : (size_t)f->n_params - 1;
		bool bad;
		argv[k] = eval_arg(s, dot, args[k], f->params[pi], &bad);
		s->at = args[k];
		if (s->is_failed || bad || !validate(s, &argv[k], f->params[pi]))
			return r;
	}
	s->at = cmd ? cmd : ident;
	if (final.kind != ALERT_TPL_MISSING) {
		size_t pi = n_args < (size_t)f->n_params ? n_args : (size_t)f->n_params - 1;
		if (!validate(s, &final, f->params[pi]))
			return r;
		argv[n_args] = final;
	}
	if (!f->impl) {
		xerrorf(s, "error calling %s: function %s is not supported by Strata", f->name,
			f->name);
		return r;
	}
	s->x.fn_err[0] = '\0';
	int rc = f->impl(&s->x, argv, n_in, &r);
	if (rc == TS_ENOMEM || rc == TS_ELIMIT) {
		xnomem(s);
		return r;
	}
	if (rc)
		xerrorf(s, "error calling %s: %s", f->name, s->x.fn_err);
	return r;
}

/* Go's idealConstant. */
static alert_tpl_value ideal_constant(xstate *s, const alert_tpl_node *n)
{
	switch (n->num_kind) {
	case 0: return (alert_tpl_value){.kind = ALERT_TPL_INT, .i = n->i};
	case 1: return (alert_tpl_value){.kind = ALERT_TPL_FLOAT, .f = n->f};
	case 2: xerrorf(s, "complex numbers are not supported by Strata"); break;
	default: xerrorf(s, "%.*s overflows int", (int)(n->end - n->src), s->t->text + n->src);
	}
	return (alert_tpl_value){.kind = ALERT_TPL_INVALID};
}

static alert_tpl_value eval_command(xstate *s, alert_tpl_value dot, const alert_tpl_node *cmd,
				    alert_tpl_value final)
{
	const alert_tpl_node *first = cmd->kids[0];
	s->at = first;
	bool has_args = cmd->n_kids > 1 || final.kind != ALERT_TPL_MISSING;
	switch (first->t) {
	case ALERT_TPL_N_FIELD:
		return eval_field_chain(s, dot, first->idents, first->n_idents, has_args);
	case ALERT_TPL_N_CHAIN: {
		alert_tpl_value v = eval_arg_any(s, dot, first->pipe);
		return eval_field_chain(s, v, first->idents, first->n_idents, has_args);
	}
	case ALERT_TPL_N_IDENT: return eval_call(s, dot, first, cmd, final);
	case ALERT_TPL_N_PIPE: not_a_function(s, cmd, &final); return eval_pipeline(s, dot, first);
	case ALERT_TPL_N_VARIABLE: {
		if (first->n_idents == 1)
			not_a_function(s, cmd, &final);
		return eval_variable(s, first, has_args);
	}
	default: break;
	}
	not_a_function(s, cmd, &final);
	switch (first->t) {
	case ALERT_TPL_N_BOOL: return (alert_tpl_value){.kind = ALERT_TPL_BOOL, .b = first->b};
	case ALERT_TPL_N_DOT: return dot;
	case ALERT_TPL_N_NIL: xerrorf(s, "nil is not a command"); break;
	case ALERT_TPL_N_NUMBER: return ideal_constant(s, first);
	case ALERT_TPL_N_STRING:
		return (alert_tpl_value){.kind = ALERT_TPL_STRING, .s = {first->s, first->n}};
	default: xerrorf(s, "can't evaluate command"); break;
	}
	return (alert_tpl_value){.kind = ALERT_TPL_INVALID};
}

/* evalEmptyInterface and friends: any node to a value. */
static alert_tpl_value eval_arg_any(xstate *s, alert_tpl_value dot, const alert_tpl_node *n)
{
	switch (n->t) {
	case ALERT_TPL_N_BOOL: return (alert_tpl_value){.kind = ALERT_TPL_BOOL, .b = n->b};
	case ALERT_TPL_N_DOT: return dot;
	case ALERT_TPL_N_FIELD: return eval_field_chain(s, dot, n->idents, n->n_idents, false);
	case ALERT_TPL_N_IDENT:
		return eval_call(s, dot, n, NULL, (alert_tpl_value){.kind = ALERT_TPL_MISSING});
	case ALERT_TPL_N_NIL: xerrorf(s, "evalEmptyInterface: nil (can't happen)"); break;
	case ALERT_TPL_N_NUMBER: return ideal_constant(s, n);
	case ALERT_TPL_N_STRING:
		return (alert_tpl_value){.kind = ALERT_TPL_STRING, .s = {n->s, n->n}};
	case ALERT_TPL_N_VARIABLE: return eval_variable(s, n, false);
	case ALERT_TPL_N_PIPE: return eval_pipeline(s, dot, n);
	case ALERT_TPL_N_CHAIN: {
		alert_tpl_value v = eval_arg_any(s, dot, n->pipe);
		return eval_field_chain(s, v, n->idents, n->n_idents, false);
	}
	default: xerrorf(s, "can't handle %d", (int)n->t); break;
	}
	return (alert_tpl_value){.kind = ALERT_TPL_INVALID};
}

static alert_tpl_value eval_pipeline(xstate *s, alert_tpl_value dot, const alert_tpl_node *pipe)
{
	alert_tpl_value v = {.kind = ALERT_TPL_MISSING};
	if (!pipe)
		return v;
	for (size_t k = 0; k < pipe->n_kids && !s->is_failed; k++)
		v = eval_command(s, dot, pipe->kids[k], v);
	if (s->is_failed)
		return (alert_tpl_value){.kind = ALERT_TPL_INVALID};
	for (size_t k = 0; k < pipe->n_decl; k++) {
		if (pipe->is_assign) {
			xvar *x = xfind(s, pipe->decl[k]);
			if (!x) {
				xerrorf(s, "undefined variable: %s", pipe->decl[k]);
				break;
			}
			x->v = v;
		} else {
			xpush(s, pipe->decl[k], v);
		}
	}
	return v;
}

static void walk(xstate *s, alert_tpl_value dot, const alert_tpl_node *n);

static void walk_list(xstate *s, alert_tpl_value dot, const alert_tpl_node *list)
{
	for (size_t k = 0; list && k < list->n_kids && !s->is_failed && !s->loop_ctl; k++)
		walk(s, dot, list->kids[k]);
}

static void range_iteration(xstate *s, const alert_tpl_node *r, alert_tpl_value index,
			    alert_tpl_value elem, size_t mark)
{
	const alert_tpl_node *pipe = r->pipe;
	if (pipe->n_decl > 0) {
		if (pipe->is_assign) {
			xvar *v = xfind(s, pipe->decl[0]);
			if (v)
				v->v = pipe->n_decl > 1 ? index : elem;
		} else {
			s->vars[s->n_vars - 1].v = elem;
		}
	}
	if (pipe->n_decl > 1) {
		if (pipe->is_assign) {
			xvar *v = xfind(s, pipe->decl[1]);
			if (v)
				v->v = elem;
		} else {
			s->vars[s->n_vars - 2].v = index;
		}
	}
	walk_list(s, elem, r->list);
	s->n_vars = mark;
	if (s->loop_ctl == LOOP_CONTINUE)
		s->loop_ctl = 0;
}

static void walk_range(xstate *s, alert_tpl_value dot, const alert_tpl_node *r)
{
	size_t outer = s->n_vars;
	s->at = r;
	alert_tpl_value v = eval_pipeline(s, dot, r->pipe);
	size_t mark = s->n_vars;
	bool any = false;
	switch (v.kind) {
	case ALERT_TPL_MAP: {
		/* Go ranges over a map in key order; label sets are usually sorted already */
		const char *prev = NULL;
		for (size_t k = 0; k < v.map.n && !s->is_failed; k++) {
			const ts_label *l = NULL;
			for (size_t j = 0; j < v.map.n; j++)
				if ((!prev || strcmp(v.map.l[j].name, prev) > 0) &&
				    (!l || strcmp(v.map.l[j].name, l->name) < 0))
					l = &v.map.l[j];
			if (!l)
				break;
			prev = l->name;
			range_iteration(s, r,
					(alert_tpl_value){.kind = ALERT_TPL_STRING,
							  .s = {l->name, strlen(l->name)}},
					(alert_tpl_value){.kind = ALERT_TPL_STRING,
							  .s = {l->value, strlen(l->value)}},
					mark);
			any = true;
			if (s->loop_ctl == LOOP_BREAK) {
				s->loop_ctl = 0;
				break;
			}
		}
		break;
	}
	case ALERT_TPL_VECTOR:
		for (size_t k = 0; k < v.vec.n && !s->is_failed; k++) {
			range_iteration(
			    s, r, (alert_tpl_value){.kind = ALERT_TPL_INT, .i = (int64_t)k},
			    (alert_tpl_value){.kind = ALERT_TPL_SAMPLE, .sample = &v.vec.v[k]},
			    mark);
			any = true;
			if (s->loop_ctl == LOOP_BREAK) {
				s->loop_ctl = 0;
				break;
			}
		}
		break;
	case ALERT_TPL_INVALID:
	case ALERT_TPL_NIL: break;
	default:
		if (!s->is_failed) {
			ts_buf b;
			ts_buf_init(&b, 256);
			alert_tpl_print(&s->x, &b, &v);
			xerrorf(s, "range can't iterate over %s", b.data ? b.data : "");
			ts_buf_free(&b);
		}
	}
	if (!any && !s->is_failed && r->else_list)
		walk_list(s, dot, r->else_list);
	s->n_vars = outer;
}

static void walk(xstate *s, alert_tpl_value dot, const alert_tpl_node *n)
{
	s->at = n;
	switch (n->t) {
	case ALERT_TPL_N_LIST: walk_list(s, dot, n); return;
	case ALERT_TPL_N_TEXT:
		if (ts_buf_append(s->out, n->s, n->n))
			xerrorf(s, "output longer than %d bytes", ALERT_TEMPLATE_MAX_OUTPUT);
		return;
	case ALERT_TPL_N_ACTION: {
		alert_tpl_value v = eval_pipeline(s, dot, n->pipe);
		if (!s->is_failed && n->pipe->n_decl == 0 && alert_tpl_print(&s->x, s->out, &v))
			xerrorf(s, "output longer than %d bytes", ALERT_TEMPLATE_MAX_OUTPUT);
		return;
	}
	case ALERT_TPL_N_IF:
	case ALERT_TPL_N_WITH: {
		size_t mark = s->n_vars;
		alert_tpl_value v = eval_pipeline(s, dot, n->pipe);
		if (!s->is_failed) {
			bool ok;
			bool truth = alert_tpl_truth(&v, &ok);
			if (!ok) {
				s->at = n;
				xerrorf(s, "if/with can't use <no value>");
			} else if (truth) {
				walk_list(s, n->t == ALERT_TPL_N_WITH ? v : dot, n->list);
			} else if (n->else_list) {
				walk_list(s, dot, n->else_list);
			}
		}
		s->n_vars = mark;
		return;
	}
	case ALERT_TPL_N_RANGE: walk_range(s, dot, n); return;
	case ALERT_TPL_N_BREAK: s->loop_ctl = LOOP_BREAK; return;
	case ALERT_TPL_N_CONTINUE: s->loop_ctl = LOOP_CONTINUE; return;
	case ALERT_TPL_N_TEMPLATE: {
		const alert_tpl_def *d = NULL;
		for (size_t k = 0; k < s->t->n_defs; k++)
			if (strlen(s->t->defs[k].name) == n->n &&
			    !memcmp(s->t->defs[k].name, n->s, n->n))
				d = &s->t->defs[k];
		if (!d) {
			xerrorf(s, "template \"%.*s\" not defined", (int)n->n, n->s);
			return;
		}
		if (s->calls >= TEMPLATE_MAX_CALLS) {
			xerrorf(s, "exceeded maximum template depth (%d)", TEMPLATE_MAX_CALLS);
			return;
		}
		alert_tpl_value v = n->pipe ? eval_pipeline(s, dot, n->pipe)
					    : (alert_tpl_value){.kind = ALERT_TPL_INVALID};
		if (s->is_failed)
			return;
		xvar *saved = s->vars;
		size_t saved_n = s->n_vars, saved_cap = s->cap_vars;
		s->vars = NULL;
		s->n_vars = s->cap_vars = 0;
		xpush(s, "$", v);
		s->calls++;
		walk_list(s, v, d->list);
		s->calls--;
		s->vars = saved;
		s->n_vars = saved_n;
		s->cap_vars = saved_cap;
		return;
	}
	default: xerrorf(s, "unknown node"); return;
	}
}

int alert_template_expand(const alert_template *t, const alert_template_data *d, ts_buf *out,
			  ts_err *err)
{
	xstate s = {.t = t, .err = err};
	s.x.data = d;
	s.x.arena = alert_arena_new(4u << 20);
	if (!s.x.arena)
		return ts_err_set(err, TS_ENOMEM, "template: %s: out of memory", t->name);
	ts_buf tmp;
	ts_buf_init(&tmp, ALERT_TEMPLATE_MAX_OUTPUT);
	s.out = &tmp;
	alert_tpl_value root = {.kind = ALERT_TPL_DATA};
	const char *url = d->external_url ? d->external_url : "";
	xpush(&s, "$", root);
	xpush(&s, "$labels",
	      (alert_tpl_value){.kind = ALERT_TPL_MAP, .map = {d->labels, d->n_labels}});
	xpush(&s, "$externalLabels",
	      (alert_tpl_value){.kind = ALERT_TPL_MAP,
				.map = {d->external_labels, d->n_external_labels}});
	xpush(&s, "$externalURL",
	      (alert_tpl_value){.kind = ALERT_TPL_STRING, .s = {url, strlen(url)}});
	xpush(&s, "$value", (alert_tpl_value){.kind = ALERT_TPL_FLOAT, .f = d->value});
	if (!s.is_failed)
		walk_list(&s, root, t->root);
	for (size_t k = 0; k < s.x.n_results; k++)
		query_result_free(s.x.results[k]);
	ts_free(s.x.results);
	alert_arena_free(s.x.arena);
	int rc = s.is_failed ? s.rc : TS_OK;
	if (rc == TS_OK && tmp.len && (rc = ts_buf_append(out, tmp.data, tmp.len)))
		ts_err_set(err, rc, "template: %s: output too large", t->name);
	ts_buf_free(&tmp);
	return rc;
}

int alert_template_expand_or_error(const alert_template *t, const alert_template_data *d,
				   ts_buf *out, ts_err *err)
{
	int rc = alert_template_expand(t, d, out, err);
	if (rc == TS_OK || rc == TS_ENOMEM)
		return rc;
	const char *msg = err ? err->msg : "error";
	if (ts_buf_printf(out, "<error expanding template: %s>", msg))
		return TS_ENOMEM;
	return rc;
}
