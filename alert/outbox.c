/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbox.c: the durable outbox: every notification is appended to an on-disk log and
 * fsync'd before it is attempted, and a small pool of sender threads drains it with
 * exponential backoff and jitter until each entry is delivered, fails permanently, or is
 * older than max_age (alert/notify_int.h).
 *
 * On disk (docs/formats/alerting.md): <dir>/<seq as 16 hex digits>.seg segment files, a
 * persist.c header (magic "SOL1") then framed records (len | crc32c | payload): ENTRY
 * records (one notification with its nlog record) and DONE records (ids delivered,
 * failed or superseded). Appends go to the newest ("active") segment; past
 * segment_bytes a new one is started (the old one fsync'd first). Group commit: a put
 * with hold = true is only written; alert_outbox_sync makes every written record durable
 * with one fdatasync (plus a directory fsync when a segment was created), so a flush
 * round of the notifier costs one fsync however many notifications it queues. A put
 * with hold = false syncs at once. DONE records are written without a sync: they only
 * save a re-send after a crash (delivery is at least once, as before).
 *
 * Space: each entry counts as live in the segment holding its newest copy. Segments are
 * deleted oldest first once no live entry is left in them and they are not the active
 * one (never a newer one before an older one: its DONE records may cancel entries of
 * the older). When the segments hold more than twice the live bytes plus one segment
 * (a receiver down for long pins old segments), a checkpoint copies every live entry
 * into new segments, syncs them, and the old ones become deletable.
 *
 * Open: the old one-file-per-entry layout (<id>.ent, magic "SOB1", Strata <= 0.x) and
 * every segment are read in order; ENTRY adds an id (a later copy of the same id is
 * ignored), DONE removes it; then a checkpoint writes the live set into a fresh segment
 * and removes the old files (migrating the old layout). A segment with a bad header, or
 * whose framing breaks, is kept as *.corrupt and logged (a torn tail after a power loss
 * only holds records that were never synced); single records with a bad CRC are skipped
 * and counted; an unreadable *.ent file is renamed to *.corrupt as before.
 *
 * Delivery is at least once: a crash after the receiver answered 2xx but before the DONE
 * record reached the disk delivers the entry again on restart.
 *
 * Retry policy: the send callback classifies each attempt (ALERT_SEND_OK, _RETRY, _FAIL).
 * A retry waits d/2 + rand(d/2) where d = min(retry_max, retry_initial * 2^(attempt-1)),
 * at least the receiver's Retry-After. An entry still undelivered max_age after it was
 * written is dropped as failed (counter + error log), as is a permanent failure.
 *
 * Ordering and superseding: entries for the same (receiver, integration, group key) are
 * attempted strictly in id order, also with several senders: an entry is not picked
 * while an older one of its key is pending or in flight. When a newer entry for the same
 * key contains every alert of an older pending one, the older is superseded (deleted):
 * after an outage the receiver gets the group's latest state once.
 *
 * Threads: `senders` sender threads ("alert-outbox"); callers put from any thread.
 * Locks, in this order only: wmu (the writer: the active segment's fd and size; held
 * across file I/O, serializes writers of the log only), then mu (the list, segment
 * table, pending DONE ids, counters, settings, PRNG; never held across a send or I/O).
 * Senders never wait for wmu: they queue DONE ids under mu and write them only when
 * wmu is free (trylock); whoever holds wmu writes the queued ids before releasing it.
 */
#include "alert/notify_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OB_SEG_MAGIC     0x314C4F53u /* "SOL1" */
#define OB_SEG_VERSION   1u
#define OB_V1_MAGIC      0x31424F53u /* "SOB1": one file per entry (old layout) */
#define OB_V1_VERSION    1u
#define REC_ENTRY        1u
#define REC_DONE         2u
#define MAX_STAT_ROWS    1024
#define MAX_SENDERS      64
#define DEFAULT_SENDERS  4
#define DEFAULT_SEG      ((uint64_t)8 << 20)
#define HDR_BYTES        8u
#define DONE_PER_RECORD  8192 /* ids per DONE record */
#define CHECKPOINT_CHUNK ((size_t)4 << 20)

typedef struct oent oent;
struct oent {
	oent *next; /* list in id order */
	alert_outbox_entry e;
	uint64_t key_hash;    /* hash of receiver, kind, index, group key */
	uint64_t seg;         /* seq of the segment holding the newest durable copy */
	uint64_t copy_seg;    /* checkpoint: seq the copy went to, 0 = none (mu) */
	size_t rec_len;       /* framed record bytes (live-bytes accounting) */
	uint32_t attempts;    /* failed attempts so far */
	int64_t next_mono_ms; /* not attempted before this */
	bool is_held;         /* waiting for alert_outbox_commit */
	bool is_in_flight;    /* being sent (outside the lock) */
	bool is_dead;         /* superseded while in flight: drop after the attempt */
};

typedef struct oseg {
	uint64_t seq;   /* file name */
	size_t n_live;  /* entries whose newest copy is here */
	uint64_t bytes; /* file size */
} oseg;

struct alert_outbox {
	pthread_mutex_t wmu; /* the writer: fields marked (wmu) */
	pthread_mutex_t mu;  /* everything else that changes, except immutable fields */
	pthread_cond_t cond; /* wakes the senders (CLOCK_MONOTONIC) */
	/* (wmu) */
	int fd;            /* active segment, -1 = none yet */
	uint64_t fd_seq;   /* its seq */
	uint64_t fd_size;  /* its size in bytes */
	bool is_dirty;     /* written since the last fdatasync */
	bool is_dir_dirty; /* a segment was created since the last directory fsync */
	bool is_broken;    /* the active segment's tail is unknown: rotate before appending */
	int sync_error;    /* sticky: a sealed segment failed its fsync (TS_EIO) */
	uint64_t max_seq;  /* newest seq used */
	ts_buf scratch;    /* record encoding */
	/* (mu) */
	oent *head;          /* pending entries, id order */
	size_t n;            /* entries in the list, dead ones excluded */
	size_t bytes;        /* payload bytes in the list */
	uint64_t next_id;    /* next entry id */
	oseg *segs;          /* segment table, seq order */
	size_t n_segs;       /* segments on disk that are tracked */
	uint64_t disk_bytes; /* sum of segment sizes */
	uint64_t live_bytes; /* sum of rec_len of listed entries */
	uint64_t active_seq; /* copy of fd_seq for the deletion rule */
	uint64_t *done;      /* DONE ids not yet written */
	size_t n_done, cap_done;
	alert_outbox_stat *stats;
	size_t n_stats;
	int64_t max_age_ms, retry_initial_ms, retry_max_ms;
	uint64_t rng; /* xorshift64* state */
	bool stop;
	size_t n_threads;
	pthread_t threads[MAX_SENDERS];
	/* immutable after open */
	char *dir;
	size_t max_entries, max_bytes, n_senders;
	uint64_t seg_bytes;
	alert_outbox_send_fn send;
	void (*slot_free)(void *slot);
	void *ctx;
};

static int64_t mono_ms(void)
{
	return ts_mono_ns() / 1000000;
}

void alert_outbox_entry_fini(alert_outbox_entry *e)
{
	if (!e)
		return;
	ts_free(e->receiver);
	ts_free(e->group_key);
	ts_free(e->payload);
	alert_nlog_entry_fini(&e->nlog);
	memset(e, 0, sizeof(*e));
}

static uint64_t key_hash(const alert_outbox_entry *e)
{
	ts_hash64_state s;
	ts_hash64_init(&s, 0);
	ts_hash64_update(&s, e->receiver, strlen(e->receiver) + 1);
	uint32_t ki[2] = {(uint32_t)e->kind, e->integ_index};
	ts_hash64_update(&s, ki, sizeof(ki));
	ts_hash64_update(&s, e->group_key, strlen(e->group_key));
	return ts_hash64_digest(&s);
}

static bool same_key(const oent *a, const oent *b)
{
	return a->key_hash == b->key_hash && a->e.kind == b->e.kind &&
	       a->e.integ_index == b->e.integ_index && !strcmp(a->e.receiver, b->e.receiver) &&
	       !strcmp(a->e.group_key, b->e.group_key);
}

static int io_err(ts_err *err, const char *op, const char *path)
{
	int e = errno;
	return ts_err_set(err, e == ENOSPC ? TS_ENOSPC : TS_EIO, "%s %s: %s", op, path,
			  strerror(e));
}

/* ================================================================ encoding */

static int encode(const alert_outbox_entry *e, ts_buf *b)
{
	int rc = ts_buf_put_u64le(b, e->id);
	rc = rc ? rc : ts_buf_put_u64le(b, (uint64_t)e->created_ms);
	rc = rc ? rc : ts_buf_putc(b, (char)e->kind);
	rc = rc ? rc : ts_buf_put_u32le(b, e->integ_index);
	rc = rc ? rc : alert_put_str(b, e->receiver);
	rc = rc ? rc : alert_put_str(b, e->group_key);
	rc = rc ? rc : ts_buf_putc(b, e->has_nlog ? 1 : 0);
	if (!rc && e->has_nlog)
		rc = alert_nlog_entry_encode(&e->nlog, b);
	return rc ? rc : alert_put_bytes(b, e->payload, e->payload_len);
}

static int decode(const uint8_t *p, size_t n, alert_outbox_entry *e)
{
	alert_rd r = {p, p + n, TS_OK};
	memset(e, 0, sizeof(*e));
	e->id = alert_rd_u64(&r);
	e->created_ms = (int64_t)alert_rd_u64(&r);
	uint8_t kind = alert_rd_u8(&r);
	e->kind = kind == ALERT_NCFG_EMAIL ? ALERT_NCFG_EMAIL : ALERT_NCFG_WEBHOOK;
	if (kind > ALERT_NCFG_EMAIL && !r.rc)
		r.rc = TS_ECORRUPT;
	e->integ_index = alert_rd_u32(&r);
	e->receiver = alert_rd_strdup(&r);
	e->group_key = alert_rd_strdup(&r);
	e->has_nlog = alert_rd_u8(&r) != 0;
	if (e->has_nlog && !r.rc && alert_nlog_entry_decode(&r, &e->nlog))
		e->has_nlog = false;
	size_t pl;
	const char *payload = alert_rd_str(&r, &pl);
	if (!r.rc && r.p != r.end)
		r.rc = TS_ECORRUPT;
	if (!r.rc) {
		e->payload = ts_malloc(pl + 1);
		if (!e->payload) {
			r.rc = TS_ENOMEM;
		} else {
			memcpy(e->payload, payload, pl);
			e->payload[pl] = '\0';
			e->payload_len = pl;
		}
	}
	if (r.rc)
		alert_outbox_entry_fini(e);
	return r.rc;
}

/* Append the framed ENTRY record of e to b. */
static int frame_entry(const alert_outbox_entry *e, ts_buf *tmp, ts_buf *b)
{
	ts_buf_reset(tmp);
	int rc = ts_buf_putc(tmp, (char)REC_ENTRY);
	rc = rc ? rc : encode(e, tmp);
	return rc ? rc : alert_persist_frame(b, tmp->data, tmp->len);
}

static void seg_path(const alert_outbox *ob, uint64_t seq, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%016" PRIx64 ".seg", ob->dir, seq);
}

/* ================================================================ stats */

static alert_outbox_stat *stat_row(alert_outbox *ob, const char *receiver, alert_ncfg_kind kind)
{
	for (size_t i = 0; i < ob->n_stats; i++)
		if (ob->stats[i].kind == kind && !strcmp(ob->stats[i].receiver, receiver))
			return &ob->stats[i];
	if (ob->n_stats >= MAX_STAT_ROWS)
		return NULL;
	alert_outbox_stat *v = ts_realloc(ob->stats, (ob->n_stats + 1) * sizeof(*v));
	if (!v)
		return NULL;
	ob->stats = v;
	alert_outbox_stat *s = &v[ob->n_stats++];
	memset(s, 0, sizeof(*s));
	snprintf(s->receiver, sizeof(s->receiver), "%s", receiver);
	s->kind = kind;
	return s;
}

/* ================================================================ segment table (mu) */

static oseg *seg_find(alert_outbox *ob, uint64_t seq)
{
	for (size_t i = 0; i < ob->n_segs; i++)
		if (ob->segs[i].seq == seq)
			return &ob->segs[i];
	return NULL;
}

/* Track a segment (seq larger than every tracked one). TS_OK/TS_ENOMEM. */
static int seg_add(alert_outbox *ob, uint64_t seq, uint64_t bytes)
{
	oseg *v = ts_realloc(ob->segs, (ob->n_segs + 1) * sizeof(*v));
	if (!v)
		return TS_ENOMEM;
	ob->segs = v;
	v[ob->n_segs++] = (oseg){.seq = seq, .n_live = 0, .bytes = bytes};
	ob->disk_bytes += bytes;
	return TS_OK;
}

static void live_move(alert_outbox *ob, uint64_t from, uint64_t to)
{
	oseg *a = seg_find(ob, from), *b = seg_find(ob, to);
	if (a && a->n_live)
		a->n_live--;
	if (b)
		b->n_live++;
}

/* Queue a DONE id (mu held). Without memory the record is skipped: at worst the entry is
 * delivered once more after a crash. */
static void done_push(alert_outbox *ob, uint64_t id)
{
	if (ob->n_done == ob->cap_done) {
		size_t nc = ob->cap_done ? ob->cap_done * 2 : 64;
		uint64_t *v = ts_realloc(ob->done, nc * sizeof(*v));
		if (!v)
			return;
		ob->done = v;
		ob->cap_done = nc;
	}
	ob->done[ob->n_done++] = id;
}

/* ================================================================ list (mu) */

static void oent_free(oent *x)
{
	alert_outbox_entry_fini(&x->e);
	ts_free(x);
}

/* Account for x leaving the outbox: live counts and a DONE record (mu held). */
static void retire(alert_outbox *ob, oent *x)
{
	oseg *s = seg_find(ob, x->seg);
	if (s && s->n_live)
		s->n_live--;
	ob->live_bytes -= x->rec_len;
	done_push(ob, x->e.id);
}

/* Unlink x from the list (mu held). */
static void list_remove(alert_outbox *ob, oent *x)
{
	for (oent **pp = &ob->head; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	if (!x->is_dead) {
		ob->n--;
		ob->bytes -= x->e.payload_len;
	}
	retire(ob, x);
}

static void list_insert(alert_outbox *ob, oent *x)
{
	oent **pp = &ob->head;
	while (*pp && (*pp)->e.id < x->e.id)
		pp = &(*pp)->next;
	x->next = *pp;
	*pp = x;
	ob->n++;
	ob->bytes += x->e.payload_len;
	ob->live_bytes += x->rec_len;
	oseg *s = seg_find(ob, x->seg);
	if (s)
		s->n_live++;
}

static bool fps_within(const alert_nlog_entry *old, const alert_nlog_entry *new_)
{
	const uint64_t *sets[2] = {old->firing, old->resolved};
	size_t ns[2] = {old->n_firing, old->n_resolved};
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < ns[s]; i++) {
			uint64_t fp = sets[s][i];
			bool found = false;
			for (size_t j = 0; !found && j < new_->n_firing; j++)
				found = new_->firing[j] == fp;
			for (size_t j = 0; !found && j < new_->n_resolved; j++)
				found = new_->resolved[j] == fp;
			if (!found)
				return false;
		}
	}
	return true;
}

