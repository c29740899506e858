/* SPDX-License-Identifier: MIT */
/*
 * hb_assert as the shim sees it where assertions are on (shim/hb_assert.h):
 * a check that holds passes, one that fails writes one line and aborts.
 * assert_fires.py runs it. Argument "fail": the failing check runs.
 */
#include <string.h>

#undef HB_ASSERTIONS
#define HB_ASSERTIONS 1
#include "hb_assert.h"

int
main(int argc, char **argv)
{
	int holds = argc > 0;
	hb_assert(holds);
	if (argc > 1 && !strcmp(argv[1], "fail"))
		hb_assert(argc == 0 && "the failing check");
	return 0;
}
