/* SPDX-License-Identifier: Apache-2.0 */
/*
 * line_protocol.c: InfluxDB line protocol parser: request body -> samples for a sink.
 *
 * Grammar (docs/formats/line_protocol.md has the full rules and the mapping):
 *
 *   line  = measurement *("," tagkey "=" tagval) 1*" " field *("," field) [1*" " time] *" "
 *   field = fieldkey "=" (float | int "i" | uint "u" | bool | '"' string '"')
 *
 * Lines end at '\n' ("\r\n" too) except inside a quoted string value; blank lines and
 * lines whose first non-blank byte is '#' are skipped.
 *
 * DESIGN
 * One pass over the body, no allocation per line. A class table (`cls`) drives every
 * inner loop: a token scanner stops only at the delimiters of its token kind, at '\\',
 * at NUL and at bytes >= 0x80, so ASCII bodies without escapes run through tight loops
 * and UTF-8 validation (ts_utf8_valid) runs only on tokens that contain high bytes.
 * Each point is parsed and validated completely before anything is delivered, so a
 * point is delivered whole or not at all:
 *   1. the measurement is unescaped into `raw`; tag values are unescaped, tag keys
 *      unescaped and sanitized (ts_name_sanitize), into the per-call scratch `strs`;
 *      the label array is sorted (ts_labels_normalize, only when the tags are not
 *      already sorted) with __name__ inserted at its place, once per point;
 *   2. fields are validated and their values decoded into `fields[]` (up to
 *      LP_FIELD_BATCH; a point with more fields is validated, then its field section
 *      is parsed a second time in emit mode);
 *   3. the timestamp is parsed and converted to ms;
 *   4. per field the metric name is built in `raw` (measurement '_' field key),
 *      sanitized into `name` with ts_name_sanitize, and the sink is called.
 * When the sink is ingest_batch_add, the second and later fields of a point go to
 * ingest_batch_add_renamed, which is told that only __name__ changed, so the batch does
 * not compare the point's tags again for every field; and a series cache (lp_pent) maps
 * the raw measurement+tags bytes of points seen earlier in the body to the batch's
 * series refs, so a repeated point skips step 1 and the sample goes to
 * ingest_batch_add_at without any label work. Points come back in the same order (one
 * per host per interval), so each entry remembers the entry that followed it, and a
 * point is first compared with that prediction (one memcmp, no hashing or table probe).
 * A hit's fields are matched against the entry's remembered keys directly on the bytes
 * (parse_fields_known: no tokenizing or checks, values into fields[], one
 * ingest_batch_add_at each); since consecutive points usually share their field keys,
 * a key sequence id (lp_parser.kid) lets a point whose keys equal the previous point's
 * skip reading the entry's keys, which lie one interval back in the body.
 * Points of one request usually share their shape, so steps 1 and 4 are cached by
 * position (lp_tag_slot, lp_metric_slot): a tag key equal to the previous one at the
 * same position reuses its label name, a point whose tag keys all match reuses the
 * previous sort order, and a field key equal to the previous one at the same position
 * under the same measurement reuses its metric name. The caches live for one call and
 * compare raw bytes, so they cannot change a result (the tests parse bodies whole and
 * line by line and compare).
 * The scratch (labels, tag strings, name buffers) comes from one stack buffer, or one
 * ts_malloc per call when the limits and the body size need more; its size is derived
 * from ingest_limits and the body length so that every point within the limits fits.
 * The parser state with its caches and the stack scratch take about 40 KiB of stack.
 *
 * Floats: a short decimal ([-]digits[.digits], at most 15 digits, no exponent) is its
 * digits as an integer divided by an exact power of ten, one correctly rounded IEEE
 * operation, so strtod's double (lp_short_decimal in lp_value.h; up to 7 + 7 digits are read 8
 * bytes at a time on little-endian machines). Other floats use Clinger's exact fast path (<= 19
 * significant digits, mantissa <= 2^53, |exp10| <= 22); anything else goes through strtod
 * on a NUL-terminated copy (the process runs in the C locale). Integers ("i", "u") are
 * parsed exactly, then converted to double (values beyond 2^53 round). Timestamps read
 * their first 16 digits 8 bytes at a time.
 *
 * A bad point is skipped: its end is found again from its start by scan_line(), which
 * follows the same quoting rules, so the next point starts where it would have.
 *
 * Deliberately not done here: deduplicating repeated field keys of one point (both
 * samples go to the sink), string fields as samples, any I/O or decompression.
 */
#include "ingest/line_protocol.h"
#include "ingest/lp_value.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ character classes */

enum {
	C_MEAS = 0x01, /* ends a measurement: ',' ' ' '\n' */
	C_KEY = 0x02,  /* ends a tag key, tag value or field key: ',' '=' ' ' '\n' */
	C_SLOW = 0x04, /* needs a closer look inside any name token: '\\', NUL, >= 0x80 */
	C_STR = 0x08,  /* needs a closer look inside a quoted string: '"' '\\' '\n' >= 0x80 */
	C_ESC = 0x10,  /* escapable after '\\' in names and tag values: ',' '=' ' ' '\\' */
};

/* clang-format off */
static const uint8_t cls[256] = {
	/* 00 */ 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 08 */ 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 10 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 18 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 20 */ 0x13, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 28 */ 0x00, 0x00, 0x00, 0x00, 0x13, 0x00, 0x00, 0x00,
	/* 30 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 38 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00,
	/* 40 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 48 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 50 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 58 */ 0x00, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00,
	/* 60 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 68 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 70 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 78 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* 80 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* 88 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* 90 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* 98 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* a0 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* a8 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* b0 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* b8 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* c0 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* c8 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* d0 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* d8 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* e0 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* e8 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* f0 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
	/* f8 */ 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c, 0x0c,
};
/* clang-format on */

#define CLS(c) cls[(uint8_t)(c)]

/* Token flags reported by the scanners. */
#define TOK_ESC  0x1u /* contains a backslash (the copy must unescape) */
#define TOK_HIGH 0x2u /* contains bytes >= 0x80 (validate UTF-8) */
#define TOK_NUL  0x4u /* contains a NUL byte (rejected: labels are C strings) */

/* ================================================================ parser state */

#define LP_OK  0
#define LP_BAD 1 /* the current point is bad; ps->reason says why */

#define LP_FIELD_BATCH     64        /* fields decoded per point before the two-pass path */
#define LP_STACK_SCRATCH   16384     /* scratch bytes on the stack before one ts_malloc */
#define LP_EXCERPT_MAX     64        /* bytes of a bad line quoted in first_error */
#define LP_TAG_SLOTS       64        /* tag keys remembered, by position in the point */
#define LP_SLOT_RAW        48        /* longest raw key (and measurement) remembered */
#define LP_TAG_NAME_MAX    56        /* sanitized tag key: LP_SLOT_RAW + '_' + "tag_" + NUL */
#define LP_METRIC_NAME_MAX 104       /* digit '_' + measurement + '_' + key + NUL */
#define LP_PC_MIN_BODY     2048      /* smaller bodies do not use the series cache */
#define LP_PC_SLOTS0       1024      /* first size of the series cache table */
#define LP_PC_MAX_ENTRIES  (1 << 18) /* distinct prefixes remembered per call */
#define LP_PC_MAX_FIELDS   (1 << 21) /* field refs remembered per call */
#define LP_PC_PROBES       32        /* a lookup gives up after this many slots */

