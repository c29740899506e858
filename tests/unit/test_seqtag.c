/* SPDX-License-Identifier: MIT */
/*
 * Allocation numbers as 32-bit tags (shim/seqtag.h): a tag gives back its
 * number for every age the writer lets a tag reach, on both sides of each
 * wrap of the modulus, and never reads as "none". An age here is the
 * newest number handed out minus the block's: the untagging pass keeps it
 * at most 2 * SEQTAG_SPAN - 2.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "seqtag.h"

static void
round_trip(uint64_t seq, uint64_t age)
{
	uint32_t tag = seqtag_of(seq);
	cr_assert_neq(tag, 0, "seq %llu", (unsigned long long)seq);
	uint64_t next = seq + 1 + age;
	cr_assert_eq(seqtag_seq(tag, next), seq, "seq %llu age %llu",
		     (unsigned long long)seq, (unsigned long long)age);
}

Test(seqtag, numbers_come_back_at_every_allowed_age)
{
	const uint64_t seqs[] = { 1,
				  2,
				  1000,
				  SEQTAG_MOD - 1,
				  SEQTAG_MOD,
				  SEQTAG_MOD + 1,
				  2 * SEQTAG_MOD,
				  2 * SEQTAG_MOD + 7,
				  UINT64_C(1) << 40,
				  (UINT64_C(1) << 62) + 12345 };
	const uint64_t ages[] = { 0,
				  1,
				  2,
				  65535,
				  SEQTAG_SPAN - 1,
				  SEQTAG_SPAN,
				  2 * SEQTAG_SPAN - 2,
				  SEQTAG_MOD - 1 };
	for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++)
		for (size_t j = 0; j < sizeof ages / sizeof ages[0]; j++)
			round_trip(seqs[i], ages[j]);
}

Test(seqtag, a_tag_is_ambiguous_only_past_the_modulus)
{
	/* what the periodic untagging is for: at SEQTAG_MOD allocations of
	 * age the tag names a newer block */
	uint64_t seq = 5;
	uint32_t tag = seqtag_of(seq);
	cr_assert_eq(seqtag_seq(tag, seq + 1 + SEQTAG_MOD), seq + SEQTAG_MOD);
	cr_assert(2 * SEQTAG_SPAN <= SEQTAG_MOD + 1);
}
