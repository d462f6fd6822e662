/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_local.c: the embedded partitioned log: segment files, CRC framing, group commit.
 *
 * On disk (byte-exact in docs/formats/log.md):
 *   <dir>/log.meta                 "strata-log 1\npartitions N\n"
 *   <dir>/LOCK                     flock'ed while a process has the log open
 *   <dir>/pNNNN/<base:%020>.seg    segments of partition NNNN; base = first offset inside
 * A segment is a 16-byte header (magic "STSG", version 1, 3 zero bytes, u64le base
 * offset) followed by frames: u32le crc32c, u32le record length, u64le offset, record.
 * The frame CRC covers the record bytes and then frame bytes 4..15 (length and offset), so
 * an appender checksums its record before taking the partition lock. Offsets in a
 * partition are consecutive; a segment holds offsets [base, next segment's base).
 *
 * Write path and group commit. Appenders write their frame with pwritev under the
 * partition mutex (a copy into the page cache; it also assigns the offset), queue a
 * waiter, and wait for durability. Whoever finds no sync in progress becomes the leader:
 * it notes the written end, drops the mutex, fdatasyncs, retakes the mutex, marks every
 * waiter up to that end durable and wakes everyone. Appenders arriving during the sync
 * write and queue behind it, so the next leader's sync covers all of them. Because the
 * first appender back after a sync would otherwise sync alone (batches alternating 1 and
 * N-1), a leader whose predecessor covered k > 1 records first waits, mutex released, for
 * k queued appenders or min(group_commit_wait_us, last sync duration / 4): N concurrent
 * appenders then share about one fdatasync. This applies only when syncs are slow (>= 1 ms);
 * on faster devices the alternating batches overlap writing with syncing, which is faster. A failed
 * sync fails every queued waiter and cuts the file back to the last durable byte (never trusting a
 * retried fsync).
 *
 * Roll: when a frame would push the active segment past segment_bytes, the appender sets
 * is_rolling (new appenders wait), drives queued syncs to completion so the old segment is
 * fully durable, creates the next segment without the mutex held (header, fdatasync,
 * directory fsync), then switches to it. Only the last segment can ever hold non-durable
 * bytes, so recovery scans only that one.
 *
 * Durable view: segs[last].size_bytes and durable_offset only advance after a successful
 * sync; readers never look past them, so they see exactly the acknowledged records.
 *
 * Recovery (open): the last segment is scanned frame by frame; at the first frame that is
 * torn or fails a check the file is truncated there. If some intact frame follows the bad
 * one (not a plain torn tail but damage in the middle), the dropped bytes are first copied
 * to <segment>.tail-<pos>.corrupt (quarantine) and an error is logged.
 *
 * Readers verify every frame (bounds, offset continuity, CRC). A bad frame is reported as
 * TS_ECORRUPT naming the file and byte position, after the reader has resynchronised on
 * the next intact frame (a forward scan for a frame whose offset fits and whose CRC
 * matches) or on the next segment; the message says how many offsets were skipped.
 *
 * Back-pressure: per partition a few (offset, logical byte position) marks let a
 * checkpoint translate "offset X persisted" into "bytes before P are done" (an upper
 * estimate: it errs on the side of more pending bytes). An append is refused with
 * TS_EBUSY while pending bytes >= max_pending_bytes.
 *
 * Locks (STYLE.md section 7): each partition has one mutex `mu`. It guards every mutable
 * partition field (listed in struct partition). It is held for the pwritev of a frame
 * (page-cache copy) and for O(1) bookkeeping; it is NOT held across fdatasync, segment
 * creation, directory fsync, unlink, or reader I/O. The CRC of a record is computed before
 * taking it. There is no lock order to respect: no code path holds two partition mutexes.
 * The fault-injection knobs are atomics. Readers own their fd and buffer and take `mu` only
 * to read the durable end and the segment list.
 *
 * Not done here: record decoding (record.c), replication, compaction of the log, and
 * retention by time (only checkpoints delete segments).
 */
#include "ingest/log.h"

#include "ingest/log_segment.h"
#include "ingest/record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SEG_HDR              INGEST_SEG_HDR_BYTES
#define FRAME_HDR            INGEST_SEG_FRAME_BYTES
#define GATHER_SYNC_FRACTION 4       /* a leader gathers for at most 1/4 of the last sync */
#define GATHER_MIN_SYNC_NS   1000000 /* and only when syncs take 1 ms or more */
#define MAX_MARKS            64      /* back-pressure marks per partition */
#define META_NAME            "log.meta"
#define PATH_BYTES           4096

/* ---------------------------------------------------------------- types */

/* One segment file. */
typedef struct segment {
	uint64_t base_offset; /* offset of its first record (also its file name) */
	uint64_t size_bytes;  /* durable bytes: header + complete frames (active: durable end) */
} segment;

/* An appender waiting for its frame to become durable (lives on its stack). */
typedef struct waiter {
	uint64_t end_offset; /* its offset + 1 */
	int rc;              /* WAIT_PENDING until a leader decides: TS_OK or TS_EIO */
	int sys_errno;       /* errno of a failed sync */
	struct waiter *next; /* next in offset order */
} waiter;

#define WAIT_PENDING 1

/* "Record `offset` starts at logical byte `pos`" (logical = bytes ever appended). */
typedef struct mark {
	uint64_t offset; /* a record's offset */
	uint64_t pos;    /* logical byte position where its frame starts */
} mark;

typedef struct local_log local_log;

/* One partition. `mu` guards every field below it except where noted. */
typedef struct partition {
	local_log *log;             /* immutable */
	int index;                  /* immutable */
	char *dir;                  /* immutable: <root>/pNNNN */
	pthread_mutex_t mu;         /* guards every field below */
	pthread_cond_t cond_commit; /* a sync or a roll finished (appenders, roller) */
	pthread_cond_t cond_data;   /* durable end advanced (readers; CLOCK_MONOTONIC) */

	segment *segs;              /* sorted by base; segs[n_segs - 1] is active */
	size_t n_segs;              /* >= 1 while open */
	size_t cap_segs;            /* allocated */
	int fd;                     /* active segment, O_RDWR */
	uint64_t next_offset;       /* next offset to assign (written, maybe not durable) */
	uint64_t write_pos;         /* written end of the active segment */
	uint64_t durable_offset;    /* offsets below are durable */
	bool is_syncing;            /* a leader is gathering or in fdatasync */
	bool is_gathering;          /* the leader waits for more appenders before syncing */
	pthread_cond_t cond_gather; /* a waiter queued while gathering (CLOCK_MONOTONIC) */
	size_t n_waiting;           /* waiters queued */
	size_t batch_hint;          /* records the last successful sync covered */
	int64_t last_sync_ns;       /* duration of the last sync */
	bool is_rolling;            /* an appender is creating the next segment */
	bool tail_dirty;            /* bytes past write_pos must be truncated before writing */
	waiter *wait_head;          /* queued appenders, oldest first */
	waiter *wait_tail;          /* newest queued appender */

	uint64_t logical_end;     /* logical bytes appended (all segments ever) */
	uint64_t ckpt_pos;        /* logical bytes known checkpointed */
	uint64_t checkpoint_next; /* checkpointed offset + 1 */
	mark marks[MAX_MARKS];    /* oldest first */
	size_t n_marks;           /* marks in use */
	uint64_t mark_interval;   /* min logical bytes between marks */

	ingest_log_partition_stats st; /* counters (offsets/bytes fields filled on demand) */
} partition;

struct local_log {
	ingest_log base;                 /* must be first */
	char *dir;                       /* immutable root */
	int lock_fd;                     /* immutable: flock'ed LOCK file */
	uint64_t segment_bytes;          /* immutable */
	uint64_t max_pending_bytes;      /* immutable; 0 = no limit */
	bool no_sync;                    /* immutable */
	int64_t gather_ns;               /* immutable: max wait of a sync leader for followers */
	_Atomic int64_t fault_space;     /* test hook: bytes writable, -1 = no limit */
	_Atomic int fault_syncs;         /* test hook: syncs left to fail */
	_Atomic int fault_sync_delay_us; /* test hook: sleep in every sync */
	partition *parts;                /* immutable array of n_partitions */
};

typedef struct local_reader {
	ingest_log_reader base; /* must be first */
	partition *p;           /* borrowed */
	uint64_t next_offset;   /* offset of the next record to return */
	uint64_t seg_base;      /* base offset of the segment being read */
	int fd;                 /* that segment, -1 before the first open */
	uint64_t pos;           /* byte position of the next frame in it */
	bool is_skipping;       /* skipping an unusable segment (no gap report) */
	ingest_seg_cursor cur;  /* reads r->fd */
} local_reader;

static const ingest_log_ops local_ops;

/* ---------------------------------------------------------------- small helpers */

static int errno_code(int e)
{
	return (e == ENOSPC || e == EDQUOT) ? TS_ENOSPC : e == ENOMEM ? TS_ENOMEM : TS_EIO;
}

static void seg_path(const partition *p, uint64_t base, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%020llu.seg", p->dir, (unsigned long long)base);
}

static int do_sync(local_log *lg, int fd)
{
	int delay_us = atomic_load(&lg->fault_sync_delay_us);
	if (delay_us > 0)
		usleep((useconds_t)delay_us);
	int left = atomic_load(&lg->fault_syncs);
	while (left > 0) {
		if (atomic_compare_exchange_weak(&lg->fault_syncs, &left, left - 1))
			return EIO;
	}
	if (lg->no_sync)
		return 0;
	return fdatasync(fd) == 0 ? 0 : errno;
}

static void give_back_space(local_log *lg, uint64_t n)
{
	if (atomic_load(&lg->fault_space) >= 0)
		atomic_fetch_add(&lg->fault_space, (int64_t)n);
}

/*
 * Write a[0..an) then b[0..bn) at pos, retrying short writes. Returns 0 or an errno;
 * *written gets the bytes that reached the file (also on failure). Honours fault_space.
 */
static int write_all(local_log *lg, int fd, const void *a, size_t an, const void *b, size_t bn,
		     uint64_t pos, size_t *written)
{
	size_t total = an + bn, done = 0;
	*written = 0;
	while (done < total) {
		size_t want = total - done;
		int64_t space = atomic_load(&lg->fault_space);
		if (space >= 0) {
			if (space == 0)
				return ENOSPC;
			if ((uint64_t)space < want)
				want = (size_t)space;
		}
		struct iovec iov[2];
		int n = 0;
		if (done < an) {
			iov[n].iov_base = (char *)a + done;
			iov[n].iov_len = an - done < want ? an - done : want;
			n++;
			if (want > an - done && bn) {
				iov[n].iov_base = (void *)b;
				iov[n].iov_len = want - (an - done);
				n++;
			}
		} else {
			iov[n].iov_base = (char *)b + (done - an);
			iov[n].iov_len = want;
			n++;
		}
		ssize_t w = pwritev(fd, iov, n, (off_t)(pos + done));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (w == 0)
			return EIO;
		if (space >= 0)
			atomic_fetch_sub(&lg->fault_space, (int64_t)w);
		done += (size_t)w;
		*written = done;
	}
	return 0;
}

/* ---------------------------------------------------------------- segments */

/*
 * Create the segment with base offset `base` in p->dir: header, fdatasync, directory
 * fsync. *fd_out returned owned. Called without p->mu.
 */
static int create_segment(partition *p, uint64_t base, int *fd_out, ts_err *err)
{
	char path[PATH_BYTES];
	seg_path(p, base, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return ts_err_set(err, errno_code(errno), "log: create %s: %s", path,
				  strerror(errno));
	uint8_t h[SEG_HDR];
	ingest_seg_put_header(h, base);
	size_t written;
	int e = write_all(p->log, fd, h, SEG_HDR, NULL, 0, 0, &written);
	const char *what = "write";
	if (!e) {
		what = "sync";
		e = do_sync(p->log, fd);
	}
	if (!e) {
		what = "sync directory of";
		e = ingest_seg_fsync_dir(p->dir);
	}
	if (e) {
		close(fd);
		unlink(path);
		give_back_space(p->log, written);
		return ts_err_set(err, errno_code(e), "log: %s %s: %s", what, path, strerror(e));
	}
	*fd_out = fd;
	return TS_OK;
}

/* Make room for one more segment entry. */
static int reserve_segment(partition *p)
{
	if (p->n_segs < p->cap_segs)
		return TS_OK;
	size_t cap = p->cap_segs ? p->cap_segs * 2 : 8;
	segment *s = ts_realloc(p->segs, cap * sizeof(*s));
	if (!s)
		return TS_ENOMEM;
	p->segs = s;
	p->cap_segs = cap;
	return TS_OK;
}

static int push_segment(partition *p, uint64_t base, uint64_t size)
{
	if (reserve_segment(p))
		return TS_ENOMEM;
	p->segs[p->n_segs].base_offset = base;
	p->segs[p->n_segs].size_bytes = size;
	p->n_segs++;
	return TS_OK;
}

/* Index of the segment with this base, or -1. Caller holds mu. */
static long find_segment(const partition *p, uint64_t base)
{
	size_t lo = 0, hi = p->n_segs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->segs[mid].base_offset < base)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->n_segs && p->segs[lo].base_offset == base ? (long)lo : -1;
}

/* ---------------------------------------------------------------- back-pressure marks */

static void add_mark(partition *p, uint64_t offset, uint64_t pos)
{
	if (p->n_marks > 0 && pos - p->marks[p->n_marks - 1].pos < p->mark_interval)
		return;
	if (p->n_marks == MAX_MARKS) {
		/* keep every other mark and space future ones twice as far apart */
		size_t w = 0;
		for (size_t i = 0; i < p->n_marks; i += 2)
			p->marks[w++] = p->marks[i];
		p->n_marks = w;
		p->mark_interval *= 2;
	}
	p->marks[p->n_marks].offset = offset;
	p->marks[p->n_marks].pos = pos;
	p->n_marks++;
}

/* Records below next_ckpt are done: advance ckpt_pos. */
static void consume_marks(partition *p, uint64_t next_ckpt)
{
	size_t k = 0;
	while (k < p->n_marks && p->marks[k].offset <= next_ckpt) {
		if (p->marks[k].pos > p->ckpt_pos)
			p->ckpt_pos = p->marks[k].pos;
		k++;
	}
	/* keep the last consumed mark's successor list only */
	memmove(p->marks, p->marks + k, (p->n_marks - k) * sizeof(*p->marks));
	p->n_marks -= k;
	if (next_ckpt >= p->next_offset && p->ckpt_pos < p->logical_end)
		p->ckpt_pos = p->logical_end; /* everything written is checkpointed */
}

/* Drop marks at or beyond offset (their records were discarded). */
static void drop_marks_from(partition *p, uint64_t offset)
{
	while (p->n_marks > 0 && p->marks[p->n_marks - 1].offset >= offset)
		p->n_marks--;
}

/* ---------------------------------------------------------------- group commit */

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Become the sync leader: sync the active segment without mu, then settle the waiters.
 * Caller holds mu and saw !is_syncing; returns with mu held.
 *
 * Gathering: when the previous sync covered k > 1 records, concurrent appenders are
 * around, and the first of them to find no sync running would otherwise sync alone while
 * the rest queue behind it (batches alternate 1, k-1). With may_gather the leader first
 * waits, mu released, until k appenders are queued or min(gather_ns, last sync duration /
 * GATHER_SYNC_FRACTION) has passed, so one sync covers them all. Waiting trades latency and
 * write/sync overlap for fewer syncs, which only pays off when a sync is expensive: on a
 * device that syncs in well under a millisecond the overlap of the alternating batches
 * gives more throughput (measured: ~700 vs ~550 MB/s with 8 appenders), so leaders gather
 * only after a sync that took GATHER_MIN_SYNC_NS or more.
 */
static void lead_sync(partition *p, bool may_gather)
{
	p->is_syncing = true;
	if (may_gather && p->log->gather_ns > 0 && p->batch_hint > 1 &&
	    p->n_waiting < p->batch_hint && p->last_sync_ns >= GATHER_MIN_SYNC_NS) {
		/* waiting costs latency and overlap; worth it only against a costly sync */
		int64_t cap = p->last_sync_ns / GATHER_SYNC_FRACTION;
		int64_t wait = p->log->gather_ns < cap ? p->log->gather_ns : cap;
		int64_t deadline = mono_ns() + wait;
		struct timespec ts = {.tv_sec = deadline / 1000000000,
				      .tv_nsec = deadline % 1000000000};
		p->is_gathering = true;
		while (p->n_waiting < p->batch_hint &&
		       pthread_cond_timedwait(&p->cond_gather, &p->mu, &ts) == 0)
			;
		p->is_gathering = false;
	}
	uint64_t target_off = p->next_offset, target_pos = p->write_pos;
	int fd = p->fd;
	int64_t t0 = mono_ns();
	pthread_mutex_unlock(&p->mu);
	int e = do_sync(p->log, fd);
	int64_t took = mono_ns() - t0;
	pthread_mutex_lock(&p->mu);
	p->is_syncing = false;
	p->last_sync_ns = took;
	p->st.n_syncs++;
	if (!e) {
		p->durable_offset = target_off;
		p->segs[p->n_segs - 1].size_bytes = target_pos;
		size_t n = 0;
		while (p->wait_head && p->wait_head->end_offset <= target_off) {
			p->wait_head->rc = TS_OK;
			p->wait_head = p->wait_head->next;
			n++;
		}
		p->n_waiting -= n;
		if (n)
			p->batch_hint = n;
		if (!p->wait_head)
			p->wait_tail = NULL;
		pthread_cond_broadcast(&p->cond_data);
	} else {
		/* nothing past the durable end can be trusted: fail it all and cut it off */
		uint64_t durable_pos = p->segs[p->n_segs - 1].size_bytes;
		for (waiter *w = p->wait_head; w; w = w->next) {
			w->rc = errno_code(e);
			w->sys_errno = e;
			p->st.n_io_errors++;
		}
		p->wait_head = p->wait_tail = NULL;
		p->n_waiting = 0;
		give_back_space(p->log, p->write_pos - durable_pos);
		p->logical_end -= p->write_pos - durable_pos;
		drop_marks_from(p, p->durable_offset);
		p->write_pos = durable_pos;
		p->next_offset = p->durable_offset;
		p->tail_dirty = ftruncate(p->fd, (off_t)p->write_pos) != 0;
	}
	pthread_cond_broadcast(&p->cond_commit);
}

/*
 * Start the next segment at next_offset. Caller holds mu, !is_rolling; returns with mu
 * held. Drives pending syncs first so the old segment is fully durable.
 */
static int roll(partition *p, ts_err *err)
{
	p->is_rolling = true;
	while (p->wait_head || p->is_syncing) {
		if (!p->is_syncing)
			lead_sync(p, false);
		else
			pthread_cond_wait(&p->cond_commit, &p->mu);
	}
	uint64_t base = p->next_offset;
	int fd = -1, rc = TS_OK;
	if (p->tail_dirty && ftruncate(p->fd, (off_t)p->write_pos) == 0)
		p->tail_dirty = false;
	if (p->tail_dirty || p->write_pos != p->segs[p->n_segs - 1].size_bytes)
		rc = ts_err_set(err, TS_EIO,
				"log: partition %d: cannot seal a segment after a failed write",
				p->index);
	else if (reserve_segment(p)) /* so that push_segment below cannot fail */
		rc = ts_err_set(err, TS_ENOMEM, "log: out of memory");
	if (rc == TS_OK) {
		pthread_mutex_unlock(&p->mu);
		rc = create_segment(p, base, &fd, err);
		pthread_mutex_lock(&p->mu);
	}
	if (rc == TS_OK) {
		push_segment(p, base, SEG_HDR);
		close(p->fd);
		p->fd = fd;
		p->write_pos = SEG_HDR;
		p->logical_end += SEG_HDR;
	} else if (rc == TS_ENOSPC) {
		p->st.n_nospc++;
	}
	p->is_rolling = false;
	pthread_cond_broadcast(&p->cond_commit);
	return rc;
}

static int local_append(ingest_log *l, int partition_ix, const void *rec, size_t len,
			uint64_t *offset, ts_err *err)
{
	local_log *lg = (local_log *)l;
	partition *p = &lg->parts[partition_ix];
	uint32_t rec_crc = ts_crc32c(0, rec, len);
	uint8_t hdr[FRAME_HDR];
	size_t frame_len = FRAME_HDR + len;
	int rc;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->is_rolling)
			pthread_cond_wait(&p->cond_commit, &p->mu);
		if (p->tail_dirty) {
			if (ftruncate(p->fd, (off_t)p->write_pos) != 0) {
				int e = errno;
				p->st.n_io_errors++;
				pthread_mutex_unlock(&p->mu);
				return ts_err_set(
				    err, TS_EIO,
				    "log: partition %d: cannot cut back a failed write: "
				    "%s",
				    partition_ix, strerror(e));
			}
			p->tail_dirty = false;
		}
		uint64_t pending = p->logical_end - p->ckpt_pos;
		if (lg->max_pending_bytes && pending >= lg->max_pending_bytes) {
			p->st.n_busy++;
			pthread_mutex_unlock(&p->mu);
			return ts_err_set(err, TS_EBUSY,
					  "log: partition %d has %llu bytes not yet checkpointed "
					  "(limit %llu); retry later",
					  partition_ix, (unsigned long long)pending,
					  (unsigned long long)lg->max_pending_bytes);
		}
		if (p->write_pos > SEG_HDR && p->write_pos + frame_len > lg->segment_bytes) {
			if ((rc = roll(p, err))) {
				pthread_mutex_unlock(&p->mu);
				return rc;
			}
			continue; /* re-check everything after the mutex was dropped */
		}
		break;
	}

	uint64_t off = p->next_offset;
	ingest_seg_put_frame(hdr, len, rec_crc, off);
	size_t written;
	int e = write_all(lg, p->fd, hdr, FRAME_HDR, rec, len, p->write_pos, &written);
	if (e) {
		uint64_t at = p->write_pos;
		if (written) {
			if (ftruncate(p->fd, (off_t)at) == 0)
				give_back_space(lg, written);
			else
				p->tail_dirty = true;
		}
		rc = errno_code(e);
		if (rc == TS_ENOSPC)
			p->st.n_nospc++;
		else
			p->st.n_io_errors++;
		pthread_mutex_unlock(&p->mu);
		return ts_err_set(err, rc, "log: partition %d: write of %zu bytes at byte %llu: %s",
				  partition_ix, frame_len, (unsigned long long)at, strerror(e));
	}
	add_mark(p, off, p->logical_end);
	p->write_pos += frame_len;
	p->logical_end += frame_len;
	p->next_offset++;

	waiter w = {.end_offset = off + 1, .rc = WAIT_PENDING, .sys_errno = 0, .next = NULL};
	if (p->wait_tail)
		p->wait_tail->next = &w;
	else
		p->wait_head = &w;
	p->wait_tail = &w;
	p->n_waiting++;
	if (p->is_gathering)
		pthread_cond_signal(&p->cond_gather);
	while (w.rc == WAIT_PENDING) {
		if (!p->is_syncing)
			lead_sync(p, true);
		else
			pthread_cond_wait(&p->cond_commit, &p->mu);
	}
	if (w.rc == TS_OK) {
		p->st.n_appends++;
		p->st.n_append_bytes += len;
	}
	pthread_mutex_unlock(&p->mu);
	if (w.rc != TS_OK)
		return ts_err_set(err, w.rc, "log: partition %d: sync failed: %s", partition_ix,
				  strerror(w.sys_errno));
	if (offset)
		*offset = off;
	return TS_OK;
}

