/* SPDX-License-Identifier: MIT */
/*
 * What both fuzz targets do with a trace: the whole of `heldby report`
 * (reader, replay, symbolizer, text and JSON views) on bytes held in a
 * memfd, output to /dev/null. Any crash, hang or runaway allocation in
 * there is a bug that a damaged or hostile trace file could trigger.
 */
#ifndef HELDBY_FUZZ_REPORT_H
#define HELDBY_FUZZ_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "report.h"

static FILE *fuzz_null;

/* Reports the n bytes at data as if they were a trace file. */
static void
fuzz_report_bytes(const uint8_t *data, size_t n)
{
	if (!fuzz_null && !(fuzz_null = fopen("/dev/null", "w")))
		abort();
	int fd = memfd_create("heldby-fuzz", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, data + off, n - off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	struct report rep;
	char err[256];
	if (report_load(&rep, path, err, sizeof err) == 0) {
		rep.opt.top = 0; /* everything, as --json does */
		report_json(&rep, fuzz_null);
		rep.opt.top = 10;
		report_text(&rep, fuzz_null);
		report_unload(&rep);
	}
	close(fd);
}

#endif
