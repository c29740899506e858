/* SPDX-License-Identifier: MIT */
/*
 * Symbol cache files (symcache.h). The format is text with byte counts, so
 * that names may hold any byte but a NUL:
 *
 *   heldby symbols 1
 *   main SIZE MTIME_S MTIME_NS          (the module file the entries came from)
 *   debug none                          (or: debug SIZE MTIME_S MTIME_NS
 * LEN\nPATH) ADDR N                              (hex address, frame count),
 * then N times INLINED LINE FLEN FILELEN\nFUNCTIONFILE   (a length of -1: NULL)
 */
#include "symcache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "heldby symbols 1\n"
#define FILE_MAX (64u << 20) /* a bigger file is not ours */
#define FRAMES_MAX 4096u     /* inlined frames of one address */
#define STDDEBUG "/usr/lib/debug/.build-id/"

/* The cache directory, created when create is set; 0 or -1 (off or
 * unusable). */
static int
cache_dir(char *buf, size_t len, int create)
{
	const char *off = getenv("HELDBY_SYMBOL_CACHE");
	if (off && !strcmp(off, "off"))
		return -1;
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char base[4096];
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(base, sizeof base, "%s", xdg);
	else if (home && home[0] == '/')
		n = snprintf(base, sizeof base, "%s/.cache", home);
	else
		return -1;
	if (n < 0 || (size_t)n >= sizeof base)
		return -1;
	n = snprintf(buf, len, "%s/heldby/symbols", base);
	if (n < 0 || (size_t)n >= len)
		return -1;
	if (create) {
		/* Each level private to the user; existing ones are kept. */
		char mid[sizeof base + 8];
		snprintf(mid, sizeof mid, "%s/heldby", base);
		if ((mkdir(base, 0700) != 0 && errno != EEXIST) ||
		    (mkdir(mid, 0700) != 0 && errno != EEXIST) ||
		    (mkdir(buf, 0700) != 0 && errno != EEXIST))
			return -1;
	}
	return 0;
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = 0;
}