/* ---------------------------------------------------------------- checkpoint, stats */

static int local_checkpoint(ingest_log *l, int partition_ix, uint64_t offset, ts_err *err)
{
	local_log *lg = (local_log *)l;
	partition *p = &lg->parts[partition_ix];
	pthread_mutex_lock(&p->mu);
	if (offset >= p->durable_offset) {
		uint64_t next = p->durable_offset;
		pthread_mutex_unlock(&p->mu);
		return ts_err_set(err, TS_EINVAL,
				  "log: partition %d: checkpoint %llu is not below the next offset "
				  "%llu",
				  partition_ix, (unsigned long long)offset,
				  (unsigned long long)next);
	}
	if (offset + 1 <= p->checkpoint_next) {
		pthread_mutex_unlock(&p->mu);
		return TS_OK;
	}
	p->checkpoint_next = offset + 1;
	consume_marks(p, offset + 1);
	size_t k = 0;
	while (k + 1 < p->n_segs && p->segs[k + 1].base_offset <= offset + 1)
		k++;
	segment *gone = NULL;
	if (k) {
		gone = ts_malloc(k * sizeof(*gone));
		if (!gone) {
			pthread_mutex_unlock(&p->mu);
			return ts_err_set(err, TS_ENOMEM, "log: out of memory");
		}
		memcpy(gone, p->segs, k * sizeof(*gone));
		memmove(p->segs, p->segs + k, (p->n_segs - k) * sizeof(*p->segs));
		p->n_segs -= k;
		p->st.n_deleted_segments += k;
	}
	pthread_mutex_unlock(&p->mu);

	int rc = TS_OK;
	for (size_t i = 0; i < k; i++) {
		char path[PATH_BYTES];
		seg_path(p, gone[i].base_offset, path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT && rc == TS_OK)
			rc = ts_err_set(err, TS_EIO,
					"log: delete %s: %s (left on disk; deleted by a checkpoint "
					"after the next open)",
					path, strerror(errno));
		give_back_space(lg, gone[i].size_bytes);
	}
	if (k) {
		int e = ingest_seg_fsync_dir(p->dir);
		if (e && rc == TS_OK)
			rc = ts_err_set(err, TS_EIO, "log: sync directory %s: %s", p->dir,
					strerror(e));
	}
	ts_free(gone);
	return rc;
}

