/* SPDX-License-Identifier: MIT */
/* C entry to the C++ runtime's demangler (tools/demangle.cpp). */
#ifndef HELDBY_TOOLS_DEMANGLE_H
#define HELDBY_TOOLS_DEMANGLE_H

/* Returns a malloc'd demangled name, or NULL when name is not a C++
 * mangled name (or on failure). Thread-safe. */
char *tools_demangle(const char *name);

#endif
