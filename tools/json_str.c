/* SPDX-License-Identifier: MIT */
/*
 * Strings as JSON, for every view that prints JSON: escapes for quotes,
 * backslashes and control bytes, U+FFFD for what is not UTF-8.
 */
#include "json_str.h"

#include <stddef.h>

/* Length of a valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	unsigned cp = c & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void
control(FILE *o, unsigned c)
{
	switch (c) {
	case '\n': fputs("\\n", o); break;
	case '\t': fputs("\\t", o); break;
	case '\r': fputs("\\r", o); break;
	case '\b': fputs("\\b", o); break;
	case '\f': fputs("\\f", o); break;
	default: fprintf(o, "\\u%04x", c);
	}
}

void
json_str(FILE *o, const char *s)
{
	if (!s) {
		fputs("null", o);
		return;
	}
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', o);
	while (*p) {
		unsigned c = *p;
		size_t n = 1;
		if (c == '"' || c == '\\') {
			fputc('\\', o);
			fputc((int)c, o);
		} else if (c < 0x20 || c == 0x7f) {
			control(o, c);
		} else if (!(n = utf8_len(p))) {
			fputs("\\ufffd", o);
			n = 1;
		} else {
			fwrite(p, 1, n, o);
		}
		p += n;
	}
	fputc('"', o);
}
