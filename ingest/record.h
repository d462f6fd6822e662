/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record.h: the log record codec: one record is a checksummed batch of samples.
 *
 * A record is the unit appended to a log partition. The same bytes are stored in an
 * embedded-log segment frame and sent as a Kafka message value, so a record is
 * self-describing: magic, version, flags (compression), payload length, sample count and
 * CRC32C, then the payload (a per-record symbol table, then the series with their
 * samples). The byte-exact layout is in docs/formats/log.md; summary:
 *
 *   header (20 bytes, little-endian)
 *     0  4  magic "STRL" (53 54 52 4C)
 *     4  1  version (1)
 *     5  1  flags: bits 0-1 compression (0 none, 1 snappy), bits 2-7 zero
 *     6  2  reserved, zero
 *     8  4  payload_len: bytes after the header (compressed size if compressed)
 *    12  4  n_samples: samples in the whole record
 *    16  4  crc32c (Castagnoli) of bytes 0..15, then of the payload
 *   payload (after decompression)
 *     uvarint n_symbols, then n_symbols x (uvarint len >= 1, len bytes, no 0x00)
 *     uvarint n_series, then per series:
 *       uvarint n_labels >= 1
 *       ceil(n_labels / 8) bytes of reuse bits: bit i (byte i / 8, LSB first) set = label
 *         i is the previous series' label i (name and value); bits past n_labels are zero
 *       for every label whose bit is clear: uvarint name_sym, uvarint value_sym
 *       uvarint n_samples >= 1
 *       zig-zag varint t0 - previous series' t0 (0 before the first series)
 *       (n_samples - 1) x zig-zag varint t[i] - t[i-1]
 *       n_samples x u64le IEEE-754 bits of the values (NaN payloads kept exactly)
 *
 * Labels in a record are normalized (sorted by name, unique, non-empty names and values,
 * "__name__" present); the decoder checks this, so a sink always gets normalized labels.
 */
#ifndef INGEST_RECORD_H
#define INGEST_RECORD_H

#include "ingest/ingest_int.h"

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INGEST_RECORD_MAGIC        "STRL"      /* first 4 bytes of every record */
#define INGEST_RECORD_VERSION      1           /* the version this code writes */
#define INGEST_RECORD_HEADER_BYTES 20          /* fixed header size */
#define INGEST_RECORD_MAX_BYTES    (16u << 20) /* max record size, header included */
/* Max decompressed payload: the builder never produces more than this. */
#define INGEST_RECORD_MAX_PAYLOAD_BYTES (INGEST_RECORD_MAX_BYTES - INGEST_RECORD_HEADER_BYTES)

enum {
	INGEST_RECORD_COMPRESS_NONE = 0,   /* payload stored as is */
	INGEST_RECORD_COMPRESS_SNAPPY = 1, /* payload is one snappy (raw, not framed) block */
};

/* What the fixed header says (ingest_record_header_parse). */
typedef struct ingest_record_info {
	uint8_t version;      /* format version */
	uint8_t compression;  /* INGEST_RECORD_COMPRESS_* */
	uint32_t payload_len; /* stored payload bytes after the header */
	uint32_t n_samples;   /* samples in the record */
	uint32_t crc32c;      /* stored checksum (not verified by header_parse) */
} ingest_record_info;

/*
 * Parse and check the fixed header of rec[0..len): magic, version, flags, reserved bytes
 * and that len == header + payload_len. The CRC is not verified (ingest_record_decode
 * does). Writes *out only on success. TS_ECORRUPT with a message on any mismatch
 * (an unknown version says "unsupported record version N"). Pure; thread-safe.
 */
int ingest_record_header_parse(const void *rec, size_t len, ingest_record_info *out, ts_err *err);

/* ---------------------------------------------------------------- shared symbols */

/*
 * A symbol table shared by the builders of one batch: every distinct string gets a dense
 * id (0, 1, ...) in first-seen order, and a builder fed ids (ingest_record_builder_add_ids)
 * maps them to its record's own symbol ids through an array instead of hashing strings
 * again. Ids stay valid until the table is freed. Not thread-safe: one owner thread.
 */
typedef struct ingest_symtab ingest_symtab;

/* A new empty table bounded by max_bytes of string storage (0: 1 GiB). *out returned
 * owned. TS_OK, TS_ENOMEM. */
int ingest_symtab_new(size_t max_bytes, ingest_symtab **out, ts_err *err);
/* Free the table. NULL allowed. */
void ingest_symtab_free(ingest_symtab *t);
/* Forget every string (allocations are kept). Builders that used t must be reset or
 * finished before they are fed ids of it again. */
