/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is the decompressed content of blocks, as
 * chunks of (u16 little-endian length, that many bytes of records). The
 * target wraps each chunk into a valid block (header, zstd frame with its
 * checksum) behind a valid file header, so the fuzzer spends its time on
 * the record decoder, the replay and the views rather than on checksums it
 * cannot forge. Seeds: the blocks of a real trace (seed_records).
 */
#include <string.h>

#include <zstd.h>

#include "fuzz_report.h"
#include "heldby/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* Appends a file header to buf; returns its length. */
static size_t
file_header(uint8_t *buf)
{
	static const char exe[] = "/nonexistent/fuzz-victim";
	size_t elen = sizeof exe - 1;
	memcpy(buf, HELDBY_TRACE_MAGIC, HELDBY_TRACE_MAGIC_LEN);
	put32(buf + 8, HELDBY_TRACE_VERSION);
	put32(buf + 12, (uint32_t)(HELDBY_TRACE_HEADER_FIXED + elen));
	put64(buf + 16, 4242);
	put64(buf + 24, 1700000000000000000ull);
	put64(buf + 32, 1000);
	put32(buf + 40, (uint32_t)elen);
	put32(buf + 44, HELDBY_TRACE_F_NONE);
	memcpy(buf + HELDBY_TRACE_HEADER_FIXED, exe, elen);
	return HELDBY_TRACE_HEADER_FIXED + elen;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static ZSTD_CCtx *cctx;
	if (!cctx) {
		cctx = ZSTD_createCCtx();
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	}
	/* Worst case: every chunk is one byte behind a 2-byte length. */
	size_t cap =
		4096 +
		n / 3 * (HELDBY_BLOCK_HEADER_SIZE + ZSTD_compressBound(1)) +
		ZSTD_compressBound(n) + HELDBY_BLOCK_HEADER_SIZE;
	uint8_t *out = malloc(cap);
	if (!out)
		return 0;
	size_t o = file_header(out);
	uint32_t seq = 0;
	size_t i = 0;
	while (i + 2 <= n) {
		size_t len = (size_t)data[i] | (size_t)data[i + 1] << 8;
		i += 2;
		if (len > n - i)
			len = n - i;
		uint8_t *h = out + o;
		size_t z = ZSTD_compress2(cctx, h + HELDBY_BLOCK_HEADER_SIZE,
					  cap - o - HELDBY_BLOCK_HEADER_SIZE,
					  data + i, len);
		if (ZSTD_isError(z))
			abort();
		put32(h, HELDBY_BLOCK_MAGIC);
		put32(h + 4, seq);
		put32(h + 8, (uint32_t)z);
		put32(h + 12, (uint32_t)len);
		put32(h + 16,
		      heldby_block_check(seq, (uint32_t)z, (uint32_t)len));
		o += HELDBY_BLOCK_HEADER_SIZE + z;
		seq++;
		i += len;
	}
	fuzz_report_bytes(out, o);
	free(out);
	return 0;
}
