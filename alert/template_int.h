/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template_int.h: what template.c (parser, executor) and template_funcs.c (values and
 * functions) share (internal to alert/).
 *
 * Values model the Go types a Prometheus template meets: bool, int, float64, string,
 * map[string]string (label sets), the data struct, query results ([]*sample, *sample)
 * and *time.Time. Strings produced during an expansion live in the expansion's arena.
 */
#ifndef ALERT_TEMPLATE_INT_H
#define ALERT_TEMPLATE_INT_H

#include "alert/template.h"

#include "alert/arena.h"

typedef enum alert_tpl_kind {
	ALERT_TPL_MISSING = 0, /* no value (Go's missingVal: no pipeline input) */
	ALERT_TPL_INVALID,     /* Go's invalid reflect.Value; prints "<no value>" */
	ALERT_TPL_NIL,
	ALERT_TPL_BOOL,
	ALERT_TPL_INT,
	ALERT_TPL_FLOAT,
	ALERT_TPL_STRING,
	ALERT_TPL_MAP,    /* map[string]string */
	ALERT_TPL_DATA,   /* the template data struct */
	ALERT_TPL_VECTOR, /* template.queryResult */
	ALERT_TPL_SAMPLE, /* *template.sample */
	ALERT_TPL_TIME,   /* *time.Time, ms precision */
} alert_tpl_kind;

/* One sample of a `query` result. */
typedef struct alert_tpl_sample {
	const ts_label *labels; /* sorted */
	size_t n_labels;
	double v;
} alert_tpl_sample;

typedef struct alert_tpl_value {
	alert_tpl_kind kind;
	union {
		bool b;
		int64_t i;
		double f;
		int64_t t_ms;
		struct {
			const char *p;
			size_t n;
		} s;
		struct {
			const ts_label *l;
			size_t n;
		} map;
		struct {
			const alert_tpl_sample *v;
			size_t n;
		} vec;
		const alert_tpl_sample *sample;
	};
} alert_tpl_value;

/* An expansion in progress. */
typedef struct alert_tpl_exec {
	const alert_template_data *data;
	alert_arena *arena;     /* strings and samples made during the expansion */
	char fn_err[224];       /* message of the failing function call */
	query_result **results; /* `query` results to free at the end */
	size_t n_results, cap_results;
} alert_tpl_exec;

/* Function parameter kinds. */
enum {
	ALERT_TPL_P_ANY = 'a',
	ALERT_TPL_P_STRING = 's',
	ALERT_TPL_P_VECTOR = 'v',
	ALERT_TPL_P_SAMPLE = 'p'
};

/* A function: returns TS_OK with *out set, or TS_EINVAL with x->fn_err set. */
typedef int (*alert_tpl_func_impl)(alert_tpl_exec *x, const alert_tpl_value *args, size_t n,
				   alert_tpl_value *out);

typedef struct alert_tpl_func {
	const char *name;
	int n_params; /* declared parameters (the last one repeats if is_variadic) */
	bool is_variadic;
	const char *params;       /* one ALERT_TPL_P_* per parameter */
	alert_tpl_func_impl impl; /* NULL: accepted by the parser, unsupported at execution */
} alert_tpl_func;

/* The function called name[0..n), or NULL (Prometheus' and Go's builtin names). */
const alert_tpl_func *alert_tpl_func_lookup(const char *name, size_t n);

