/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record.c: the log record codec: record headers and the builder of checksummed sample
 * batches.
 *
 * The layout is in record.h and, byte-exact with a worked example, in docs/formats/log.md.
 *
 * Builder: label strings go into a per-record symbol table (open addressing, keyed by a
 * seeded multiply-xorshift string hash, ids in first-seen order), so a label name or value
 * costs its bytes once per record and a 1-2 byte id per use. A new series is compared label
 * by label with the previous one and reuses the ids of labels that did not change, which
 * skips most hashing for sorted input (node_exporter-like series differ in one or two
 * labels). Consecutive samples of the same series share one series entry; the entry being
 * filled ("open series") keeps its timestamps (zig-zag varint deltas) and value bits in two
 * side buffers and is written out when the series changes or at finish(). Every add first
 * computes a worst-case size increase and reserves all memory it may need, so a failed add
 * (TS_ELIMIT, TS_ENOMEM) leaves the builder as it was. Timestamp deltas use wrapping uint64
 * arithmetic, so any int64 sequence round-trips.
 *
 * Shared ids (_add_ids, the write path): a batch interns label strings once in an
 * ingest_symtab and hands the builder ids. The builder maps them to record symbols
 * through an array indexed by id (gmap: 4-byte entries stamped with a per-record
 * generation so a reset costs nothing), and groups samples by series: each distinct
 * series gets a gseries with its labels as record symbol ids, found again through a slot
 * word the caller keeps per series (no hashing), and samples go into two flat arrays
 * (series index; timestamp and value). When the record is written (finish, or an _add
 * that must come after them), a counting sort by series emits one entry per series with
 * its samples in the order added. The worst-case size of those entries (g_bound) is
 * counted in size_bytes and reserved in body, so writing them out cannot fail.
 * The first sample of a series maps its labels in one pass that adds the missing
 * symbols, and takes them out again if the sample is refused (TS_ELIMIT, TS_ENOMEM,
 * TS_EINVAL), so the builder is as it was. A sample of a series already in the record
 * takes a fast path: after every checked add the builder works out g_fast, the bytes
 * that such samples may still take (worst case 18 each) while staying under max_bytes
 * and inside the memory reserved for body and the sample arrays; while it lasts, a
 * sample is stored with no other check or reservation. The size accounting, and so where
 * records are cut, is the same either way (tests/ingest/test_record.c checks the records
 * byte for byte against _add of the same samples).
 *
 * The decoder is record_decode.c.
 *
 * Not done here: validating label name charsets or UTF-8 (parsers do that before a sample
 * reaches a builder), deduplication, and any I/O.
 */
#include "ingest/record.h"

#include <snappy-c.h>

#include <string.h>

#define SYM_EMPTY 0u /* hash slot value of an empty slot; slots hold id + 1 */

/* A gmap entry: record symbol id in the low GMAP_ID_BITS, the generation above. A symbol
 * takes at least 2 bytes of the record (length varint, >= 1 byte), so a record has fewer
 * than 2^23 symbols. */
#define GMAP_ID_BITS 24
#define GMAP_ID_MASK ((1u << GMAP_ID_BITS) - 1)
#define GMAP_GENS    (1u << (32 - GMAP_ID_BITS)) /* generations 1 .. GMAP_GENS - 1 */
_Static_assert(INGEST_RECORD_MAX_BYTES / 2 <= GMAP_ID_MASK, "record symbol ids fit a gmap entry");

_Static_assert(sizeof(double) == sizeof(uint64_t), "double must be 64-bit");

/* ---------------------------------------------------------------- header */

static const uint8_t magic[4] = {'S', 'T', 'R', 'L'};

int ingest_record_header_parse(const void *rec, size_t len, ingest_record_info *out, ts_err *err)
{
	const uint8_t *p = rec;
	if (len < INGEST_RECORD_HEADER_BYTES)
		return ts_err_set(err, TS_ECORRUPT,
				  "record: %zu bytes, shorter than the %d-byte header", len,
				  INGEST_RECORD_HEADER_BYTES);
	if (memcmp(p, magic, 4) != 0)
		return ts_err_set(err, TS_ECORRUPT,
				  "record: bad magic %02x %02x %02x %02x (want \"STRL\")", p[0],
				  p[1], p[2], p[3]);
	if (p[4] != INGEST_RECORD_VERSION)
		return ts_err_set(
		    err, TS_ECORRUPT,
		    "record: unsupported record version %u (this build reads version %d)", p[4],
		    INGEST_RECORD_VERSION);
	uint8_t flags = p[5];
	if ((flags & ~3u) != 0 || (flags & 3u) > INGEST_RECORD_COMPRESS_SNAPPY)
		return ts_err_set(err, TS_ECORRUPT, "record: unknown flags 0x%02x", flags);
	if (ts_get_u16le(p + 6) != 0)
		return ts_err_set(err, TS_ECORRUPT, "record: reserved bytes 6-7 are not zero");
	uint32_t plen = ts_get_u32le(p + 8);
	if ((uint64_t)plen != (uint64_t)len - INGEST_RECORD_HEADER_BYTES)
		return ts_err_set(
		    err, TS_ECORRUPT,
		    "record: payload length %u does not match the %zu bytes after the "
		    "header",
		    plen, len - INGEST_RECORD_HEADER_BYTES);
	if (len > INGEST_RECORD_MAX_BYTES)
		return ts_err_set(err, TS_ECORRUPT, "record: %zu bytes exceeds the %u-byte maximum",
				  len, INGEST_RECORD_MAX_BYTES);
	out->version = p[4];
	out->compression = flags & 3u;
	out->payload_len = plen;
	out->n_samples = ts_get_u32le(p + 12);
	out->crc32c = ts_get_u32le(p + 16);
	return TS_OK;
}

static size_t uvarint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_uvarint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* a - b with wrapping, as the format defines deltas. */
static int64_t wrap_sub(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a - (uint64_t)b);
}

/* ---------------------------------------------------------------- builder */

int ingest_grow(void **p, size_t *cap, size_t n, size_t elem)
{
	if (n <= *cap)
		return TS_OK;
	size_t c = *cap ? *cap : 64;
	while (c < n)
		c *= 2;
	void *q = ts_realloc(*p, c * elem);
	if (!q)
		return TS_ENOMEM;
	*p = q;
	*cap = c;
	return TS_OK;
}

/* A series grouped by _add_ids. */
typedef struct gseries {
	uint32_t rid_off;  /* first of its 2 * n_labels record symbol ids in g_rids */
	uint32_t n_labels; /* labels */
	uint32_t n;        /* flush scratch: its samples */
	uint32_t pos;      /* flush scratch: next slot in g_order */
} gseries;

