#!/bin/sh
# SPDX-License-Identifier: MIT
# Records the golden trace of this build's trace format version and the
# reports heldby gives of it (tests/gates/golden.py compares them):
#
#   tests/golden/make.sh BUILD_DIR      e.g. tests/golden/make.sh build
#
# It writes tests/golden/vN/ (N: HELDBY_TRACE_VERSION) and refuses to
# overwrite one: a checked-in golden trace never changes. A new format
# version adds its own folder with this script, and keeps the older ones,
# which the reader must go on reading as before.
#
# victim.c runs from a folder that is removed afterwards, with stacks two
# frames deep: its frames are the program's own and name a module that is
# nowhere, so the report is the same on every machine (no libc frame, whose
# names would be this machine's libc's).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
src=$(cd "$here/../.." && pwd)
v=$(sed -n 's/^#define HELDBY_TRACE_VERSION \([0-9]*\)u$/\1/p' "$src/include/heldby/trace.h")
out="$here/v$v"
if [ -e "$out" ]; then
	echo "make.sh: $out exists; golden traces are never re-recorded" >&2
	exit 1
fi
tmp=$(mktemp -d /tmp/heldby-golden.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cc -O1 -g -I"$src/include" -o "$tmp/victim" "$here/victim.c"
HELDBY_DEPTH=2 "$build/tools/heldby" run -o "$tmp/trace.hbt" -- "$tmp/victim" >/dev/null
mkdir "$out"
cp "$tmp/trace.hbt" "$out/trace.hbt"
rm -rf "$tmp"
cd "$out"
HELDBY_SYMBOL_CACHE=off "$build/tools/heldby" report trace.hbt >report.txt
HELDBY_SYMBOL_CACHE=off "$build/tools/heldby" report --json trace.hbt >report.json
echo "make.sh: wrote $out ($(wc -c <trace.hbt) bytes of trace)"
