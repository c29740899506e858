/* SPDX-License-Identifier: MIT */
/* libheldby's entry in LD_PRELOAD, and reading the environment early. */
#ifndef HELDBY_SHIM_PRELOAD_H
#define HELDBY_SHIM_PRELOAD_H

#include <stddef.h>

#include "attrs.h"

/* The value of name in environ, NULL when it is not set. Usable before libc
 * is fully up (getenv may not be); not thread-safe against setenv. */
char *env_find(const char *name) HB_HIDDEN;

/* The path this library was loaded from (dladdr), NULL if unknown. */
const char *preload_self_path(void) HB_HIDDEN;

/* Whether an LD_PRELOAD value (NULL: unset) names this library. */
int preload_names_us(const char *value) HB_HIDDEN;

/* Takes this library out of environ's LD_PRELOAD, in place (the strings
 * main's envp points at change too), and LD_PRELOAD itself out when
 * nothing is left in it. Start-up only: not thread-safe. */
void preload_strip(void) HB_HIDDEN;

/* Writes into out an LD_PRELOAD value that is value (NULL: unset) with this
 * library in front when value does not name it already. Returns the
 * length the value needs; out holds it only when that is below cap.
 * Async-signal-safe, no allocation (for a vfork child). */
size_t preload_with_us(const char *value, char *out, size_t cap) HB_HIDDEN;

#endif
