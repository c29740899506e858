/* SPDX-License-Identifier: MIT */
/*
 * Trace decoding. Blocks are read one at a time with pread into reused
 * buffers; a block that fails its header check or its zstd checksum is
 * counted and skipped by scanning for the next header that checks out. A
 * file that ends inside a block is a trace cut short: everything before it
 * is still reported.
 */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "heldby/trace.h"
#include "heldby/varint.h"
#include "spool.h"

#define SCAN_WINDOW (64u << 10)
/* The writer puts at most a 4 KiB path in the header; later versions may
 * append fields, but nothing near this. Bounds what a damaged header can
 * make us allocate. */
#define HEADER_MAX (1u << 20)

struct sparse_node {
	struct rd_node n;
	UT_hash_handle hh;
};

struct reader {
	int fd;
	char *path;
	char *exe;
	char *cmdline; /* argv, NUL after each; cmdline_len bytes */
	size_t cmdline_len;
	uint64_t pid, start_real, start_mono;
	uint64_t pos; /* file offset of the next block header */
	int eof;
	uint64_t next_seq; /* sequence number the next block should have */
	uint64_t damage_pending; /* damaged blocks counted since the last good
				    one */

	ZSTD_DCtx *dctx;
	uint8_t *zbuf;
	size_t zcap;
	uint8_t *raw; /* decompressed block; also the resync scan window */
	size_t rawcap;
	const uint8_t *p, *end;
	uint64_t prev_time, prev_ptr;
	uint64_t next_alloc; /* version 2: number of the next ALLOC_SEQ */
	uint64_t prev_node;  /* version 2: id of the block's last NODE */
	uint64_t
		prev_free; /* version 4: allocation of the last FREE_SEQ/NEAR */
	/* HELDBY_TRACE_F_TIME_TABLE: the block's time table [tp, tend), and
	 * the offset of the record its next entry comes before (UINT64_MAX:
	 * none) with the units it moves the time by. */
	int time_table;
	const uint8_t *tp, *tend;
	uint64_t t_at, t_units;

	struct rd_module *modules; /* by id */
	struct rd_module **live;   /* modules between MODULE and UNLOAD */
	size_t nlive, livecap;
	/* Stack nodes by id. The writer numbers them 1, 2, 3 …, so most live
	 * in an array indexed by id (a hash lookup per NODE record was half
	 * of cc1plus's report); an id far beyond the ones seen so far (a
	 * damaged file) goes to the hash instead of growing the array. */
	struct rd_node *dense;
	size_t dense_cap;
	struct sparse_node *sparse;
	size_t nnodes;

	struct reader_stats st;
};

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t
le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* pread that retries short reads; returns bytes read (short only at EOF)
 * or -1. */
static ssize_t
read_at(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, (char *)buf + got, n - got,
				  (off_t)(off + got));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* Why fd cannot be a trace before reading it: not a regular file (a FIFO
 * would block, a device never ends). Returns 0 or -errno with err set. */
static int
check_file(int fd, char *err, size_t errlen)
{
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		int e = errno;
		snprintf(err, errlen, "%s", strerror(e));
		return -e;
	}
	if (S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "is a directory, not a heldby trace");
		return -EISDIR;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen,
			 "not a regular file, so not a heldby trace");
		return -EINVAL;
	}
	if (sb.st_size == 0) {
		snprintf(err, errlen, "empty file, not a heldby trace");
		return -EINVAL;
	}
	return 0;
}

/* Checks the fixed header h (n bytes read); 0 or -errno with err set. */
static int
check_header(const uint8_t *h, ssize_t n, char *err, size_t errlen)
{
	if ((size_t)n < HELDBY_TRACE_MAGIC_LEN ||
	    memcmp(h, HELDBY_TRACE_MAGIC, HELDBY_TRACE_MAGIC_LEN) != 0) {
		snprintf(err, errlen, "not a heldby trace");
		return -EINVAL;
	}
	if ((size_t)n < HELDBY_TRACE_HEADER_FIXED) {
		snprintf(err, errlen, "trace header cut short (%zd bytes)", n);
		return -EINVAL;
	}
	uint32_t version = le32(h + 8);
	if (version > HELDBY_TRACE_VERSION) {
		snprintf(err, errlen,
			 "format version %u is newer than this heldby (%u)",
			 version, HELDBY_TRACE_VERSION);
		return -EPROTO;
	}
	if (version == 0) {
		snprintf(err, errlen, "format version 0 is not valid");
		return -EPROTO;
	}
	uint32_t hsize = le32(h + 12);
	uint32_t exelen = le32(h + 40);
	if (hsize < HELDBY_TRACE_HEADER_FIXED || hsize > HEADER_MAX ||
	    exelen > hsize - HELDBY_TRACE_HEADER_FIXED) {
		snprintf(err, errlen, "damaged trace header");
		return -EINVAL;
	}
	return 0;
}