/* ================================================================ the writer (wmu) */

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync the active segment (if written) and the directory (if a segment was created). */
static int sync_w(alert_outbox *ob, ts_err *err)
{
	char path[PATH_MAX];
	if (ob->sync_error) {
		int rc = ob->sync_error;
		ob->sync_error = 0;
		return ts_err_set(err, rc, "outbox %s: an earlier segment failed to sync", ob->dir);
	}
	if (ob->fd >= 0 && ob->is_dirty) {
		if (fdatasync(ob->fd)) {
			seg_path(ob, ob->fd_seq, path, sizeof(path));
			ob->is_broken = true; /* what reached the disk is unknown: start afresh */
			return io_err(err, "fdatasync", path);
		}
		ob->is_dirty = false;
	}
	if (ob->is_dir_dirty) {
		int rc = alert_persist_sync_dir(ob->dir, err);
		if (rc)
			return rc;
		ob->is_dir_dirty = false;
	}
	return TS_OK;
}

/* Close the active segment after syncing it; a failed sync is remembered for the next
 * alert_outbox_sync (entries written to it are not known to be durable). */
static void seal_w(alert_outbox *ob)
{
	if (ob->fd < 0)
		return;
	if (ob->is_dirty && fdatasync(ob->fd)) {
		char path[PATH_MAX];
		seg_path(ob, ob->fd_seq, path, sizeof(path));
		ts_log_error("outbox: fdatasync %s: %s", path, strerror(errno));
		ob->sync_error = TS_EIO;
	}
	close(ob->fd);
	ob->fd = -1;
	ob->is_dirty = false;
}