/* The cache file's path for build-id bid; 0 or -1. */
static int
cache_path(const uint8_t *bid, size_t bidlen, char *buf, size_t len, int create)
{
	char dir[4200], h[2 * 64 + 1];
	if (bidlen == 0 || bidlen > 64 || cache_dir(dir, sizeof dir, create))
		return -1;
	hex(bid, bidlen, h);
	int n = snprintf(buf, len, "%s/%s", dir, h);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Whether the standard place for bid's debug file has one: the cache's
 * "none" holds only while it has not. */
static int
std_debug_exists(const uint8_t *bid, size_t bidlen)
{
	char h[2 * 64 + 1], path[sizeof STDDEBUG + 2 * 64 + 16];
	if (bidlen < 2 || bidlen > 64)
		return 0;
	hex(bid, bidlen, h);
	snprintf(path, sizeof path, STDDEBUG "%.2s/%s.debug", h, h + 2);
	return access(path, F_OK) == 0;
}

/* Reads all of path (at most FILE_MAX) into a NUL-terminated buffer. */
static char *
slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct stat sb;
	char *buf = NULL;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
	    (uint64_t)sb.st_size > FILE_MAX)
		goto out;
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf)
		goto out;
	size_t got = 0;
	while (got < (size_t)sb.st_size) {
		ssize_t k = read(fd, buf + got, (size_t)sb.st_size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	buf[got] = 0;
	*len = got;
out:
	close(fd);
	return buf;
}

struct cursor {
	const char *p, *end;
};

/* A number ending in sep; 0 or -1. */
static int
num(struct cursor *c, int base, char sep, long long *out)
{
	char *e;
	if (c->p >= c->end)
		return -1;
	errno = 0;
	*out = strtoll(c->p, &e, base);
	if (errno || e == c->p || e >= c->end || *e != sep)
		return -1;
	c->p = e + 1;
	return 0;
}

static int
unum(struct cursor *c, char sep, uint64_t *out)
{
	char *e;
	if (c->p >= c->end || *c->p == '-')
		return -1;
	errno = 0;
	*out = strtoull(c->p, &e, 16);
	if (errno || e == c->p || e >= c->end || *e != sep)
		return -1;
	c->p = e + 1;
	return 0;
}

/* n bytes as a new string, NULL for n == -1; *bad set on damage. */
static char *
bytes(struct cursor *c, long long n, int *bad)
{
	if (n == -1)
		return NULL;
	if (n < 0 || n > c->end - c->p || memchr(c->p, 0, (size_t)n)) {
		*bad = 1;
		return NULL;
	}
	char *s = strndup(c->p, (size_t)n);
	if (!s)
		*bad = 1;
	c->p += n;
	return s;
}

/* The "main" line describes the module file opened now: a copy stripped
 * of its DWARF keeps its build-id but not its size. */
static int
main_valid(struct cursor *c, const char *mainfile)
{
	long long size, sec, nsec;
	struct stat sb;
	if (c->end - c->p < 5 || memcmp(c->p, "main ", 5))
		return 0;
	c->p += 5;
	if (num(c, 10, ' ', &size) || num(c, 10, ' ', &sec) ||
	    num(c, 10, '\n', &nsec))
		return 0;
	return stat(mainfile, &sb) == 0 && sb.st_size == size &&
	       sb.st_mtim.tv_sec == sec && sb.st_mtim.tv_nsec == nsec;
}

/* The "debug" line still describes the debug file that is there now. */
static int
debug_valid(struct cursor *c, const uint8_t *bid, size_t bidlen)
{
	static const char none[] = "debug none\n";
	if ((size_t)(c->end - c->p) >= sizeof none - 1 &&
	    !memcmp(c->p, none, sizeof none - 1)) {
		c->p += sizeof none - 1;
		return !std_debug_exists(bid, bidlen);
	}
	if (c->end - c->p < 6 || memcmp(c->p, "debug ", 6))
		return 0;
	c->p += 6;
	long long size, sec, nsec, len;
	int bad = 0;
	if (num(c, 10, ' ', &size) || num(c, 10, ' ', &sec) ||
	    num(c, 10, ' ', &nsec) || num(c, 10, '\n', &len) || len < 1)
		return 0;
	char *path = bytes(c, len, &bad);
	if (bad || !path || c->p >= c->end || *c->p++ != '\n') {
		free(path);
		return 0;
	}
	struct stat sb;
	int ok = stat(path, &sb) == 0 && sb.st_size == size &&
		 sb.st_mtim.tv_sec == sec && sb.st_mtim.tv_nsec == nsec;
	free(path);
	return ok;
}

long
symcache_load(const uint8_t *bid, size_t bidlen, const char *mainfile,
	      symcache_add_fn add, void *ctx)
{
	char path[4400];
	size_t len;
	if (cache_path(bid, bidlen, path, sizeof path, 0))
		return -1;
	char *buf = slurp(path, &len);
	if (!buf)
		return -1;
	struct cursor c = { buf, buf + len };
	long count = -1;
	if (len < sizeof MAGIC - 1 || memcmp(buf, MAGIC, sizeof MAGIC - 1))
		goto out;
	c.p += sizeof MAGIC - 1;
	if (!main_valid(&c, mainfile) || !debug_valid(&c, bid, bidlen))
		goto out;
	count = 0;
	while (c.p < c.end) {
		uint64_t addr;
		long long n;
		if (unum(&c, ' ', &addr) || num(&c, 10, '\n', &n) || n < 1 ||
		    n > FRAMES_MAX)
			break;
		struct sym_frame *f = calloc((size_t)n, sizeof *f);
		if (!f)
			break;
		int bad = 0;
		for (long long i = 0; i < n && !bad; i++) {
			long long inl, line, fl, fil;
			if (num(&c, 10, ' ', &inl) || num(&c, 10, ' ', &line) ||
			    num(&c, 10, ' ', &fl) || num(&c, 10, '\n', &fil) ||
			    line < 0 || line > UINT32_MAX) {
				bad = 1;
				break;
			}
			f[i].inlined = inl != 0;
			f[i].line = (unsigned)line;
			f[i].function = bytes(&c, fl, &bad);
			f[i].file = bytes(&c, fil, &bad);
			if (!bad && (c.p >= c.end || *c.p++ != '\n'))
				bad = 1;
		}
		/* A damaged tail (a full disk) loses only what follows. */
		if (bad || add(ctx, addr, f, (size_t)n) != 0) {
			if (bad)
				sym_frames_free(f, (size_t)n);
			break;
		}
		count++;
	}
out:
	free(buf);
	return count;
}

static void
put_str(FILE *o, const char *s)
{
	if (s)
		fputs(s, o);
}

int
symcache_save(const uint8_t *bid, size_t bidlen, const char *mainfile,
	      const char *debugfile, symcache_next_fn next, void *ctx)
{
	char path[4400], tmp[4500];
	if (cache_path(bid, bidlen, path, sizeof path, 1))
		return -ENOENT;
	struct stat sb, mb;
	if (stat(mainfile, &mb) != 0 ||
	    (debugfile && stat(debugfile, &sb) != 0))
		return -errno;
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	if (fd < 0)
		return -errno;
	FILE *o = fdopen(fd, "w");
	if (!o) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return -e;
	}
	fputs(MAGIC, o);
	fprintf(o, "main %lld %lld %ld\n", (long long)mb.st_size,
		(long long)mb.st_mtim.tv_sec, (long)mb.st_mtim.tv_nsec);
	if (debugfile)
		fprintf(o, "debug %lld %lld %ld %zu\n%s\n",
			(long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
			(long)sb.st_mtim.tv_nsec, strlen(debugfile), debugfile);
	else
		fputs("debug none\n", o);
	uint64_t addr;
	const struct sym_frame *f;
	size_t n;
	while (next(ctx, &addr, &f, &n)) {
		fprintf(o, "%" PRIx64 " %zu\n", addr, n);
		for (size_t i = 0; i < n; i++) {
			fprintf(o, "%d %u %lld %lld\n", f[i].inlined ? 1 : 0,
				f[i].line,
				f[i].function ? (long long)strlen(f[i].function)
					      : -1LL,
				f[i].file ? (long long)strlen(f[i].file)
					  : -1LL);
			put_str(o, f[i].function);
			put_str(o, f[i].file);
			fputc('\n', o);
		}
	}
	int bad = ferror(o);
	if (fclose(o) != 0 || bad || rename(tmp, path) != 0) {
		int e = errno ? errno : EIO;
		unlink(tmp);
		return -e;
	}
	return 0;
}