void ingest_symtab_reset(ingest_symtab *t);
/* Bytes allocated by the table. */
size_t ingest_symtab_alloc_bytes(const ingest_symtab *t);
/*
 * The id of s[0..len) (borrowed; len >= 1, no NUL byte inside is checked by the caller),
 * adding it if new. TS_OK, TS_ENOMEM, TS_ELIMIT (storage past max_bytes or 2^31 ids).
 */
int ingest_symtab_intern(ingest_symtab *t, const char *s, size_t len, uint32_t *id, ts_err *err);
/* The NUL-terminated string of id (borrowed from t; valid until t is freed); its length
 * in *len when len is not NULL. id must have come from this table. */
const char *ingest_symtab_str(const ingest_symtab *t, uint32_t id, size_t *len);

/* ---------------------------------------------------------------- builder */

typedef struct ingest_record_builder ingest_record_builder;

/*
 * A new empty builder. compression is INGEST_RECORD_COMPRESS_*; max_bytes bounds the
 * encoded record: 0 means INGEST_RECORD_MAX_BYTES, otherwise it must lie in
 * [256, INGEST_RECORD_MAX_BYTES] (TS_EINVAL), e.g. 1 MiB to stay under a Kafka broker's
 * message.max.bytes. *out returned owned.
 * TS_OK, TS_EINVAL, TS_ENOMEM. Thread-safe (touches only the new object).
 */
int ingest_record_builder_new(int compression, size_t max_bytes, ingest_record_builder **out,
			      ts_err *err);
/* Free the builder. NULL allowed. */
void ingest_record_builder_free(ingest_record_builder *b);

/*
 * Append one sample. labels (borrowed; copied as needed) must be normalized (sorted by
 * name, unique non-empty names, non-empty values, containing "__name__"), else TS_EINVAL.
 * A sample whose labels equal the previous sample's extends that series; otherwise a new
 * series entry starts (the same series may appear again later in the record).
 * TS_ELIMIT when the record would grow past max_bytes; TS_ENOMEM. On any error the
 * builder is unchanged, so the caller can finish() and retry the sample in a new record.
 * Not thread-safe: one builder per thread.
 */
int ingest_record_builder_add(ingest_record_builder *b, const ts_label *labels, size_t n_labels,
			      int64_t t_ms, double v, ts_err *err);

/*
 * Append n samples of one series (t_ms[i], v[i]), borrowed arrays. Same rules as _add;
 * all-or-nothing: on error none of the n samples is added.
 */
int ingest_record_builder_add_series(ingest_record_builder *b, const ts_label *labels,
				     size_t n_labels, const int64_t *t_ms, const double *v,
				     size_t n, ts_err *err);

/*
 * Append one sample of the label set given as ids of t (borrowed): ids[2 i] and
 * ids[2 i + 1] are the name and value of label i, n_labels >= 1. *slot is a word the
 * caller keeps for this label set and this builder (0 at first; ingest_batch_add keeps
 * one per distinct series of a batch): the builder stores there where it keeps the
 * series, so finding it again costs no lookup. One slot must not serve two label sets
 * or two builders. The caller guarantees that the strings form a normalized label set
 * (ingest_batch_add checks it); this call checks only that every id exists in t
 * (TS_EINVAL).
 * Samples are grouped by series until the record is written: every distinct label set
 * becomes one series entry holding its samples in the order they were added, so a
 * series costs its labels once per record and the consumer looks it up once per
 * record. Labels are mapped to the record's symbols through an array indexed by symbol
 * id: nothing is hashed or compared here. (A slot word from 2^32 records ago could be
 * taken for current; callers keep slots for one batch.)
 * Errors and atomicity as _add. The same builder may mix _add and _add_ids (an _add
 * writes out the grouped series first, so each series keeps its order); a string added
 * both ways may then appear twice in the record's symbol table (still valid).
 */
int ingest_record_builder_add_ids(ingest_record_builder *b, const ingest_symtab *t,
				  const uint32_t *ids, size_t n_labels, uint64_t *slot,
				  int64_t t_ms, double v, ts_err *err);

/*
 * An ingest_sample_fn that adds to the builder passed as ctx (no error message; codes as
 * _add). Lets a parser or a record decoder feed a builder directly.
 */
int ingest_record_builder_sink(void *ctx, const ts_label *labels, size_t n_labels, int64_t t_ms,
			       double v);

/* Samples added since the last finish/reset. */
size_t ingest_record_builder_n_samples(const ingest_record_builder *b);

/* Upper bound of the size finish() would produce now (uncompressed), in bytes. */
size_t ingest_record_builder_size_bytes(const ingest_record_builder *b);