/* Start a new active segment. */
static int rotate_w(alert_outbox *ob, ts_err *err)
{
	seal_w(ob);
	uint64_t seq = ob->max_seq + 1;
	char path[PATH_MAX];
	seg_path(ob, seq, path, sizeof(path));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_err(err, "create", path);
	uint8_t hdr[HDR_BYTES];
	ts_put_u32le(hdr, OB_SEG_MAGIC);
	ts_put_u32le(hdr + 4, OB_SEG_VERSION);
	if (write_all(fd, hdr, sizeof(hdr))) {
		int rc = io_err(err, "write", path);
		close(fd);
		unlink(path);
		return rc;
	}
	pthread_mutex_lock(&ob->mu);
	int rc = seg_add(ob, seq, HDR_BYTES);
	if (!rc)
		ob->active_seq = seq;
	pthread_mutex_unlock(&ob->mu);
	if (rc) {
		close(fd);
		unlink(path);
		return ts_err_set(err, rc, "out of memory adding an outbox segment");
	}
	ob->max_seq = seq;
	ob->fd = fd;
	ob->fd_seq = seq;
	ob->fd_size = HDR_BYTES;
	ob->is_dirty = true;
	ob->is_dir_dirty = true;
	ob->is_broken = false;
	return TS_OK;
}

/* Append framed records to the active segment (rotating first when needed). On a failed
 * write the segment is cut back to its previous size, so the framing stays intact. */
static int append_w(alert_outbox *ob, const void *p, size_t n, ts_err *err)
{
	if (ob->fd < 0 || ob->is_broken ||
	    (ob->fd_size > HDR_BYTES && ob->fd_size + n > ob->seg_bytes)) {
		int rc = rotate_w(ob, err);
		if (rc)
			return rc;
	}
	if (write_all(ob->fd, p, n)) {
		char path[PATH_MAX];
		seg_path(ob, ob->fd_seq, path, sizeof(path));
		int rc = io_err(err, "write", path);
		if (ftruncate(ob->fd, (off_t)ob->fd_size))
			ob->is_broken = true;
		return rc;
	}
	ob->fd_size += n;
	ob->is_dirty = true;
	pthread_mutex_lock(&ob->mu);
	oseg *s = seg_find(ob, ob->fd_seq);
	if (s)
		s->bytes += n;
	ob->disk_bytes += n;
	pthread_mutex_unlock(&ob->mu);
	return TS_OK;
}

/* Write the queued DONE ids (wmu held). */
static void flush_done_w(alert_outbox *ob)
{
	pthread_mutex_lock(&ob->mu);
	uint64_t *ids = ob->done;
	size_t n = ob->n_done;
	ob->done = NULL;
	ob->n_done = ob->cap_done = 0;
	pthread_mutex_unlock(&ob->mu);
	ts_buf rec, body;
	ts_buf_init(&rec, ALERT_PERSIST_MAX_FILE);
	ts_buf_init(&body, ALERT_PERSIST_MAX_FILE);
	for (size_t i = 0; i < n; i += DONE_PER_RECORD) {
		size_t k = n - i < DONE_PER_RECORD ? n - i : DONE_PER_RECORD;
		ts_buf_reset(&rec);
		ts_buf_reset(&body);
		int rc = ts_buf_putc(&rec, (char)REC_DONE);
		rc = rc ? rc : ts_buf_put_uvarint(&rec, k);
		for (size_t j = 0; !rc && j < k; j++)
			rc = ts_buf_put_u64le(&rec, ids[i + j]);
		rc = rc ? rc : alert_persist_frame(&body, rec.data, rec.len);
		ts_err e = {0};
		if (!rc)
			rc = append_w(ob, body.data, body.len, &e);
		if (rc) /* only costs a re-send after a crash */
			ts_log_warn("outbox: cannot record %zu finished notifications: %s", k,
				    e.msg[0] ? e.msg : "out of memory");
	}
	ts_buf_free(&rec);
	ts_buf_free(&body);
	ts_free(ids);
}

