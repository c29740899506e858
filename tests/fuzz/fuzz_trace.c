/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is a trace file as it lies on disk. Finds
 * what damaged headers, block framing and zstd payloads do to the reader.
 * Seeds: real traces (tests/fuzz/run.sh records one).
 */
#include "fuzz_report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_report_bytes(data, n);
	return 0;
}