/* The command line after the exe path (HELDBY_TRACE_F_CMDLINE); one that
 * does not fit the header is left out. Returns 0, or -1 out of memory. */
static int
read_cmdline(struct reader *r, uint32_t hsize, uint32_t exelen)
{
	uint64_t at = HELDBY_TRACE_HEADER_FIXED + (uint64_t)exelen;
	uint8_t b[4];
	if (at + 4 > hsize || read_at(r->fd, b, 4, at) != 4)
		return 0;
	uint32_t n = le32(b);
	if (n == 0 || n > HELDBY_CMDLINE_MAX || at + 4 + n > hsize)
		return 0;
	r->cmdline = calloc(1, (size_t)n + 1);
	if (!r->cmdline)
		return -1;
	if (read_at(r->fd, r->cmdline, n, at + 4) != (ssize_t)n) {
		free(r->cmdline);
		r->cmdline = NULL;
		return 0;
	}
	r->cmdline_len = n;
	return 0;
}

/* The trace's descriptor: path opened, or standard input spooled ("-"),
 * and checked to be a file that can be one. Returns it, or -errno with err
 * set. */
static int
open_trace(const char *path, char *err, size_t errlen)
{
	int fd;
	if (strcmp(path, "-") == 0) {
		fd = spool_stdin(err, errlen);
		if (fd < 0)
			return fd;
	} else {
		/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			int e = errno;
			snprintf(err, errlen, "%s", strerror(e));
			return -e;
		}
	}
	int rc = check_file(fd, err, errlen);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/* A reader of fd from its checked fixed header h: NULL when out of
 * memory (fd then still open). */
static struct reader *
reader_new(int fd, const uint8_t *h, const char *path)
{
	uint32_t hsize = le32(h + 12);
	uint32_t exelen = le32(h + 40);
	struct reader *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->fd = fd;
	r->pid = le64(h + 16);
	r->start_real = le64(h + 24);
	r->start_mono = le64(h + 32);
	r->time_table = !!(le32(h + 44) & HELDBY_TRACE_F_TIME_TABLE);
	r->t_at = UINT64_MAX;
	r->pos = hsize;
	r->path = strdup(path);
	r->exe = calloc(1, (size_t)exelen + 1);
	r->dctx = ZSTD_createDCtx();
	r->raw = malloc(SCAN_WINDOW);
	r->rawcap = SCAN_WINDOW;
	if (!r->path || !r->exe || !r->dctx || !r->raw)
		goto oom;
	if (read_at(fd, r->exe, exelen, HELDBY_TRACE_HEADER_FIXED) !=
	    (ssize_t)exelen)
		/* header cut short: blocks will be missing too */
		r->exe[0] = 0;
	if ((le32(h + 44) & HELDBY_TRACE_F_CMDLINE) &&
	    read_cmdline(r, hsize, exelen) != 0)
		goto oom;
	r->p = r->end = r->raw;
	return r;
oom:
	r->fd = -1;
	reader_close(r);
	return NULL;
}

/* A reader of fd, which it takes (closed on failure), named path. */
static int
reader_of_fd(int fd, const char *path, struct reader **out, char *err,
	     size_t errlen)
{
	uint8_t h[HELDBY_TRACE_HEADER_FIXED];
	ssize_t n = read_at(fd, h, sizeof h, 0);
	if (n < 0) {
		int e = errno;
		snprintf(err, errlen, "%s", strerror(e));
		close(fd);
		return -e;
	}
	int rc = check_header(h, n, err, errlen);
	if (rc) {
		close(fd);
		return rc;
	}
	struct reader *r = reader_new(fd, h, path);
	if (!r) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

int
reader_open(const char *path, struct reader **out, char *err, size_t errlen)
{
	int fd = open_trace(path, err, errlen);
	if (fd < 0)
		return fd;
	return reader_of_fd(fd, path, out, err, errlen);
}

int
reader_reopen(const struct reader *r, struct reader **out, char *err,
	      size_t errlen)
{
	int fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s", strerror(e));
		return -e;
	}
	return reader_of_fd(fd, r->path, out, err, errlen);
}

static void
module_free(struct rd_module *m)
{
	free(m->starts);
	free(m->lens);
	free(m->path);
	free(m->build_id);
	free(m);
}

void
reader_close(struct reader *r)
{
	if (!r)
		return;
	struct rd_module *m, *mt;
	HASH_ITER(hh, r->modules, m, mt)
	{
		HASH_DEL(r->modules, m);
		module_free(m);
	}
	struct sparse_node *n, *nt;
	HASH_ITER(hh, r->sparse, n, nt)
	{
		HASH_DEL(r->sparse, n);
		free(n);
	}
	free(r->dense);
	free(r->live);
	if (r->fd >= 0)
		close(r->fd);
	ZSTD_freeDCtx(r->dctx);
	free(r->zbuf);
	free(r->raw);
	free(r->exe);
	free(r->cmdline);
	free(r->path);
	free(r);
}

