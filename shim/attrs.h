/* SPDX-License-Identifier: MIT */
/*
 * The attributes every file of the shim uses, defined once: branch hints,
 * what libheldby.so exports (heldby.map decides in the end), and the TLS
 * model that keeps a thread-local from ever calling malloc.
 */
#ifndef HELDBY_ATTRS_H
#define HELDBY_ATTRS_H

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* -fvisibility=hidden hides definitions; on a declaration, this lets a
 * call from another file of the shim skip the PLT. */
#define HB_HIDDEN __attribute__((visibility("hidden")))
/* An interposed function (hooks.h) or heldby_*: listed in heldby.map. */
#define HB_EXPORT __attribute__((visibility("default")))

/* initial-exec: touching it never calls malloc (dynamic TLS would, glibc
 * manual "Replacing malloc"). */
#define HB_TLS __thread __attribute__((tls_model("initial-exec")))

#endif