/* A sample grouped by _add_ids (one array, so that writing a series out reads one place
 * per sample). */
typedef struct gsample {
	int64_t t;     /* timestamp */
	uint64_t bits; /* IEEE-754 bits of the value */
} gsample;

struct ingest_record_builder {
	/* First, together, what the _add_ids fast path touches (the rest of _add_ids'
	 * state is further down): */
	size_t g_fast; /* bytes a known series' sample may still take without any check:
			* within max_bytes and reserved in body and the per-sample arrays
			* (0: take the checked path); every change but the fast path's
			* zeroes it */
	const ingest_symtab *gmap_owner; /* the table gmap's ids belong to */
	uint32_t sgen;        /* generation of the grouped series (>= 1): a caller's slot word
			       * sgen << 32 | g_ser index is current only with this sgen */
	size_t g_n_ser;       /* series in g_ser */
	size_t g_n;           /* grouped samples */
	size_t g_bound;       /* worst-case bytes of the grouped series once written */
	uint32_t *g_sample_s; /* per grouped sample: its g_ser index */
	gsample *g_tv;        /* per grouped sample: timestamp and value */
	size_t n_samples;     /* samples in the record */

	int compression;  /* INGEST_RECORD_COMPRESS_* requested */
	size_t max_bytes; /* bound on the encoded record */

	ts_buf symtab;      /* encoded symbols (uvarint len, bytes) in id order */
	uint32_t *sym_off;  /* per id: offset of the string bytes in symtab */
	uint32_t *sym_len;  /* per id: string length */
	uint32_t *sym_hash; /* per id: str_hash of the string */
	size_t n_syms;      /* symbols defined */
	size_t cap_syms;    /* capacity of the three arrays above */
	uint32_t *slots;    /* hash table of id + 1 (SYM_EMPTY = free), power-of-2 size */
	size_t n_slots;     /* slots allocated (0 before the first symbol) */
	uint64_t hash_seed; /* keys str_hash */

	ts_buf body;     /* completed series entries */
	size_t n_series; /* entries in body */
	int64_t prev_t0; /* t0 of the last entry in body (0 if none) */

	bool has_open;      /* an open series exists */
	uint32_t *open_ids; /* 2 * open_n_labels symbol ids: name, value, ... */
	size_t open_n_labels;
	size_t cap_ids;      /* capacity of open_ids in ids */
	uint8_t *open_reuse; /* per label: 1 if it equals the previous entry's label there */
	size_t cap_reuse;    /* capacity of open_reuse */
	int64_t open_t0;     /* first timestamp of the open series */
	int64_t open_last_t; /* last timestamp of the open series */
	size_t open_n;       /* samples in the open series */
	ts_buf open_ts;      /* zig-zag varint deltas of samples 2..n */
	ts_buf open_vals;    /* u64le value bits of samples 1..n */

	/* _add_ids: symbols of a shared ingest_symtab mapped to this record's ids */
	uint32_t *gmap;  /* per shared id: gen << GMAP_ID_BITS | record id; stale if the
			  * high bits are not gen (4 bytes: fewer cache lines) */
	size_t cap_gmap; /* entries allocated */
	uint32_t gen;    /* current record's generation, in [1, GMAP_GENS) */
	/* _add_ids groups samples by series until the record is written (flush_grouped) */
	gseries *g_ser;    /* grouped series in first-seen order */
	size_t g_cap_ser;  /* capacity of g_ser */
	uint32_t *g_rids;  /* the series' labels as record symbol ids, back to back */
	size_t g_n_rids;   /* ids used in g_rids */
	size_t g_cap_rids; /* capacity of g_rids */
	uint32_t *g_order; /* flush scratch: sample indices grouped by series */
	size_t g_cap;      /* capacity of the three per-sample arrays */
	size_t last_n;     /* labels of the last entry in body (their ids: open_ids) */

	ts_buf scratch; /* assembled payload for compression */
	ts_buf zbuf;    /* snappy output */
};

int ingest_record_builder_new(int compression, size_t max_bytes, ingest_record_builder **out,
			      ts_err *err)
{
	if (compression != INGEST_RECORD_COMPRESS_NONE &&
	    compression != INGEST_RECORD_COMPRESS_SNAPPY)
		return ts_err_set(err, TS_EINVAL, "record builder: unknown compression %d",
				  compression);
	if (max_bytes == 0)
		max_bytes = INGEST_RECORD_MAX_BYTES;
	if (max_bytes > INGEST_RECORD_MAX_BYTES || max_bytes < 256)
		return ts_err_set(err, TS_EINVAL, "record builder: max_bytes %zu outside [256, %u]",
				  max_bytes, INGEST_RECORD_MAX_BYTES);
	ingest_record_builder *b = ts_calloc(1, sizeof(*b));
	if (!b)
		return ts_err_set(err, TS_ENOMEM, "record builder: out of memory");
	b->compression = compression;
	b->max_bytes = max_bytes;
	b->hash_seed = (uint64_t)(uintptr_t)b * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts_mono_ns();
	b->gen = 1;
	b->sgen = 1;
	ts_buf_init(&b->symtab, max_bytes);
	ts_buf_init(&b->body, max_bytes);
	ts_buf_init(&b->open_ts, max_bytes);
	ts_buf_init(&b->open_vals, max_bytes);
	ts_buf_init(&b->scratch, max_bytes);
	ts_buf_init(&b->zbuf, snappy_max_compressed_length(max_bytes));
	*out = b;
	return TS_OK;
}

void ingest_record_builder_free(ingest_record_builder *b)
{
	if (!b)
		return;
	ts_buf_free(&b->symtab);
	ts_buf_free(&b->body);
	ts_buf_free(&b->open_ts);
	ts_buf_free(&b->open_vals);
	ts_buf_free(&b->scratch);
	ts_buf_free(&b->zbuf);
	ts_free(b->sym_off);
	ts_free(b->sym_len);
	ts_free(b->sym_hash);
	ts_free(b->slots);
	ts_free(b->open_ids);
	ts_free(b->open_reuse);
	ts_free(b->gmap);
	ts_free(b->g_ser);
	ts_free(b->g_rids);
	ts_free(b->g_sample_s);
	ts_free(b->g_tv);
	ts_free(b->g_order);
	ts_free(b);
}

static void flush_grouped(ingest_record_builder *b);

/* Drop the grouped samples (allocations are kept); callers' slot words become stale. */
static void clear_grouped(ingest_record_builder *b)
{
	b->g_n_ser = b->g_n_rids = b->g_n = b->g_bound = b->g_fast = 0;
	if (++b->sgen == 0)  /* after 2^32 records a stale slot word could match: clearing */
		b->sgen = 1; /* slots is the caller's business, so the contract says 2^32 */
}