struct blk {
	uint32_t seq, stored, raw;
};

static int
header_ok(const uint8_t *h, struct blk *b)
{
	if (le32(h) != HELDBY_BLOCK_MAGIC)
		return 0;
	b->seq = le32(h + 4);
	b->stored = le32(h + 8);
	b->raw = le32(h + 12);
	if (le32(h + 16) != heldby_block_check(b->seq, b->stored, b->raw))
		return 0;
	return b->stored > 0 && b->raw <= HELDBY_BLOCK_RAW_MAX &&
	       b->stored <= ZSTD_compressBound(HELDBY_BLOCK_RAW_MAX);
}

/* Finds the next offset >= from holding a block header that checks out.
 * Returns 1 and sets *at, or 0 when the file has none. */
static int
resync(struct reader *r, uint64_t from, uint64_t *at)
{
	static const uint8_t magic[4] = { 0x48, 0x42, 0x4c, 0x4b }; /* "HBLK" */
	uint8_t *buf = r->raw; /* free between blocks; at least a window */
	uint64_t off = from;
	for (;;) {
		ssize_t n = read_at(r->fd, buf, SCAN_WINDOW, off);
		if (n < (ssize_t)HELDBY_BLOCK_HEADER_SIZE)
			return 0;
		size_t i = 0;
		for (;;) {
			uint8_t *hit = memmem(buf + i, (size_t)n - i, magic,
					      sizeof magic);
			if (!hit)
				break;
			i = (size_t)(hit - buf);
			if (i + HELDBY_BLOCK_HEADER_SIZE > (size_t)n)
				break; /* re-read from here with the next window
					*/
			struct blk b;
			if (header_ok(hit, &b)) {
				*at = off + i;
				return 1;
			}
			i++;
		}
		if ((size_t)n < SCAN_WINDOW)
			return 0;
		off += (size_t)n - (HELDBY_BLOCK_HEADER_SIZE - 1);
	}
}

/* The stream is over: a trace is complete when it ended (END was read)
 * and no block was lost on the way. */
static int
end_of_stream(struct reader *r)
{
	r->eof = 1;
	r->st.ended = r->st.complete;
	if (r->st.blocks_damaged)
		r->st.complete = 0;
	return 0;
}

/* A block was damaged: count it and find the next header that checks out
 * after pos. Returns 1 to go on reading there, 0 at the end. */
static int
skip_damaged(struct reader *r)
{
	uint64_t at;
	r->st.blocks_damaged++;
	r->damage_pending++;
	if (!resync(r, r->pos + 1, &at))
		return 0;
	r->pos = at;
	return 1;
}

/* Sequence numbers go up by one: a gap is blocks lost without a trace
 * (cut out of the file), beyond those already counted as damaged. */
static void
note_seq(struct reader *r, uint32_t seq)
{
	if (seq > r->next_seq && seq - r->next_seq > r->damage_pending)
		r->st.blocks_damaged += seq - r->next_seq - r->damage_pending;
	r->next_seq = (uint64_t)seq + 1;
	r->damage_pending = 0;
}

/* Makes buf (*cap bytes) hold at least n; 0 or -1 when out of memory. */
static int
grow(uint8_t **buf, size_t *cap, size_t n)
{
	if (*cap >= n)
		return 0;
	uint8_t *b = realloc(*buf, n);
	if (!b)
		return -1;
	*buf = b;
	*cap = n;
	return 0;
}

/* Reads the next time table entry; a malformed one drops the rest of the
 * block, counted as damaged. */
static void
next_time_entry(struct reader *r)
{
	uint64_t at, units;
	if (r->tp >= r->tend) {
		r->t_at = UINT64_MAX;
		return;
	}
	if (heldby_get_u(&r->tp, r->tend, &at) ||
	    heldby_get_u(&r->tp, r->tend, &units) ||
	    at > (uint64_t)(r->end - r->raw) - r->t_at) {
		r->st.blocks_damaged++;
		r->p = r->end;
		r->t_at = UINT64_MAX;
		return;
	}
	r->t_at += at;
	r->t_units = units;
}

/* Splits the block's raw bytes into records and time table; false when
 * the table's length does not fit the block. */
static bool
split_time_table(struct reader *r, size_t got)
{
	r->t_at = UINT64_MAX;
	if (!r->time_table)
		return true;
	if (got < 4 || le32(r->raw + got - 4) > got - 4)
		return false;
	r->tend = r->raw + got - 4;
	r->tp = r->tend - le32(r->raw + got - 4);
	r->end = r->tp;
	r->t_at = 0;
	next_time_entry(r);
	return true;
}