static int local_stats(ingest_log *l, int partition_ix, ingest_log_partition_stats *out,
		       ts_err *err)
{
	local_log *lg = (local_log *)l;
	partition *p = &lg->parts[partition_ix];
	pthread_mutex_lock(&p->mu);
	*out = p->st;
	out->first_offset = p->segs[0].base_offset;
	out->next_offset = p->durable_offset;
	out->checkpoint_next =
	    p->checkpoint_next > out->first_offset ? p->checkpoint_next : out->first_offset;
	out->bytes = 0;
	for (size_t i = 0; i < p->n_segs; i++)
		out->bytes += p->segs[i].size_bytes;
	out->pending_bytes = p->logical_end - p->ckpt_pos;
	out->n_segments = (uint32_t)p->n_segs;
	pthread_mutex_unlock(&p->mu);
	return TS_OK;
}

/* ---------------------------------------------------------------- readers */

/* Open segment `base` for r (closing the previous one) and check its header. */
static int reader_open_segment(local_reader *r, uint64_t base, const char **why, ts_err *err)
{
	char path[PATH_BYTES];
	seg_path(r->p, base, path, sizeof(path));
	if (r->fd >= 0)
		close(r->fd);
	r->seg_base = base;
	r->pos = SEG_HDR;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	ingest_seg_cursor_reset(&r->cur, r->fd, 0);
	if (r->fd < 0) {
		int e = errno;
		return ts_err_set(err, e == ENOENT ? TS_ENOTFOUND : TS_EIO, "log: open %s: %s",
				  path, strerror(e));
	}
	uint8_t h[SEG_HDR];
	int e = ingest_seg_read_full(r->fd, h, SEG_HDR, 0);
	if (e > 0)
		return ts_err_set(err, TS_EIO, "log: read %s: %s", path, strerror(e));
	*why = e < 0 ? "segment shorter than its header" : ingest_seg_check_header(h, base);
	return TS_OK;
}