typedef struct lp_field {
	const char *key; /* raw field key in the body (escapes unresolved) */
	size_t key_len;  /* raw bytes */
	bool key_esc;    /* key contains a backslash */
	bool is_value;   /* key is exactly "value": the metric name is the measurement */
	double v;        /* decoded value */
} lp_field;

/*
 * Name caches. Clients send points of the same shape over and over, so the parser
 * remembers, by position in the point, each tag key's label name and each numeric
 * field's metric name (valid while the measurement is unchanged), and the sort order
 * of the last point's tags. A point whose tag keys all hit their slots and whose tag
 * count matches reuses that order: no sanitizing, no sorting, no duplicate check
 * (all were done, with the same keys, when the order was computed).
 */
typedef struct lp_tag_slot {
	size_t raw_len;             /* 0: empty */
	char raw[LP_SLOT_RAW];      /* raw tag key bytes as in the body */
	char name[LP_TAG_NAME_MAX]; /* its label name */
} lp_tag_slot;

typedef struct lp_metric_slot {
	uint64_t gen;                  /* measurement generation of name; 0: empty */
	size_t raw_len;                /* raw field key bytes */
	char raw[LP_SLOT_RAW];         /* raw field key as in the body */
	char name[LP_METRIC_NAME_MAX]; /* the metric name */
} lp_metric_slot;

/*
 * Series cache (only when the sink is ingest_batch_add, for bodies of LP_PC_MIN_BODY
 * bytes and more): a point's measurement and tag section, exactly as sent (up to the
 * first space; points with a backslash there are not cached), maps to the batch's
 * series refs of its numeric fields by position and raw field key. A point whose
 * prefix was parsed before in this call skips tag parsing, sanitizing, sorting, the
 * batch's label comparisons, interning and series lookup: each field whose key matches
 * its remembered one goes to ingest_batch_add_at. Keys point into the body, which
 * outlives the call; the same bytes parsed under the same limits give the same labels,
 * so a hit cannot change a result. A field without a matching ref builds the point's
 * labels the usual way.
 */
typedef struct lp_pent {
	uint64_t h;            /* seeded ts_hash64 of the prefix */
	const char *prefix;    /* the prefix in the body */
	uint32_t len;          /* its bytes */
	uint32_t first;        /* its field refs start at pf[first] */
	uint32_t n_fields;     /* field refs known */
	uint32_t next;         /* 1 + index of the entry of the point that followed this
				* entry's point last; 0: none yet */
	uint32_t meas_san_len; /* sanitized measurement length (field key checks) */
	uint64_t kid;          /* a key sequence (lp_parser.kid) whose keys are this entry's
				* first field keys; 0: none */
} lp_pent;

/* A slot of the series cache's hash table: an entry by index. */
typedef struct lp_pslot {
	uint32_t h;   /* high half of the entry's hash */
	uint32_t idx; /* 1 + index in ents; 0: empty */
} lp_pslot;

typedef struct lp_pfield {
	const char *key;  /* raw field key in the body */
	uint32_t key_len; /* its bytes */
	uint32_t ref;     /* the batch's series ref of <measurement>_<key> with the tags */
} lp_pfield;

typedef struct lp_parser {
	ingest_sample_fn fn;   /* sink */
	void *ctx;             /* sink context */
	ingest_precision prec; /* timestamp unit */
	int64_t default_t_ms;  /* time of points without a timestamp */
	ingest_limits lim;     /* limits as configured (checks and messages) */
	ts_label *labels;      /* tags + __name__ of the current point, sorted */
	ts_label *tags;        /* tags of the current point in input order */
	size_t labels_cap;     /* entries in labels (tags has one less) */
	char *strs;            /* sanitized tag keys and unescaped values, NUL-terminated */
	size_t strs_cap;       /* bytes in strs */
	char *raw;             /* unescaped measurement, then '_' field key; the second
				* half is scratch for unescaping tag keys */
	size_t raw_half;       /* bytes in each half of raw */
	char *name;            /* sanitized metric name (value of __name__) */
	size_t name_cap;       /* bytes in name */
	size_t meas_len;       /* unescaped measurement bytes at raw[0..) */
	size_t meas_san_len;   /* length of the sanitized measurement */
	size_t n_tags;         /* tags of the current point */
	size_t name_idx;       /* index of __name__ in labels */
	bool is_same_point;    /* a sample of the current point reached the sink: the next
				* one differs from it only in __name__'s value */
	size_t n_fields;       /* numeric fields of the current point */
	size_t n_strings;      /* string fields of the current point */
	lp_field fields[LP_FIELD_BATCH]; /* first LP_FIELD_BATCH numeric fields */
	char reason[120];                /* why the current point is bad */
	ingest_lp_result r;              /* running totals */
	/* caches (see lp_tag_slot) */
	bool all_hit;                /* every tag key of the current point hit its slot */
	size_t perm_n;               /* tags of the remembered order; SIZE_MAX: none */
	size_t perm_name_idx;        /* position of __name__ in the remembered order */
	uint8_t perm[LP_TAG_SLOTS];  /* sorted tag k is input tag perm[k] */
	bool meas_cacheable;         /* the measurement is short enough to remember */
	uint64_t meas_gen;           /* bumped whenever the measurement changes */
	size_t meas_prev_len;        /* bytes in meas_prev */
	char meas_prev[LP_SLOT_RAW]; /* unescaped measurement of the previous point */
	lp_tag_slot tag_slots[LP_TAG_SLOTS];
	lp_metric_slot metric_slots[LP_FIELD_BATCH];
	/* series cache (see lp_pent); pc NULL: not used */
	lp_pslot *pc;          /* open addressing table of pc_mask + 1 slots */
	size_t pc_mask;        /* slots - 1 */
	uint64_t pc_seed;      /* keys the prefix hash */
	lp_pent *ents;         /* the entries, in insertion order */
	size_t ent_n, ent_cap; /* entries used (load <= 1/2), allocated */
	lp_pfield *pf;         /* field refs of every entry, grouped by entry */
	size_t pf_n, pf_cap;   /* refs used, allocated */
	lp_pent *cur;          /* entry of the current point; NULL: none */
	size_t prev;           /* index of the previous point's entry; SIZE_MAX: none */
	/*
	 * Key sequences: points in a row usually have the same field keys, so the raw
	 * numeric field keys of the last point (fields[0..kid_n).key) get an id, kept while
	 * the next points repeat them (compared with the previous point's keys, which are
	 * hot in cache) and renewed when they differ. An entry remembers the id its refs'
	 * keys were found equal to, so a cache hit whose keys are the previous point's need
	 * not read the entry's keys (in the body, one interval back: cache misses).
	 */
	uint64_t kid;            /* id of the keys in fields[0..kid_n); 0: not valid */
	size_t kid_n;            /* keys in the sequence */
	uint64_t kid_last;       /* last id handed out */
	const char *point_start; /* first byte of the current point */
	bool has_labels;         /* labels[] hold the current point's label set */
} lp_parser;