/* Forget every shared-id mapping (the record's symbols are being dropped). */
static void new_generation(ingest_record_builder *b)
{
	if (++b->gen == GMAP_GENS) { /* wrapped: stale entries could look current */
		if (b->gmap)
			memset(b->gmap, 0, b->cap_gmap * sizeof(*b->gmap));
		b->gen = 1;
	}
}

void ingest_record_builder_reset(ingest_record_builder *b)
{
	ts_buf_reset(&b->symtab);
	ts_buf_reset(&b->body);
	ts_buf_reset(&b->open_ts);
	ts_buf_reset(&b->open_vals);
	b->n_syms = 0;
	if (b->slots)
		memset(b->slots, 0, b->n_slots * sizeof(*b->slots));
	b->n_series = 0;
	b->prev_t0 = 0;
	b->has_open = false;
	b->open_n_labels = 0;
	b->open_n = 0;
	b->n_samples = 0;
	b->last_n = 0;
	clear_grouped(b);
	new_generation(b);
}

size_t ingest_record_builder_alloc_bytes(const ingest_record_builder *b)
{
	return b->symtab.cap + b->body.cap + b->open_ts.cap + b->open_vals.cap + b->scratch.cap +
	       b->zbuf.cap + b->cap_syms * 3 * sizeof(uint32_t) + b->n_slots * sizeof(uint32_t) +
	       b->cap_gmap * sizeof(*b->gmap) + b->g_cap_ser * sizeof(*b->g_ser) +
	       b->g_cap_rids * sizeof(*b->g_rids) +
	       b->g_cap * (sizeof(*b->g_sample_s) + sizeof(*b->g_tv) + sizeof(*b->g_order));
}

size_t ingest_record_builder_n_samples(const ingest_record_builder *b)
{
	return b->n_samples;
}

/* Worst-case bytes of the open series entry once written out. */
static size_t open_bound(const ingest_record_builder *b)
{
	if (!b->has_open)
		return 0;
	return 10 + (b->open_n_labels + 7) / 8 + b->open_n_labels * 10 + 10 + 10 + b->open_ts.len +
	       b->open_vals.len;
}

size_t ingest_record_builder_size_bytes(const ingest_record_builder *b)
{
	return INGEST_RECORD_HEADER_BYTES + 10 + b->symtab.len + 10 + b->body.len + open_bound(b) +
	       b->g_bound;
}

/* Is s[0..len) the string of symbol id? */
static bool sym_eq(const ingest_record_builder *b, uint32_t id, const char *s, size_t len)
{
	return b->sym_len[id] == len && memcmp(b->symtab.data + b->sym_off[id], s, len) == 0;
}

/*
 * Hash of a short string for the symbol table: 8-byte words, multiply-xorshift mixing,
 * keyed by a per-builder seed so crafted label values cannot force collisions offline.
 */
static uint32_t str_hash(uint64_t seed, const char *s, size_t n)
{
	uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ull);
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
		s += 8;
		n -= 8;
	}
	if (n) {
		uint64_t w = 0;
		memcpy(&w, s, n);
		h = (h ^ w) * 0x94d049bb133111ebull;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(h ^ (h >> 32));
}

/* Grow a uint32 array to hold at least `need` elements. */
static int grow_u32(uint32_t **a, size_t need, size_t old_cap, size_t *new_cap)
{
	if (need <= old_cap) {
		*new_cap = old_cap;
		return TS_OK;
	}
	size_t cap = old_cap ? old_cap : 16;
	while (cap < need)
		cap *= 2;
	uint32_t *p = ts_realloc(*a, cap * sizeof(**a));
	if (!p)
		return TS_ENOMEM;
	*a = p;
	*new_cap = cap;
	return TS_OK;
}

/* Make room for `extra` more symbols in the three per-id arrays. */
static int reserve_sym_arrays(ingest_record_builder *b, size_t extra)
{
	size_t need = b->n_syms + extra, cap = b->cap_syms, c1, c2, c3;
	if (need <= cap)
		return TS_OK;
	if (grow_u32(&b->sym_off, need, cap, &c1) || grow_u32(&b->sym_len, need, cap, &c2) ||
	    grow_u32(&b->sym_hash, need, cap, &c3))
		return TS_ENOMEM;
	/* all three now hold >= need; remember the smallest common capacity */
	b->cap_syms = c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3);
	return TS_OK;
}

/* Room for `extra` more symbols: arrays and, for _add's lookups, the hash table (load
 * <= 1/2; _add_ids does not use the table, so it reserves only the arrays). */
static int reserve_syms(ingest_record_builder *b, size_t extra)
{
	if (reserve_sym_arrays(b, extra))
		return TS_ENOMEM;
	size_t need = b->n_syms + extra;
	if (need * 2 <= b->n_slots)
		return TS_OK;
	size_t n_slots = b->n_slots ? b->n_slots : 64;
	while (n_slots < need * 2)
		n_slots *= 2;
	uint32_t *slots = ts_calloc(n_slots, sizeof(*slots));
	if (!slots)
		return TS_ENOMEM;
	for (size_t id = 0; id < b->n_syms; id++) {
		size_t i = b->sym_hash[id] & (n_slots - 1);
		while (slots[i] != SYM_EMPTY)
			i = (i + 1) & (n_slots - 1);
		slots[i] = (uint32_t)id + 1;
	}
	ts_free(b->slots);
	b->slots = slots;
	b->n_slots = n_slots;
	return TS_OK;
}

/* The id of s[0..len), adding it. Capacity must have been reserved (cannot fail). */
static uint32_t intern_sym(ingest_record_builder *b, const char *s, size_t len)
{
	uint32_t h = str_hash(b->hash_seed, s, len);
	size_t mask = b->n_slots - 1, i = h & mask;
	for (;;) {
		uint32_t slot = b->slots[i];
		if (slot == SYM_EMPTY)
			break;
		uint32_t id = slot - 1;
		if (b->sym_hash[id] == h && b->sym_len[id] == len &&
		    memcmp(b->symtab.data + b->sym_off[id], s, len) == 0)
			return id;
		i = (i + 1) & mask;
	}
	uint32_t id = (uint32_t)b->n_syms++;
	uint8_t hdr[10];
	size_t hn = (size_t)(put_uvarint(hdr, len) - hdr);
	memcpy(b->symtab.data + b->symtab.len, hdr, hn);
	b->sym_off[id] = (uint32_t)(b->symtab.len + hn);
	memcpy(b->symtab.data + b->symtab.len + hn, s, len);
	b->symtab.len += hn + len;
	b->symtab.data[b->symtab.len] = '\0';
	b->sym_len[id] = (uint32_t)len;
	b->sym_hash[id] = h;
	b->slots[i] = id + 1;
	return id;
}