/*
 * Return the next durable record or TS_ETIMEOUT at deadline_ns (< 0: never; 0: poll).
 */
static int reader_step(local_reader *r, int64_t deadline_ns, ingest_seg_frame *f, ts_err *err)
{
	partition *p = r->p;
	char path[PATH_BYTES];
	for (;;) {
		pthread_mutex_lock(&p->mu);
		long i = find_segment(p, r->seg_base);
		uint64_t limit, next_base;
		bool has_next;
		if (i >= 0) {
			limit = p->segs[i].size_bytes;
			has_next = (size_t)i + 1 < p->n_segs;
			next_base = has_next ? p->segs[i + 1].base_offset : 0;
		} else if (find_segment(p, r->next_offset) >= 0) {
			/* read to its end, then checkpointed and deleted: go on with the next */
			limit = r->pos;
			has_next = true;
			next_base = r->next_offset;
		} else {
			pthread_mutex_unlock(&p->mu);
			seg_path(p, r->seg_base, path, sizeof(path));
			return ts_err_set(err, TS_ENOTFOUND,
					  "log: %s was deleted while a reader was at offset %llu",
					  path, (unsigned long long)r->next_offset);
		}
		/* offsets that can appear in this segment's durable part */
		uint64_t hi = has_next ? next_base : p->durable_offset;
		if (r->pos >= limit && !has_next) {
			if (deadline_ns == 0) {
				pthread_mutex_unlock(&p->mu);
				return ts_err_set(err, TS_ETIMEOUT, "log: no new record");
			}
			if (deadline_ns < 0) {
				pthread_cond_wait(&p->cond_data, &p->mu);
			} else {
				struct timespec ts = {.tv_sec = deadline_ns / 1000000000,
						      .tv_nsec = deadline_ns % 1000000000};
				int w = pthread_cond_timedwait(&p->cond_data, &p->mu, &ts);
				if (w == ETIMEDOUT && p->segs[p->n_segs - 1].size_bytes <= r->pos &&
				    find_segment(p, r->seg_base) == (long)p->n_segs - 1) {
					pthread_mutex_unlock(&p->mu);
					return ts_err_set(err, TS_ETIMEOUT,
							  "log: no new record within the timeout");
				}
			}
			pthread_mutex_unlock(&p->mu);
			continue;
		}
		pthread_mutex_unlock(&p->mu);

		if (r->pos >= limit) {
			/* segment done: move on to the next one */
			uint64_t expect = r->next_offset;
			const char *why = NULL;
			int rc = reader_open_segment(r, next_base, &why, err);
			if (rc)
				return rc;
			r->next_offset = next_base;
			seg_path(p, next_base, path, sizeof(path));
			bool was_skipping = r->is_skipping;
			r->is_skipping = false;
			if (why) {
				/* unusable segment: skip it entirely */
				r->pos = UINT64_MAX;
				r->is_skipping = true;
				return ts_err_set(err, TS_ECORRUPT,
						  "log: %s: %s; skipping the segment", path, why);
			}
			if (next_base != expect && !was_skipping)
				return ts_err_set(err, TS_ECORRUPT,
						  "log: %s starts at offset %llu but the previous "
						  "segment ended at %llu; %s",
						  path, (unsigned long long)next_base,
						  (unsigned long long)expect,
						  next_base > expect ? "offsets in between are lost"
								     : "offsets repeat");
			continue;
		}

		if (r->fd < 0) {
			/* an earlier open of this segment failed: try again */
			const char *why = NULL;
			uint64_t pos = r->pos;
			int rc = reader_open_segment(r, r->seg_base, &why, err);
			if (rc)
				return rc;
			r->pos = pos;
		}
		ingest_seg_cursor *c = &r->cur;
		c->limit = limit; /* durable data never changes, so buffered bytes stay valid */
		const char *why = NULL;
		int rc = ingest_seg_frame_at(c, r->pos, r->next_offset, 0, f, &why);
		if (rc == TS_OK) {
			r->pos += FRAME_HDR + f->len;
			r->next_offset = f->offset + 1;
			return TS_OK;
		}
		if (rc != TS_ECORRUPT) {
			seg_path(p, r->seg_base, path, sizeof(path));
			return ts_err_set(err, rc, "log: read %s at byte %llu failed", path,
					  (unsigned long long)r->pos);
		}
		/* damaged frame: resynchronise, then report */
		uint64_t bad_pos = r->pos, expect = r->next_offset, at;
		ingest_seg_frame g;
		rc = ingest_seg_resync(c, bad_pos, expect, hi > expect ? hi : expect + 1, &at, &g);
		if (rc != TS_OK && rc != TS_ENOTFOUND)
			return ts_err_set(err, rc, "log: read failed while skipping damage");
		uint64_t resume;
		if (rc == TS_OK) {
			r->pos = at;
			resume = g.offset;
		} else {
			r->pos = limit;
			resume = hi > expect ? hi : expect;
		}
		r->next_offset = resume;
		seg_path(p, r->seg_base, path, sizeof(path));
		return ts_err_set(
		    err, TS_ECORRUPT,
		    "log: %s byte %llu: %s (expected offset %llu); resuming at offset "
		    "%llu, %llu record(s) skipped",
		    path, (unsigned long long)bad_pos, why, (unsigned long long)expect,
		    (unsigned long long)resume, (unsigned long long)(resume - expect));
	}
}