/* Record why the current point is bad; returns LP_BAD. */
__attribute__((format(printf, 2, 3))) static int bad(lp_parser *ps, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->reason, sizeof(ps->reason), fmt, ap);
	va_end(ap);
	return LP_BAD;
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* a[0..n) == b[0..n) for the short keys of fields (both readable for n bytes). */
static bool bytes_eq(const char *a, const char *b, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t x0, x1, y0, y1;
		memcpy(&x0, a, 8);
		memcpy(&y0, b, 8);
		memcpy(&x1, a + n - 8, 8);
		memcpy(&y1, b + n - 8, 8);
		return ((x0 ^ y0) | (x1 ^ y1)) == 0;
	}
	return memcmp(a, b, n) == 0;
}

/* ================================================================ tokens */

/*
 * Scan a measurement (kind C_MEAS) or key/tag value (C_KEY) token from p: it ends at
 * the first unescaped delimiter of its kind or at end. A backslash followed by one of
 * ", =\" escapes that byte; any other backslash is literal.
 */
static const char *scan_token(const char *p, const char *end, uint8_t kind, unsigned *flags)
{
	const uint8_t stop = kind | C_SLOW;
	unsigned f = 0;
	for (;;) {
		while (p < end && !(CLS(*p) & stop))
			p++;
		if (p == end || !(CLS(*p) & C_SLOW))
			break;
		if (*p == '\\') {
			f |= TOK_ESC;
			p += (p + 1 < end && (CLS(p[1]) & C_ESC)) ? 2 : 1;
		} else {
			f |= *p ? TOK_HIGH : TOK_NUL;
			p++;
		}
	}
	*flags = f;
	return p;
}

/* Copy src[0..n) to dst resolving escapes; returns the bytes written (<= n). */
static size_t unescape(char *dst, const char *src, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		char c = src[i];
		if (c == '\\' && i + 1 < n && (CLS(src[i + 1]) & C_ESC))
			c = src[++i];
		dst[w++] = c;
	}
	return w;
}

/* Copy token src[0..n) with flags f to dst resolving escapes; returns the bytes written. */
static size_t copy_token(char *dst, const char *src, size_t n, unsigned f)
{
	if (!(f & TOK_ESC)) {
		memcpy(dst, src, n);
		return n;
	}
	return unescape(dst, src, n);
}

/* Length of src[0..n) once unescaped. */
static size_t unescaped_len(const char *src, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++, w++)
		if (src[i] == '\\' && i + 1 < n && (CLS(src[i + 1]) & C_ESC))
			i++;
	return w;
}

/*
 * Check a name/tag token for NUL and UTF-8; `what` names it in the message.
 * Returns LP_OK or LP_BAD.
 */
static int check_token(lp_parser *ps, const char *s, size_t n, unsigned f, const char *what)
{
	if (f & TOK_NUL)
		return bad(ps, "NUL byte in %s", what);
	if ((f & TOK_HIGH) && !ts_utf8_valid(s, n))
		return bad(ps, "invalid UTF-8 in %s", what);
	return LP_OK;
}

/*
 * Skip a quoted string body starting after the opening quote. Returns the position
 * after the closing quote, or NULL when the body ends first. \" and \\ are escapes;
 * newlines belong to the value and are counted in *nl.
 */
static const char *skip_string(const char *p, const char *end, size_t *nl, unsigned *flags)
{
	for (;;) {
		while (p < end && !(CLS(*p) & C_STR))
			p++;
		if (p == end)
			return NULL;
		switch (*p) {
		case '"': return p + 1;
		case '\\': p += (p + 1 < end && (p[1] == '"' || p[1] == '\\')) ? 2 : 1; break;
		case '\n':
			(*nl)++;
			p++;
			break;
		default:
			*flags |= TOK_HIGH;
			p++;
			break;
		}
	}
}

/*
 * Find the end of the point starting at p (the '\n' that ends it, or end) without
 * validating it, following the parser's sectioning and quoting: a quote opens a string
 * only right after a field's '=' in the field section. Counts newlines inside strings.
 */
static const char *scan_line(const char *p, const char *end, size_t *nl)
{
	enum { S_KEY, S_FIELDS, S_TIME } sect = S_KEY;
	bool after_eq = false;
	while (p < end && *p != '\n') {
		char c = *p;
		if (c == '\\') {
			p += (p + 1 < end && (CLS(p[1]) & C_ESC)) ? 2 : 1;
			after_eq = false;
			continue;
		}
		if (sect == S_FIELDS && c == '"' && after_eq) {
			unsigned f = 0;
			const char *q = skip_string(p + 1, end, nl, &f);
			if (!q)
				return end;
			p = q;
			after_eq = false;
			continue;
		}
		if (c == ' ' && sect != S_TIME) {
			sect = sect == S_KEY ? S_FIELDS : S_TIME;
			while (p < end && *p == ' ')
				p++;
			after_eq = false;
			continue;
		}
		after_eq = c == '=';
		p++;
	}
	return p;
}

/* ================================================================ values */

/* The value parsers (lp_value.c) with their reason put in ps. */
static int reason(lp_parser *ps, const char *why)
{
	return why ? bad(ps, "%s", why) : LP_OK;
}

static int parse_number(lp_parser *ps, const char *p, const char *end, const char **out, double *v)
{
	return reason(ps, lp_parse_number(p, end, out, v));
}

/* ================================================================ points */

/*
 * Deliver one sample of the idx-th numeric field: find or build its metric name, call
 * the sink.
 */
static int build_labels(lp_parser *ps);
static int pf_grow(lp_parser *ps);