/* Write the open series entry to dst (room reserved by the caller: open_bound bytes). */
static uint8_t *emit_open(const ingest_record_builder *b, uint8_t *dst, int64_t prev_t0)
{
	size_t n = b->open_n_labels, nb = (n + 7) / 8;
	dst = put_uvarint(dst, n);
	memset(dst, 0, nb);
	for (size_t i = 0; i < n; i++)
		if (b->open_reuse[i])
			dst[i / 8] |= (uint8_t)(1u << (i % 8));
	dst += nb;
	for (size_t i = 0; i < n; i++) {
		if (b->open_reuse[i])
			continue;
		dst = put_uvarint(dst, b->open_ids[2 * i]);
		dst = put_uvarint(dst, b->open_ids[2 * i + 1]);
	}
	dst = put_uvarint(dst, b->open_n);
	dst = put_uvarint(dst, zigzag(wrap_sub(b->open_t0, prev_t0)));
	memcpy(dst, b->open_ts.data, b->open_ts.len);
	dst += b->open_ts.len;
	memcpy(dst, b->open_vals.data, b->open_vals.len);
	return dst + b->open_vals.len;
}

/* Move the open series into body (room reserved by the caller). */
static void close_open(ingest_record_builder *b)
{
	if (!b->has_open)
		return;
	uint8_t *start = (uint8_t *)b->body.data + b->body.len;
	uint8_t *end = emit_open(b, start, b->prev_t0);
	b->body.len += (size_t)(end - start);
	b->body.data[b->body.len] = '\0';
	b->n_series++;
	b->prev_t0 = b->open_t0;
	b->has_open = false;
	b->last_n = b->open_n_labels;
	b->open_n_labels = 0;
	b->open_n = 0;
	ts_buf_reset(&b->open_ts);
	ts_buf_reset(&b->open_vals);
}

/* Append n samples to the open series (room reserved by the caller). */
static void put_samples(ingest_record_builder *b, const int64_t *t, const double *v, size_t n)
{
	uint8_t *tp = (uint8_t *)b->open_ts.data + b->open_ts.len;
	uint8_t *vp = (uint8_t *)b->open_vals.data + b->open_vals.len;
	for (size_t i = 0; i < n; i++) {
		if (b->open_n == 0)
			b->open_t0 = t[i];
		else
			tp = put_uvarint(tp, zigzag(wrap_sub(t[i], b->open_last_t)));
		b->open_last_t = t[i];
		b->open_n++;
		uint64_t bits;
		memcpy(&bits, &v[i], 8);
		ts_put_u64le(vp, bits);
		vp += 8;
	}
	b->open_ts.len = (size_t)(tp - (uint8_t *)b->open_ts.data);
	b->open_ts.data[b->open_ts.len] = '\0';
	b->open_vals.len += 8 * n;
	b->open_vals.data[b->open_vals.len] = '\0';
	b->n_samples += n;
}

/* What pass 1 of add_series learnt about one label. */
typedef struct label_memo {
	uint32_t nl, vl; /* name and value lengths */
	bool name_eq;    /* name equals the open series' name at this index */
	bool value_eq;   /* value equals the open series' value at this index */
} label_memo;

#define MEMO_LABELS 32 /* labels remembered between the passes (stack space) */

int ingest_record_builder_add_series(ingest_record_builder *b, const ts_label *labels,
				     size_t n_labels, const int64_t *t_ms, const double *v,
				     size_t n, ts_err *err)
{
	if (n == 0)
		return TS_OK;
	if (n > UINT32_MAX - b->n_samples)
		return ts_err_set(err, TS_ELIMIT, "record builder: too many samples");
	if (n_labels == 0 || !labels)
		return ts_err_set(err, TS_EINVAL, "record builder: empty label set");
	flush_grouped(b); /* samples of _add_ids first, so every series keeps its order */
	b->g_fast = 0;    /* (flush_grouped clears it too; _add changes the size) */
	/*
	 * Pass 1: compare with the open series label by label (consecutive series usually
	 * share most labels), validate, and size the strings that may become new symbols.
	 * Sort order needs no check between two names that equal the open series' names.
	 */
	size_t prev_n = b->has_open ? b->open_n_labels : 0, str_bytes = 0;
	bool same = n_labels == prev_n, has_name = false, prev_name_eq = false;
	label_memo memo[MEMO_LABELS]; /* pass 1 results for pass 2 (first labels only) */
	for (size_t i = 0; i < n_labels; i++) {
		const char *name = labels[i].name, *value = labels[i].value;
		if (!name || !name[0] || !value || !value[0])
			return ts_err_set(err, TS_EINVAL,
					  "record builder: label %zu has an empty name or value",
					  i);
		size_t nl = strlen(name), vl = strlen(value);
		bool name_eq = i < prev_n && sym_eq(b, b->open_ids[2 * i], name, nl);
		bool value_eq = i < prev_n && sym_eq(b, b->open_ids[2 * i + 1], value, vl);
		if (i < MEMO_LABELS)
			memo[i] = (label_memo){(uint32_t)nl, (uint32_t)vl, name_eq, value_eq};
		if (i > 0 && !(name_eq && prev_name_eq) && strcmp(labels[i - 1].name, name) >= 0)
			return ts_err_set(err, TS_EINVAL,
					  "record builder: labels not sorted/unique at '%s'", name);
		if (!has_name && nl == sizeof(TS_METRIC_NAME) - 1 &&
		    memcmp(name, TS_METRIC_NAME, nl) == 0)
			has_name = true;
		str_bytes += (name_eq ? 0 : nl) + (value_eq ? 0 : vl);
		same &= name_eq && value_eq;
		prev_name_eq = name_eq;
	}
	if (!has_name)
		return ts_err_set(err, TS_EINVAL, "record builder: no " TS_METRIC_NAME " label");
	size_t extra = n * (10 + 8);
	if (!same) /* new symbols (len varint <= 5 + bytes), refs, entry header */
		extra += str_bytes + n_labels * (2 * 5 + 10) + (n_labels + 7) / 8 + 10 + 10 + 10;
	size_t size = ingest_record_builder_size_bytes(b);
	if (extra > b->max_bytes || size > b->max_bytes - extra)
		return ts_err_set(err, TS_ELIMIT,
				  "record builder: record would exceed %zu bytes (now %zu, adding "
				  "up to %zu)",
				  b->max_bytes, size, extra);
	/* reserve everything, then mutate (cannot fail past this point) */
	if (ts_buf_reserve(&b->open_ts, n * 10) || ts_buf_reserve(&b->open_vals, n * 8))
		goto nomem;
	if (!same) {
		size_t cap_ids;
		if (ts_buf_reserve(&b->body, open_bound(b)) ||
		    ts_buf_reserve(&b->symtab, str_bytes + 2 * 5 * n_labels) ||
		    reserve_syms(b, 2 * n_labels) ||
		    grow_u32(&b->open_ids, 2 * n_labels, b->cap_ids, &cap_ids) ||
		    ingest_grow((void **)&b->open_reuse, &b->cap_reuse, n_labels, 1))
			goto nomem;
		b->cap_ids = cap_ids;
		close_open(b); /* keeps open_ids: pass 2 reuses the ids that still match */
		for (size_t i = 0; i < n_labels; i++) {
			const char *name = labels[i].name, *value = labels[i].value;
			label_memo m;
			if (i < MEMO_LABELS) {
				m = memo[i];
			} else {
				m.nl = (uint32_t)strlen(name);
				m.vl = (uint32_t)strlen(value);
				m.name_eq = i < prev_n && sym_eq(b, b->open_ids[2 * i], name, m.nl);
				m.value_eq =
				    i < prev_n && sym_eq(b, b->open_ids[2 * i + 1], value, m.vl);
			}
			uint32_t *ids = &b->open_ids[2 * i];
			if (!m.name_eq)
				ids[0] = intern_sym(b, name, m.nl);
			if (!m.value_eq)
				ids[1] = intern_sym(b, value, m.vl);
			b->open_reuse[i] = m.name_eq && m.value_eq;
		}
		b->open_n_labels = n_labels;
		b->has_open = true;
	}
	put_samples(b, t_ms, v, n);
	return TS_OK;
nomem:
	return ts_err_set(err, TS_ENOMEM, "record builder: out of memory");
}