static int64_t deadline_from(int timeout_ms)
{
	if (timeout_ms <= 0)
		return timeout_ms < 0 ? -1 : 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (int64_t)timeout_ms * 1000000;
}

static int local_reader_next(ingest_log_reader *base, const void **rec, size_t *len,
			     uint64_t *offset, int timeout_ms, ts_err *err)
{
	local_reader *r = (local_reader *)base;
	ingest_seg_frame f;
	int rc = reader_step(r, deadline_from(timeout_ms), &f, err);
	if (rc)
		return rc;
	*rec = f.rec;
	*len = f.len;
	*offset = f.offset;
	return TS_OK;
}

static void local_reader_close(ingest_log_reader *base)
{
	local_reader *r = (local_reader *)base;
	if (r->fd >= 0)
		close(r->fd);
	ingest_seg_cursor_fini(&r->cur);
	ts_free(r);
}

static int local_reader_open(ingest_log *l, int partition_ix, uint64_t from,
			     ingest_log_reader **out, ts_err *err)
{
	local_log *lg = (local_log *)l;
	partition *p = &lg->parts[partition_ix];
	pthread_mutex_lock(&p->mu);
	uint64_t first = p->segs[0].base_offset, next = p->durable_offset;
	size_t i = p->n_segs - 1;
	while (i > 0 && p->segs[i].base_offset > from)
		i--;
	uint64_t base = p->segs[i].base_offset;
	pthread_mutex_unlock(&p->mu);
	if (from < first)
		return ts_err_set(err, TS_ENOTFOUND,
				  "log: partition %d: offset %llu was deleted (first offset %llu)",
				  partition_ix, (unsigned long long)from,
				  (unsigned long long)first);
	if (from > next)
		return ts_err_set(err, TS_EINVAL,
				  "log: partition %d: offset %llu is beyond the end (%llu)",
				  partition_ix, (unsigned long long)from, (unsigned long long)next);
	local_reader *r = ts_calloc(1, sizeof(*r));
	if (!r)
		return ts_err_set(err, TS_ENOMEM, "log: out of memory");
	r->base.ops = &local_ops;
	r->base.partition = partition_ix;
	r->p = p;
	r->fd = -1;
	ingest_seg_cursor_reset(&r->cur, -1, 0);
	const char *why = NULL;
	int rc = reader_open_segment(r, base, &why, err);
	if (rc)
		goto fail;
	r->next_offset = base;
	if (why) {
		/* unusable segment: position after it (logged: no caller sees this) */
		char path[PATH_BYTES];
		seg_path(p, base, path, sizeof(path));
		ts_log_warn("log: %s: %s; a reader opened at offset %llu skips the segment", path,
			    why, (unsigned long long)from);
		r->pos = UINT64_MAX;
		r->is_skipping = true;
	}
	/* skip forward to `from` */
	while (r->next_offset < from) {
		ingest_seg_frame f = {0};
		ts_err e2 = {0};
		rc = reader_step(r, 0, &f, &e2);
		if (rc == TS_ETIMEOUT)
			break;
		if (rc == TS_ECORRUPT) {
			ts_log_warn("%s (while positioning a reader at offset %llu)", e2.msg,
				    (unsigned long long)from);
			continue;
		}
		if (rc) {
			ts_err_set(err, rc, "%s", e2.msg);
			goto fail;
		}
		if (f.offset >= from) {
			/* skipping damage jumped past `from`: give this record back */
			r->pos -= FRAME_HDR + f.len;
			r->next_offset = f.offset;
			break;
		}
	}
	*out = &r->base;
	return TS_OK;
fail:
	local_reader_close(&r->base);
	return rc;
}