/* Delete the oldest segments that hold no live entry (wmu held). */
static void gc_w(alert_outbox *ob)
{
	uint64_t gone[64];
	size_t n = 0;
	pthread_mutex_lock(&ob->mu);
	while (n < 64 && ob->n_segs && ob->segs[0].n_live == 0 &&
	       ob->segs[0].seq != ob->active_seq) {
		gone[n++] = ob->segs[0].seq;
		ob->disk_bytes -= ob->segs[0].bytes;
		memmove(ob->segs, ob->segs + 1, (ob->n_segs - 1) * sizeof(*ob->segs));
		ob->n_segs--;
	}
	pthread_mutex_unlock(&ob->mu);
	char path[PATH_MAX];
	for (size_t i = 0; i < n; i++) {
		seg_path(ob, gone[i], path, sizeof(path));
		if (unlink(path) && errno != ENOENT)
			ts_log_error("cannot remove outbox segment %s: %s", path, strerror(errno));
	}
	ts_err e = {0};
	if (n && alert_persist_sync_dir(ob->dir, &e))
		ts_log_warn("outbox: %s", e.msg);
}

/* Release wmu; DONE ids queued meanwhile are written by whoever holds wmu last. */
static void writer_unlock(alert_outbox *ob)
{
	for (;;) {
		flush_done_w(ob);
		gc_w(ob);
		pthread_mutex_unlock(&ob->wmu);
		pthread_mutex_lock(&ob->mu);
		bool more = ob->n_done > 0;
		pthread_mutex_unlock(&ob->mu);
		if (!more || pthread_mutex_trylock(&ob->wmu))
			return;
	}
}

/*
 * Copy every live entry into new segments and sync them, so that all older segments can
 * be deleted (wmu held). On failure nothing changes but the copies (replay keeps the
 * first copy of an id; DONE records cancel every copy).
 */
static int checkpoint_w(alert_outbox *ob, ts_err *err)
{
	int rc = rotate_w(ob, err);
	ts_buf tmp, body;
	ts_buf_init(&tmp, ALERT_PERSIST_MAX_FILE);
	ts_buf_init(&body, ALERT_PERSIST_MAX_FILE);
	uint64_t after = 0; /* copy entries with larger ids */
	bool more = !rc;
	while (more) {
		uint64_t lo = after;
		ts_buf_reset(&body);
		pthread_mutex_lock(&ob->mu);
		more = false;
		for (oent *x = ob->head; x && !rc; x = x->next) {
			if (x->e.id <= after || x->is_dead)
				continue;
			if (body.len >= CHECKPOINT_CHUNK) {
				more = true;
				break;
			}
			rc = frame_entry(&x->e, &tmp, &body);
			after = x->e.id;
		}
		pthread_mutex_unlock(&ob->mu);
		if (rc) {
			rc = ts_err_set(err, rc, "cannot encode the outbox checkpoint");
			break;
		}
		if (body.len && (rc = append_w(ob, body.data, body.len, err)))
			break;
		/* the chunk is in the active segment (append_w may have rotated); entries
		 * count there once the copies are synced, below */
		pthread_mutex_lock(&ob->mu);
		for (oent *x = ob->head; x; x = x->next)
			if (x->e.id > lo && x->e.id <= after && !x->is_dead)
				x->copy_seg = ob->fd_seq;
		pthread_mutex_unlock(&ob->mu);
	}
	if (!rc)
		rc = sync_w(ob, err);
	pthread_mutex_lock(&ob->mu);
	for (oent *x = ob->head; x; x = x->next) {
		if (x->copy_seg && !rc) {
			live_move(ob, x->seg, x->copy_seg);
			x->seg = x->copy_seg;
		}
		x->copy_seg = 0;
	}
	pthread_mutex_unlock(&ob->mu);
	ts_buf_free(&tmp);
	ts_buf_free(&body);
	return rc;
}

/* Checkpoint when old segments are mostly garbage (wmu held). */
static void maybe_checkpoint_w(alert_outbox *ob)
{
	pthread_mutex_lock(&ob->mu);
	bool due = ob->n_segs > 1 && ob->disk_bytes > 2 * ob->live_bytes + ob->seg_bytes;
	pthread_mutex_unlock(&ob->mu);
	if (!due)
		return;
	ts_err e = {0};
	if (checkpoint_w(ob, &e))
		ts_log_error("outbox checkpoint failed (old segments kept): %s", e.msg);
}

/* ================================================================ open / replay */

typedef struct replay_set {
	alert_u64map live; /* id -> oent* */
	uint64_t max_id;   /* largest id in any record */
} replay_set;

/* Add a loaded entry; TS_EEXIST when an older copy of the id is there (kept). */
static int rs_add(replay_set *rs, oent *x)
{
	if (alert_u64map_get(&rs->live, x->e.id))
		return TS_EEXIST;
	return alert_u64map_put(&rs->live, x->e.id, x);
}

static void rs_done(replay_set *rs, uint64_t id)
{
	oent *x = alert_u64map_del(&rs->live, id);
	if (x)
		oent_free(x);
}

