/* SPDX-License-Identifier: MIT */
/*
 * A string as JSON, for the views that print JSON: whatever bytes a trace
 * holds (a name, a path, an argument), the output still parses.
 */
#ifndef HELDBY_TOOLS_JSON_STR_H
#define HELDBY_TOOLS_JSON_STR_H

#include <stdio.h>

/* Writes s as a JSON string, or null for NULL. Bytes that are not UTF-8
 * become U+FFFD. Thread-safe as stdio is. */
void json_str(FILE *o, const char *s);

#endif
