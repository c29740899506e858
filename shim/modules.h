/* SPDX-License-Identifier: MIT */
/*
 * The loaded modules (modules.c): their snapshots and MODULE records for
 * the trace, the process's own path and command line, and the walks of
 * dl_iterate_phdr that the rest of the shim makes.
 */
#ifndef HELDBY_MODULES_H
#define HELDBY_MODULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attrs.h"

struct dl_phdr_info;

/* Reads the executable's path and the command line. Start-up, one
 * thread. */
void mod_init(void) HB_HIDDEN;
/* Compares the loaded modules with the last snapshot; encodes MODULE and
 * MODULE_UNLOAD records through emit for the modules unloaded since
 * (force: compare even when the loader's counters did not move). Writer
 * thread only. */
typedef int (*mod_emit_fn)(void *ctx, int unload, uint64_t id, uint64_t bias,
			   size_t nranges, const uint64_t *starts,
			   const uint64_t *lens, const char *path,
			   const uint8_t *bid, size_t bidlen);
void mod_refresh(mod_emit_fn emit, void *ctx, bool force) HB_HIDDEN;
/* Encodes the MODULE record of the module that holds ip, unless the trace
 * has it already: before the first stack node in it. Returns emit's
 * result, 0 when nothing was due. Writer thread only. */
int mod_need(uint64_t ip, mod_emit_fn emit, void *ctx) HB_HIDDEN;
/* A new trace: every module is announced again (fork child, exec failed).
 * No writer running. */
void mod_forget(void) HB_HIDDEN;
/* The executable's path as mod_init read it. Any thread. */
const char *mod_exe_path(void) HB_HIDDEN;
/* The command line read at mod_init (argv, NUL after each); *len bytes.
 * Any thread. */
const char *mod_cmdline(size_t *len) HB_HIDDEN;
/* dl_iterate_phdr with every signal blocked: for the hooks' own walks of
 * the modules, which a handler must not leave holding the loader's lock.
 * Any thread. */
int mod_iterate(int (*cb)(struct dl_phdr_info *, size_t, void *),
		void *arg) HB_HIDDEN;
/* The span [*lo, *hi) of a module's PT_LOAD segments in memory; false when
 * it has none. Any thread; async-signal-safe. */
bool mod_span(const struct dl_phdr_info *info, uintptr_t *lo,
	      uintptr_t *hi) HB_HIDDEN;
/* The GNU build-id of a loaded module, read from its notes in memory:
 * its length (at most MOD_BID_MAX bytes into out), 0 when it has none.
 * Any thread; async-signal-safe. */
#define MOD_BID_MAX 64
size_t mod_build_id(const struct dl_phdr_info *info, uint8_t *out) HB_HIDDEN;

#endif