/* ---------------------------------------------------------------- open, recovery */

/*
 * Scan the last segment of p (segs[n_segs - 1], file already listed), truncate any torn
 * tail, and set the write state. Caller holds no lock (open is single-threaded).
 */
static int recover_last(partition *p, ts_err *err)
{
	segment *s = &p->segs[p->n_segs - 1];
	char path[PATH_BYTES];
	seg_path(p, s->base_offset, path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return ts_err_set(err, errno_code(errno), "log: open %s: %s", path,
				  strerror(errno));
	int rc = TS_OK;
	ingest_seg_cursor c = {.fd = -1};
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = ts_err_set(err, TS_EIO, "log: stat %s: %s", path, strerror(errno));
		goto fail;
	}
	uint64_t size = (uint64_t)st.st_size;
	uint8_t h[SEG_HDR];
	if (size < SEG_HDR) {
		/* crashed while creating the segment: write the header again */
		ingest_seg_put_header(h, s->base_offset);
		size_t written;
		int e = ftruncate(fd, 0) != 0
			    ? errno
			    : write_all(p->log, fd, h, SEG_HDR, NULL, 0, 0, &written);
		if (e) {
			rc = ts_err_set(err, errno_code(e), "log: rewrite header of %s: %s", path,
					strerror(e));
			goto fail;
		}
		ts_log_warn("log: %s: torn segment header (%llu bytes) rewritten", path,
			    (unsigned long long)size);
		p->st.n_repaired_bytes += size;
		p->st.n_repairs++;
		size = SEG_HDR;
	} else {
		int e = ingest_seg_read_full(fd, h, SEG_HDR, 0);
		const char *why =
		    e ? "unreadable header" : ingest_seg_check_header(h, s->base_offset);
		if (why) {
			rc = ts_err_set(err, TS_ECORRUPT,
					"log: %s: %s; move the file away to start this partition "
					"again from offset %llu",
					path, why, (unsigned long long)s->base_offset);
			goto fail;
		}
	}
	ingest_seg_cursor_reset(&c, fd, size);
	uint64_t pos = SEG_HDR, next = s->base_offset;
	for (;;) {
		if (pos == size)
			break;
		ingest_seg_frame f;
		const char *why = NULL;
		rc = ingest_seg_frame_at(&c, pos, next, 0, &f, &why);
		if (rc == TS_OK) {
			pos += FRAME_HDR + f.len;
			next++;
			continue;
		}
		if (rc != TS_ECORRUPT) {
			rc = ts_err_set(err, rc, "log: scanning %s at byte %llu failed", path,
					(unsigned long long)pos);
			goto fail;
		}
		uint64_t at;
		ingest_seg_frame g;
		int found = ingest_seg_resync(&c, pos, next, UINT64_MAX, &at, &g);
		if (found != TS_OK && found != TS_ENOTFOUND) {
			rc = ts_err_set(err, found, "log: scanning %s after byte %llu failed", path,
					(unsigned long long)pos);
			goto fail;
		}
		if (found == TS_OK) {
			char qpath[PATH_BYTES + 64];
			snprintf(qpath, sizeof(qpath), "%s.tail-%llu.corrupt", path,
				 (unsigned long long)pos);
			int e = ingest_seg_copy_range(fd, pos, size, qpath);
			if (e) {
				rc = ts_err_set(
				    err, TS_EIO,
				    "log: %s: damaged frame at byte %llu followed by intact "
				    "data; cannot quarantine it to %s: %s",
				    path, (unsigned long long)pos, qpath, strerror(e));
				goto fail;
			}
			ts_log_error(
			    "log: %s: damaged frame at byte %llu (%s) followed by intact "
			    "frames (offset %llu at byte %llu); %llu bytes moved to %s and "
			    "truncated",
			    path, (unsigned long long)pos, why, (unsigned long long)g.offset,
			    (unsigned long long)at, (unsigned long long)(size - pos), qpath);
		} else {
			ts_log_warn("log: %s: torn tail at byte %llu (%s): %llu bytes dropped, "
				    "partition continues at offset %llu",
				    path, (unsigned long long)pos, why,
				    (unsigned long long)(size - pos), (unsigned long long)next);
		}
		if (ftruncate(fd, (off_t)pos) != 0) {
			rc = ts_err_set(err, TS_EIO, "log: truncate %s: %s", path, strerror(errno));
			goto fail;
		}
		p->st.n_repaired_bytes += size - pos;
		p->st.n_repairs++;
		size = pos;
		break;
	}
	if (!p->log->no_sync && fdatasync(fd) != 0) {
		int e = errno;
		rc = ts_err_set(err, errno_code(e), "log: sync %s: %s", path, strerror(e));
		goto fail;
	}
	s->size_bytes = size;
	p->fd = fd;
	p->write_pos = size;
	p->next_offset = p->durable_offset = next;
	ingest_seg_cursor_fini(&c);
	return TS_OK;
fail:
	ingest_seg_cursor_fini(&c);
	close(fd);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int open_partition(partition *p, bool *created_dir, ts_err *err)
{
	int rc;
	if (mkdir(p->dir, 0755) == 0)
		*created_dir = true;
	else if (errno != EEXIST)
		return ts_err_set(err, errno_code(errno), "log: mkdir %s: %s", p->dir,
				  strerror(errno));
	DIR *d = opendir(p->dir);
	if (!d)
		return ts_err_set(err, TS_EIO, "log: opendir %s: %s", p->dir, strerror(errno));
	uint64_t *bases = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		uint64_t base;
		if (!ingest_seg_parse_name(e->d_name, &base))
			continue;
		if (n == cap) {
			size_t c2 = cap ? cap * 2 : 16;
			uint64_t *b2 = ts_realloc(bases, c2 * sizeof(*b2));
			if (!b2) {
				closedir(d);
				ts_free(bases);
				return ts_err_set(err, TS_ENOMEM, "log: out of memory");
			}
			bases = b2;
			cap = c2;
		}
		bases[n++] = base;
	}
	closedir(d);
	if (n > 1)
		qsort(bases, n, sizeof(*bases), cmp_u64);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_BYTES];
		struct stat st;
		seg_path(p, bases[i], path, sizeof(path));
		if (stat(path, &st) != 0) {
			rc = ts_err_set(err, TS_EIO, "log: stat %s: %s", path, strerror(errno));
			goto fail;
		}
		if ((rc = push_segment(p, bases[i], (uint64_t)st.st_size))) {
			rc = ts_err_set(err, rc, "log: out of memory");
			goto fail;
		}
		/* lets a checkpoint at startup release whole segments' worth of pending */
		add_mark(p, bases[i], p->logical_end);
		p->logical_end += (uint64_t)st.st_size;
	}
	ts_free(bases);
	bases = NULL;
	if (p->n_segs == 0) {
		int fd = -1;
		if ((rc = create_segment(p, 0, &fd, err)))
			goto fail;
		close(fd);
		if ((rc = push_segment(p, 0, SEG_HDR))) {
			rc = ts_err_set(err, rc, "log: out of memory");
			goto fail;
		}
		p->logical_end = SEG_HDR;
	}
	uint64_t before = p->segs[p->n_segs - 1].size_bytes;
	if ((rc = recover_last(p, err)))
		goto fail;
	p->logical_end -= before - p->segs[p->n_segs - 1].size_bytes;
	p->checkpoint_next = p->segs[0].base_offset;
	return TS_OK;