static void quarantine(const char *path, const char *why)
{
	char dst[PATH_MAX];
	if ((size_t)snprintf(dst, sizeof(dst), "%s.corrupt", path) >= sizeof(dst) ||
	    rename(path, dst))
		unlink(path);
	ts_log_error("outbox file %s is unreadable (%s); moved aside to %s", path, why, dst);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_oent(const void *a, const void *b)
{
	const oent *x = *(oent *const *)a, *y = *(oent *const *)b;
	return x->e.id < y->e.id ? -1 : x->e.id > y->e.id;
}

/* Decode one ENTRY payload into a new oent (seg = seq). */
static int load_entry(const uint8_t *p, size_t n, uint64_t seq, oent **out)
{
	oent *x = ts_calloc(1, sizeof(*x));
	if (!x)
		return TS_ENOMEM;
	int rc = decode(p, n, &x->e);
	if (rc) {
		ts_free(x);
		return rc;
	}
	x->key_hash = key_hash(&x->e);
	x->seg = seq;
	x->rec_len = n + 1 + 8;
	*out = x;
	return TS_OK;
}

/* An old-layout <id>.ent file. */
static int load_v1(const char *path, const char *name, replay_set *rs, ts_err *err)
{
	uint8_t *data;
	size_t len;
	uint32_t ver;
	ts_err e = {0};
	int rc = alert_persist_read(path, OB_V1_MAGIC, OB_V1_VERSION, &data, &len, &ver, &e);
	if (rc == TS_ENOMEM)
		return ts_err_set(err, rc, "%s", e.msg);
	if (rc) {
		quarantine(path, e.msg);
		return TS_OK;
	}
	const uint8_t *p = data + HDR_BYTES, *rec;
	size_t rn;
	oent *x = NULL;
	rc = alert_persist_next(&p, data + len, &rec, &rn);
	if (!rc)
		rc = load_entry(rec, rn, 0, &x);
	ts_free(data);
	if (rc == TS_ENOMEM)
		return ts_err_set(err, rc, "out of memory replaying the outbox");
	char want[32];
	if (!rc)
		snprintf(want, sizeof(want), "%016" PRIx64 ".ent", x->e.id);
	if (rc || strcmp(want, name)) {
		if (x)
			oent_free(x);
		quarantine(path, rc ? "bad record" : "id does not match the file name");
		return TS_OK;
	}
	if (x->e.id > rs->max_id)
		rs->max_id = x->e.id;
	rc = rs_add(rs, x);
	if (rc) {
		oent_free(x);
		if (rc == TS_ENOMEM)
			return ts_err_set(err, rc, "out of memory replaying the outbox");
	}
	return TS_OK;
}

/* One segment, records in order. *is_bad when it must be kept as *.corrupt. */
static int load_seg(const char *path, uint64_t seq, replay_set *rs, bool *is_bad, uint64_t *size,
		    ts_err *err)
{
	uint8_t *data;
	size_t len;
	uint32_t ver;
	ts_err e = {0};
	*is_bad = false;
	int rc = alert_persist_read(path, OB_SEG_MAGIC, OB_SEG_VERSION, &data, &len, &ver, &e);
	if (rc == TS_ENOMEM)
		return ts_err_set(err, rc, "%s", e.msg);
	*size = rc ? 0 : len;
	if (rc) {
		ts_log_error("outbox segment %s unreadable (%s)", path, e.msg);
		*is_bad = true;
		return TS_OK;
	}
	const uint8_t *p = data + HDR_BYTES, *end = data + len, *rec;
	size_t rn, n_bad = 0;
	for (;;) {
		const uint8_t *before = p;
		rc = alert_persist_next(&p, end, &rec, &rn);
		if (rc == TS_ENOTFOUND) {
			rc = TS_OK;
			break;
		}
		if (rc) {
			n_bad++;
			if (p == before) { /* framing broken: nothing after it can be trusted */
				ts_log_error("outbox segment %s: unreadable after byte %zu of %zu",
					     path, (size_t)(before - data), len);
				*is_bad = true;
				rc = TS_OK;
				break;
			}
			continue;
		}
		if (rn >= 1 && rec[0] == REC_ENTRY) {
			oent *x = NULL;
			rc = load_entry(rec + 1, rn - 1, seq, &x);
			if (rc == TS_ENOMEM)
				break;
			if (rc) {
				n_bad++;
				rc = TS_OK;
				continue;
			}
			if (x->e.id > rs->max_id)
				rs->max_id = x->e.id;
			rc = rs_add(rs, x);
			if (rc) {
				oent_free(x); /* TS_EEXIST: an older copy of the same entry */
				if (rc == TS_ENOMEM)
					break;
				rc = TS_OK;
			}
		} else if (rn >= 1 && rec[0] == REC_DONE) {
			alert_rd r = {rec + 1, rec + rn, TS_OK};
			uint64_t k = alert_rd_uvarint(&r);
			if (!r.rc && k > (uint64_t)(r.end - r.p) / 8)
				r.rc = TS_ECORRUPT;
			for (uint64_t i = 0; !r.rc && i < k; i++) {
				uint64_t id = alert_rd_u64(&r);
				if (id > rs->max_id)
					rs->max_id = id;
				rs_done(rs, id);
			}
			n_bad += r.rc != 0;
		} else {
			n_bad++; /* unknown record type: skipped */
		}
	}
	ts_free(data);
	if (rc == TS_ENOMEM)
		return ts_err_set(err, rc, "out of memory replaying the outbox");
	if (n_bad)
		ts_log_error("outbox segment %s: skipped %zu corrupt records", path, n_bad);
	return TS_OK;
}

static int replay(alert_outbox *ob, ts_err *err)
{
	DIR *d = opendir(ob->dir);
	if (!d)
		return ts_err_set(err, TS_EIO, "cannot open outbox %s: %s", ob->dir,
				  strerror(errno));
	replay_set rs = {0};
	uint64_t *segs = NULL;
	size_t n_segs = 0, cap_segs = 0;
	char(*v1)[24] = NULL;
	size_t n_v1 = 0, cap_v1 = 0;
	int rc = TS_OK;
	struct dirent *de;
	char path[PATH_MAX];
	while (!rc && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		snprintf(path, sizeof(path), "%s/%s", ob->dir, de->d_name);
		if (l > 4 && !strcmp(de->d_name + l - 4, ".tmp")) {
			unlink(path);
			continue;
		}
		if (l != 20 || strspn(de->d_name, "0123456789abcdef") != 16)
			continue;
		if (!strcmp(de->d_name + 16, ".seg")) {
			if (n_segs == cap_segs) {
				size_t nc = cap_segs ? cap_segs * 2 : 16;
				uint64_t *nv = ts_realloc(segs, nc * sizeof(*nv));
				if (!nv) {
					rc = TS_ENOMEM;
					break;
				}
				segs = nv;
				cap_segs = nc;
			}
			segs[n_segs++] = strtoull(de->d_name, NULL, 16);
		} else if (!strcmp(de->d_name + 16, ".ent")) {
			if (n_v1 == cap_v1) {
				size_t nc = cap_v1 ? cap_v1 * 2 : 16;
				char(*nv)[24] = ts_realloc(v1, nc * sizeof(*nv));
				if (!nv) {
					rc = TS_ENOMEM;
					break;
				}
				v1 = nv;
				cap_v1 = nc;
			}
			memcpy(v1[n_v1++], de->d_name, 21); /* 20 characters and the NUL */
		}
	}
	closedir(d);
	if (rc)
		rc = ts_err_set(err, rc, "out of memory listing the outbox");
	/* old layout first: its ids are older than any segment's */
	for (size_t i = 0; !rc && i < n_v1; i++) {
		snprintf(path, sizeof(path), "%s/%s", ob->dir, v1[i]);
		rc = load_v1(path, v1[i], &rs, err);
	}
	if (n_segs > 1)
		qsort(segs, n_segs, sizeof(*segs), cmp_u64);
	bool *bad = n_segs ? ts_calloc(n_segs, sizeof(*bad)) : NULL;
	uint64_t *seg_size = n_segs ? ts_calloc(n_segs, sizeof(*seg_size)) : NULL;
	if (n_segs && (!bad || !seg_size) && !rc)
		rc = ts_err_set(err, TS_ENOMEM, "out of memory replaying the outbox");
	for (size_t i = 0; !rc && i < n_segs; i++) {
		seg_path(ob, segs[i], path, sizeof(path));
		rc = load_seg(path, segs[i], &rs, &bad[i], &seg_size[i], err);
		if (segs[i] > ob->max_seq)
			ob->max_seq = segs[i];
	}
	size_t n_live = rs.live.n, k = 0, it = 0;
	oent **v = ts_malloc((n_live ? n_live : 1) * sizeof(*v));
	void *val;
	while (alert_u64map_next(&rs.live, &it, NULL, &val))
		if (v)
			v[k++] = val;
		else
			oent_free(val);
	alert_u64map_free(&rs.live);
	if (!v && !rc)
		rc = ts_err_set(err, TS_ENOMEM, "out of memory replaying the outbox");
	if (!rc) {
		if (k > 1)
			qsort(v, k, sizeof(*v), cmp_oent);
		/* track the old segments with what is live in them, so that if the
		 * checkpoint below fails they stay and are deleted as entries finish */
		for (size_t i = 0; !rc && i < n_segs; i++)
			rc = seg_add(ob, segs[i], seg_size[i]);
		for (size_t i = 0; !rc && i < k; i++) {
			list_insert(ob, v[i]);
			v[i] = NULL;
		}
		ob->next_id = rs.max_id + 1;
		if (rc)
			rc = ts_err_set(err, rc, "out of memory replaying the outbox");
	}
	for (size_t i = 0; v && i < k; i++)
		if (v[i])
			oent_free(v[i]);
	ts_free(v);
	if (!rc && ob->n)
		ts_log_info("outbox %s: replaying %zu pending notifications", ob->dir, ob->n);
	/* Checkpoint: the live set into a fresh segment, then the old files go. */
	if (!rc) {
		pthread_mutex_lock(&ob->wmu);
		ts_err e = {0};
		int cr = checkpoint_w(ob, &e);
		pthread_mutex_unlock(&ob->wmu);
		if (cr == TS_ENOMEM) {
			rc = ts_err_set(err, cr, "%s", e.msg);
		} else if (cr) {
			ts_log_error("outbox %s: checkpoint at open failed, old files kept: %s",
				     ob->dir, e.msg);
		} else {
			for (size_t i = 0; i < n_v1; i++) {
				snprintf(path, sizeof(path), "%s/%s", ob->dir, v1[i]);
				unlink(path);
			}
			for (size_t i = 0; i < n_segs; i++) {
				seg_path(ob, segs[i], path, sizeof(path));
				if (bad[i])
					quarantine(path, "kept for inspection");
			}
			pthread_mutex_lock(&ob->wmu);
			gc_w(ob);
			pthread_mutex_unlock(&ob->wmu);
			if (n_v1)
				ts_log_info("outbox %s: migrated %zu entry files to the log",
					    ob->dir, n_v1);
		}
	}
	ts_free(bad);
	ts_free(seg_size);
	ts_free(segs);
	ts_free(v1);
	return rc;
}

int alert_outbox_open(const alert_outbox_options *o, alert_outbox **out, ts_err *err)
{
	alert_outbox *ob = ts_calloc(1, sizeof(*ob));
	if (!ob || !(ob->dir = ts_strdup(o->dir))) {
		ts_free(ob);
		return ts_err_set(err, TS_ENOMEM, "out of memory opening the outbox");
	}
	pthread_mutex_init(&ob->wmu, NULL);
	pthread_mutex_init(&ob->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ob->cond, &ca);
	pthread_condattr_destroy(&ca);
	ob->fd = -1;
	ts_buf_init(&ob->scratch, ALERT_PERSIST_MAX_FILE);
	ob->send = o->send;
	ob->slot_free = o->slot_free;
	ob->ctx = o->ctx;
	ob->max_age_ms = o->max_age_ms > 0 ? o->max_age_ms : 24LL * 3600 * 1000;
	ob->retry_initial_ms = o->retry_initial_ms > 0 ? o->retry_initial_ms : 1000;
	ob->retry_max_ms = o->retry_max_ms > 0 ? o->retry_max_ms : 5 * 60 * 1000;
	ob->max_entries = o->max_entries ? o->max_entries : 100000;
	ob->max_bytes = o->max_bytes ? o->max_bytes : (size_t)256 << 20;
	ob->n_senders =
	    o->senders ? (o->senders < MAX_SENDERS ? o->senders : MAX_SENDERS) : DEFAULT_SENDERS;
	ob->seg_bytes = o->segment_bytes ? o->segment_bytes : DEFAULT_SEG;
	ob->rng = o->seed ? o->seed : (uint64_t)ts_mono_ns() ^ ((uint64_t)getpid() << 32) ^ 1;
	ob->next_id = 1;
	int rc = alert_persist_mkdir(ob->dir, err);
	if (!rc)
		rc = replay(ob, err);
	if (rc) {
		alert_outbox_close(ob);
		return rc;
	}
	*out = ob;
	return TS_OK;
}

void alert_outbox_each_nlog(alert_outbox *ob, void (*fn)(void *ctx, const alert_nlog_entry *e),
			    void *ctx)
{
	pthread_mutex_lock(&ob->mu);
	for (oent *x = ob->head; x; x = x->next)
		if (x->e.has_nlog)
			fn(ctx, &x->e.nlog);
	pthread_mutex_unlock(&ob->mu);
}

/* ================================================================ put */

static int copy_entry(const alert_outbox_entry *in, alert_outbox_entry *e)
{
	e->kind = in->kind;
	e->integ_index = in->integ_index;
	e->receiver = ts_strdup(in->receiver);
	e->group_key = ts_strdup(in->group_key);
	e->payload = ts_malloc(in->payload_len + 1);
	e->payload_len = in->payload_len;
	if (!e->receiver || !e->group_key || !e->payload)
		return TS_ENOMEM;
	memcpy(e->payload, in->payload, in->payload_len);
	e->payload[in->payload_len] = '\0';
	if (!in->has_nlog)
		return TS_OK;
	e->has_nlog = true;
	e->nlog.key = ts_strdup(in->nlog.key);
	e->nlog.firing = in->nlog.n_firing ? ts_malloc(in->nlog.n_firing * 8) : NULL;
	e->nlog.resolved = in->nlog.n_resolved ? ts_malloc(in->nlog.n_resolved * 8) : NULL;
	if (!e->nlog.key || (in->nlog.n_firing && !e->nlog.firing) ||
	    (in->nlog.n_resolved && !e->nlog.resolved))
		return TS_ENOMEM;
	if (in->nlog.n_firing)
		memcpy(e->nlog.firing, in->nlog.firing, in->nlog.n_firing * 8);
	if (in->nlog.n_resolved)
		memcpy(e->nlog.resolved, in->nlog.resolved, in->nlog.n_resolved * 8);
	e->nlog.n_firing = in->nlog.n_firing;
	e->nlog.n_resolved = in->nlog.n_resolved;
	e->nlog.sent_ms = in->nlog.sent_ms;
	e->nlog.expires_ms = in->nlog.expires_ms;
	return TS_OK;
}

int alert_outbox_put(alert_outbox *ob, const alert_outbox_entry *in, bool hold, ts_err *err)
{
	oent *x = ts_calloc(1, sizeof(*x));
	if (!x)
		return ts_err_set(err, TS_ENOMEM, "out of memory queueing a notification");
	alert_outbox_entry *e = &x->e;
	if (copy_entry(in, e)) {
		oent_free(x);
		return ts_err_set(err, TS_ENOMEM, "out of memory queueing a notification");
	}
	e->created_ms = ts_now_ms();
	x->key_hash = key_hash(e);
	x->is_held = hold;

	pthread_mutex_lock(&ob->mu);
	if (ob->n >= ob->max_entries || ob->bytes + e->payload_len > ob->max_bytes) {
		size_t n = ob->n;
		pthread_mutex_unlock(&ob->mu);
		oent_free(x);
		return ts_err_set(err, TS_EFULL, "outbox full (%zu entries pending)", n);
	}
	e->id = ob->next_id++;
	pthread_mutex_unlock(&ob->mu);

	pthread_mutex_lock(&ob->wmu);
	maybe_checkpoint_w(ob);
	ts_buf body;
	ts_buf_init(&body, ALERT_PERSIST_MAX_FILE);
	int rc = frame_entry(e, &ob->scratch, &body);
	if (rc) {
		rc = ts_err_set(err, rc, "cannot encode outbox entry");
	} else {
		rc = append_w(ob, body.data, body.len, err);
		x->rec_len = body.len;
		if (!rc && !hold && (rc = sync_w(ob, err))) {
			pthread_mutex_lock(&ob->mu);
			done_push(ob, e->id); /* written, maybe durable: cancel it */
			pthread_mutex_unlock(&ob->mu);
		}
	}
	ts_buf_free(&body);
	if (rc) {
		writer_unlock(ob);
		oent_free(x);
		return rc;
	}
	x->seg = ob->fd_seq;

	/* Supersede older pending entries of the same group that this one covers. */
	oent *gone = NULL;
	pthread_mutex_lock(&ob->mu);
	alert_outbox_stat *st = stat_row(ob, e->receiver, e->kind);
	if (st)
		st->n_enqueued++;
	for (oent **pp = &ob->head; *pp;) {
		oent *o = *pp;
		if (o->is_dead || !same_key(o, x) || !o->e.has_nlog || !e->has_nlog ||
		    !fps_within(&o->e.nlog, &e->nlog)) {
			pp = &o->next;
			continue;
		}
		if (st)
			st->n_superseded++;
		ob->n--;
		ob->bytes -= o->e.payload_len;
		if (o->is_in_flight) {
			o->is_dead = true; /* removed by its sender after the attempt */
			pp = &o->next;
			continue;
		}
		*pp = o->next;
		retire(ob, o);
		o->next = gone;
		gone = o;
	}
	list_insert(ob, x);
	if (!hold)
		pthread_cond_signal(&ob->cond);
	pthread_mutex_unlock(&ob->mu);
	writer_unlock(ob);
	while (gone) {
		oent *next = gone->next;
		oent_free(gone);
		gone = next;
	}
	return TS_OK;
}

int alert_outbox_sync(alert_outbox *ob, ts_err *err)
{
	pthread_mutex_lock(&ob->wmu);
	int rc = sync_w(ob, err);
	writer_unlock(ob);
	return rc;
}

void alert_outbox_commit(alert_outbox *ob)
{
	pthread_mutex_lock(&ob->mu);
	for (oent *x = ob->head; x; x = x->next)
		x->is_held = false;
	pthread_cond_broadcast(&ob->cond);
	pthread_mutex_unlock(&ob->mu);
}

size_t alert_outbox_discard_held(alert_outbox *ob)
{
	oent *gone = NULL;
	size_t n = 0;
	pthread_mutex_lock(&ob->wmu);
	pthread_mutex_lock(&ob->mu);
	for (oent **pp = &ob->head; *pp;) {
		oent *o = *pp;
		if (!o->is_held) {
			pp = &o->next;
			continue;
		}
		*pp = o->next;
		ob->n--;
		ob->bytes -= o->e.payload_len;
		retire(ob, o);
		o->next = gone;
		gone = o;
		n++;
	}
	pthread_mutex_unlock(&ob->mu);
	writer_unlock(ob);
	while (gone) {
		oent *next = gone->next;
		oent_free(gone);
		gone = next;
	}
	return n;
}

void alert_outbox_set_retry(alert_outbox *ob, int64_t max_age_ms, int64_t retry_initial_ms,
			    int64_t retry_max_ms)
{
	pthread_mutex_lock(&ob->mu);
	if (max_age_ms > 0)
		ob->max_age_ms = max_age_ms;
	if (retry_initial_ms > 0)
		ob->retry_initial_ms = retry_initial_ms;
	if (retry_max_ms > 0)
		ob->retry_max_ms = retry_max_ms;
	pthread_cond_broadcast(&ob->cond);
	pthread_mutex_unlock(&ob->mu);
}

/* ================================================================ sending */

int64_t alert_outbox_backoff(int64_t initial_ms, int64_t max_ms, uint32_t attempt, uint64_t *state)
{
	int64_t d = initial_ms;
	for (uint32_t i = 1; i < attempt && d < max_ms; i++)
		d = d > INT64_MAX / 2 ? INT64_MAX : d * 2;
	if (d > max_ms)
		d = max_ms;
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	uint64_t r = x * 0x2545F4914F6CDD1DULL;
	int64_t half = d / 2;
	return half + (half > 0 ? (int64_t)(r % (uint64_t)half) : 0) + (d & 1);
}

/* The first entry that may be attempted now (mu held), or NULL. */
static oent *next_due(alert_outbox *ob, int64_t now)
{
	for (oent *x = ob->head; x; x = x->next) {
		if (x->is_dead || x->is_held || x->is_in_flight || x->next_mono_ms > now)
			continue;
		bool blocked = false; /* an older entry of the same group goes first */
		for (oent *o = ob->head; o != x && !blocked; o = o->next)
			blocked = !o->is_dead && same_key(o, x);
		if (!blocked)
			return x;
	}
	return NULL;
}

static bool log_attempt(uint32_t attempts)
{
	return (attempts & (attempts - 1)) == 0; /* 1, 2, 4, 8, ...: bounded log volume */
}

/* Attempt due entries on this thread until none is due (slot: this thread's sender
 * state, see alert_outbox_send_fn). */
static size_t run_due(alert_outbox *ob, int64_t now_mono_ms, void **slot)
{
	size_t attempts = 0;
	pthread_mutex_lock(&ob->mu);
	for (;;) {
		if (ob->stop)
			break;
		oent *x = next_due(ob, now_mono_ms);
		if (!x)
			break;
		x->is_in_flight = true;
		pthread_mutex_unlock(&ob->mu);

		int64_t retry_after = 0;
		ts_err e = {0};
		alert_send_result res = ob->send(ob->ctx, slot, &x->e, &retry_after, &e);
		attempts++;
		int64_t now_wall = ts_now_ms();

		pthread_mutex_lock(&ob->mu);
		x->is_in_flight = false;
		alert_outbox_stat *st = stat_row(ob, x->e.receiver, x->e.kind);
		bool remove = true;
		if (res == ALERT_SEND_OK) {
			if (st)
				st->n_sent++;
		} else if (res == ALERT_SEND_FAIL) {
			if (st)
				st->n_failed++;
			ts_log_error("notification to receiver \"%s\" (%s[%u]) failed permanently, "
				     "dropped: %s",
				     x->e.receiver, alert_ncfg_kind_name(x->e.kind),
				     x->e.integ_index, e.msg);
		} else {
			x->attempts++;
			if (st)
				st->n_retries++;
			if (x->is_dead) {
				/* superseded meanwhile: the newer entry carries its alerts */
			} else if (now_wall - x->e.created_ms >= ob->max_age_ms) {
				if (st)
					st->n_failed++;
				ts_log_error("notification to receiver \"%s\" (%s[%u]) not "
					     "delivered after %u attempts within max_age, dropped: "
					     "%s",
					     x->e.receiver, alert_ncfg_kind_name(x->e.kind),
					     x->e.integ_index, x->attempts, e.msg);
			} else {
				int64_t d = alert_outbox_backoff(
				    ob->retry_initial_ms, ob->retry_max_ms, x->attempts, &ob->rng);
				if (retry_after > d)
					d = retry_after < ob->retry_max_ms ? retry_after
									   : ob->retry_max_ms;
				x->next_mono_ms = mono_ms() + d;
				remove = false;
				if (log_attempt(x->attempts))
					ts_log_warn(
					    "notification to receiver \"%s\" (%s[%u]) failed "
					    "(attempt %u), retrying in %lld ms: %s",
					    x->e.receiver, alert_ncfg_kind_name(x->e.kind),
					    x->e.integ_index, x->attempts, (long long)d, e.msg);
			}
		}
		if (remove) {
			list_remove(ob, x);
			pthread_mutex_unlock(&ob->mu);
			oent_free(x);
			if (!pthread_mutex_trylock(&ob->wmu))
				writer_unlock(ob); /* writes the DONE record */
			pthread_mutex_lock(&ob->mu);
		}
		now_mono_ms = mono_ms();
	}
	pthread_mutex_unlock(&ob->mu);
	return attempts;
}

size_t alert_outbox_run_due(alert_outbox *ob, int64_t now_mono_ms)
{
	void *slot = NULL;
	size_t n = run_due(ob, now_mono_ms, &slot);
	if (slot && ob->slot_free)
		ob->slot_free(slot);
	return n;
}

static void *sender_main(void *arg)
{
	alert_outbox *ob = arg;
	void *slot = NULL;
	for (;;) {
		run_due(ob, mono_ms(), &slot);
		pthread_mutex_lock(&ob->mu);
		if (ob->stop) {
			pthread_mutex_unlock(&ob->mu);
			break;
		}
		int64_t now = mono_ms(), wake = now + 60 * 1000;
		bool runnable = false;
		for (oent *x = ob->head; x; x = x->next) {
			if (x->is_dead || x->is_held || x->is_in_flight)
				continue;
			if (x->next_mono_ms <= now) {
				runnable = next_due(ob, now) != NULL;
				if (runnable)
					break;
				continue;
			}
			if (x->next_mono_ms < wake)
				wake = x->next_mono_ms;
		}
		if (!runnable) {
			struct timespec ts = {.tv_sec = wake / 1000,
					      .tv_nsec = (long)(wake % 1000) * 1000000};
			pthread_cond_timedwait(&ob->cond, &ob->mu, &ts);
		}
		pthread_mutex_unlock(&ob->mu);
	}
	if (slot && ob->slot_free)
		ob->slot_free(slot);
	return NULL;
}

int alert_outbox_start(alert_outbox *ob, ts_err *err)
{
	if (ob->n_threads)
		return TS_OK;
	for (size_t i = 0; i < ob->n_senders; i++) {
		int e = pthread_create(&ob->threads[i], NULL, sender_main, ob);
		if (e) {
			if (i)
				break; /* fewer senders still deliver everything */
			return ts_err_set(err, TS_EIO, "cannot start the outbox sender: %s",
					  strerror(e));
		}
		pthread_setname_np(ob->threads[i], "alert-outbox");
		ob->n_threads++;
	}
	return TS_OK;
}

void alert_outbox_close(alert_outbox *ob)
{
	if (!ob)
		return;
	pthread_mutex_lock(&ob->mu);
	ob->stop = true;
	pthread_cond_broadcast(&ob->cond);
	pthread_mutex_unlock(&ob->mu);
	for (size_t i = 0; i < ob->n_threads; i++)
		pthread_join(ob->threads[i], NULL);
	/* DONE records of the last deliveries, synced: fewer re-sends after a restart */
	pthread_mutex_lock(&ob->wmu);
	flush_done_w(ob);
	ts_err e = {0};
	if (ob->fd >= 0 && sync_w(ob, &e))
		ts_log_warn("outbox: %s", e.msg);
	if (ob->fd >= 0)
		close(ob->fd);
	pthread_mutex_unlock(&ob->wmu);
	for (oent *x = ob->head; x;) {
		oent *next = x->next;
		oent_free(x);
		x = next;
	}
	ts_free(ob->stats);
	ts_free(ob->segs);
	ts_free(ob->done);
	ts_buf_free(&ob->scratch);
	pthread_cond_destroy(&ob->cond);
	pthread_mutex_destroy(&ob->mu);
	pthread_mutex_destroy(&ob->wmu);
	ts_free(ob->dir);
	ts_free(ob);
}

size_t alert_outbox_depth(alert_outbox *ob, int64_t *oldest_ms)
{
	pthread_mutex_lock(&ob->mu);
	size_t n = ob->n;
	int64_t oldest = 0;
	for (oent *x = ob->head; x; x = x->next)
		if (!x->is_dead && (!oldest || x->e.created_ms < oldest))
			oldest = x->e.created_ms;
	pthread_mutex_unlock(&ob->mu);
	if (oldest_ms)
		*oldest_ms = oldest;
	return n;
}

size_t alert_outbox_stats(alert_outbox *ob, alert_outbox_stat *out, size_t cap)
{
	pthread_mutex_lock(&ob->mu);
	size_t n = ob->n_stats;
	for (size_t i = 0; i < n && i < cap; i++)
		out[i] = ob->stats[i];
	pthread_mutex_unlock(&ob->mu);
	return n;
}