/* Time table entries due before the record at r->p. */
static void
apply_time_entries(struct reader *r)
{
	while ((uint64_t)(r->p - r->raw) >= r->t_at) {
		uint64_t d = r->t_units * HELDBY_TIME_TABLE_UNIT_NS;
		if (r->t_units > UINT64_MAX / HELDBY_TIME_TABLE_UNIT_NS ||
		    d > UINT64_MAX - r->prev_time)
			d = 0; /* nonsense: keep the time */
		r->prev_time += d;
		next_time_entry(r);
	}
}

/* The block b, got bytes decompressed into raw, is the one to read: its
 * records start from a clean state, as the writer's encoder did. */
static void
block_start(struct reader *r, const struct blk *b, size_t got)
{
	note_seq(r, b->seq);
	r->pos += HELDBY_BLOCK_HEADER_SIZE + b->stored;
	r->st.bytes_read = r->pos;
	r->st.blocks_read++;
	r->st.last_seq = b->seq;
	r->p = r->raw;
	r->end = r->raw + got;
	r->prev_time = 0;
	r->prev_ptr = 0;
	r->next_alloc = 0; /* unknown until the block's SEQ record */
	r->prev_node = 0;
	r->prev_free = 0;
	if (!split_time_table(r, got)) {
		r->st.blocks_damaged++;
		r->p = r->end;
	}
}

/* Loads the next good block into raw. Returns 1, or 0 at the end. */
static int
load_block(struct reader *r)
{
	for (;;) {
		uint8_t h[HELDBY_BLOCK_HEADER_SIZE];
		if (r->eof)
			return end_of_stream(r);
		ssize_t n = read_at(r->fd, h, sizeof h, r->pos);
		if (n <= 0)
			return end_of_stream(r);
		if ((size_t)n < sizeof h) {
			r->st.truncated = 1;
			return end_of_stream(r);
		}
		struct blk b;
		if (!header_ok(h, &b)) {
			if (!skip_damaged(r))
				return end_of_stream(r);
			continue;
		}
		/* Both sizes are bounded by header_ok. */
		if (grow(&r->zbuf, &r->zcap, b.stored) ||
		    grow(&r->raw, &r->rawcap, b.raw))
			return end_of_stream(r);
		n = read_at(r->fd, r->zbuf, b.stored, r->pos + sizeof h);
		if (n < (ssize_t)b.stored) {
			/* The last block was being written when the program
			 * died. */
			r->st.truncated = 1;
			return end_of_stream(r);
		}
		/* Bounded by the declared raw size (itself <= RAW_MAX): a frame
		 * that claims more fails instead of growing anything. */
		size_t got = ZSTD_decompressDCtx(r->dctx, r->raw, b.raw,
						 r->zbuf, b.stored);
		if (ZSTD_isError(got) || got != b.raw) {
			if (!skip_damaged(r))
				return end_of_stream(r);
			continue;
		}
		block_start(r, &b, got);
		return 1;
	}
}

/* What decoding one record gave. REC_BAD: it does not parse, and the rest
 * of its block cannot be trusted; REC_SKIP: it changed only the reader's
 * state (or named what cannot be: an anomaly, counted); REC_EVENT: *ev is
 * filled. */
enum rec { REC_BAD = -1, REC_SKIP = 0, REC_EVENT = 1 };

static int
get_str(const uint8_t **p, const uint8_t *end, const uint8_t **s, uint64_t *len)
{
	if (heldby_get_u(p, end, len) != 0 || *len > (uint64_t)(end - *p))
		return -1;
	*s = *p;
	*p += *len;
	return 0;
}

static void
resolve_node(struct reader *r, struct rd_node *n)
{
	/* A return address may sit just past its module's last byte. */
	uint64_t a = n->ip ? n->ip - 1 : 0;
	n->module = 0;
	n->offset = n->ip;
	for (size_t i = r->nlive; i-- > 0;) {
		struct rd_module *m = r->live[i];
		for (size_t k = 0; k < m->nranges; k++) {
			if (a >= m->starts[k] &&
			    a - m->starts[k] < m->lens[k]) {
				n->module = m->id;
				n->offset = n->ip - m->bias;
				return;
			}
		}
	}
}

static void
unlive(struct reader *r, struct rd_module *m)
{
	for (size_t i = 0; i < r->nlive; i++) {
		if (r->live[i] == m) {
			memmove(&r->live[i], &r->live[i + 1],
				(r->nlive - i - 1) * sizeof *r->live);
			r->nlive--;
			break;
		}
	}
	m->live = 0;
}

/* A MODULE record's ranges, path and build-id into m (m->nranges set).
 * Returns 0, or -1 when they do not parse or out of memory. */