fail:
	ts_free(bases);
	return rc;
}

/* Read or create <dir>/log.meta; a different partition count is TS_EINVAL. */
static int check_meta(local_log *lg, int n_partitions, ts_err *err)
{
	char path[PATH_BYTES], tmp[PATH_BYTES + 8], text[128];
	snprintf(path, sizeof(path), "%s/" META_NAME, lg->dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, text, sizeof(text) - 1);
		close(fd);
		text[n > 0 ? n : 0] = '\0';
		int version = 0, parts = 0, used = 0;
		if (sscanf(text, "strata-log %d\npartitions %d\n%n", &version, &parts, &used) !=
			2 ||
		    used == 0)
			return ts_err_set(err, TS_ECORRUPT, "log: %s: unreadable", path);
		if (version != 1)
			return ts_err_set(err, TS_ECORRUPT, "log: %s: unsupported version %d", path,
					  version);
		if (parts != n_partitions)
			return ts_err_set(err, TS_EINVAL,
					  "log: %s has %d partitions but %d were configured; "
					  "changing it would move series between partitions",
					  path, parts, n_partitions);
		return TS_OK;
	}
	if (errno != ENOENT)
		return ts_err_set(err, TS_EIO, "log: open %s: %s", path, strerror(errno));
	int len = snprintf(text, sizeof(text), "strata-log 1\npartitions %d\n", n_partitions);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return ts_err_set(err, errno_code(errno), "log: create %s: %s", tmp,
				  strerror(errno));
	int e = write(fd, text, (size_t)len) == len ? 0 : (errno ? errno : EIO);
	if (!e && fsync(fd) != 0)
		e = errno;
	close(fd);
	if (!e && rename(tmp, path) != 0)
		e = errno;
	if (!e)
		e = ingest_seg_fsync_dir(lg->dir);
	if (e) {
		unlink(tmp);
		return ts_err_set(err, errno_code(e), "log: write %s: %s", path, strerror(e));
	}
	return TS_OK;
}