/* ---------------------------------------------------------------- shared symbols */

struct ingest_symtab {
	ts_buf bytes;       /* the strings, each followed by a NUL */
	uint32_t *off;      /* per id: offset of its string in bytes */
	uint32_t *len;      /* per id: string length */
	uint32_t *hash;     /* per id: str_hash of the string */
	size_t n;           /* ids handed out */
	size_t cap;         /* capacity of off, len and hash */
	uint32_t *slots;    /* open addressing table of id + 1 (SYM_EMPTY = free) */
	size_t n_slots;     /* power of 2, load <= 1/2 */
	uint64_t hash_seed; /* keys str_hash */
};

int ingest_symtab_new(size_t max_bytes, ingest_symtab **out, ts_err *err)
{
	ingest_symtab *t = ts_calloc(1, sizeof(*t));
	if (!t)
		return ts_err_set(err, TS_ENOMEM, "symbol table: out of memory");
	ts_buf_init(&t->bytes, max_bytes ? max_bytes : (size_t)1 << 30);
	t->hash_seed = (uint64_t)(uintptr_t)t * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts_mono_ns();
	*out = t;
	return TS_OK;
}

void ingest_symtab_free(ingest_symtab *t)
{
	if (!t)
		return;
	ts_buf_free(&t->bytes);
	ts_free(t->off);
	ts_free(t->len);
	ts_free(t->hash);
	ts_free(t->slots);
	ts_free(t);
}

void ingest_symtab_reset(ingest_symtab *t)
{
	ts_buf_reset(&t->bytes);
	if (t->n && t->slots)
		memset(t->slots, 0, t->n_slots * sizeof(*t->slots));
	t->n = 0;
}

size_t ingest_symtab_alloc_bytes(const ingest_symtab *t)
{
	return t->bytes.cap + t->cap * 3 * sizeof(uint32_t) + t->n_slots * sizeof(uint32_t);
}

const char *ingest_symtab_str(const ingest_symtab *t, uint32_t id, size_t *len)
{
	if (len)
		*len = t->len[id];
	return t->bytes.data + t->off[id];
}

/* Room for one more id: arrays and table (rehashed at load 1/2). */
static int symtab_reserve(ingest_symtab *t)
{
	size_t need = t->n + 1, c1, c2, c3;
	if (grow_u32(&t->off, need, t->cap, &c1) || grow_u32(&t->len, need, t->cap, &c2) ||
	    grow_u32(&t->hash, need, t->cap, &c3))
		return TS_ENOMEM;
	t->cap = c1 < c2 ? (c1 < c3 ? c1 : c3) : (c2 < c3 ? c2 : c3);
	if (need * 2 <= t->n_slots)
		return TS_OK;
	size_t n_slots = t->n_slots ? t->n_slots * 2 : 256;
	uint32_t *slots = ts_calloc(n_slots, sizeof(*slots));
	if (!slots)
		return TS_ENOMEM;
	for (size_t id = 0; id < t->n; id++) {
		size_t i = t->hash[id] & (n_slots - 1);
		while (slots[i] != SYM_EMPTY)
			i = (i + 1) & (n_slots - 1);
		slots[i] = (uint32_t)id + 1;
	}
	ts_free(t->slots);
	t->slots = slots;
	t->n_slots = n_slots;
	return TS_OK;
}

int ingest_symtab_intern(ingest_symtab *t, const char *s, size_t len, uint32_t *id, ts_err *err)
{
	uint32_t h = str_hash(t->hash_seed, s, len);
	size_t i = 0;
	if (t->n_slots) {
		size_t mask = t->n_slots - 1;
		for (i = h & mask; t->slots[i] != SYM_EMPTY; i = (i + 1) & mask) {
			uint32_t k = t->slots[i] - 1;
			if (t->hash[k] == h && t->len[k] == len &&
			    memcmp(t->bytes.data + t->off[k], s, len) == 0) {
				*id = k;
				return TS_OK;
			}
		}
	}
	if (t->n >= (size_t)INT32_MAX)
		return ts_err_set(err, TS_ELIMIT, "symbol table: more than %d strings", INT32_MAX);
	size_t old_slots = t->n_slots;
	int rc = symtab_reserve(t);
	if (rc == TS_OK)
		rc = ts_buf_reserve(&t->bytes, len + 1);
	if (rc)
		return ts_err_set(err, rc, "symbol table: cannot hold %zu more bytes (%s)", len + 1,
				  ts_err_name(rc));
	if (t->n_slots != old_slots) /* rehashed: find the free slot again */
		for (i = h & (t->n_slots - 1); t->slots[i] != SYM_EMPTY;
		     i = (i + 1) & (t->n_slots - 1))
			;
	uint32_t k = (uint32_t)t->n++;
	t->off[k] = (uint32_t)t->bytes.len;
	t->len[k] = (uint32_t)len;
	t->hash[k] = h;
	memcpy(t->bytes.data + t->bytes.len, s, len);
	t->bytes.len += len;
	t->bytes.data[t->bytes.len++] = '\0';
	t->bytes.data[t->bytes.len] = '\0';
	t->slots[i] = k + 1;
	*id = k;
	return TS_OK;
}