static int
module_read(struct reader *r, struct rd_module *m)
{
	const uint8_t **p = &r->p, *end = r->end;
	size_t nr = m->nranges;
	m->starts = calloc(nr ? nr : 1, sizeof *m->starts);
	m->lens = calloc(nr ? nr : 1, sizeof *m->lens);
	if (!m->starts || !m->lens)
		return -1;
	for (size_t i = 0; i < nr; i++)
		if (heldby_get_u(p, end, &m->starts[i]) ||
		    heldby_get_u(p, end, &m->lens[i]))
			return -1;
	const uint8_t *s, *bid;
	uint64_t slen, blen;
	if (get_str(p, end, &s, &slen) || get_str(p, end, &bid, &blen))
		return -1;
	m->path = strndup((const char *)s, slen);
	m->build_id = malloc(blen ? blen : 1);
	if (!m->path || !m->build_id)
		return -1;
	memcpy(m->build_id, bid, blen);
	m->build_id_len = blen;
	return 0;
}

/* Makes m the live module of its id. Returns 0, or -1 out of memory (m
 * not added). */
static int
module_add(struct reader *r, struct rd_module *m)
{
	struct rd_module *old;
	HASH_FIND(hh, r->modules, &m->id, sizeof m->id, old);
	if (old) { /* a redefinition replaces: should not happen */
		r->st.anomalies++;
		unlive(r, old);
		HASH_DEL(r->modules, old);
		module_free(old);
	}
	if (r->nlive == r->livecap) {
		size_t cap = r->livecap ? r->livecap * 2 : 64;
		struct rd_module **l = realloc(r->live, cap * sizeof *l);
		if (!l)
			return -1;
		r->live = l;
		r->livecap = cap;
	}
	r->live[r->nlive++] = m;
	m->live = 1;
	HASH_ADD(hh, r->modules, id, sizeof m->id, m);
	return 0;
}

static enum rec
rec_module(struct reader *r)
{
	uint64_t id, bias, nr;
	if (heldby_get_u(&r->p, r->end, &id) ||
	    heldby_get_u(&r->p, r->end, &bias) ||
	    heldby_get_u(&r->p, r->end, &nr))
		return REC_BAD;
	/* each range takes at least 2 bytes */
	if (nr > (uint64_t)(r->end - r->p) / 2)
		return REC_BAD;
	struct rd_module *m = calloc(1, sizeof *m);
	if (!m)
		return REC_BAD;
	m->id = id;
	m->bias = bias;
	m->nranges = (size_t)nr;
	if (module_read(r, m) || module_add(r, m)) {
		module_free(m);
		return REC_BAD;
	}
	return REC_SKIP;
}

#define DENSE_MIN 4096u

static struct rd_node *
node_find(const struct reader *r, uint64_t id)
{
	if (id && id < r->dense_cap && r->dense[id].id == id)
		return &r->dense[id];
	if (!r->sparse) /* an id hashed before the array reached it is there */
		return NULL;
	struct sparse_node *sn;
	HASH_FIND(hh, r->sparse, &id, sizeof id, sn);
	return sn ? &sn->n : NULL;
}

/* A new, zeroed node for id (not yet present), or NULL when out of
 * memory. The array stays within about four slots per node held: an id
 * beyond that (a damaged file) is hashed instead. */
static struct rd_node *
node_new(struct reader *r, uint64_t id)
{
	if (id >= r->dense_cap && id / 2 < r->nnodes + DENSE_MIN) {
		size_t cap = r->dense_cap ? r->dense_cap * 2 : DENSE_MIN;
		while (cap <= id)
			cap *= 2;
		struct rd_node *d = realloc(r->dense, cap * sizeof *d);
		if (d) {
			memset(d + r->dense_cap, 0,
			       (cap - r->dense_cap) * sizeof *d);
			r->dense = d;
			r->dense_cap = cap;
		}
	}
	if (id < r->dense_cap) {
		r->nnodes++;
		return &r->dense[id];
	}
	struct sparse_node *sn = calloc(1, sizeof *sn);
	if (!sn)
		return NULL;
	sn->n.id = id;
	HASH_ADD(hh, r->sparse, n.id, sizeof sn->n.id, sn);
	r->nnodes++;
	return &sn->n;
}

static int
add_node(struct reader *r, uint64_t id, uint64_t parent, uint64_t ip)
{
	/* A parent is defined before its children, and an id once: keeping
	 * to that makes a cycle impossible, whatever a damaged file says. 0 is
	 * "no stack", never a node. A node whose parent is unknown (lost with
	 * a damaged block) keeps its own frame as the outermost. */
	struct rd_node *n = node_find(r, id),
		       *up = parent ? node_find(r, parent) : NULL;
	if (n || id == 0 || (parent && !up)) {
		r->st.anomalies++;
		if (n || id == 0)
			return 0;
		parent = 0;
	}
	n = node_new(r, id);
	if (!n)
		return -1;
	n->id = id;
	n->parent = parent;
	n->ip = ip;
	resolve_node(r, n);
	return 0;
}