static int emit(lp_parser *ps, size_t idx, const char *key, size_t key_len, bool key_esc,
		bool is_value, int64_t t_ms, double v)
{
	lp_pent *pe = ps->cur;
	int rc;
	if (pe && idx < pe->n_fields) {
		const lp_pfield *f = &ps->pf[pe->first + idx];
		if (f->key_len == key_len && memcmp(f->key, key, key_len) == 0) {
			if ((rc = ingest_batch_add_at(ps->ctx, f->ref, t_ms, v)) < 0)
				return rc;
			ps->r.n_samples++;
			return LP_OK;
		}
	}
	if (!ps->has_labels && (rc = build_labels(ps)))
		return rc;
	lp_metric_slot *slot =
	    idx < LP_FIELD_BATCH && ps->meas_cacheable ? &ps->metric_slots[idx] : NULL;
	const char *name = ps->name;
	if (slot && slot->gen == ps->meas_gen && slot->raw_len == key_len &&
	    memcmp(slot->raw, key, key_len) == 0) {
		name = slot->name;
	} else {
		size_t n = ps->meas_len;
		if (!is_value) {
			ps->raw[n++] = '_';
			if (key_esc) {
				n += unescape(ps->raw + n, key, key_len);
			} else {
				memcpy(ps->raw + n, key, key_len);
				n += key_len;
			}
		}
		size_t ln = ts_name_sanitize(ps->raw, n, true, ps->name, ps->name_cap);
		if (TS_NEVER(ln == 0))
			return TS_EINVAL; /* lengths were checked while parsing */
		if (slot && key_len <= LP_SLOT_RAW && ln < LP_METRIC_NAME_MAX) {
			slot->gen = ps->meas_gen;
			slot->raw_len = key_len;
			memcpy(slot->raw, key, key_len);
			memcpy(slot->name, ps->name, ln + 1);
			name = slot->name;
		} else if (slot) {
			slot->gen = 0;
		}
	}
	ps->labels[ps->name_idx].value = name;
	if (ps->pc) { /* the sink is ingest_batch_add */
		uint32_t ref;
		rc = ingest_batch_add_ref(ps->ctx, ps->labels, ps->n_tags + 1,
					  ps->is_same_point ? ps->name_idx : SIZE_MAX, t_ms, v,
					  &ref);
		if (rc < 0)
			return rc;
		/* remember the ref when it is the entry's next field and the entry's refs
		 * are the last in pf (they stay contiguous) */
		if (pe && ref != UINT32_MAX && idx == pe->n_fields &&
		    pe->first + pe->n_fields == ps->pf_n && key_len <= UINT32_MAX &&
		    (ps->pf_n < ps->pf_cap || pf_grow(ps) == TS_OK)) {
			ps->pf[ps->pf_n++] = (lp_pfield){key, (uint32_t)key_len, ref};
			pe->n_fields++;
		}
	} else if (ps->is_same_point && ps->fn == ingest_batch_add)
		rc = ingest_batch_add_renamed(ps->ctx, ps->labels, ps->n_tags + 1, ps->name_idx,
					      t_ms, v);
	else
		rc = ps->fn(ps->ctx, ps->labels, ps->n_tags + 1, t_ms, v);
	if (rc < 0)
		return rc;
	ps->is_same_point = true;
	ps->r.n_samples++;
	return LP_OK;
}

/*
 * Parse the field section at p. With `emit_t` NULL, validate every field, keep the
 * first LP_FIELD_BATCH numeric ones in ps->fields and count the rest; otherwise (the
 * second pass of a point with more fields) deliver each numeric field at *emit_t.
 * On success *out is the position after the last value (' ' or end of line).
 */
static int parse_fields(lp_parser *ps, const char *p, const char *end, const int64_t *emit_t,
			const char **out, size_t *nl)
{
	size_t n_numeric = 0; /* numeric fields seen (emit mode) */
	uint64_t kid = ps->kid;
	bool same_keys = kid != 0; /* the numeric keys so far are the previous point's */
	if (!emit_t)
		ps->kid = 0; /* fields[] changes */
	for (;;) {
		unsigned f;
		const char *key = p;
		p = scan_token(p, end, C_KEY, &f);
		size_t kl = (size_t)(p - key);
		if (kl == 0)
			return bad(ps, "missing field key");
		if (p == end || *p != '=')
			return bad(ps, "invalid field format: missing '=' after field key");
		bool is_value = kl == 5 && memcmp(key, "value", 5) == 0;
		if (!emit_t) {
			int rc = check_token(ps, key, kl, f, "field key");
			if (rc)
				return rc;
			size_t ukl = (f & TOK_ESC) ? unescaped_len(key, kl) : kl;
			if (!is_value && ps->meas_san_len + 1 + ukl > ps->lim.max_name_bytes)
				return bad(ps, "metric name longer than max_name_bytes (%zu)",
					   ps->lim.max_name_bytes);
		}
		p++;
		if (is_value_end(p, end))
			return bad(ps, "missing field value");
		double v = 0;
		bool is_string = false;
		int rc;
		switch (*p) {
		case '"': {
			unsigned sf = 0;
			const char *q = skip_string(p + 1, end, nl, &sf);
			if (!q)
				return bad(ps, "unterminated string field value");
			if ((sf & TOK_HIGH) && !ts_utf8_valid(p + 1, (size_t)(q - p - 2)))
				return bad(ps, "invalid UTF-8 in string field value");
			if (!is_value_end(q, end))
				return bad(ps, "invalid field format: text after string value");
			p = q;
			is_string = true;
			rc = LP_OK;
			break;
		}
		case 't':
		case 'T':
		case 'f':
		case 'F': rc = reason(ps, lp_parse_bool(p, end, &p, &v)); break;
		case '-':
		case '.':
		case '0':
		case '1':
		case '2':
		case '3':
		case '4':
		case '5':
		case '6':
		case '7':
		case '8':
		case '9':
			rc = lp_short_decimal(p, end, &p, &v) ? LP_OK
							      : parse_number(ps, p, end, &p, &v);
			break;
		default: rc = reason(ps, lp_bad_value(p, end, "invalid field value")); break;
		}
		if (rc)
			return rc;
		if (is_string) {
			if (!emit_t)
				ps->n_strings++;
		} else if (emit_t) {
			rc = emit(ps, n_numeric++, key, kl, f & TOK_ESC, is_value, *emit_t, v);
			if (rc)
				return rc;
		} else {
			if (ps->n_fields < LP_FIELD_BATCH) {
				lp_field *fl = &ps->fields[ps->n_fields];
				same_keys = same_keys && ps->n_fields < ps->kid_n &&
					    fl->key_len == kl && bytes_eq(fl->key, key, kl);
				*fl = (lp_field){key, kl, (f & TOK_ESC) != 0, is_value, v};
			}
			ps->n_fields++;
		}
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (!emit_t && ps->n_fields <= LP_FIELD_BATCH) {
			ps->kid = same_keys && ps->n_fields == ps->kid_n ? kid : ++ps->kid_last;
			ps->kid_n = ps->n_fields;
		}
		*out = p;
		return LP_OK;
	}
}

/*
 * Parse a tag key at p (ending at '=') into strs at *used: unescape, sanitize as a
 * label name, rename a reserved "__" name to "tag___...". Stores the label name.
 */