/* Set x->fn_err; returns TS_EINVAL. */
int alert_tpl_fn_error(alert_tpl_exec *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Go's truth of a value (if, with, and, or, not); *ok false for invalid values. */
bool alert_tpl_truth(const alert_tpl_value *v, bool *ok);
/* fmt.Fprint of one value. TS_OK or a ts_buf error. */
int alert_tpl_print(alert_tpl_exec *x, ts_buf *out, const alert_tpl_value *v);
/* The Go type name of a value ("float64", "map[string]string", ...). */
const char *alert_tpl_type_name(const alert_tpl_value *v);
/* A value for a string made in the arena (copied); TS_ENOMEM/TS_ELIMIT. */
int alert_tpl_string(alert_tpl_exec *x, const char *s, size_t n, alert_tpl_value *out);
/* Go's strconv.Quote of s[0..n), appended to b. TS_OK or a ts_buf error. */
int alert_tpl_quote(ts_buf *b, const char *s, size_t n);
/*
 * Go's strconv.Unquote of a "..." or `...` literal s[0..n) into out (room for n bytes; not
 * NUL-terminated), length in *out_n. TS_OK or TS_EPARSE.
 */
int alert_tpl_unquote(const char *s, size_t n, char *out, size_t *out_n);
/* The bytes of b as an arena string value; frees b. */
int alert_tpl_buf_string(alert_tpl_exec *x, ts_buf *b, alert_tpl_value *out);
/* Go's %.<prec>g of v (NaN, +Inf, -Inf spelled as Go does). */
int alert_tpl_put_g(ts_buf *b, double v, int prec);
/* Go's time.Time.String() in UTC of ms ("2006-01-02 15:04:05.123 +0000 UTC"). */
int alert_tpl_print_time(ts_buf *b, int64_t ms);
/* fmt.Sprint (is_ln: fmt.Sprintln) of args. */
int alert_tpl_sprint(alert_tpl_exec *x, ts_buf *b, const alert_tpl_value *args, size_t n,
		     bool is_ln);
/* fmt.Sprintf(fmt[0..n), args...). */
int alert_tpl_go_printf(alert_tpl_exec *x, ts_buf *b, const char *fmt, size_t n,
			const alert_tpl_value *args, size_t n_args);
/* Look up key in a label map: the value or NULL. */
const char *alert_tpl_map_get(const ts_label *l, size_t n, const char *key, size_t key_len);

/* ================================================================ lexer and parse tree */

/* Parser nesting limit (parentheses, control structures). */
#define ALERT_TEMPLATE_MAX_DEPTH 100

/* Lexer items (Go's itemType), in Go's order; keywords after ALERT_TPL_I_KEYWORD. */
typedef enum alert_tpl_itype {
	ALERT_TPL_I_ERROR,
	ALERT_TPL_I_BOOL,
	ALERT_TPL_I_CHAR,
	ALERT_TPL_I_CHAR_CONSTANT,
	ALERT_TPL_I_COMPLEX,
	ALERT_TPL_I_ASSIGN,
	ALERT_TPL_I_DECLARE,
	ALERT_TPL_I_EOF,
	ALERT_TPL_I_FIELD,
	ALERT_TPL_I_IDENTIFIER,
	ALERT_TPL_I_LEFT_DELIM,
	ALERT_TPL_I_LEFT_PAREN,
	ALERT_TPL_I_NUMBER,
	ALERT_TPL_I_PIPE,
	ALERT_TPL_I_RAW_STRING,
	ALERT_TPL_I_RIGHT_DELIM,
	ALERT_TPL_I_RIGHT_PAREN,
	ALERT_TPL_I_SPACE,
	ALERT_TPL_I_STRING,
	ALERT_TPL_I_TEXT,
	ALERT_TPL_I_VARIABLE,
	ALERT_TPL_I_KEYWORD, /* keywords follow */
	ALERT_TPL_I_BLOCK,
	ALERT_TPL_I_BREAK,
	ALERT_TPL_I_CONTINUE,
	ALERT_TPL_I_DOT,
	ALERT_TPL_I_DEFINE,
	ALERT_TPL_I_ELSE,
	ALERT_TPL_I_END,
	ALERT_TPL_I_IF,
	ALERT_TPL_I_NIL,
	ALERT_TPL_I_RANGE,
	ALERT_TPL_I_TEMPLATE,
	ALERT_TPL_I_WITH,
} alert_tpl_itype;

/* One lexed item. */
typedef struct alert_tpl_item {
	alert_tpl_itype t;
	uint32_t pos;    /* byte offset of the item in the text */
	uint32_t len;    /* bytes of val */
	const char *val; /* into the text, or the message of an ALERT_TPL_I_ERROR */
} alert_tpl_item;

/*
 * Lex in[0..len) into *items (arena memory; *n items, the last one EOF or ERROR), as Go's
 * lexer would produce them. TS_OK or TS_ENOMEM/TS_ELIMIT (arena exhausted).
 */
int alert_tpl_lex(const char *in, size_t len, alert_arena *a, alert_tpl_item **items, size_t *n);

/* Parse tree nodes (Go's parse.NodeType, plus END and ELSE used while parsing). */
typedef enum alert_tpl_ntype {
	ALERT_TPL_N_LIST,
	ALERT_TPL_N_TEXT,
	ALERT_TPL_N_ACTION,
	ALERT_TPL_N_IF,
	ALERT_TPL_N_RANGE,
	ALERT_TPL_N_WITH,
	ALERT_TPL_N_TEMPLATE,
	ALERT_TPL_N_BREAK,
	ALERT_TPL_N_CONTINUE,
	ALERT_TPL_N_PIPE,
	ALERT_TPL_N_COMMAND,
	ALERT_TPL_N_FIELD,
	ALERT_TPL_N_VARIABLE,
	ALERT_TPL_N_CHAIN,
	ALERT_TPL_N_IDENT,
	ALERT_TPL_N_DOT,
	ALERT_TPL_N_NIL,
	ALERT_TPL_N_BOOL,
	ALERT_TPL_N_NUMBER,
	ALERT_TPL_N_STRING,
	ALERT_TPL_N_END,
	ALERT_TPL_N_ELSE,
} alert_tpl_ntype;

typedef struct alert_tpl_node alert_tpl_node;
struct alert_tpl_node {
	alert_tpl_ntype t;
	uint32_t pos;        /* Go's position of the node (messages) */
	uint32_t src, end;   /* source text [src, end) shown in "at <...>" */
	const char *s;       /* TEXT, STRING (unquoted), IDENT, TEMPLATE name */
	size_t n;            /* bytes of s */
	const char **idents; /* FIELD: names; VARIABLE: "$x" then names; CHAIN: names */
	size_t n_idents;
	alert_tpl_node **kids; /* LIST items, PIPE commands, COMMAND arguments */
	size_t n_kids, cap_kids;
	const char **decl; /* PIPE: declared or assigned variables */
	size_t n_decl;
	bool is_assign;                   /* PIPE: '=' rather than ':=' */
	alert_tpl_node *pipe;             /* ACTION, IF, RANGE, WITH, TEMPLATE; CHAIN: the term */
	alert_tpl_node *list, *else_list; /* IF, RANGE, WITH */
	bool b;                           /* BOOL */
	int num_kind; /* NUMBER: 0 int, 1 float, 2 complex, 3 invalid (overflow) */
	int64_t i;
	double f;
	const alert_tpl_func *func; /* IDENT */
};

/* A {{define}}d (or {{block}}) template. */
typedef struct alert_tpl_def {
	const char *name;
	alert_tpl_node *list;
} alert_tpl_def;

/* A parsed template: everything lives in its arena. */
struct alert_template {
	alert_arena *a;
	char *name;
	const char *text; /* arena copy */
	size_t len;
	alert_tpl_node *root;
	alert_tpl_def *defs;
	size_t n_defs;
};

/* 1-based line and column of byte offset pos in text. */
void alert_tpl_line_col(const char *text, size_t pos, int *line, int *col);

#endif /* ALERT_TEMPLATE_INT_H */