static enum rec
rec_stack(struct reader *r)
{
	uint64_t id, parent, ip;
	if (heldby_get_u(&r->p, r->end, &id) ||
	    heldby_get_u(&r->p, r->end, &parent) ||
	    heldby_get_u(&r->p, r->end, &ip))
		return REC_BAD;
	return add_node(r, id, parent, ip) ? REC_BAD : REC_SKIP;
}

/* NODE (ip as a delta to the parent's) or NODE_IP (ip whole): a stack
 * node (trace.h). A NODE whose parent this reader never saw (its block
 * was damaged) leaves the ip unknown rather than wrong. */
static enum rec
rec_node(struct reader *r, bool whole_ip)
{
	/* ip = 0: both branches set it, which GCC cannot tell once inlined */
	uint64_t did, up, ip = 0;
	int64_t dip = 0;
	if (heldby_get_u(&r->p, r->end, &did) ||
	    heldby_get_u(&r->p, r->end, &up) ||
	    (whole_ip ? heldby_get_u(&r->p, r->end, &ip)
		      : heldby_get_s(&r->p, r->end, &dip)))
		return REC_BAD;
	uint64_t id = r->prev_node + did;
	if (id == 0 || up == 0 || up > id)
		return REC_BAD;
	r->prev_node = id;
	uint64_t parent = id - up;
	if (!whole_ip) {
		ip = (uint64_t)dip;
		const struct rd_node *pn = parent ? node_find(r, parent) : NULL;
		if (parent && pn && pn->ip) {
			ip += pn->ip;
		} else if (parent) {
			r->st.anomalies++;
			ip = 0;
		}
	}
	return add_node(r, id, parent, ip) ? REC_BAD : REC_SKIP;
}

static void
set_time(struct reader *r, uint64_t dt, struct rd_event *ev)
{
	r->prev_time += dt;
	ev->time_ns = r->prev_time;
	if (ev->time_ns > r->st.last_time_ns)
		r->st.last_time_ns = ev->time_ns;
}

static void
now(struct reader *r, struct rd_event *ev)
{
	ev->time_ns = r->prev_time;
	if (ev->time_ns > r->st.last_time_ns)
		r->st.last_time_ns = ev->time_ns;
}

/* The allocation number "back" names, or 0 when it cannot be one. */
static uint64_t
seq_back(struct reader *r, uint64_t back)
{
	if (back == 0 || back >= r->next_alloc) {
		r->st.anomalies++;
		return 0;
	}
	return r->next_alloc - back;
}

/* An allocating function the reader does not know (a newer shim) is
 * counted as malloc rather than dropped. */
static unsigned
fn_of(uint64_t d)
{
	return d < HELDBY_FN_COUNT_ ? (unsigned)d : HELDBY_FN_MALLOC;
}

static enum rec
rec_summary(struct reader *r)
{
	struct rd_summary *m = &r->st.summary;
	uint64_t *const f[] = { &m->peak_bytes,	  &m->peak_blocks,
				&m->peak_time_ns, &m->end_bytes,
				&m->end_blocks,	  &m->alloc_calls,
				&m->free_calls };
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (heldby_get_u(&r->p, r->end, f[i]))
			return REC_BAD;
	r->st.has_summary = 1;
	return REC_SKIP;
}

static enum rec
rec_module_unload(struct reader *r)
{
	uint64_t id;
	if (heldby_get_u(&r->p, r->end, &id))
		return REC_BAD;
	struct rd_module *m;
	HASH_FIND(hh, r->modules, &id, sizeof id, m);
	if (m)
		unlive(r, m);
	else
		r->st.anomalies++;
	return REC_SKIP;
}

/* ALLOC (format 1): the block's address as a delta to the last one. */
static enum rec
rec_alloc(struct reader *r, struct rd_event *ev)
{
	uint64_t dt, size, stack, fn;
	int64_t dptr;
	if (heldby_get_u(&r->p, r->end, &dt) ||
	    heldby_get_u(&r->p, r->end, &size) ||
	    heldby_get_s(&r->p, r->end, &dptr) ||
	    heldby_get_u(&r->p, r->end, &stack) ||
	    heldby_get_u(&r->p, r->end, &fn))
		return REC_BAD;
	ev->kind = RD_ALLOC;
	set_time(r, dt, ev);
	ev->size = size;
	r->prev_ptr += (uint64_t)dptr;
	ev->ptr = r->prev_ptr;
	ev->stack = stack;
	ev->fn = fn_of(fn);
	return REC_EVENT;
}

static enum rec
rec_free(struct reader *r, struct rd_event *ev)
{
	uint64_t dt;
	int64_t dptr;
	if (heldby_get_u(&r->p, r->end, &dt) ||
	    heldby_get_s(&r->p, r->end, &dptr))
		return REC_BAD;
	ev->kind = RD_FREE;
	set_time(r, dt, ev);
	r->prev_ptr += (uint64_t)dptr;
	ev->ptr = r->prev_ptr;
	return REC_EVENT;
}