/* ---------------------------------------------------------------- builder: shared ids */

/* The record id of shared id gid, or UINT32_MAX when the record has no such symbol yet. */
static uint32_t gmap_get(const ingest_record_builder *b, uint32_t gid)
{
	uint32_t e = b->gmap[gid];
	return e >> GMAP_ID_BITS == b->gen ? e & GMAP_ID_MASK : UINT32_MAX;
}

/* Add the string of shared id gid (not in the record yet) as a record symbol; its id.
 * Room reserved by the caller. */
static uint32_t gmap_add(ingest_record_builder *b, const ingest_symtab *t, uint32_t gid)
{
	size_t len = t->len[gid];
	uint32_t id = (uint32_t)b->n_syms++;
	uint8_t *w = (uint8_t *)b->symtab.data + b->symtab.len;
	uint8_t *p = put_uvarint(w, len);
	b->sym_off[id] = (uint32_t)(b->symtab.len + (size_t)(p - w));
	memcpy(p, t->bytes.data + t->off[gid], len);
	b->symtab.len += (size_t)(p - w) + len;
	b->symtab.data[b->symtab.len] = '\0';
	b->sym_len[id] = (uint32_t)len;
	b->sym_hash[id] = t->hash[gid]; /* not in b->slots: _add may add the string again */
	b->gmap[gid] = b->gen << GMAP_ID_BITS | id;
	return id;
}

/* Make gmap cover every id of t (new entries are stale). */
static int gmap_reserve(ingest_record_builder *b, const ingest_symtab *t)
{
	if (b->gmap_owner != t) { /* ids of another table mean other strings */
		flush_grouped(b); /* its ids belong to the old table */
		new_generation(b);
		b->gmap_owner = t;
	}
	if (t->n <= b->cap_gmap)
		return TS_OK;
	size_t cap = b->cap_gmap ? b->cap_gmap : 256;
	while (cap < t->n)
		cap *= 2;
	uint32_t *g = ts_realloc(b->gmap, cap * sizeof(*g));
	if (!g)
		return TS_ENOMEM;
	memset(g + b->cap_gmap, 0, (cap - b->cap_gmap) * sizeof(*g));
	b->gmap = g;
	b->cap_gmap = cap;
	return TS_OK;
}

/* Worst-case bytes of one grouped sample: timestamp delta varint and value. */
#define SAMPLE_BOUND (10 + 8)

/* Worst-case bytes of one series entry of n_labels labels, not counting its samples. */
static size_t entry_bound(size_t n_labels)
{
	return 10 + (n_labels + 7) / 8 + n_labels * 10 + 10 + 10;
}

/* put_uvarint with the 1-byte case (most ids, counts and small deltas) inline. */
static inline uint8_t *put_uvarint_fast(uint8_t *p, uint64_t v)
{
	if (v < 0x80) {
		*p = (uint8_t)v;
		return p + 1;
	}
	return put_uvarint(p, v);
}

/*
 * Write the grouped series into body as entries, in first-seen order, each with its
 * samples in the order they were added (room reserved: g_bound bytes). Cannot fail.
 */
static void flush_grouped(ingest_record_builder *b)
{
	if (b->g_n == 0)
		return;
	/* counting sort of the samples by series (counted here, not at every add: the
	 * series array is hot now, and an add touches one place less) */
	gseries *ser = b->g_ser;
	const uint32_t *sample_s = b->g_sample_s;
	for (size_t k = 0; k < b->g_n_ser; k++)
		ser[k].n = 0;
	for (size_t i = 0; i < b->g_n; i++)
		ser[sample_s[i]].n++;
	uint32_t pos = 0;
	for (size_t k = 0; k < b->g_n_ser; k++) {
		ser[k].pos = pos;
		pos += ser[k].n;
	}
	const gsample *tv = b->g_tv;
	uint32_t *order = b->g_order;
	for (size_t i = 0; i < b->g_n; i++)
		order[ser[sample_s[i]].pos++] = (uint32_t)i;
	uint8_t *dst = (uint8_t *)b->body.data + b->body.len;
	size_t prev_n = b->last_n;
	const uint32_t *prev = b->open_ids; /* the last entry's record ids */
	int64_t prev_t0 = b->prev_t0;
	for (size_t k = 0; k < b->g_n_ser; k++) {
		const gseries *gs = &ser[k];
		const uint32_t *rids = b->g_rids + gs->rid_off;
		size_t n = gs->n_labels, nb = (n + 7) / 8;
		dst = put_uvarint_fast(dst, n);
		uint8_t *reuse = dst;
		memset(reuse, 0, nb);
		dst += nb;
		for (size_t i = 0; i < n; i++) {
			uint32_t name = rids[2 * i], value = rids[2 * i + 1];
			if (i < prev_n && prev[2 * i] == name && prev[2 * i + 1] == value) {
				reuse[i / 8] |= (uint8_t)(1u << (i % 8));
				continue;
			}
			dst = put_uvarint_fast(dst, name);
			dst = put_uvarint_fast(dst, value);
		}
		prev = rids;
		prev_n = n;
		dst = put_uvarint_fast(dst, gs->n);
		int64_t last = tv[order[0]].t;
		dst = put_uvarint_fast(dst, zigzag(wrap_sub(last, prev_t0)));
		prev_t0 = last;
		for (uint32_t j = 1; j < gs->n; j++) {
			int64_t t = tv[order[j]].t;
			dst = put_uvarint_fast(dst, zigzag(wrap_sub(t, last)));
			last = t;
		}
		for (uint32_t j = 0; j < gs->n; j++) {
			ts_put_u64le(dst, tv[order[j]].bits);
			dst += 8;
		}
		order += gs->n;
	}
	/* the last entry's ids, for the reuse bits of whatever entry comes next */
	memcpy(b->open_ids, prev, 2 * prev_n * sizeof(*prev));
	b->prev_t0 = prev_t0;
	b->body.len = (size_t)(dst - (uint8_t *)b->body.data);
	b->body.data[b->body.len] = '\0';
	b->n_series += b->g_n_ser;
	b->last_n = prev_n;
	clear_grouped(b);
}