static int parse_tag_key(lp_parser *ps, const char *s, size_t n, unsigned f, size_t *used,
			 const char **name)
{
	int rc = check_token(ps, s, n, f, "tag key");
	if (rc)
		return rc;
	size_t un = (f & TOK_ESC) ? unescaped_len(s, n) : n;
	if (un > ps->lim.max_name_bytes) /* sanitized names are never shorter */
		goto too_long;
	if (un > ps->raw_half - 1 || ps->strs_cap - *used < un + 6)
		return bad(ps, "tag key does not fit the parser scratch");
	const char *src = s;
	if (f & TOK_ESC) {
		char *tmp = ps->raw + ps->raw_half;
		unescape(tmp, s, n);
		src = tmp;
	}
	char *dst = ps->strs + *used;
	size_t ln = ts_name_sanitize(src, un, false, dst + 4, ps->lim.max_name_bytes + 1);
	if (ln == 0)
		goto too_long;
	if (dst[4] == '_' && dst[5] == '_') {
		if (ln + 4 > ps->lim.max_name_bytes)
			goto too_long;
		memcpy(dst, "tag_", 4);
		*name = dst;
	} else {
		*name = dst + 4;
	}
	*used += ln + 5;
	return LP_OK;
too_long:
	return bad(ps, "label name longer than max_name_bytes (%zu)", ps->lim.max_name_bytes);
}

/* The label name for the j-th tag key s[0..n): from its slot, or built and remembered. */
static int tag_key_name(lp_parser *ps, size_t j, const char *s, size_t n, unsigned f, size_t *used,
			const char **name)
{
	lp_tag_slot *slot = j < LP_TAG_SLOTS ? &ps->tag_slots[j] : NULL;
	if (slot && slot->raw_len == n && memcmp(slot->raw, s, n) == 0) {
		*name = slot->name;
		return LP_OK;
	}
	ps->all_hit = false;
	ps->perm_n = SIZE_MAX; /* the slots change: forget the remembered order */
	int rc = parse_tag_key(ps, s, n, f, used, name);
	if (rc || !slot)
		return rc;
	size_t ln = strlen(*name);
	if (n <= LP_SLOT_RAW && ln < LP_TAG_NAME_MAX) {
		slot->raw_len = n;
		memcpy(slot->raw, s, n);
		memcpy(slot->name, *name, ln + 1);
		*name = slot->name;
	} else {
		slot->raw_len = 0;
	}
	return LP_OK;
}

/*
 * Build the sorted label set of the point from its tags: reuse the remembered order
 * when the tag keys are those it was computed for; otherwise sort (the tags usually
 * arrive sorted), reject duplicates, insert __name__, and remember the order.
 */
static int finish_labels(lp_parser *ps)
{
	ts_label *l = ps->labels;
	const ts_label *t = ps->tags;
	size_t n = ps->n_tags;
	if (ps->all_hit && n == ps->perm_n) {
		size_t k = ps->perm_name_idx;
		for (size_t i = 0; i < k; i++)
			l[i] = t[ps->perm[i]];
		l[k] = (ts_label){TS_METRIC_NAME, ps->name};
		for (size_t i = k; i < n; i++)
			l[i + 1] = t[ps->perm[i]];
		ps->name_idx = k;
		return LP_OK;
	}
	memcpy(l, t, n * sizeof(*l));
	bool sorted = true;
	for (size_t i = 1; i < n && sorted; i++)
		sorted = strcmp(l[i - 1].name, l[i].name) < 0;
	if (!sorted) {
		ts_err e = {0};
		if (ts_labels_normalize(l, &n, &e) != TS_OK)
			return bad(ps, "%s", e.msg);
		if (TS_NEVER(n != ps->n_tags))
			return bad(ps, "empty tag value");
	}
	size_t k = n;
	while (k > 0 && strcmp(l[k - 1].name, TS_METRIC_NAME) > 0) {
		l[k] = l[k - 1];
		k--;
	}
	l[k] = (ts_label){TS_METRIC_NAME, ps->name};
	ps->name_idx = k;

	/* remember the order when every key sits in its slot (names are then unique
	 * pointers into the slots, which identifies each tag's input position) */
	if (n > LP_TAG_SLOTS)
		return LP_OK;
	for (size_t j = 0; j < n; j++)
		if (t[j].name != ps->tag_slots[j].name)
			return LP_OK;
	for (size_t i = 0; i < n; i++) {
		const char *nm = l[i < k ? i : i + 1].name;
		size_t j = 0;
		while (t[j].name != nm)
			j++;
		ps->perm[i] = (uint8_t)j;
	}
	ps->perm_n = n;
	ps->perm_name_idx = k;
	return LP_OK;
}

/*
 * Parse the measurement and tags of the point at p: fills ps->tags and the measurement
 * state; *out is the first byte after them, which is a space.
 */
static int parse_prefix(lp_parser *ps, const char *p, const char *end, const char **out)
{
	unsigned f;
	int rc;

	/* measurement */
	const char *s = p;
	p = scan_token(p, end, C_MEAS, &f);
	size_t n = (size_t)(p - s);
	if (n == 0)
		return bad(ps, "missing measurement");
	if ((rc = check_token(ps, s, n, f, "measurement")))
		return rc;
	size_t un = (f & TOK_ESC) ? unescaped_len(s, n) : n;
	ps->meas_san_len = un + (is_digit(*s) ? 1 : 0);
	if (ps->meas_san_len > ps->lim.max_name_bytes)
		return bad(ps, "metric name longer than max_name_bytes (%zu)",
			   ps->lim.max_name_bytes);
	ps->meas_len = copy_token(ps->raw, s, n, f);
	if (ps->meas_len != ps->meas_prev_len ||
	    memcmp(ps->meas_prev, ps->raw, ps->meas_len) != 0) {
		ps->meas_gen++;
		ps->meas_cacheable = ps->meas_len <= LP_SLOT_RAW;
		ps->meas_prev_len = ps->meas_cacheable ? ps->meas_len : SIZE_MAX;
		if (ps->meas_cacheable)
			memcpy(ps->meas_prev, ps->raw, ps->meas_len);
	}

	/* tags */
	size_t used = 0;
	ps->n_tags = 0;
	ps->all_hit = true;
	while (p < end && *p == ',') {
		s = ++p;
		p = scan_token(p, end, C_KEY, &f);
		n = (size_t)(p - s);
		if (n == 0)
			return bad(ps, "missing tag key");
		if (p == end || *p != '=')
			return bad(ps, "missing tag value");
		if (ps->n_tags + 2 > ps->lim.max_labels)
			return bad(ps, "more than max_labels (%zu) labels", ps->lim.max_labels);
		if (TS_NEVER(ps->n_tags + 2 > ps->labels_cap))
			return bad(ps, "too many tags for the parser scratch");
		ts_label *l = &ps->tags[ps->n_tags];
		if ((rc = tag_key_name(ps, ps->n_tags, s, n, f, &used, &l->name)))
			return rc;
		s = ++p;
		p = scan_token(p, end, C_KEY, &f);
		n = (size_t)(p - s);
		if (n == 0)
			return bad(ps, "missing tag value");
		if (p < end && *p == '=')
			return bad(ps, "invalid tag format: unescaped '=' in tag value");
		if ((rc = check_token(ps, s, n, f, "tag value")))
			return rc;
		un = (f & TOK_ESC) ? unescaped_len(s, n) : n;
		if (un > ps->lim.max_value_bytes)
			return bad(ps, "label value longer than max_value_bytes (%zu)",
				   ps->lim.max_value_bytes);
		if (ps->strs_cap - used < un + 1)
			return bad(ps, "tag value does not fit the parser scratch");
		char *v = ps->strs + used;
		copy_token(v, s, n, f);
		v[un] = '\0';
		used += un + 1;
		l->value = v;
		ps->n_tags++;
	}
	if (p == end || *p != ' ')
		return bad(ps, "missing fields");
	*out = p;
	return LP_OK;
}