static enum rec
rec_time(struct reader *r)
{
	uint64_t dt;
	if (heldby_get_u(&r->p, r->end, &dt))
		return REC_BAD;
	r->prev_time += dt;
	return REC_SKIP;
}

/* SEQ: the number of the block's first ALLOC_SEQ; the numbered records
 * before it cannot be read. */
static enum rec
rec_seq(struct reader *r)
{
	uint64_t first;
	if (heldby_get_u(&r->p, r->end, &first) || first == 0 ||
	    first >= (1ull << 62))
		return REC_BAD;
	r->next_alloc = first;
	return REC_SKIP;
}

static enum rec
rec_alloc_seq(struct reader *r, struct rd_event *ev)
{
	uint64_t size, stack, fn;
	if (!r->next_alloc || heldby_get_u(&r->p, r->end, &size) ||
	    heldby_get_u(&r->p, r->end, &stack) ||
	    heldby_get_u(&r->p, r->end, &fn))
		return REC_BAD;
	ev->kind = RD_ALLOC;
	now(r, ev);
	ev->size = size;
	ev->ptr = RD_SEQ_ID(r->next_alloc++);
	ev->stack = stack;
	ev->fn = fn_of(fn);
	return REC_EVENT;
}

/* FREE_SEQ (a free call) or LOST (released unseen): the block by how
 * many allocations back it was made. */
static enum rec
rec_free_seq(struct reader *r, struct rd_event *ev, bool lost)
{
	uint64_t back, seq;
	if (!r->next_alloc || heldby_get_u(&r->p, r->end, &back))
		return REC_BAD;
	if (!(seq = seq_back(r, back)))
		return REC_SKIP;
	if (!lost)
		r->prev_free = seq;
	ev->kind = RD_FREE;
	ev->lost = lost;
	now(r, ev);
	ev->ptr = RD_SEQ_ID(seq);
	return REC_EVENT;
}

/* FREE_NEAR: the block by its distance from the last FREE_SEQ/NEAR's. */
static enum rec
rec_free_near(struct reader *r, struct rd_event *ev)
{
	int64_t d;
	if (!r->next_alloc || heldby_get_s(&r->p, r->end, &d))
		return REC_BAD;
	uint64_t seq = r->prev_free + (uint64_t)d;
	if (seq == 0 || seq >= r->next_alloc) {
		r->st.anomalies++;
		return REC_SKIP;
	}
	r->prev_free = seq;
	ev->kind = RD_FREE;
	now(r, ev);
	ev->ptr = RD_SEQ_ID(seq);
	return REC_EVENT;
}

static enum rec
rec_addr(struct reader *r, struct rd_event *ev)
{
	uint64_t back, seq;
	int64_t dptr;
	if (!r->next_alloc || heldby_get_u(&r->p, r->end, &back) ||
	    heldby_get_s(&r->p, r->end, &dptr))
		return REC_BAD;
	/* The address moves on even when the number is nonsense. */
	r->prev_ptr += (uint64_t)dptr;
	if (!(seq = seq_back(r, back)))
		return REC_SKIP;
	ev->kind = RD_ADDR;
	now(r, ev);
	ev->ptr = RD_SEQ_ID(seq);
	ev->addr = r->prev_ptr;
	return REC_EVENT;
}

static enum rec
rec_free_addr(struct reader *r, struct rd_event *ev)
{
	int64_t dptr;
	if (heldby_get_s(&r->p, r->end, &dptr))
		return REC_BAD;
	r->prev_ptr += (uint64_t)dptr;
	ev->kind = RD_FREE;
	now(r, ev);
	ev->ptr = r->prev_ptr;
	return REC_EVENT;
}

/* THREAD: a thread's name; no view shows it yet. */
static enum rec
rec_thread(struct reader *r)
{
	uint64_t tid, len;
	const uint8_t *name;
	if (heldby_get_u(&r->p, r->end, &tid) ||
	    get_str(&r->p, r->end, &name, &len))
		return REC_BAD;
	return REC_SKIP;
}

static enum rec
rec_mark(struct reader *r, struct rd_event *ev)
{
	uint64_t dt, len;
	const uint8_t *label;
	if (heldby_get_u(&r->p, r->end, &dt) ||
	    get_str(&r->p, r->end, &label, &len))
		return REC_BAD;
	ev->kind = RD_MARK;
	set_time(r, dt, ev);
	ev->label = (const char *)label;
	ev->label_len = (size_t)len;
	return REC_EVENT;
}

static enum rec
rec_end(struct reader *r, struct rd_event *ev)
{
	uint64_t dt, dropped, waits;
	if (heldby_get_u(&r->p, r->end, &dt) ||
	    heldby_get_u(&r->p, r->end, &dropped) ||
	    heldby_get_u(&r->p, r->end, &waits))
		return REC_BAD;
	ev->kind = RD_END;
	set_time(r, dt, ev);
	ev->dropped = dropped;
	ev->waits = waits;
	r->st.complete = 1;
	return REC_EVENT;
}