/*
 * Work out g_fast after a checked add: the bytes left under max_bytes, the room reserved
 * in body past the grouped series' bound and in the per-sample arrays (SAMPLE_BOUND
 * bytes per sample), and the sample count limit, whichever is least.
 */
static void set_fast(ingest_record_builder *b)
{
	size_t size = ingest_record_builder_size_bytes(b);
	size_t used = b->body.len + open_bound(b) + b->g_bound;
	size_t fast = size < b->max_bytes ? b->max_bytes - size : 0;
	size_t room = b->body.cap > used ? b->body.cap - used : 0;
	if (room < fast)
		fast = room;
	size_t n = b->g_cap - b->g_n;
	size_t left = b->n_samples < UINT32_MAX ? UINT32_MAX - b->n_samples : 0;
	if (left < n)
		n = left;
	if (n * SAMPLE_BOUND < fast)
		fast = n * SAMPLE_BOUND;
	b->g_fast = fast;
}

/* The grouped series the caller's slot word names, or -1. */
static ptrdiff_t g_find(const ingest_record_builder *b, uint64_t slot)
{
	if ((uint32_t)(slot >> 32) != b->sgen || (uint32_t)slot >= b->g_n_ser)
		return -1;
	return (ptrdiff_t)(uint32_t)slot;
}

/* Room for one more grouped sample and, if is_new, one more series of n_labels labels. */
static int g_reserve(ingest_record_builder *b, bool is_new, size_t n_labels)
{
	if (b->g_n == b->g_cap) {
		size_t cap = b->g_cap ? b->g_cap * 2 : 256;
		uint32_t *s = ts_realloc(b->g_sample_s, cap * sizeof(*s));
		if (!s)
			return TS_ENOMEM;
		b->g_sample_s = s;
		gsample *tv = ts_realloc(b->g_tv, cap * sizeof(*tv));
		if (!tv)
			return TS_ENOMEM;
		b->g_tv = tv;
		uint32_t *o = ts_realloc(b->g_order, cap * sizeof(*o));
		if (!o)
			return TS_ENOMEM;
		b->g_order = o;
		b->g_cap = cap;
	}
	if (!is_new)
		return TS_OK;
	if (b->g_n_ser == b->g_cap_ser &&
	    ingest_grow((void **)&b->g_ser, &b->g_cap_ser, b->g_n_ser + 1, sizeof(*b->g_ser)))
		return TS_ENOMEM;
	size_t cap_rids;
	if (grow_u32(&b->g_rids, b->g_n_rids + 2 * n_labels, b->g_cap_rids, &cap_rids))
		return TS_ENOMEM;
	b->g_cap_rids = cap_rids;
	return TS_OK;
}

int ingest_record_builder_add_ids(ingest_record_builder *b, const ingest_symtab *t,
				  const uint32_t *ids, size_t n_labels, uint64_t *slot,
				  int64_t t_ms, double v, ts_err *err)
{
	if (b->n_samples >= UINT32_MAX)
		return ts_err_set(err, TS_ELIMIT, "record builder: too many samples");
	if (n_labels == 0 || !ids)
		return ts_err_set(err, TS_EINVAL, "record builder: empty label set");
	if (n_labels > UINT32_MAX / 4)
		return ts_err_set(err, TS_EINVAL, "record builder: %zu labels", n_labels);
	/*
	 * Fast path: a series already grouped in this record while g_fast (worked out by the
	 * checked path below) covers the sample's worst case. Same outcome as the checked
	 * path, which for a known series only adds SAMPLE_BOUND to the size.
	 */
	if (b->g_fast >= SAMPLE_BOUND && b->gmap_owner == t) {
		uint64_t s = *slot;
		if ((uint32_t)(s >> 32) == b->sgen && (uint32_t)s < b->g_n_ser) {
			uint32_t k = (uint32_t)s;
			size_t i = b->g_n++;
			b->g_fast -= SAMPLE_BOUND;
			b->g_bound += SAMPLE_BOUND;
			b->g_sample_s[i] = k;
			b->g_tv[i].t = t_ms;
			memcpy(&b->g_tv[i].bits, &v, 8);
			b->n_samples++;
			return TS_OK;
		}
	}
	if (gmap_reserve(b, t))
		goto nomem;
	ptrdiff_t k = g_find(b, *slot);
	size_t size = ingest_record_builder_size_bytes(b), extra = SAMPLE_BOUND;
	size_t n_syms0 = b->n_syms, symtab0 = b->symtab.len, n_ids = 2 * n_labels, j = 0;
	int rc = TS_OK;
	if (k < 0) {
		/*
		 * One pass maps the labels to record symbols, adding the missing ones (undone
		 * below if the sample is not added). str_bytes counts what the size bound
		 * counts: the bytes of every label string the record lacked before this call.
		 */
		size_t str_bytes = 0, cap_ids;
		if (g_reserve(b, true, n_labels) ||
		    grow_u32(&b->open_ids, n_ids, b->cap_ids, &cap_ids))
			goto nomem;
		b->cap_ids = cap_ids;
		uint32_t *rids = b->g_rids + b->g_n_rids;
		for (; j < n_ids; j++) {
			uint32_t gid = ids[j];
			if (gid >= t->n) {
				rc = TS_EINVAL;
				break;
			}
			uint32_t id = gmap_get(b, gid);
			if (id == UINT32_MAX) {
				/* TS_ELIMIT: the symbols alone would fill the record */
				if ((rc = ts_buf_reserve(&b->symtab, 5 + t->len[gid])) ||
				    (rc = reserve_sym_arrays(b, 1)))
					break;
				id = gmap_add(b, t, gid);
			}
			if (id >= n_syms0) /* the record lacked it before this call */
				str_bytes += t->len[gid];
			rids[j] = id;
		}
		/* new symbols (len varint <= 5 + bytes) and the entry */
		extra += str_bytes + 2 * 5 * n_labels + entry_bound(n_labels);
	}
	if (rc == TS_OK && (extra > b->max_bytes || size > b->max_bytes - extra))
		rc = TS_ELIMIT;
	/* reserve everything, then mutate (cannot fail past this point) */
	size_t g_bound = b->g_bound + SAMPLE_BOUND + (k < 0 ? entry_bound(n_labels) : 0);
	if (rc == TS_OK &&
	    (g_reserve(b, false, 0) || ts_buf_reserve(&b->body, open_bound(b) + g_bound)))
		rc = TS_ENOMEM;
	if (rc) {
		/* forget the symbols this call added: the builder is as it was */
		for (size_t i = 0; i < j; i++)
			if (b->g_rids[b->g_n_rids + i] >= n_syms0)
				b->gmap[ids[i]] = 0;
		b->n_syms = n_syms0;
		b->symtab.len = symtab0;
		if (b->symtab.data)
			b->symtab.data[symtab0] = '\0';
		if (rc == TS_EINVAL)
			return ts_err_set(err, TS_EINVAL,
					  "record builder: label %zu: unknown symbol %u", j / 2,
					  ids[j]);
		if (rc == TS_ELIMIT)
			return ts_err_set(err, TS_ELIMIT,
					  "record builder: record would exceed %zu bytes (now %zu, "
					  "adding up to %zu)",
					  b->max_bytes, size, extra);
		goto nomem;
	}
	if (k < 0) {
		close_open(b); /* from _add: written before the grouped series */
		k = (ptrdiff_t)b->g_n_ser++;
		gseries *gs = &b->g_ser[k];
		*gs = (gseries){.rid_off = (uint32_t)b->g_n_rids, .n_labels = (uint32_t)n_labels};
		b->g_n_rids += n_ids;
		*slot = (uint64_t)b->sgen << 32 | (uint32_t)k;
	}
	b->g_sample_s[b->g_n] = (uint32_t)k;
	b->g_tv[b->g_n].t = t_ms;
	memcpy(&b->g_tv[b->g_n].bits, &v, 8);
	b->g_n++;
	b->g_bound = g_bound;
	b->n_samples++;
	set_fast(b);
	return TS_OK;
nomem:
	return ts_err_set(err, TS_ENOMEM, "record builder: out of memory");
}