static void free_partition(partition *p)
{
	if (p->fd >= 0)
		close(p->fd);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond_commit);
	pthread_cond_destroy(&p->cond_data);
	pthread_cond_destroy(&p->cond_gather);
	ts_free(p->segs);
	ts_free(p->dir);
}

static void local_close(ingest_log *l)
{
	local_log *lg = (local_log *)l;
	if (lg->parts) {
		for (int i = 0; i < lg->base.n_partitions; i++)
			free_partition(&lg->parts[i]);
		ts_free(lg->parts);
	}
	if (lg->lock_fd >= 0)
		close(lg->lock_fd); /* releases the flock */
	ts_free(lg->dir);
	ts_free(lg);
}

int ingest_log_local_open(const ingest_log_local_options *o, ingest_log **out, ts_err *err)
{
	int rc;
	if (!o || !o->dir || !o->dir[0])
		return ts_err_set(err, TS_EINVAL, "log: no directory given");
	if (o->n_partitions < 1 || o->n_partitions > INGEST_LOG_MAX_PARTITIONS)
		return ts_err_set(err, TS_EINVAL, "log: %d partitions outside [1, %d]",
				  o->n_partitions, INGEST_LOG_MAX_PARTITIONS);
	if (o->segment_bytes < 4096 || o->segment_bytes > ((uint64_t)1 << 40))
		return ts_err_set(err, TS_EINVAL, "log: segment size %llu outside [4096, 1 TiB]",
				  (unsigned long long)o->segment_bytes);
	if (strlen(o->dir) > PATH_BYTES - 64)
		return ts_err_set(err, TS_EINVAL, "log: directory path too long");
	local_log *lg = ts_calloc(1, sizeof(*lg));
	if (!lg)
		return ts_err_set(err, TS_ENOMEM, "log: out of memory");
	lg->base.ops = &local_ops;
	lg->base.n_partitions = 0; /* counts initialized partitions until the end */
	lg->lock_fd = -1;
	lg->segment_bytes = o->segment_bytes;
	lg->max_pending_bytes = o->max_pending_bytes;
	lg->no_sync = o->no_sync;
	lg->gather_ns = (int64_t)o->group_commit_wait_us * 1000;
	atomic_init(&lg->fault_space, -1);
	atomic_init(&lg->fault_syncs, 0);
	atomic_init(&lg->fault_sync_delay_us, 0);
	lg->dir = ts_strdup(o->dir);
	lg->parts = ts_calloc((size_t)o->n_partitions, sizeof(*lg->parts));
	if (!lg->dir || !lg->parts) {
		rc = ts_err_set(err, TS_ENOMEM, "log: out of memory");
		goto fail;
	}
	if (mkdir(lg->dir, 0755) != 0 && errno != EEXIST) {
		rc = ts_err_set(err, errno_code(errno), "log: mkdir %s: %s", lg->dir,
				strerror(errno));
		goto fail;
	}
	char path[PATH_BYTES];
	snprintf(path, sizeof(path), "%s/LOCK", lg->dir);
	lg->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lg->lock_fd < 0) {
		rc = ts_err_set(err, errno_code(errno), "log: open %s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(lg->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = ts_err_set(err, errno == EWOULDBLOCK ? TS_EBUSY : TS_EIO,
				"log: %s is locked by another process (%s)", lg->dir,
				strerror(errno));
		goto fail;
	}
	if ((rc = check_meta(lg, o->n_partitions, err)))
		goto fail;
	bool created_dir = false;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (int i = 0; i < o->n_partitions; i++) {
		partition *p = &lg->parts[i];
		p->log = lg;
		p->index = i;
		p->fd = -1;
		/* marks every 1/32 of the limit: the pending estimate is off by at most that */
		p->mark_interval = lg->max_pending_bytes ? lg->max_pending_bytes / 32 : 1u << 20;
		if (p->mark_interval < 4096)
			p->mark_interval = 4096;
		pthread_mutex_init(&p->mu, NULL);
		pthread_cond_init(&p->cond_commit, NULL);
		pthread_cond_init(&p->cond_data, &ca);
		pthread_cond_init(&p->cond_gather, &ca);
		lg->base.n_partitions = i + 1;
		size_t dl = strlen(lg->dir) + 16;
		p->dir = ts_malloc(dl);
		if (!p->dir) {
			rc = ts_err_set(err, TS_ENOMEM, "log: out of memory");
			break;
		}
		snprintf(p->dir, dl, "%s/p%04d", lg->dir, i);
		if ((rc = open_partition(p, &created_dir, err)))
			break;
	}
	pthread_condattr_destroy(&ca);
	if (rc)
		goto fail;
	if (created_dir) {
		int e = ingest_seg_fsync_dir(lg->dir);
		if (e) {
			rc = ts_err_set(err, TS_EIO, "log: sync directory %s: %s", lg->dir,
					strerror(e));
			goto fail;
		}
	}
	*out = &lg->base;
	return TS_OK;
fail:
	local_close(&lg->base);
	return rc;
}

int ingest_log_local_set_faults(ingest_log *l, const ingest_log_local_faults *f, ts_err *err)
{
	if (l->ops != &local_ops)
		return ts_err_set(err, TS_EINVAL, "log: fault injection needs the local backend");
	local_log *lg = (local_log *)l;
	atomic_store(&lg->fault_space, f->space_bytes < 0 ? -1 : f->space_bytes);
	atomic_store(&lg->fault_syncs, f->fail_syncs > 0 ? f->fail_syncs : 0);
	atomic_store(&lg->fault_sync_delay_us, f->sync_delay_us > 0 ? f->sync_delay_us : 0);
	return TS_OK;
}

static const ingest_log_ops local_ops = {
    .name = "local",
    .close = local_close,
    .append = local_append,
    .reader_open = local_reader_open,
    .reader_next = local_reader_next,
    .reader_close = local_reader_close,
    .checkpoint = local_checkpoint,
    .stats = local_stats,
};