/*
 * Build the labels of the current point, a cache hit, when one of its fields has no
 * ref: its prefix parsed without error when it was cached, so it does again.
 */
static int build_labels(lp_parser *ps)
{
	const char *q;
	int rc = parse_prefix(ps, ps->point_start, ps->point_start + ps->cur->len + 1, &q);
	if (rc == LP_OK && TS_NEVER(ps->n_tags + 1 > ps->lim.max_labels))
		return TS_EINVAL;
	if (rc == LP_OK)
		rc = finish_labels(ps);
	if (TS_NEVER(rc != LP_OK))
		return TS_EINVAL;
	ps->has_labels = true;
	return LP_OK;
}

/* Room for more field refs (bounded by LP_PC_MAX_FIELDS). */
static int pf_grow(lp_parser *ps)
{
	if (ps->pf_cap >= LP_PC_MAX_FIELDS)
		return TS_ELIMIT;
	size_t cap = ps->pf_cap ? ps->pf_cap * 2 : 4 * LP_PC_SLOTS0;
	lp_pfield *v = ts_realloc(ps->pf, cap * sizeof(*v));
	if (!v)
		return TS_ENOMEM;
	ps->pf = v;
	ps->pf_cap = cap;
	return TS_OK;
}

/*
 * End of the cacheable prefix of the point at p: its first space, if no backslash or
 * newline comes before it; NULL otherwise (not cached).
 */
static const char *prefix_end(const char *p, const char *end)
{
	const char *sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp || sp == p || (size_t)(sp - p) > UINT32_MAX)
		return NULL;
	if (memchr(p, '\\', (size_t)(sp - p)) || memchr(p, '\n', (size_t)(sp - p)))
		return NULL;
	return sp;
}

/*
 * The entry of prefix p[0..n) with hash h, or NULL; *empty (when not NULL) is set to the
 * empty slot where it would go, NULL when LP_PC_PROBES slots were looked at without
 * finding either.
 */
static lp_pent *pc_find(lp_parser *ps, const char *p, size_t n, uint64_t h, lp_pslot **empty)
{
	size_t i = (size_t)h & ps->pc_mask;
	uint32_t hh = (uint32_t)(h >> 32);
	if (empty)
		*empty = NULL;
	for (int k = 0; k < LP_PC_PROBES; k++, i = (i + 1) & ps->pc_mask) {
		lp_pslot *sl = &ps->pc[i];
		if (sl->idx == 0) {
			if (empty)
				*empty = sl;
			return NULL;
		}
		lp_pent *e = &ps->ents[sl->idx - 1];
		if (sl->h == hh && e->len == n && memcmp(e->prefix, p, n) == 0)
			return e;
	}
	return NULL;
}

/* Double the table and make room for as many entries as it may hold. TS_ENOMEM, TS_ELIMIT. */
static int pc_grow(lp_parser *ps)
{
	size_t n_slots = 2 * (ps->pc_mask + 1);
	if (n_slots / 2 > LP_PC_MAX_ENTRIES)
		return TS_ELIMIT;
	lp_pent *ents = ts_realloc(ps->ents, n_slots / 2 * sizeof(*ents));
	if (!ents)
		return TS_ENOMEM;
	ps->ents = ents;
	ps->ent_cap = n_slots / 2;
	lp_pslot *t = ts_calloc(n_slots, sizeof(*t));
	if (!t)
		return TS_ENOMEM;
	for (size_t k = 0; k < ps->ent_n; k++) {
		uint64_t h = ps->ents[k].h;
		size_t i = (size_t)h & (n_slots - 1);
		while (t[i].idx)
			i = (i + 1) & (n_slots - 1);
		t[i] = (lp_pslot){(uint32_t)(h >> 32), (uint32_t)(k + 1)};
	}
	ts_free(ps->pc);
	ps->pc = t;
	ps->pc_mask = n_slots - 1;
	return TS_OK;
}

/*
 * Remember the prefix p[0..n) (hash h) whose labels were just built: a new entry with no
 * field refs becomes ps->cur. Not remembered when the table is full.
 */
static void pc_insert(lp_parser *ps, const char *p, size_t n, uint64_t h)
{
	if (((ps->ent_n + 1) * 2 > ps->pc_mask + 1 || ps->ent_n >= ps->ent_cap) &&
	    pc_grow(ps) != TS_OK)
		return;
	lp_pslot *sl;
	if (pc_find(ps, p, n, h, &sl) || !sl)
		return; /* (cannot happen) already there, or too many collisions */
	*sl = (lp_pslot){(uint32_t)(h >> 32), (uint32_t)(ps->ent_n + 1)};
	ps->ents[ps->ent_n] = (lp_pent){.h = h,
					.prefix = p,
					.len = (uint32_t)n,
					.first = (uint32_t)ps->pf_n,
					.next = 0,
					.meas_san_len = (uint32_t)ps->meas_san_len};
	ps->cur = &ps->ents[ps->ent_n++];
}

/*
 * The entry of the point at p when it is the one that followed the previous point's
 * entry last time (points usually come in the same order again: one per host per
 * interval): its prefix bytes and the space after them are there. The cached prefix has
 * no space, backslash or newline, so equal bytes end at the same first space.
 */
static lp_pent *pc_predict(lp_parser *ps, size_t prev, const char *p, const char *end)
{
	if (prev == SIZE_MAX || ps->ents[prev].next == 0)
		return NULL;
	lp_pent *e = &ps->ents[ps->ents[prev].next - 1];
	if ((size_t)(end - p) <= e->len || p[e->len] != ' ' || memcmp(p, e->prefix, e->len) != 0)
		return NULL;
	return e;
}

/*
 * Fields of a point whose prefix hit the series cache, when each is numeric and its key is
 * the one the entry remembers at its position (the same bytes under the same measurement
 * and limits validate the same way): the values go to ps->fields[], *out is after the
 * last one, and true says every field has a ref. False leaves the section to
 * parse_fields (also for a bad value: it finds the same error).
 * A key equal to the previous point's at its position is known to be the entry's when the
 * entry's keys were found equal to that key sequence before (lp_pent.kid); otherwise the
 * entry's key is compared.
 */
