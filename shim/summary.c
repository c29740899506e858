/* SPDX-License-Identifier: MIT */
/*
 * The run summary's beginning and end (summary.h keeps the counting, which
 * runs for every event, inline): whether the writer's counts can stand for
 * a replay at all, and the record written at the end.
 */
#include <string.h>

#include "summary.h"

void
sum_begin(struct sum *s)
{
	memset(s, 0, sizeof(*s));
	s->ok = cnt_current() == 0 && cnt_blocks() == 0 && cnt_untracked() == 0;
}

const struct enc_summary *
sum_end(struct sum *s)
{
	if (!s->ok || cnt_untracked() != 0 || s->replaced != s->lost)
		return NULL;
	s->rec.end_bytes = cnt_current();
	s->rec.end_blocks = s->blocks;
	return &s->rec;
}