/* One record of the given kind, its kind byte read. A new record kind is
 * one function above and one case here. An unknown kind is REC_BAD: its
 * length is unknown, so nothing after it can be found. Each function has
 * one call, here, so that the compiler inlines it: two kinds that share one
 * share its case too. */
static enum rec
rec_decode(struct reader *r, uint8_t kind, struct rd_event *ev)
{
	switch (kind) {
	case HELDBY_REC_MODULE: return rec_module(r);
	case HELDBY_REC_MODULE_UNLOAD: return rec_module_unload(r);
	case HELDBY_REC_STACK: return rec_stack(r);
	case HELDBY_REC_NODE:
	case HELDBY_REC_NODE_IP: return rec_node(r, kind == HELDBY_REC_NODE_IP);
	case HELDBY_REC_ALLOC: return rec_alloc(r, ev);
	case HELDBY_REC_FREE: return rec_free(r, ev);
	case HELDBY_REC_TIME: return rec_time(r);
	case HELDBY_REC_SEQ: return rec_seq(r);
	case HELDBY_REC_ALLOC_SEQ: return rec_alloc_seq(r, ev);
	case HELDBY_REC_FREE_SEQ:
	case HELDBY_REC_LOST:
		return rec_free_seq(r, ev, kind == HELDBY_REC_LOST);
	case HELDBY_REC_FREE_NEAR: return rec_free_near(r, ev);
	case HELDBY_REC_ADDR: return rec_addr(r, ev);
	case HELDBY_REC_FREE_ADDR: return rec_free_addr(r, ev);
	case HELDBY_REC_THREAD: return rec_thread(r);
	case HELDBY_REC_MARK: return rec_mark(r, ev);
	case HELDBY_REC_SUMMARY: return rec_summary(r);
	case HELDBY_REC_END: return rec_end(r, ev);
	default: return REC_BAD;
	}
}

int
reader_skip_to_last_block(struct reader *r)
{
	uint64_t pos = r->pos, last = 0, seq = r->next_seq;
	int found = 0;
	for (;;) {
		uint8_t h[HELDBY_BLOCK_HEADER_SIZE];
		ssize_t n = read_at(r->fd, h, sizeof h, pos);
		if (n == 0)
			break;
		struct blk b;
		if (n != (ssize_t)sizeof h || !header_ok(h, &b) || b.seq != seq)
			return -1;
		last = pos;
		found = 1;
		seq++;
		pos += sizeof h + b.stored;
	}
	if (!found)
		return -1;
	r->pos = last;
	r->next_seq = seq - 1;
	r->p = r->end;
	return 0;
}

/* Framing only: blocks in, records out, one at a time. */
int
reader_next(struct reader *r, struct rd_event *ev)
{
	/* Copied from a zero event, not memset: GCC makes the memset a
	 * `rep stos`, whose start-up was a tenth of a report's time. */
	static const struct rd_event none;
	for (;;) {
		if (r->p >= r->end) {
			if (!load_block(r))
				return 0;
			continue;
		}
		apply_time_entries(r);
		if (r->p >= r->end)
			continue;
		*ev = none;
		enum rec got = rec_decode(r, *r->p++, ev);
		if (got == REC_EVENT)
			return 1;
		if (got == REC_BAD) {
			/* Decompressed fine but does not parse: a writer bug
			 * or a newer record kind. The rest of this block
			 * cannot be trusted. */
			r->st.blocks_damaged++;
			r->p = r->end;
		}
	}
}

const struct reader_stats *
reader_stats(const struct reader *r)
{
	return &r->st;
}

const struct rd_node *
reader_node(const struct reader *r, uint64_t id)
{
	return node_find(r, id);
}

const struct rd_module *
reader_module(const struct reader *r, uint64_t id)
{
	struct rd_module *m;
	HASH_FIND(hh, r->modules, &id, sizeof id, m);
	return m;
}

uint64_t
reader_pid(const struct reader *r)
{
	return r->pid;
}

uint64_t
reader_start_real_ns(const struct reader *r)
{
	return r->start_real;
}

const char *
reader_cmdline(const struct reader *r, size_t *len)
{
	*len = r->cmdline_len;
	return r->cmdline;
}

uint64_t
reader_time_step_ns(const struct reader *r)
{
	/* With a time table the format itself moves time in its unit; the
	 * writer of TIME records did too (1 ms), but a trace of them may hold
	 * any ns, as the tests' encoder writes them. */
	return r->time_table ? HELDBY_TIME_TABLE_UNIT_NS : 1;
}

const char *
reader_exe(const struct reader *r)
{
	return r->exe;
}

const char *
reader_path(const struct reader *r)
{
	return r->path;
}
