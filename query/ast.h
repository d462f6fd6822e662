/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ast.h: PromQL syntax for query/: tokens and lexer, the AST, the parser, the type
 * checker and the printer (internal to query/ and its tests).
 *
 * The language is Prometheus 2.42's PromQL (docs/PROMQL.md lists the few differences).
 * query_parse() turns text into a query_expr tree that lives entirely in a query_arena:
 * nodes, strings and label lists are arena memory, and the compiled label matchers of
 * each selector are released by an arena cleanup, so query_arena_free() is the only
 * "free" there is. A parsed tree is immutable and type-checked; it may be read by several
 * threads at once while its arena lives.
 *
 * Shape of the tree (what the evaluator can rely on after a successful query_parse):
 *  - NUMBER holds a double (unary minus on a literal is folded in, as Prometheus does);
 *    STRING holds the unquoted bytes (may contain NUL, so it carries a length).
 *  - VECTOR_SELECTOR holds every matcher in source order, followed by __name__="<name>"
 *    when a name was written before the braces (Prometheus' order); at least one matcher
 *    does not match "". Offset and @ live in its `mods`.
 *  - MATRIX_SELECTOR points at a VECTOR_SELECTOR node (`vs`): the offset and @ of a range
 *    selector are the ones in that inner selector, as in Prometheus.
 *  - SUBQUERY has its own range, step (0 = the query's default step) and `mods`.
 *  - CALL points at a query_func with a stable id for switch statements.
 *  - AGGREGATE has `param` only for topk, bottomk, quantile and count_values.
 *  - BINARY has `matching` == NULL when either side is a scalar; otherwise it is set and
 *    its card is MANY_TO_MANY for and/or/unless.
 *  - PAREN nodes are kept (the printer needs them); the evaluator may look through them.
 * Tree height is at most QUERY_MAX_DEPTH, so recursive walkers cannot blow the stack.
 */
#ifndef QUERY_AST_H
#define QUERY_AST_H

#include "query/arena.h"

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest accepted query text in bytes (longer: TS_ELIMIT). */
#define QUERY_MAX_LEN (64 * 1024)
/* Largest tree height and parser nesting (deeper: TS_ELIMIT). */
#define QUERY_MAX_DEPTH 256

/* ================================================================ value types */

typedef enum query_value_type {
	QUERY_VALUE_NONE = 0,
	QUERY_VALUE_SCALAR,
	QUERY_VALUE_VECTOR, /* instant vector */
	QUERY_VALUE_MATRIX, /* range vector */
	QUERY_VALUE_STRING,
} query_value_type;

/* Documented name as used in Prometheus' messages: "scalar", "instant vector",
 * "range vector", "string", "none". */
const char *query_value_type_name(query_value_type t);

/* ================================================================ tokens and lexer */

typedef enum query_tok {
	QUERY_TOK_EOF = 0,
	QUERY_TOK_ERROR,
	QUERY_TOK_COMMENT,
	QUERY_TOK_IDENTIFIER,        /* [a-zA-Z_][a-zA-Z0-9_]* (not a keyword) */
	QUERY_TOK_METRIC_IDENTIFIER, /* an identifier containing ':' */
	QUERY_TOK_NUMBER,            /* as scanned; also Inf and NaN in any case */
	QUERY_TOK_STRING,            /* as scanned, quotes included */
	QUERY_TOK_DURATION,          /* as scanned, e.g. "1h30m" */
	QUERY_TOK_LEFT_PAREN,
	QUERY_TOK_RIGHT_PAREN,
	QUERY_TOK_LEFT_BRACE,
	QUERY_TOK_RIGHT_BRACE,
	QUERY_TOK_LEFT_BRACKET,
	QUERY_TOK_RIGHT_BRACKET,
	QUERY_TOK_COMMA,
	QUERY_TOK_EQL, /* = */
	QUERY_TOK_COLON,
	/* operators (QUERY_TOK_ADD .. QUERY_TOK_ATAN2) */
	QUERY_TOK_ADD,
	QUERY_TOK_SUB,
	QUERY_TOK_MUL,
	QUERY_TOK_DIV,
	QUERY_TOK_MOD,
	QUERY_TOK_POW,
	QUERY_TOK_EQLC, /* == */
	QUERY_TOK_NEQ,
	QUERY_TOK_LTE,
	QUERY_TOK_LSS,
	QUERY_TOK_GTE,
	QUERY_TOK_GTR,
	QUERY_TOK_EQL_REGEX,
	QUERY_TOK_NEQ_REGEX,
	QUERY_TOK_AT,
	QUERY_TOK_LAND,
	QUERY_TOK_LOR,
	QUERY_TOK_LUNLESS,
	QUERY_TOK_ATAN2,
	/* aggregators (QUERY_TOK_AVG .. QUERY_TOK_TOPK) */
	QUERY_TOK_AVG,
	QUERY_TOK_BOTTOMK,
	QUERY_TOK_COUNT,
	QUERY_TOK_COUNT_VALUES,
	QUERY_TOK_GROUP,
	QUERY_TOK_MAX,
	QUERY_TOK_MIN,
	QUERY_TOK_QUANTILE,
	QUERY_TOK_STDDEV,
	QUERY_TOK_STDVAR,
	QUERY_TOK_SUM,
	QUERY_TOK_TOPK,
	/* keywords (QUERY_TOK_BOOL .. QUERY_TOK_WITHOUT) */
	QUERY_TOK_BOOL,
	QUERY_TOK_BY,
	QUERY_TOK_GROUP_LEFT,
	QUERY_TOK_GROUP_RIGHT,
	QUERY_TOK_IGNORING,
	QUERY_TOK_OFFSET,
	QUERY_TOK_ON,
	QUERY_TOK_WITHOUT,
	/* @ modifier preprocessors */
	QUERY_TOK_START,
	QUERY_TOK_END,
} query_tok;

typedef struct query_token {
	query_tok type;
	uint32_t pos; /* byte offset of the first byte in the input */
	uint32_t len; /* byte length of the text (0 for EOF and ERROR) */
} query_token;

/*
 * The lexer mirrors Prometheus' state machine (promql/parser/lex.go of 2.42), including
 * its context rules: inside {} keywords are plain identifiers, right after '[' only a
 * duration may follow, and '#' starts a comment to the end of the line. A lexing error
 * yields one QUERY_TOK_ERROR token (message in err_msg, position where the failing token
 * started) and EOF tokens after it. Fields are private to lexer.c.
 */
typedef struct query_lexer {
	const char *in;      /* borrowed input */
	size_t len;          /* input length in bytes */
	size_t pos;          /* next byte to read */
	size_t start;        /* start of the token being scanned */
	size_t width;        /* byte width of the last rune read (for backup) */
	int state;           /* lexer.c's state enum */
	int paren_depth;     /* open ( */
	bool brace_open;     /* inside {} */
	bool bracket_open;   /* inside [] */
	bool got_colon;      /* ':' seen inside the current [] */
	bool scanned;        /* a token was produced by the current step */
	int32_t string_open; /* quote rune of the string being scanned */
	query_token *out;    /* where the current step writes its token */
	char err_msg[192];   /* message of the last ERROR token */
} query_lexer;

/* Start lexing in[0..len). Borrowed; must outlive the lexer. Cannot fail. */
void query_lexer_init(query_lexer *l, const char *in, size_t len);
/* Scan the next token (comments included) into *tok. Cannot fail. */
void query_lexer_next(query_lexer *l, query_token *tok);

/* Grammar name of a token type: "identifier", "(", "sum", "<op>"... (for debugging). */
const char *query_tok_name(query_tok t);
/* True for the binary/modifier operators, aggregators, and keywords respectively. */
bool query_tok_is_operator(query_tok t);
bool query_tok_is_aggregator(query_tok t);
bool query_tok_is_keyword(query_tok t);

/*
 * Append Prometheus' description of a token for "unexpected ..." messages, e.g.
 * `end of input`, `<op:*>`, `<aggr:sum>`, `<by>`, `identifier "foo"`, `number "1"`,
 * `"("`. `in` is the lexed input. TS_OK or a ts_buf error.
 */
int query_token_desc(const query_token *t, const char *in, ts_buf *out);

/* ================================================================ Go-compatible quoting */

/* Go's strconv.Quote of s[0..n) (%q of a string), appended to out. */
int query_quote(ts_buf *out, const char *s, size_t n);
/* Room for the text of query_quote_rune and query_format_unicode, NUL included. */
#define QUERY_RUNE_TEXT_MAX 24
/* Go's %q of a rune ('x', '\n', '\u00a0'); a negative or invalid rune prints as U+FFFD.
 * Writes a NUL-terminated string to out and returns its length. */
size_t query_quote_rune(char out[QUERY_RUNE_TEXT_MAX], int32_t r);
/* Go's %#U of a rune: "U+0041 'A'" (the quoted char only when printable). */
size_t query_format_unicode(char out[QUERY_RUNE_TEXT_MAX], int32_t r);
/* Go's strconv.IsPrint approximation (see docs/PROMQL.md). */
bool query_rune_is_print(int32_t r);
/*
 * Decode one rune of s[0..n) (n > 0) like Go's utf8.DecodeRuneInString: invalid or
 * truncated sequences give U+FFFD with width 1. Returns the rune, *width the bytes used.
 */
int32_t query_utf8_decode(const char *s, size_t n, size_t *width);

/* ================================================================ functions */

typedef enum query_func_id {
	QUERY_FN_ABS,
	QUERY_FN_ABSENT,
	QUERY_FN_ABSENT_OVER_TIME,
	QUERY_FN_ACOS,
	QUERY_FN_ACOSH,
	QUERY_FN_ASIN,
	QUERY_FN_ASINH,
	QUERY_FN_ATAN,
	QUERY_FN_ATANH,
	QUERY_FN_AVG_OVER_TIME,
	QUERY_FN_CEIL,
	QUERY_FN_CHANGES,
	QUERY_FN_CLAMP,
	QUERY_FN_CLAMP_MAX,
	QUERY_FN_CLAMP_MIN,
	QUERY_FN_COS,
	QUERY_FN_COSH,
	QUERY_FN_COUNT_OVER_TIME,
	QUERY_FN_DAYS_IN_MONTH,
	QUERY_FN_DAY_OF_MONTH,
	QUERY_FN_DAY_OF_WEEK,
	QUERY_FN_DAY_OF_YEAR,
	QUERY_FN_DEG,
	QUERY_FN_DELTA,
	QUERY_FN_DERIV,
	QUERY_FN_EXP,
	QUERY_FN_FLOOR,
	QUERY_FN_HISTOGRAM_COUNT,
	QUERY_FN_HISTOGRAM_FRACTION,
	QUERY_FN_HISTOGRAM_QUANTILE,
	QUERY_FN_HISTOGRAM_SUM,
	QUERY_FN_HOLT_WINTERS,
	QUERY_FN_HOUR,
	QUERY_FN_IDELTA,
	QUERY_FN_INCREASE,
	QUERY_FN_IRATE,
	QUERY_FN_LABEL_JOIN,
	QUERY_FN_LABEL_REPLACE,
	QUERY_FN_LAST_OVER_TIME,
	QUERY_FN_LN,
	QUERY_FN_LOG10,
	QUERY_FN_LOG2,
	QUERY_FN_MAX_OVER_TIME,
	QUERY_FN_MIN_OVER_TIME,
	QUERY_FN_MINUTE,
	QUERY_FN_MONTH,
	QUERY_FN_PI,
	QUERY_FN_PREDICT_LINEAR,
	QUERY_FN_PRESENT_OVER_TIME,
	QUERY_FN_QUANTILE_OVER_TIME,
	QUERY_FN_RAD,
	QUERY_FN_RATE,
	QUERY_FN_RESETS,
	QUERY_FN_ROUND,
	QUERY_FN_SCALAR,
	QUERY_FN_SGN,
	QUERY_FN_SIN,
	QUERY_FN_SINH,
	QUERY_FN_SORT,
	QUERY_FN_SORT_DESC,
	QUERY_FN_SQRT,
	QUERY_FN_STDDEV_OVER_TIME,
	QUERY_FN_STDVAR_OVER_TIME,
	QUERY_FN_SUM_OVER_TIME,
	QUERY_FN_TAN,
	QUERY_FN_TANH,
	QUERY_FN_TIME,
	QUERY_FN_TIMESTAMP,
	QUERY_FN_VECTOR,
	QUERY_FN_YEAR,
	QUERY_FN_COUNT_ /* number of functions */
} query_func_id;

/* A PromQL function's signature (Prometheus' parser.Function). Static, never freed. */
typedef struct query_func {
	query_func_id id;
	const char *name;
	query_value_type arg_types[5]; /* declared argument types */
	int n_arg_types;               /* entries used in arg_types */
	int variadic; /* 0: exactly n_arg_types args; k > 0: the last k may be omitted
			 (the last one at most once); -1: the last repeats without limit */
	query_value_type return_type;
} query_func;

/* The function called name[0..n) (case-sensitive), or NULL. */
const query_func *query_func_lookup(const char *name, size_t n);
/* The function with that id (id < QUERY_FN_COUNT_). */
const query_func *query_func_get(query_func_id id);

/* ================================================================ AST */

typedef enum query_expr_kind {
	QUERY_EXPR_NUMBER,
	QUERY_EXPR_STRING,
	QUERY_EXPR_VECTOR_SELECTOR,
	QUERY_EXPR_MATRIX_SELECTOR,
	QUERY_EXPR_SUBQUERY,
	QUERY_EXPR_CALL,
	QUERY_EXPR_AGGREGATE,
	QUERY_EXPR_BINARY,
	QUERY_EXPR_UNARY,
	QUERY_EXPR_PAREN,
} query_expr_kind;

typedef enum query_binop {
	QUERY_OP_ADD,
	QUERY_OP_SUB,
	QUERY_OP_MUL,
	QUERY_OP_DIV,
	QUERY_OP_MOD,
	QUERY_OP_POW,
	QUERY_OP_ATAN2,
	QUERY_OP_EQ, /* == */
	QUERY_OP_NE, /* != */
	QUERY_OP_GT,
	QUERY_OP_LT,
	QUERY_OP_GE,
	QUERY_OP_LE,
	QUERY_OP_AND,
	QUERY_OP_OR,
	QUERY_OP_UNLESS,
} query_binop;

/* Operator text as printed: "+", "==", "and", "atan2"... */
const char *query_binop_str(query_binop op);
bool query_binop_is_comparison(query_binop op);
bool query_binop_is_set(query_binop op);

typedef enum query_aggop {
	QUERY_AGG_SUM,
	QUERY_AGG_AVG,
	QUERY_AGG_COUNT,
	QUERY_AGG_MIN,
	QUERY_AGG_MAX,
	QUERY_AGG_GROUP,
	QUERY_AGG_STDDEV,
	QUERY_AGG_STDVAR,
	QUERY_AGG_TOPK,
	QUERY_AGG_BOTTOMK,
	QUERY_AGG_QUANTILE,
	QUERY_AGG_COUNT_VALUES,
} query_aggop;

/* Aggregation name as printed: "sum", "count_values"... */
const char *query_aggop_str(query_aggop op);
/* True for topk, bottomk, quantile and count_values (they take a first parameter). */
bool query_aggop_has_param(query_aggop op);

typedef enum query_card {
	QUERY_CARD_ONE_TO_ONE,
	QUERY_CARD_MANY_TO_ONE,  /* group_left */
	QUERY_CARD_ONE_TO_MANY,  /* group_right */
	QUERY_CARD_MANY_TO_MANY, /* set operators */
} query_card;

typedef enum query_at {
	QUERY_AT_NONE,
	QUERY_AT_TIME,  /* @ <timestamp>: at_ms */
	QUERY_AT_START, /* @ start() */
	QUERY_AT_END,   /* @ end() */
} query_at;

/* Byte range [start, end) of a node in the query text. */
typedef struct query_pos {
	uint32_t start;
	uint32_t end;
} query_pos;

/* offset and @ of a selector or subquery. */
typedef struct query_mods {
	int64_t offset_ms; /* as written: positive looks back, negative forward; 0 = none */
	query_at at;
	int64_t at_ms; /* QUERY_AT_TIME: the @ timestamp in ms */
} query_mods;

typedef struct query_vector_matching {
	query_card card;
	bool is_on;          /* on(...) rather than ignoring(...) */
	const char **labels; /* on/ignoring label names (arena) */
	size_t n_labels;
	const char **include; /* group_left/group_right extra labels (arena) */
	size_t n_include;
} query_vector_matching;

typedef struct query_expr query_expr;

struct query_expr {
	query_expr_kind kind;
	query_pos pos;
	uint16_t height; /* 1 for leaves; 1 + the tallest child otherwise */
	union {
		double number; /* NUMBER */
		struct {
			const char *val; /* unquoted bytes, NUL-terminated (arena) */
			size_t len;      /* may be < strlen if the string holds NULs */
		} string;                /* STRING */
		struct {
			const char *name;     /* metric name before the braces, or NULL */
			ts_matcher *matchers; /* n_matchers compiled matchers (see top) */
			size_t n_matchers;
			query_mods mods;
		} vs; /* VECTOR_SELECTOR */
		struct {
			query_expr *vs;   /* a VECTOR_SELECTOR: matchers, offset, @ */
			int64_t range_ms; /* > 0 */
		} matrix;                 /* MATRIX_SELECTOR */
		struct {
			query_expr *expr;
			int64_t range_ms; /* > 0 */
			int64_t step_ms;  /* 0 = default evaluation step */
			query_mods mods;
		} subquery; /* SUBQUERY */
		struct {
			const query_func *func;
			query_expr **args;
			size_t n_args;
		} call; /* CALL */
		struct {
			query_aggop op;
			query_expr *expr;      /* the aggregated vector */
			query_expr *param;     /* topk/bottomk/quantile/count_values, else NULL */
			const char **grouping; /* by/without labels (arena) */
			size_t n_grouping;
			bool is_without;
		} agg; /* AGGREGATE */
		struct {
			query_binop op;
			query_expr *lhs;
			query_expr *rhs;
			bool is_bool;                    /* the bool modifier */
			query_vector_matching *matching; /* NULL unless both sides are vectors */
		} binary;                                /* BINARY */
		struct {
			bool is_neg; /* '-' (else '+') */
			query_expr *expr;
		} unary; /* UNARY */
		struct {
			query_expr *expr;
		} paren; /* PAREN */
	};
};

/*
 * Parse and type-check text[0..len) into *out (arena memory; written only on success).
 * Errors (err gets Prometheus' message, e.g. "1:5: parse error: unexpected <op:*>"):
 * TS_EPARSE for syntax and type errors, TS_ELIMIT for input longer than QUERY_MAX_LEN,
 * nesting deeper than QUERY_MAX_DEPTH or an exhausted arena budget, TS_ENOMEM.
 * On error the arena may hold partial nodes; query_arena_free() releases them.
 * `text` is borrowed for the call only: the tree copies every string it keeps.
 * Thread-safe for distinct arenas.
 */
int query_parse(query_arena *a, const char *text, size_t len, query_expr **out, ts_err *err);

/* Result type of an expression (Prometheus' Expr.Type()). Read-only, thread-safe. */
query_value_type query_expr_type(const query_expr *e);

/*
 * Append the canonical text of e to out, exactly as Prometheus' Expr.String() prints it
 * (e.g. `sum by (job) (rate(x[5m]))`); numbers print in Go's shortest form, which
 * parses back to the same double. TS_OK, or TS_ENOMEM/TS_ELIMIT from the buffer (out may
 * then hold a partial text). Reads the tree only; thread-safe for distinct buffers.
 */
int query_expr_format(const query_expr *e, ts_buf *out);

/*
 * The direct children of e in evaluation order (Prometheus' Children()): aggregate expr
 * then param, binary lhs then rhs, call arguments, the inner selector of a range
 * selector, the operand of unary/paren/subquery. Writes up to `max` pointers and returns
 * the total number of children.
 */
size_t query_expr_children(const query_expr *e, const query_expr **out, size_t max);

/* Walk callback: return QUERY_WALK_CONTINUE, QUERY_WALK_SKIP (do not descend into this
 * node's children) or a negative TS_E* code to stop the walk with that code. */
enum { QUERY_WALK_CONTINUE = 0, QUERY_WALK_SKIP = 1 };
typedef int (*query_walk_fn)(const query_expr *e, void *ctx);

/* Depth-first pre-order walk of e calling fn on every node. TS_OK or fn's error code. */
int query_expr_walk(const query_expr *e, query_walk_fn fn, void *ctx);

/* ================================================================ parser internals */

/*
 * Type-check a freshly parsed tree as Prometheus' checkAST does (first error wins) and
 * normalize binary vector matching (NULL for scalar operands, MANY_TO_MANY for set
 * operators). `in` is the parsed text (positions in messages). TS_OK or TS_EPARSE.
 */
int query_check(query_expr *e, const char *in, size_t len, ts_err *err);

/*
 * Set err to TS_EPARSE with "<line>:<col>: parse error: <msg>" for byte offset pos of
 * in[0..len), as Prometheus' ParseErr.Error(). Returns TS_EPARSE.
 */
int query_parse_errorf(ts_err *err, const char *in, size_t len, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Append Go's fmt.Sprint(float64) of v ("1e+06", "+Inf", "0.1"). */
int query_format_float(ts_buf *out, double v);
/* Append Prometheus' model.Duration string of ms > 0 ("1h30m", "90d", "1y"). */
int query_format_duration(ts_buf *out, int64_t ms);

#endif /* QUERY_AST_H */