static bool parse_fields_known(lp_parser *ps, const char *p, const char *end, const char **out)
{
	lp_pent *e = ps->cur;
	const lp_pfield *pf = ps->pf + e->first;
	uint64_t kid = ps->kid;
	bool same_keys = kid != 0;                    /* the keys so far are the previous point's */
	bool known_keys = same_keys && e->kid == kid; /* ... and so the entry's */
	ps->kid = 0;                                  /* fields[] changes */
	size_t n = 0;
	for (;;) {
		if (n >= e->n_fields || n >= LP_FIELD_BATCH)
			return false;
		lp_field *fl = &ps->fields[n];
		size_t kl = pf[n].key_len;
		if ((size_t)(end - p) <= kl + 1 || p[kl] != '=')
			return false;
		same_keys =
		    same_keys && n < ps->kid_n && fl->key_len == kl && bytes_eq(p, fl->key, kl);
		if (!(same_keys && known_keys) && !bytes_eq(p, pf[n].key, kl))
			return false;
		fl->key = p;
		fl->key_len = kl;
		p += kl + 1;
		if (!is_digit(*p) && *p != '-' && *p != '.')
			return false;
		if (!lp_short_decimal(p, end, &p, &fl->v) &&
		    parse_number(ps, p, end, &p, &fl->v) != LP_OK)
			return false;
		n++;
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		break;
	}
	ps->kid = same_keys && n == ps->kid_n ? kid : ++ps->kid_last;
	ps->kid_n = n;
	e->kid = ps->kid; /* its first n keys are these, and it has n refs or more */
	ps->n_fields = n;
	*out = p;
	return true;
}

/*
 * Parse and deliver one point starting at p (first non-blank byte of the line at ls).
 * Returns LP_OK with *le at the '\n' ending the point (or end), LP_BAD, or the sink's
 * negative code. *nl counts newlines inside string values.
 */
static int parse_point(lp_parser *ps, const char *ls, const char *p, const char *end,
		       const char **le, size_t *nl)
{
	int rc;

	ps->is_same_point = false;
	ps->cur = NULL;
	ps->has_labels = false;
	ps->point_start = p;
	size_t prev = ps->prev;
	ps->prev = SIZE_MAX;
	const char *sp = NULL;
	uint64_t h = 0;
	if (ps->pc) {
		ps->cur = pc_predict(ps, prev, p, end);
		if (ps->cur) {
			sp = p + ps->cur->len;
		} else if ((sp = prefix_end(p, end))) {
			h = ts_hash64(p, (size_t)(sp - p), ps->pc_seed);
			ps->cur = pc_find(ps, p, (size_t)(sp - p), h, NULL);
		}
	}
	if (ps->cur) {
		ps->r.n_cached_points++;
		ps->meas_san_len = ps->cur->meas_san_len; /* checked with the field keys */
		p = sp; /* known prefix: its labels are built only if a field needs them */
	} else if ((rc = parse_prefix(ps, p, end, &p))) {
		return rc;
	}
	while (p < end && *p == ' ')
		p++;
	if (is_eol(p, end))
		return bad(ps, "missing fields");
	bool inserted = false;
	if (!ps->cur) {
		if (ps->n_tags + 1 > ps->lim.max_labels)
			return bad(ps, "more than max_labels (%zu) labels", ps->lim.max_labels);
		if ((rc = finish_labels(ps)))
			return rc;
		ps->has_labels = true;
		if (sp) {
			pc_insert(ps, ps->point_start, (size_t)(sp - ps->point_start), h);
			inserted = ps->cur != NULL;
		}
	}
	if (ps->cur) {
		size_t k = (size_t)(ps->cur - ps->ents);
		if (prev != SIZE_MAX)
			ps->ents[prev].next = (uint32_t)(k + 1);
		ps->prev = k;
	}

	/* fields */
	const char *fields = p;
	ps->n_fields = 0;
	ps->n_strings = 0;
	bool known = ps->cur && ps->cur->n_fields > 0 && parse_fields_known(ps, p, end, &p);
	if (!known && (rc = parse_fields(ps, p, end, NULL, &p, nl)))
		return rc;

	/* timestamp */
	int64_t t_ms = ps->default_t_ms;
	while (p < end && *p == ' ')
		p++;
	if (__builtin_expect(!is_eol(p, end), 1) &&
	    (rc = reason(ps, lp_parse_time(p, end, ps->prec, &p, &t_ms))))
		return rc;
	if ((size_t)(p - ls) > ps->lim.max_line_bytes)
		return bad(ps, "line longer than max_line_bytes (%zu)", ps->lim.max_line_bytes);
	if (p < end && *p == '\r')
		p++;
	*le = p;

	/* deliver */
	if (known) {
		const lp_pfield *pf = ps->pf + ps->cur->first;
		for (size_t i = 0; i < ps->n_fields; i++) {
			if ((rc = ingest_batch_add_at(ps->ctx, pf[i].ref, t_ms, ps->fields[i].v)) <
			    0)
				return rc;
			ps->r.n_samples++;
		}
		return LP_OK;
	}
	ps->r.n_string_fields_skipped += ps->n_strings;
	if (ps->n_fields > LP_FIELD_BATCH) {
		size_t ignored = 0;
		const char *q;
		rc = parse_fields(ps, fields, end, &t_ms, &q, &ignored);
		return TS_NEVER(rc == LP_BAD) ? TS_EINVAL : rc;
	}
	for (size_t i = 0; i < ps->n_fields; i++) {
		const lp_field *fl = &ps->fields[i];
		if ((rc =
			 emit(ps, i, fl->key, fl->key_len, fl->key_esc, fl->is_value, t_ms, fl->v)))
			return rc;
	}
	/* a new entry's refs were made in order from this point's keys: when it got one
	 * for each, its keys are the current key sequence */
	if (inserted && ps->kid && ps->cur->n_fields >= ps->kid_n)
		ps->cur->kid = ps->kid;
	return LP_OK;
}

/*
 * Keep the first bad point's line number and reason in the result:
 * "line N: unable to parse '<excerpt>': <reason>", the excerpt shortened (at a UTF-8
 * boundary, "..." appended) so that the reason always fits.
 */
static void record_bad(lp_parser *ps, size_t line, const char *s, const char *e)
{
	if (ps->r.n_bad_lines++ > 0)
		return;
	ps->r.first_bad_line = line;
	char head[48];
	int hl = snprintf(head, sizeof(head), "line %zu: unable to parse '", line);
	size_t fixed = (size_t)(hl > 0 ? hl : 0) + strlen("...': ") + strlen(ps->reason) + 1;
	size_t room = fixed < sizeof(ps->r.first_error) ? sizeof(ps->r.first_error) - fixed : 0;
	size_t n = (size_t)(e - s);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	bool cut = n > min_sz(room, LP_EXCERPT_MAX);
	if (cut) {
		n = min_sz(room, LP_EXCERPT_MAX);
		while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80)
			n--; /* do not split a UTF-8 sequence */
	}
	char ex[LP_EXCERPT_MAX + 1];
	bool utf8 = ts_utf8_valid(s, n);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		ex[i] = (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) ? '?' : (char)c;
	}
	ex[n] = '\0';
	int w = snprintf(ps->r.first_error, sizeof(ps->r.first_error), "%s%s%s': %s", head, ex,
			 cut ? "..." : "", ps->reason);
	(void)w; /* cannot truncate: room was computed above */
}

