/* SPDX-License-Identifier: MIT */
/*
 * Turns a real trace into a seed for fuzz_records: each block's
 * decompressed records as a (u16 length, bytes) chunk, split where a block
 * is longer than a chunk can say. Module paths get a "/nonexistent" prefix:
 * symbolising the real libc on every run would make the fuzzer spend its
 * time in libdw and zlib instead of in our code. A block's time table
 * (HELDBY_TRACE_F_TIME_TABLE) is left out: fuzz_records writes files
 * without the flag, where those bytes would only end each block as junk.
 * Usage: seed_records TRACE OUT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "heldby/trace.h"
#include "heldby/varint.h"

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint8_t *
copy_u(const uint8_t **p, const uint8_t *end, uint8_t *o, uint64_t *v)
{
	if (heldby_get_u(p, end, v))
		return NULL;
	return o + heldby_put_u(o, *v);
}

/* Rewrites the records in [p, end) into o (room for the input plus 16
 * bytes per record); returns the new length. Stops rewriting at anything it
 * does not know and copies the rest as it is. */
static size_t
hide_modules(const uint8_t *p, const uint8_t *end, uint8_t *o0)
{
	static const char prefix[] = "/nonexistent";
	/* fields per kind: u = varint, s = string; MODULE is special */
	static const char *const fields[] = {
		[HELDBY_REC_MODULE_UNLOAD] = "u", [HELDBY_REC_STACK] = "uuu",
		[HELDBY_REC_ALLOC] = "uuuuu",	  [HELDBY_REC_FREE] = "uu",
		[HELDBY_REC_THREAD] = "us",	  [HELDBY_REC_MARK] = "us",
		[HELDBY_REC_END] = "uuu",
	};
	uint8_t *o = o0;
	uint64_t v;
	while (p < end) {
		const uint8_t *rec = p;
		uint8_t *orec = o;
		uint8_t kind = *p++;
		*o++ = kind;
		const char *f = kind < sizeof fields / sizeof fields[0]
					? fields[kind]
					: NULL;
		if (kind == HELDBY_REC_MODULE) {
			uint64_t nr;
			if (!(o = copy_u(&p, end, o, &v)) ||
			    !(o = copy_u(&p, end, o, &v)) ||
			    !(o = copy_u(&p, end, o, &nr)) ||
			    nr > (uint64_t)(end - p))
				goto verbatim;
			for (uint64_t i = 0; i < 2 * nr; i++)
				if (!(o = copy_u(&p, end, o, &v)))
					goto verbatim;
			if (heldby_get_u(&p, end, &v) ||
			    v > (uint64_t)(end - p))
				goto verbatim;
			o += heldby_put_u(o, v + sizeof prefix - 1);
			memcpy(o, prefix, sizeof prefix - 1);
			memcpy(o + sizeof prefix - 1, p, v);
			o += v + sizeof prefix - 1;
			p += v;
			f = "s"; /* the build-id */
		} else if (!f) {
			goto verbatim;
		}
		for (; *f; f++) {
			if (!(o = copy_u(&p, end, o, &v)))
				goto verbatim;
			if (*f == 's') {
				if (v > (uint64_t)(end - p))
					goto verbatim;
				memcpy(o, p, v);
				o += v;
				p += v;
			}
		}
		continue;
	verbatim:
		memcpy(orec, rec, (size_t)(end - rec));
		return (size_t)(orec - o0) + (size_t)(end - rec);
	}
	return (size_t)(o - o0);
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: seed_records TRACE OUT\n");
		return 2;
	}
	FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
	if (!in || !out) {
		perror("seed_records");
		return 1;
	}
	uint8_t h[HELDBY_TRACE_HEADER_FIXED];
	if (fread(h, 1, sizeof h, in) != sizeof h ||
	    fseek(in, get32(h + 12), SEEK_SET) != 0)
		return 1;
	int time_table = !!(get32(h + 44) & HELDBY_TRACE_F_TIME_TABLE);
	static uint8_t z[ZSTD_COMPRESSBOUND(HELDBY_BLOCK_RAW_MAX)],
		in_raw[HELDBY_BLOCK_RAW_MAX], raw[HELDBY_BLOCK_RAW_MAX * 3];
	uint8_t bh[HELDBY_BLOCK_HEADER_SIZE];
	while (fread(bh, 1, sizeof bh, in) == sizeof bh) {
		uint32_t stored = get32(bh + 8);
		if (stored > sizeof z || fread(z, 1, stored, in) != stored)
			break;
		size_t n = ZSTD_decompress(in_raw, sizeof in_raw, z, stored);
		if (ZSTD_isError(n))
			break;
		if (time_table) {
			if (n < 4 || get32(in_raw + n - 4) > n - 4)
				break;
			n -= 4 + get32(in_raw + n - 4);
		}
		n = hide_modules(in_raw, in_raw + n, raw);
		for (size_t i = 0; i < n; i += 0xffff) {
			size_t len = n - i < 0xffff ? n - i : 0xffff;
			uint8_t l[2] = { (uint8_t)len, (uint8_t)(len >> 8) };
			fwrite(l, 1, 2, out);
			fwrite(raw + i, 1, len, out);
		}
	}
	fclose(in);
	return fclose(out) == 0 ? 0 : 1;
}