/*
 * Encode the record and append it to out (out->max must allow it: TS_ELIMIT otherwise;
 * TS_ENOMEM). A builder with no samples is TS_EINVAL. Snappy is used only when it makes
 * the payload smaller. On success the builder is reset for the next record; on error it
 * is unchanged and out is as before.
 */
int ingest_record_builder_finish(ingest_record_builder *b, ts_buf *out, ts_err *err);

/* Drop everything added since the last finish (allocations are kept for reuse). */
void ingest_record_builder_reset(ingest_record_builder *b);

/* Bytes allocated by the builder (to decide whether keeping it for reuse is worth it). */
size_t ingest_record_builder_alloc_bytes(const ingest_record_builder *b);

/* ---------------------------------------------------------------- decoder */

typedef struct ingest_record_decoder ingest_record_decoder;

/*
 * A decoder: reusable scratch space (decompression buffer, symbol table, label array)
 * so that decoding a stream of records allocates only while the scratch grows.
 * *out returned owned. TS_OK, TS_ENOMEM.
 */
int ingest_record_decoder_new(ingest_record_decoder **out, ts_err *err);
/* Free the decoder. NULL allowed. */
void ingest_record_decoder_free(ingest_record_decoder *d);

/*
 * Decode rec[0..len) (borrowed) and call fn(ctx, labels, n_labels, t_ms, v) for every
 * sample in record order; labels are normalized and valid only during the call.
 * Checks, in order: header (ingest_record_header_parse), CRC32C, decompression, then every
 * field against the end of the payload. Returns TS_OK; TS_ECORRUPT with a message naming
 * the failed check and payload byte offset; TS_ENOMEM; or the first negative code fn
 * returned (unchanged). Header and CRC failures are found before fn is called; a CRC-valid
 * record with a bad payload (an encoder bug or a forged record) may have delivered some
 * samples before TS_ECORRUPT. Never reads outside rec[0..len).
 * Not thread-safe per decoder; use one decoder per thread.
 */
int ingest_record_decode(ingest_record_decoder *d, const void *rec, size_t len, ingest_sample_fn fn,
			 void *ctx, ts_err *err);

/*
 * A sink for whole series entries: the n samples (t_ms[i], v[i]) of one entry, in
 * record order; labels, t_ms and v are borrowed and valid only during the call. Return
 * TS_OK to continue, or a negative TS_E* code to stop the decode with it.
 */
typedef int (*ingest_record_series_fn)(void *ctx, const ts_label *labels, size_t n_labels,
				       const int64_t *t_ms, const double *v, size_t n);

/*
 * As ingest_record_decode, but fn gets each series entry once with all its samples, so a
 * consumer looks a series up once per entry instead of once per sample. Same checks and
 * codes; a bad timestamp or value region is found before its entry is delivered.
 */
int ingest_record_decode_series(ingest_record_decoder *d, const void *rec, size_t len,
				ingest_record_series_fn fn, void *ctx, ts_err *err);

/*
 * Sinks of ingest_record_decode_ids. The symbols sink gets the record's symbol table once,
 * before the first series entry: symbol id i is syms[i][0..lens[i]) (not NUL-terminated,
 * lens[i] >= 1, no NUL byte inside), n_syms of them; syms and lens are borrowed and valid
 * until the decode call returns. The ids sink gets each series entry: ids[2 i] and
 * ids[2 i + 1] are the symbol ids (< n_syms) of label i's name and value, n_labels >= 1,
 * forming a normalized label set (sorted by name bytes, unique, "__name__" present);
 * ids, t_ms and v are borrowed and valid only during the call. Return TS_OK to continue,
 * or a negative TS_E* code to stop the decode with it.
 */
typedef int (*ingest_record_symbols_fn)(void *ctx, const char *const *syms, const uint32_t *lens,
					size_t n_syms);
typedef int (*ingest_record_ids_fn)(void *ctx, const uint32_t *ids, size_t n_labels,
				    const int64_t *t_ms, const double *v, size_t n);

/*
 * As ingest_record_decode_series, but nothing is copied or handed as C strings: sym_fn
 * gets the symbol table once per record, fn every series entry as symbol ids with all its
 * samples. A sink that maps record symbol ids to ids of its own (an array indexed by
 * symbol id) compares and hashes label sets as integers. Same checks, codes and messages
 * (a sink's code stops the decode as with _decode_series).
 */
int ingest_record_decode_ids(ingest_record_decoder *d, const void *rec, size_t len,
			     ingest_record_symbols_fn sym_fn, ingest_record_ids_fn fn, void *ctx,
			     ts_err *err);

#endif /* INGEST_RECORD_H */