/* ================================================================ entry points */

int ingest_precision_parse(const char *s, ingest_precision *out, ts_err *err)
{
	static const struct {
		const char *name;
		ingest_precision prec;
	} names[] = {
	    {"", INGEST_PREC_NS},          {"n", INGEST_PREC_NS},
	    {"ns", INGEST_PREC_NS},        {"u", INGEST_PREC_US},
	    {"us", INGEST_PREC_US},        {"\xc2\xb5", INGEST_PREC_US},
	    {"\xc2\xb5s", INGEST_PREC_US}, {"\xce\xbc", INGEST_PREC_US},
	    {"\xce\xbcs", INGEST_PREC_US}, {"ms", INGEST_PREC_MS},
	    {"s", INGEST_PREC_S},          {"m", INGEST_PREC_M},
	    {"h", INGEST_PREC_H},
	};
	if (!s)
		s = "";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].prec;
			return TS_OK;
		}
	}
	return ts_err_set(err, TS_EINVAL, "unknown precision '%.32s'", s);
}

static size_t sat_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t sat_mul(size_t a, size_t b)
{
	return (b != 0 && a > SIZE_MAX / b) ? SIZE_MAX : a * b;
}

int ingest_lp_parse(const char *body, size_t len, ingest_precision prec, int64_t default_t_ms,
		    const ingest_limits *lim, ingest_sample_fn fn, void *ctx, ingest_lp_result *res,
		    ts_err *err)
{
	static const ingest_limits defaults = INGEST_LIMITS_DEFAULT;
	_Alignas(max_align_t) char stack[LP_STACK_SCRATCH];
	lp_parser ps_storage;
	lp_parser *ps = &ps_storage;
	char *heap = NULL;
	int rc = TS_OK;

	if (res)
		memset(res, 0, sizeof(*res));
	if ((!body && len > 0) || !fn)
		return ts_err_set(err, TS_EINVAL, "line protocol: %s",
				  fn ? "NULL body" : "no sample sink");
	if ((unsigned)prec > INGEST_PREC_H)
		return ts_err_set(err, TS_EINVAL, "line protocol: bad precision %d", (int)prec);

	memset(&ps->r, 0, sizeof(ps->r));
	ps->fn = fn;
	ps->ctx = ctx;
	ps->prec = prec;
	ps->default_t_ms = default_t_ms;
	ps->lim = lim ? *lim : defaults;
	ps->perm_n = SIZE_MAX;
	ps->meas_cacheable = false;
	ps->meas_gen = 0;
	ps->meas_prev_len = SIZE_MAX;
	for (size_t i = 0; i < LP_TAG_SLOTS; i++)
		ps->tag_slots[i].raw_len = 0;
	for (size_t i = 0; i < LP_FIELD_BATCH; i++)
		ps->metric_slots[i].gen = 0;
	ps->pc = NULL;
	ps->pf = NULL;
	ps->ents = NULL;
	ps->ent_n = ps->ent_cap = ps->pf_n = ps->pf_cap = 0;
	ps->cur = NULL;
	ps->prev = SIZE_MAX;
	ps->kid = ps->kid_last = 0;
	ps->kid_n = 0;
	if (fn == ingest_batch_add && len >= LP_PC_MIN_BODY) {
		/* without memory for it the parse goes on uncached */
		ps->pc = ts_calloc(LP_PC_SLOTS0, sizeof(*ps->pc));
		ps->ents = ps->pc ? ts_malloc(LP_PC_SLOTS0 / 2 * sizeof(*ps->ents)) : NULL;
		if (!ps->ents) {
			ts_free(ps->pc);
			ps->pc = NULL;
		}
		ps->ent_cap = LP_PC_SLOTS0 / 2;
		ps->pc_mask = LP_PC_SLOTS0 - 1;
		ps->pc_seed =
		    (uint64_t)(uintptr_t)ps * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts_mono_ns();
	}

	/*
	 * Scratch sizes. No name can be longer than the body (+5 for a digit prefix and
	 * "tag_"), no point has more than len/4+1 tags, and a tag needs at most its raw
	 * bytes + 5 in strs; the limits bound the same quantities from the other side.
	 */
	size_t eff_name = min_sz(ps->lim.max_name_bytes, sat_add(len, 8));
	size_t eff_value = min_sz(ps->lim.max_value_bytes, len);
	size_t eff_labels = min_sz(ps->lim.max_labels, len / 2 + 2);
	ps->labels_cap = eff_labels + 1;
	ps->raw_half = eff_name + 2;
	ps->name_cap = eff_name + 1;
	ps->strs_cap = sat_add(min_sz(sat_mul(eff_labels, sat_add(eff_name, eff_value + 8)),
				      sat_add(len, sat_mul(eff_labels, 8))),
			       8);
	size_t need = sat_add(sat_add(sat_mul(2 * ps->labels_cap, sizeof(ts_label)), ps->strs_cap),
			      sat_add(2 * ps->raw_half, ps->name_cap));
	char *mem = stack;
	if (need > sizeof(stack)) {
		heap = need == SIZE_MAX ? NULL : ts_malloc(need);
		if (!heap)
			return ts_err_set(err, TS_ENOMEM,
					  "line protocol: cannot allocate %zu bytes of scratch",
					  need);
		mem = heap;
	}
	ps->labels = (ts_label *)(void *)mem;
	ps->tags = ps->labels + ps->labels_cap;
	ps->strs = mem + 2 * ps->labels_cap * sizeof(ts_label);
	ps->raw = ps->strs + ps->strs_cap;
	ps->name = ps->raw + 2 * ps->raw_half;

	const char *p = body, *end = body + len;
	size_t line = 1;
	while (p < end) {
		const char *q = p;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (is_eol(q, end) || *q == '#') {
			const char *nlp = memchr(q, '\n', (size_t)(end - q));
			if (!nlp)
				break;
			p = nlp + 1;
			line++;
			continue;
		}
		ps->r.n_lines++;
		size_t nl = 0;
		const char *le = NULL;
		rc = parse_point(ps, p, q, end, &le, &nl);
		if (rc < 0) {
			ts_err_set(err, rc, "line protocol: line %zu: sample sink failed (%s)",
				   line, ts_err_name(rc));
			goto out;
		}
		if (rc == LP_BAD) {
			nl = 0;
			le = scan_line(q, end, &nl);
			record_bad(ps, line, q, le);
		}
		rc = TS_OK;
		line += nl;
		if (le == end)
			break;
		p = le + 1;
		line++;
	}
out:
	if (res)
		*res = ps->r;
	ts_free(ps->pc);
	ts_free(ps->ents);
	ts_free(ps->pf);
	ts_free(heap);
	return rc;
}
