/* SPDX-License-Identifier: MIT */
/*
 * The README's example: a criterion test that asserts how much memory one
 * function needs at most, through include/heldby.h. The suite builds it
 * twice (tests/unit/meson.build): linked with libheldby through the meson
 * dependency, and not linked at all but run with libheldby in LD_PRELOAD.
 * Without heldby in the process the assertions are skipped.
 */
#include <criterion/criterion.h>
#include <heldby.h>
#include <stdlib.h>
#include <string.h>

/* The code under test: n copies of word, separated by spaces, in a buffer
 * that doubles as it fills. */
static char *
join_words(const char *word, size_t n)
{
	size_t wl = strlen(word), len = 0, cap = 16;
	char *s = malloc(cap);
	for (size_t i = 0; s && i < n; i++) {
		while (len + wl + 2 > cap) {
			char *t = realloc(s, cap *= 2);
			if (!t) {
				free(s);
				return NULL;
			}
			s = t;
		}
		if (i)
			s[len++] = ' ';
		memcpy(s + len, word, wl);
		len += wl;
		s[len] = 0;
	}
	return s;
}

Test(api_peak, join_words_needs_at_most_twice_its_result)
{
	if (!heldby_active())
		cr_skip_test("heldby is not in this process");
	heldby_reset_peak();
	size_t before = heldby_current_bytes();
	char *s = join_words("held", 100000);
	size_t need = heldby_peak_bytes() - before;
	cr_assert_not_null(s);
	size_t len = strlen(s) + 1;
	free(s);
	/* realloc counts as a free and an allocation, so the doubling buffer
	 * never holds more than its last capacity: below 2 * len */
	cr_expect_geq(need, len, "peak %zu below the result's %zu bytes", need,
		      len);
	cr_expect_lt(need, 2 * len, "peak %zu: more than twice %zu", need, len);
	cr_expect_eq(heldby_current_bytes(), before, "all freed again");
}

/* For this project's suite, not part of the example: the meson test sets
 * HELDBY_TEST_EXPECT_ACTIVE, so a shim that failed to load fails the
 * suite instead of skipping the example. */
Test(api_peak, heldby_is_in_the_process_when_the_suite_says_so)
{
	const char *want = getenv("HELDBY_TEST_EXPECT_ACTIVE");
	if (!want)
		cr_skip_test("HELDBY_TEST_EXPECT_ACTIVE not set");
	cr_expect_eq(heldby_active(), atoi(want));
	if (atoi(want))
		cr_expect_eq(heldby_version(), HELDBY_VERSION_NUMBER,
			     "libheldby and heldby.h are the same version");
}
