/* SPDX-License-Identifier: MIT */
/*
 * `heldby snapshot PID [--label L]`: a mark at "now" in the trace of a
 * running process that heldby records, then the holders at that moment.
 */
#ifndef HELDBY_TOOLS_SNAPSHOT_H
#define HELDBY_TOOLS_SNAPSHOT_H

/* argv[0] is "snapshot". Returns heldby's exit status: 0; 1 when PID is
 * not a process heldby records or did not answer; 2 for bad usage. Not
 * thread-safe (getopt, stdio). */
int snapshot_main(int argc, char **argv);

#endif