int ingest_record_builder_add(ingest_record_builder *b, const ts_label *labels, size_t n_labels,
			      int64_t t_ms, double v, ts_err *err)
{
	return ingest_record_builder_add_series(b, labels, n_labels, &t_ms, &v, 1, err);
}

int ingest_record_builder_sink(void *ctx, const ts_label *labels, size_t n_labels, int64_t t_ms,
			       double v)
{
	return ingest_record_builder_add_series(ctx, labels, n_labels, &t_ms, &v, 1, NULL);
}

/* Write the uncompressed payload to dst; returns the end. dst has payload_size bytes. */
static uint8_t *emit_payload(const ingest_record_builder *b, uint8_t *dst)
{
	dst = put_uvarint(dst, b->n_syms);
	memcpy(dst, b->symtab.data, b->symtab.len);
	dst += b->symtab.len;
	dst = put_uvarint(dst, b->n_series + (b->has_open ? 1 : 0));
	memcpy(dst, b->body.data, b->body.len);
	dst += b->body.len;
	if (b->has_open)
		dst = emit_open(b, dst, b->prev_t0);
	return dst;
}

static size_t payload_size(const ingest_record_builder *b)
{
	size_t n = uvarint_len(b->n_syms) + b->symtab.len +
		   uvarint_len(b->n_series + (b->has_open ? 1 : 0)) + b->body.len;
	if (b->has_open) {
		n += uvarint_len(b->open_n_labels) + (b->open_n_labels + 7) / 8;
		for (size_t i = 0; i < b->open_n_labels; i++)
			if (!b->open_reuse[i])
				n += uvarint_len(b->open_ids[2 * i]) +
				     uvarint_len(b->open_ids[2 * i + 1]);
		n += uvarint_len(b->open_n) +
		     uvarint_len(zigzag(wrap_sub(b->open_t0, b->prev_t0))) + b->open_ts.len +
		     b->open_vals.len;
	}
	return n;
}

static void put_header(uint8_t *h, int compression, size_t payload_len, size_t n_samples)
{
	memcpy(h, magic, 4);
	h[4] = INGEST_RECORD_VERSION;
	h[5] = (uint8_t)compression;
	h[6] = h[7] = 0;
	ts_put_u32le(h + 8, (uint32_t)payload_len);
	ts_put_u32le(h + 12, (uint32_t)n_samples);
	uint32_t crc = ts_crc32c(0, h, 16);
	crc = ts_crc32c(crc, h + INGEST_RECORD_HEADER_BYTES, payload_len);
	ts_put_u32le(h + 16, crc);
}

int ingest_record_builder_finish(ingest_record_builder *b, ts_buf *out, ts_err *err)
{
	int rc;
	if (b->n_samples == 0)
		return ts_err_set(err, TS_EINVAL, "record builder: no samples to finish");
	flush_grouped(b);
	size_t plen = payload_size(b);
	if (TS_NEVER(plen > INGEST_RECORD_MAX_PAYLOAD_BYTES))
		return ts_err_set(err, TS_ELIMIT, "record builder: payload of %zu bytes", plen);
	if (b->compression == INGEST_RECORD_COMPRESS_NONE) {
		if ((rc = ts_buf_reserve(out, INGEST_RECORD_HEADER_BYTES + plen)))
			goto fail;
		uint8_t *h = (uint8_t *)out->data + out->len;
		uint8_t *end = emit_payload(b, h + INGEST_RECORD_HEADER_BYTES);
		assert((size_t)(end - h) == INGEST_RECORD_HEADER_BYTES + plen);
		(void)end;
		put_header(h, INGEST_RECORD_COMPRESS_NONE, plen, b->n_samples);
		out->len += INGEST_RECORD_HEADER_BYTES + plen;
	} else {
		ts_buf_reset(&b->scratch);
		ts_buf_reset(&b->zbuf);
		size_t bound = snappy_max_compressed_length(plen);
		if ((rc = ts_buf_reserve(&b->scratch, plen)) ||
		    (rc = ts_buf_reserve(&b->zbuf, bound)))
			goto fail;
		emit_payload(b, (uint8_t *)b->scratch.data);
		size_t clen = bound;
		int comp = INGEST_RECORD_COMPRESS_SNAPPY;
		const char *src = b->zbuf.data;
		if (snappy_compress(b->scratch.data, plen, b->zbuf.data, &clen) != SNAPPY_OK ||
		    clen >= plen) {
			src = b->scratch.data;
			clen = plen;
			comp = INGEST_RECORD_COMPRESS_NONE;
		}
		if ((rc = ts_buf_reserve(out, INGEST_RECORD_HEADER_BYTES + clen)))
			goto fail;
		uint8_t *h = (uint8_t *)out->data + out->len;
		memcpy(h + INGEST_RECORD_HEADER_BYTES, src, clen);
		put_header(h, comp, clen, b->n_samples);
		out->len += INGEST_RECORD_HEADER_BYTES + clen;
	}
	out->data[out->len] = '\0';
	ingest_record_builder_reset(b);
	return TS_OK;
fail:
	return ts_err_set(err, rc, "record builder: cannot grow the output buffer to %zu bytes",
			  out->len + INGEST_RECORD_HEADER_BYTES + plen);
}
